/* {{name}}: a segment rule. Members are the profiles whose `tier` attribute is the configured
 * tier (`{"tier": "vip"}`; "vip" when unset).
 *
 * Ownership, as wit-bindgen's C bindings define it: arguments belong to the callee (free them),
 * and everything returned must be heap-allocated (the bindings free it after the call).
 * `gen/segment_rule.h`, written by `baton plugin bindings c segment-rule`, has every type.
 */
#include <stdlib.h>
#include <string.h>

#include "minijson.h"
#include "segment_rule.h"

typedef segment_rule_string_t string_t;
typedef exports_baton_plugin_segmentation_config_error_t config_error_t;

static void fail(config_error_t *err, const char *path, const char *message) {
  segment_rule_string_dup(&err->path, path);
  segment_rule_string_dup(&err->message, message);
}

/* Reads the tier from the binding config into `tier` (malloc'd, NUL-terminated); on a fault fills
 * `err` and returns false. */
static bool tier_of(const string_t *config, char **tier, config_error_t *err) {
  mj_object settings;
  mj_status status = mj_parse_object((const char *)config->ptr, config->len, &settings);
  if (status != MJ_OK) {
    fail(err, "", status == MJ_INVALID ? "config is not valid JSON" : "config must be a JSON object");
    return false;
  }
  const mj_member *m = mj_get(&settings, "tier");
  bool ok = !m || m->type == MJ_STRING;
  if (ok) {
    *tier = strdup(m ? m->string : "vip");
    if (!*tier) abort();
  } else {
    fail(err, "/tier", "must be a string");
  }
  mj_free(&settings);
  return ok;
}

static void dup_list(segment_rule_list_string_t *list, const char *const *items, size_t len) {
  list->len = len;
  list->ptr = len ? malloc(len * sizeof(string_t)) : NULL;
  if (len && !list->ptr) abort();
  for (size_t i = 0; i < len; i++) segment_rule_string_dup(&list->ptr[i], items[i]);
}

/* What the rule reads: the `tier` attribute, whatever the config. */
static void fill_needs(baton_plugin_types_needs_t *needs) {
  static const char *const attributes[] = {"tier"};
  dup_list(&needs->attributes, attributes, 1);
  dup_list(&needs->events, NULL, 0);
  needs->event_window.is_some = false;
  dup_list(&needs->allowed_hosts, NULL, 0);
  dup_list(&needs->secrets, NULL, 0);
}

void exports_baton_plugin_segmentation_info(exports_baton_plugin_segmentation_plugin_info_t *ret) {
  segment_rule_string_dup(&ret->name, "{{name}}");
  segment_rule_string_dup(&ret->version, "0.1.0");
  ret->kind = BATON_PLUGIN_TYPES_PLUGIN_KIND_SEGMENT_RULE;
  segment_rule_string_dup(&ret->description, "Profiles of one tier.");
  segment_rule_string_dup(&ret->config_schema, "{}");
  fill_needs(&ret->needs);
  dup_list(&ret->provides, NULL, 0);
}

/* What this binding's config reads: the same whatever the config (the host loads only this). */
void exports_baton_plugin_segmentation_needs_for_config(string_t *config,
                                                        exports_baton_plugin_segmentation_needs_t *ret) {
  segment_rule_string_free(config);
  fill_needs(ret);
}

bool exports_baton_plugin_segmentation_validate_config(string_t *config, config_error_t *err) {
  char *tier = NULL;
  bool ok = tier_of(config, &tier, err);
  free(tier);
  segment_rule_string_free(config);
  return ok;
}

/* Whether the subject's `tier` attribute is text equal to `tier`. */
static bool in_tier(const baton_plugin_types_subject_t *subject, const char *tier) {
  size_t n = strlen(tier);
  for (size_t i = 0; i < subject->attributes.len; i++) {
    const baton_plugin_types_attribute_t *a = &subject->attributes.ptr[i];
    if (a->name.len == 4 && memcmp(a->name.ptr, "tier", 4) == 0) {
      const string_t *text = &a->value.val.text;
      return a->value.tag == BATON_PLUGIN_TYPES_VALUE_TEXT && text->len == n && memcmp(text->ptr, tier, n) == 0;
    }
  }
  return false;
}

bool exports_baton_plugin_segmentation_evaluate(exports_baton_plugin_segmentation_invocation_t *invocation,
                                                exports_baton_plugin_segmentation_list_subject_t *subjects,
                                                exports_baton_plugin_segmentation_list_membership_t *ret,
                                                exports_baton_plugin_segmentation_plugin_error_t *err) {
  char *tier = NULL;
  config_error_t fault;
  bool ok = tier_of(&invocation->config, &tier, &fault);
  if (!ok) {
    mj_buffer text = {0};
    mj_put(&text, (const char *)fault.path.ptr, fault.path.len);
    mj_put_str(&text, ": ");
    mj_put(&text, (const char *)fault.message.ptr, fault.message.len);
    segment_rule_string_dup(&err->code, "invalid_config");
    segment_rule_string_dup_n(&err->message, text.ptr, text.len);
    free(text.ptr);
    exports_baton_plugin_segmentation_config_error_free(&fault);
  } else {
    ret->len = subjects->len;
    ret->ptr = subjects->len ? malloc(subjects->len * sizeof(*ret->ptr)) : NULL;
    if (subjects->len && !ret->ptr) abort();
    for (size_t i = 0; i < subjects->len; i++) {
      ret->ptr[i].member = in_tier(&subjects->ptr[i], tier);
      ret->ptr[i].score.is_some = false;
      ret->ptr[i].recheck_at.is_some = false;
    }
    free(tier);
  }
  exports_baton_plugin_segmentation_invocation_free(invocation);
  exports_baton_plugin_segmentation_list_subject_free(subjects);
  return ok;
}
