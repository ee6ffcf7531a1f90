/* {{name}}: a personalizer. Replaces every `{{first_name}}` in the body with the profile's
 * `first_name` attribute, or "there" when it has none.
 *
 * Ownership, as wit-bindgen's C bindings define it: arguments belong to the callee (free them),
 * and everything returned must be heap-allocated (the bindings free it after the call).
 * `gen/personalizer.h`, written by `baton plugin bindings c personalizer`, has every type.
 */
#include <stdlib.h>
#include <string.h>

#include "minijson.h"
#include "personalizer.h"

typedef personalizer_string_t string_t;
typedef exports_baton_plugin_personalization_message_t message_t;

static const char PLACEHOLDER[] = "{{first_name}}";

static void dup_list(personalizer_list_string_t *list, const char *const *items, size_t len) {
  list->len = len;
  list->ptr = len ? malloc(len * sizeof(string_t)) : NULL;
  if (len && !list->ptr) abort();
  for (size_t i = 0; i < len; i++) personalizer_string_dup(&list->ptr[i], items[i]);
}

void exports_baton_plugin_personalization_info(exports_baton_plugin_personalization_plugin_info_t *ret) {
  static const char *const attributes[] = {"first_name"};
  personalizer_string_dup(&ret->name, "{{name}}");
  personalizer_string_dup(&ret->version, "0.1.0");
  ret->kind = BATON_PLUGIN_TYPES_PLUGIN_KIND_PERSONALIZER;
  personalizer_string_dup(&ret->description, "Greets by first name.");
  personalizer_string_dup(&ret->config_schema, "{}");
  dup_list(&ret->needs.attributes, attributes, 1);
  dup_list(&ret->needs.events, NULL, 0);
  ret->needs.event_window.is_some = false;
  dup_list(&ret->needs.allowed_hosts, NULL, 0);
  dup_list(&ret->needs.secrets, NULL, 0);
  dup_list(&ret->provides, NULL, 0);
}

bool exports_baton_plugin_personalization_validate_config(
    string_t *config, exports_baton_plugin_personalization_config_error_t *err) {
  (void)err;
  personalizer_string_free(config);
  return true;
}

/* The subject's text `first_name`, or NULL. */
static const string_t *first_name(const baton_plugin_types_subject_t *subject) {
  for (size_t i = 0; i < subject->attributes.len; i++) {
    const baton_plugin_types_attribute_t *a = &subject->attributes.ptr[i];
    if (a->name.len == 10 && memcmp(a->name.ptr, "first_name", 10) == 0) {
      return a->value.tag == BATON_PLUGIN_TYPES_VALUE_TEXT ? &a->value.val.text : NULL;
    }
  }
  return NULL;
}

bool exports_baton_plugin_personalization_personalize(
    exports_baton_plugin_personalization_invocation_t *invocation,
    exports_baton_plugin_personalization_subject_t *subject, message_t *template_, message_t *ret,
    exports_baton_plugin_personalization_plugin_error_t *err) {
  (void)err;
  const string_t *name = first_name(subject);
  const char *with = name ? (const char *)name->ptr : "there";
  size_t with_len = name ? name->len : strlen("there");
  size_t placeholder_len = strlen(PLACEHOLDER);

  mj_buffer body = {0};
  const char *at = (const char *)template_->body.ptr;
  const char *end = at + template_->body.len;
  while (at < end) {
    if ((size_t)(end - at) >= placeholder_len && memcmp(at, PLACEHOLDER, placeholder_len) == 0) {
      mj_put(&body, with, with_len);
      at += placeholder_len;
    } else {
      mj_put(&body, at, 1);
      at++;
    }
  }

  /* The template is ours: hand its fields on and swap in the new body. */
  *ret = *template_;
  personalizer_string_free(&ret->body);
  personalizer_string_dup_n(&ret->body, body.ptr ? body.ptr : "", body.len);
  free(body.ptr);
  exports_baton_plugin_personalization_invocation_free(invocation);
  exports_baton_plugin_personalization_subject_free(subject);
  return true;
}
