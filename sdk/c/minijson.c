/* See minijson.h. A recursive-descent reader: `pos` walks the text; every function returns false
 * on invalid JSON. Nesting is bounded so hostile input cannot exhaust the stack. */
#include "minijson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct {
  const char *text;
  size_t len;
  size_t pos;
} reader;

static void skip_space(reader *r) {
  while (r->pos < r->len) {
    char c = r->text[r->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    r->pos++;
  }
}

static bool literal(reader *r, const char *word) {
  size_t n = strlen(word);
  if (r->len - r->pos < n || memcmp(r->text + r->pos, word, n) != 0) return false;
  r->pos += n;
  return true;
}

void mj_put(mj_buffer *b, const char *bytes, size_t len) {
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + len + 1) cap *= 2;
    b->ptr = realloc(b->ptr, cap);
    if (!b->ptr) abort();
    b->cap = cap;
  }
  memcpy(b->ptr + b->len, bytes, len);
  b->len += len;
  b->ptr[b->len] = '\0';
}

void mj_put_str(mj_buffer *b, const char *text) { mj_put(b, text, strlen(text)); }

static void put_utf8(mj_buffer *b, uint32_t cp) {
  char out[4];
  size_t n;
  if (cp < 0x80) {
    out[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  mj_put(b, out, n);
}

static bool hex4(reader *r, uint32_t *out) {
  if (r->len - r->pos < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = r->text[r->pos++];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return false;
  }
  *out = v;
  return true;
}

/* Reads a string at `pos` (which holds the opening quote) and decodes it into `out` if given. */
static bool read_string(reader *r, mj_buffer *out) {
  mj_buffer scratch = {0};
  mj_buffer *b = out ? out : &scratch;
  mj_put(b, "", 0);
  r->pos++; /* the opening quote */
  bool ok = false;
  while (r->pos < r->len) {
    unsigned char c = (unsigned char)r->text[r->pos++];
    if (c == '"') {
      ok = true;
      break;
    }
    if (c < 0x20) break; /* raw control characters are not allowed */
    if (c != '\\') {
      mj_put(b, (const char *)&c, 1);
      continue;
    }
    if (r->pos >= r->len) break;
    char e = r->text[r->pos++];
    uint32_t cp;
    switch (e) {
      case '"': mj_put(b, "\"", 1); continue;
      case '\\': mj_put(b, "\\", 1); continue;
      case '/': mj_put(b, "/", 1); continue;
      case 'b': mj_put(b, "\b", 1); continue;
      case 'f': mj_put(b, "\f", 1); continue;
      case 'n': mj_put(b, "\n", 1); continue;
      case 'r': mj_put(b, "\r", 1); continue;
      case 't': mj_put(b, "\t", 1); continue;
      case 'u':
        if (!hex4(r, &cp)) goto done;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low;
          if (!literal(r, "\\u") || !hex4(r, &low) || low < 0xDC00 || low > 0xDFFF) goto done;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          goto done; /* a lone low surrogate */
        }
        put_utf8(b, cp);
        continue;
      default: goto done;
    }
  }
done:
  free(scratch.ptr);
  return ok;
}

static bool read_number(reader *r, double *out) {
  size_t start = r->pos;
  if (r->pos < r->len && r->text[r->pos] == '-') r->pos++;
  if (r->pos >= r->len) return false;
  if (r->text[r->pos] == '0') {
    r->pos++;
  } else if (r->text[r->pos] >= '1' && r->text[r->pos] <= '9') {
    while (r->pos < r->len && r->text[r->pos] >= '0' && r->text[r->pos] <= '9') r->pos++;
  } else {
    return false;
  }
  if (r->pos < r->len && r->text[r->pos] == '.') {
    r->pos++;
    size_t digits = r->pos;
    while (r->pos < r->len && r->text[r->pos] >= '0' && r->text[r->pos] <= '9') r->pos++;
    if (r->pos == digits) return false;
  }
  if (r->pos < r->len && (r->text[r->pos] == 'e' || r->text[r->pos] == 'E')) {
    r->pos++;
    if (r->pos < r->len && (r->text[r->pos] == '+' || r->text[r->pos] == '-')) r->pos++;
    size_t digits = r->pos;
    while (r->pos < r->len && r->text[r->pos] >= '0' && r->text[r->pos] <= '9') r->pos++;
    if (r->pos == digits) return false;
  }
  char *copy = malloc(r->pos - start + 1);
  if (!copy) abort();
  memcpy(copy, r->text + start, r->pos - start);
  copy[r->pos - start] = '\0';
  *out = strtod(copy, NULL);
  free(copy);
  return true;
}

static bool skip_value(reader *r, int depth);

static bool skip_container(reader *r, int depth, char close, bool keyed) {
  if (depth > MAX_DEPTH) return false;
  r->pos++; /* the opening bracket */
  skip_space(r);
  if (r->pos < r->len && r->text[r->pos] == close) {
    r->pos++;
    return true;
  }
  for (;;) {
    skip_space(r);
    if (keyed) {
      if (r->pos >= r->len || r->text[r->pos] != '"' || !read_string(r, NULL)) return false;
      skip_space(r);
      if (!literal(r, ":")) return false;
    }
    if (!skip_value(r, depth + 1)) return false;
    skip_space(r);
    if (literal(r, ",")) continue;
    if (r->pos < r->len && r->text[r->pos] == close) {
      r->pos++;
      return true;
    }
    return false;
  }
}

/* Reads one value; fills `member` (type and scalar payload) when given. */
static bool read_value(reader *r, int depth, mj_member *member) {
  skip_space(r);
  if (r->pos >= r->len) return false;
  mj_member ignored;
  mj_member *m = member ? member : &ignored;
  char c = r->text[r->pos];
  if (c == '{') {
    m->type = MJ_OBJECT;
    return skip_container(r, depth, '}', true);
  }
  if (c == '[') {
    m->type = MJ_ARRAY;
    return skip_container(r, depth, ']', false);
  }
  if (c == '"') {
    m->type = MJ_STRING;
    if (!member) return read_string(r, NULL);
    mj_buffer b = {0};
    if (!read_string(r, &b)) {
      free(b.ptr);
      return false;
    }
    m->string = b.ptr;
    m->string_len = b.len;
    return true;
  }
  if (literal(r, "true")) {
    m->type = MJ_BOOL;
    m->boolean = true;
    return true;
  }
  if (literal(r, "false")) {
    m->type = MJ_BOOL;
    m->boolean = false;
    return true;
  }
  if (literal(r, "null")) {
    m->type = MJ_NULL;
    return true;
  }
  m->type = MJ_NUMBER;
  return read_number(r, &m->number);
}

static bool skip_value(reader *r, int depth) { return read_value(r, depth, NULL); }

mj_status mj_parse_object(const char *text, size_t len, mj_object *out) {
  reader r = {text, len, 0};
  out->members = NULL;
  out->len = 0;
  skip_space(&r);
  if (r.pos < r.len && r.text[r.pos] != '{') {
    bool valid = skip_value(&r, 0);
    skip_space(&r);
    return valid && r.pos == r.len ? MJ_NOT_OBJECT : MJ_INVALID;
  }
  if (r.pos >= r.len) return MJ_INVALID;
  r.pos++;
  skip_space(&r);
  bool ok = false;
  if (literal(&r, "}")) {
    ok = true;
  } else {
    for (;;) {
      skip_space(&r);
      if (r.pos >= r.len || r.text[r.pos] != '"') break;
      mj_member m = {0};
      mj_buffer key = {0};
      if (!read_string(&r, &key)) {
        free(key.ptr);
        break;
      }
      m.key = key.ptr;
      m.key_len = key.len;
      out->members = realloc(out->members, (out->len + 1) * sizeof(mj_member));
      if (!out->members) abort();
      out->members[out->len++] = m;
      skip_space(&r);
      if (!literal(&r, ":")) break;
      if (!read_value(&r, 1, &out->members[out->len - 1])) break;
      skip_space(&r);
      if (literal(&r, ",")) continue;
      ok = literal(&r, "}");
      break;
    }
  }
  skip_space(&r);
  if (!ok || r.pos != r.len) {
    mj_free(out);
    return MJ_INVALID;
  }
  return MJ_OK;
}

const mj_member *mj_get(const mj_object *object, const char *key) {
  size_t n = strlen(key);
  for (size_t i = object->len; i > 0; i--) {
    const mj_member *m = &object->members[i - 1];
    if (m->key_len == n && memcmp(m->key, key, n) == 0) return m;
  }
  return NULL;
}

const mj_member *mj_first_unknown(const mj_object *object, const char *const *known, size_t known_len) {
  const mj_member *first = NULL;
  for (size_t i = 0; i < object->len; i++) {
    const mj_member *m = &object->members[i];
    bool is_known = false;
    for (size_t j = 0; j < known_len; j++) {
      is_known |= m->key_len == strlen(known[j]) && memcmp(m->key, known[j], m->key_len) == 0;
    }
    if (is_known) continue;
    if (first) {
      size_t n = m->key_len < first->key_len ? m->key_len : first->key_len;
      int d = memcmp(m->key, first->key, n);
      if (d > 0 || (d == 0 && m->key_len >= first->key_len)) continue;
    }
    first = m;
  }
  return first;
}

void mj_free(mj_object *object) {
  for (size_t i = 0; i < object->len; i++) {
    free(object->members[i].key);
    free(object->members[i].string);
  }
  free(object->members);
  object->members = NULL;
  object->len = 0;
}

void mj_put_json_string(mj_buffer *b, const char *text, size_t len) {
  static const char hex[] = "0123456789abcdef";
  mj_put(b, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    switch (c) {
      case '"': mj_put(b, "\\\"", 2); break;
      case '\\': mj_put(b, "\\\\", 2); break;
      case '\b': mj_put(b, "\\b", 2); break;
      case '\f': mj_put(b, "\\f", 2); break;
      case '\n': mj_put(b, "\\n", 2); break;
      case '\r': mj_put(b, "\\r", 2); break;
      case '\t': mj_put(b, "\\t", 2); break;
      default:
        if (c < 0x20) {
          char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
          mj_put(b, escape, 6);
        } else {
          mj_put(b, (const char *)&c, 1);
        }
    }
  }
  mj_put(b, "\"", 1);
}
