/* A small, strict JSON reader for flat config objects and a JSON string writer for C plugins:
 * `baton plugin new --lang c` copies it into each project, and the C twins of the polyglot
 * examples build with it. It accepts exactly RFC 8259 JSON (no NaN, no comments, no
 * trailing commas), decodes keys and string values to UTF-8, and keeps nested values as
 * "present but not a scalar" - enough to check a plugin's binding config with precise errors.
 */
#ifndef BATON_MINIJSON_H
#define BATON_MINIJSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { MJ_NULL, MJ_BOOL, MJ_NUMBER, MJ_STRING, MJ_ARRAY, MJ_OBJECT } mj_type;

/* One member of the top-level object. `key` and `string` are decoded, NUL-terminated, malloc'd. */
typedef struct {
  char *key;
  size_t key_len;
  mj_type type;
  bool boolean;
  double number;
  char *string;
  size_t string_len;
} mj_member;

typedef struct {
  mj_member *members;
  size_t len;
} mj_object;

typedef enum { MJ_OK = 0, MJ_INVALID = 1, MJ_NOT_OBJECT = 2 } mj_status;

/* Parses `text` (`len` bytes). MJ_OK fills `out` (free it with mj_free); MJ_INVALID when the
 * text is not JSON; MJ_NOT_OBJECT when it is JSON but not an object. */
mj_status mj_parse_object(const char *text, size_t len, mj_object *out);

/* The member named `key`, or NULL. With duplicate keys the last one wins, as in most parsers. */
const mj_member *mj_get(const mj_object *object, const char *key);

/* Among the members whose key is not one of `known`, the one whose key comes first in byte
 * order, or NULL when every key is known. */
const mj_member *mj_first_unknown(const mj_object *object, const char *const *known, size_t known_len);

void mj_free(mj_object *object);

/* A growable byte buffer. */
typedef struct {
  char *ptr;
  size_t len;
  size_t cap;
} mj_buffer;

void mj_put(mj_buffer *buffer, const char *bytes, size_t len);
void mj_put_str(mj_buffer *buffer, const char *text);

/* Appends `text` as a JSON string: quotes, `\"`, `\\`, `\b \f \n \r \t`, other control
 * characters as `\u00xx`, everything else (all of UTF-8) as it is. */
void mj_put_json_string(mj_buffer *buffer, const char *text, size_t len);

#endif
