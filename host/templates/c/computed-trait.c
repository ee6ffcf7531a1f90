/* {{name}}: a computed trait. Writes `event_count`, how many events of the configured name the
 * profile has (`{"event": "order_completed"}`; "order_completed" when unset). The host stores it
 * with the profile, where segments and personalizers read it like any attribute.
 *
 * Ownership, as wit-bindgen's C bindings define it: arguments belong to the callee (free them),
 * and everything returned must be heap-allocated (the bindings free it after the call).
 * `gen/computed_trait.h`, written by `baton plugin bindings c computed-trait`, has every type.
 */
#include <stdlib.h>
#include <string.h>

#include "computed_trait.h"
#include "minijson.h"

typedef computed_trait_string_t string_t;
typedef exports_baton_plugin_traits_config_error_t config_error_t;

/* The trait this plugin writes. */
static const char TRAIT[] = "event_count";

static void fail(config_error_t *err, const char *path, const char *message) {
  computed_trait_string_dup(&err->path, path);
  computed_trait_string_dup(&err->message, message);
}

/* Reads the counted event's name from the binding config into `event` (malloc'd,
 * NUL-terminated); on a fault fills `err` and returns false. */
static bool event_of(const string_t *config, char **event, config_error_t *err) {
  mj_object settings;
  mj_status status = mj_parse_object((const char *)config->ptr, config->len, &settings);
  if (status != MJ_OK) {
    fail(err, "", status == MJ_INVALID ? "config is not valid JSON" : "config must be a JSON object");
    return false;
  }
  const mj_member *m = mj_get(&settings, "event");
  bool ok = !m || m->type == MJ_STRING;
  if (ok) {
    *event = strdup(m ? m->string : "order_completed");
    if (!*event) abort();
  } else {
    fail(err, "/event", "must be a string");
  }
  mj_free(&settings);
  return ok;
}

static void dup_list(computed_trait_list_string_t *list, const char *const *items, size_t len) {
  list->len = len;
  list->ptr = len ? malloc(len * sizeof(string_t)) : NULL;
  if (len && !list->ptr) abort();
  for (size_t i = 0; i < len; i++) computed_trait_string_dup(&list->ptr[i], items[i]);
}

/* Reads no attributes and the named events (any event when `event` is NULL), over all time. */
static void fill_needs(baton_plugin_types_needs_t *needs, const char *event) {
  static const char *const any[] = {"*"};
  const char *const named[] = {event};
  dup_list(&needs->attributes, NULL, 0);
  dup_list(&needs->events, event ? named : any, 1);
  needs->event_window.is_some = false;
  dup_list(&needs->allowed_hosts, NULL, 0);
  dup_list(&needs->secrets, NULL, 0);
}

void exports_baton_plugin_traits_info(exports_baton_plugin_traits_plugin_info_t *ret) {
  static const char *const provides[] = {TRAIT};
  computed_trait_string_dup(&ret->name, "{{name}}");
  computed_trait_string_dup(&ret->version, "0.1.0");
  ret->kind = BATON_PLUGIN_TYPES_PLUGIN_KIND_COMPUTED_TRAIT;
  computed_trait_string_dup(&ret->description, "Counts one event per profile.");
  computed_trait_string_dup(&ret->config_schema, "{}");
  /* The most it may ever read: any event. `needs_for_config` narrows it per binding. */
  fill_needs(&ret->needs, NULL);
  dup_list(&ret->provides, provides, 1);
}

bool exports_baton_plugin_traits_validate_config(string_t *config, config_error_t *err) {
  char *event = NULL;
  bool ok = event_of(config, &event, err);
  free(event);
  computed_trait_string_free(config);
  return ok;
}

/* Only the counted event, so the host loads nothing else. */
void exports_baton_plugin_traits_needs_for_config(string_t *config, exports_baton_plugin_traits_needs_t *ret) {
  char *event = NULL;
  config_error_t fault;
  if (event_of(config, &event, &fault)) {
    fill_needs(ret, event);
    free(event);
  } else {
    exports_baton_plugin_traits_config_error_free(&fault);
    fill_needs(ret, NULL);
  }
  computed_trait_string_free(config);
}

/* How many of the subject's events are named `event`. */
static int64_t count_of(const baton_plugin_types_subject_t *subject, const char *event) {
  size_t n = strlen(event);
  int64_t count = 0;
  for (size_t i = 0; i < subject->events.len; i++) {
    const string_t *name = &subject->events.ptr[i].name;
    count += name->len == n && memcmp(name->ptr, event, n) == 0;
  }
  return count;
}

bool exports_baton_plugin_traits_compute(exports_baton_plugin_traits_invocation_t *invocation,
                                         exports_baton_plugin_traits_list_subject_t *subjects,
                                         exports_baton_plugin_traits_list_list_attribute_t *ret,
                                         exports_baton_plugin_traits_plugin_error_t *err) {
  char *event = NULL;
  config_error_t fault;
  bool ok = event_of(&invocation->config, &event, &fault);
  if (!ok) {
    mj_buffer text = {0};
    mj_put(&text, (const char *)fault.path.ptr, fault.path.len);
    mj_put_str(&text, ": ");
    mj_put(&text, (const char *)fault.message.ptr, fault.message.len);
    computed_trait_string_dup(&err->code, "invalid_config");
    computed_trait_string_dup_n(&err->message, text.ptr, text.len);
    free(text.ptr);
    exports_baton_plugin_traits_config_error_free(&fault);
  } else {
    ret->len = subjects->len;
    ret->ptr = subjects->len ? malloc(subjects->len * sizeof(*ret->ptr)) : NULL;
    if (subjects->len && !ret->ptr) abort();
    for (size_t i = 0; i < subjects->len; i++) {
      baton_plugin_types_attribute_t *trait = malloc(sizeof *trait);
      if (!trait) abort();
      computed_trait_string_dup(&trait->name, TRAIT);
      trait->value.tag = BATON_PLUGIN_TYPES_VALUE_INTEGER;
      trait->value.val.integer = count_of(&subjects->ptr[i], event);
      ret->ptr[i].ptr = trait;
      ret->ptr[i].len = 1;
    }
    free(event);
  }
  exports_baton_plugin_traits_invocation_free(invocation);
  exports_baton_plugin_traits_list_subject_free(subjects);
  return ok;
}
