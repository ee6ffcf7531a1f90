/* `segment-high-value`, the C twin (clang's wasm32-wasi target, bindings from
 * `baton plugin bindings c segment-rule`, component from `baton plugin componentize`).
 *
 * Members are profiles worth at least `min_ltv` with at least `min_orders` completed orders,
 * except those of an excluded tier. The behaviour is specified in examples/polyglot/README.md;
 * the Rust, JavaScript and Python twins match it exactly.
 *
 * Ownership, as wit-bindgen's C bindings define it: arguments belong to the callee (free them),
 * and everything returned must be heap-allocated (the bindings free it after the call).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minijson.h"
#include "segment_rule.h"

typedef segment_rule_string_t string_t;

static const char *const KNOWN[] = {"min_ltv", "min_orders", "exclude_tier"};

static const char CONFIG_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"min_ltv\":{\"type\":\"number\",\"minimum\":0},"
    "\"min_orders\":{\"type\":\"integer\",\"minimum\":0},\"exclude_tier\":{\"type\":\"string\"}},"
    "\"additionalProperties\":false}";

typedef struct {
  double min_ltv;
  double min_orders;
  char *exclude_tier; /* NULL when absent */
  size_t exclude_tier_len;
} config_t;

static bool eq(const string_t *s, const char *text) {
  size_t n = strlen(text);
  return s->len == n && memcmp(s->ptr, text, n) == 0;
}

static void set_error(baton_plugin_types_config_error_t *err, const char *path, size_t path_len,
                      const char *message) {
  segment_rule_string_dup_n(&err->path, path, path_len);
  segment_rule_string_dup(&err->message, message);
}

/* Parses and checks the config; on a fault fills `err` with the first one and returns false. */
static bool parse(const string_t *text, config_t *config, baton_plugin_types_config_error_t *err) {
  mj_object object;
  mj_status status = mj_parse_object((const char *)text->ptr, text->len, &object);
  if (status == MJ_INVALID) {
    set_error(err, "", 0, "config is not valid JSON");
    return false;
  }
  if (status == MJ_NOT_OBJECT) {
    set_error(err, "", 0, "config must be a JSON object");
    return false;
  }
  bool ok = false;
  const mj_member *m;
  config->min_ltv = 100;
  config->min_orders = 0;
  config->exclude_tier = NULL;
  config->exclude_tier_len = 0;
  if ((m = mj_get(&object, "min_ltv"))) {
    if (m->type != MJ_NUMBER || !(m->number >= 0)) {
      set_error(err, "/min_ltv", 8, "must be a number of at least 0");
      goto out;
    }
    config->min_ltv = m->number;
  }
  if ((m = mj_get(&object, "min_orders"))) {
    if (m->type != MJ_NUMBER || !(m->number >= 0) || floor(m->number) != m->number) {
      set_error(err, "/min_orders", 11, "must be a whole number of at least 0");
      goto out;
    }
    config->min_orders = m->number;
  }
  if ((m = mj_get(&object, "exclude_tier"))) {
    if (m->type != MJ_STRING) {
      set_error(err, "/exclude_tier", 13, "must be a string");
      goto out;
    }
    config->exclude_tier = malloc(m->string_len + 1);
    if (!config->exclude_tier) abort();
    memcpy(config->exclude_tier, m->string, m->string_len + 1);
    config->exclude_tier_len = m->string_len;
  }
  const mj_member *first = mj_first_unknown(&object, KNOWN, sizeof KNOWN / sizeof KNOWN[0]);
  if (first) {
    mj_buffer path = {0};
    mj_put(&path, "/", 1);
    mj_put(&path, first->key, first->key_len);
    set_error(err, path.ptr, path.len, "is not a setting (known: min_ltv, min_orders, exclude_tier)");
    free(path.ptr);
    free(config->exclude_tier);
    config->exclude_tier = NULL;
    goto out;
  }
  ok = true;
out:
  mj_free(&object);
  return ok;
}

static void dup_list(segment_rule_list_string_t *list, const char **items, size_t len) {
  list->len = len;
  list->ptr = len ? malloc(len * sizeof(string_t)) : NULL;
  for (size_t i = 0; i < len; i++) segment_rule_string_dup(&list->ptr[i], items[i]);
}

void exports_baton_plugin_segmentation_info(baton_plugin_types_plugin_info_t *ret) {
  static const char *attributes[] = {"lifetime_value", "tier"};
  static const char *events[] = {"order_completed"};
  segment_rule_string_dup(&ret->name, "segment-high-value-c");
  segment_rule_string_dup(&ret->version, "1.0.0");
  ret->kind = BATON_PLUGIN_TYPES_PLUGIN_KIND_SEGMENT_RULE;
  segment_rule_string_dup(&ret->description,
                          "Profiles worth at least min_ltv with at least min_orders orders, except one tier.");
  segment_rule_string_dup(&ret->config_schema, CONFIG_SCHEMA);
  dup_list(&ret->needs.attributes, attributes, 2);
  dup_list(&ret->needs.events, events, 1);
  ret->needs.event_window.is_some = false;
  dup_list(&ret->needs.allowed_hosts, NULL, 0);
  dup_list(&ret->needs.secrets, NULL, 0);
}

bool exports_baton_plugin_segmentation_validate_config(string_t *text, baton_plugin_types_config_error_t *err) {
  config_t config;
  bool ok = parse(text, &config, err);
  if (ok) free(config.exclude_tier);
  segment_rule_string_free(text);
  return ok;
}

static void judge(const config_t *config, const baton_plugin_types_subject_t *subject,
                  exports_baton_plugin_segmentation_membership_t *out) {
  bool has_ltv = false;
  double ltv = 0;
  const string_t *tier = NULL;
  for (size_t i = 0; i < subject->attributes.len; i++) {
    const baton_plugin_types_attribute_t *a = &subject->attributes.ptr[i];
    if (eq(&a->name, "lifetime_value")) {
      if (a->value.tag == BATON_PLUGIN_TYPES_VALUE_INTEGER) {
        has_ltv = true;
        ltv = (double)a->value.val.integer;
      } else if (a->value.tag == BATON_PLUGIN_TYPES_VALUE_FLOAT) {
        has_ltv = true;
        ltv = a->value.val.float_;
      } else {
        has_ltv = false;
      }
    } else if (eq(&a->name, "tier")) {
      tier = a->value.tag == BATON_PLUGIN_TYPES_VALUE_TEXT ? &a->value.val.text : NULL;
    }
  }
  size_t orders = 0;
  for (size_t i = 0; i < subject->events.len; i++) {
    if (eq(&subject->events.ptr[i].name, "order_completed")) orders++;
  }
  bool excluded = config->exclude_tier && tier && tier->len == config->exclude_tier_len &&
                  memcmp(tier->ptr, config->exclude_tier, tier->len) == 0;
  out->member = has_ltv && ltv >= config->min_ltv && (double)orders >= config->min_orders && !excluded;
  out->score.is_some = has_ltv;
  out->score.val = has_ltv ? ltv : 0;
}

bool exports_baton_plugin_segmentation_evaluate(baton_plugin_types_invocation_t *invocation,
                                                 exports_baton_plugin_segmentation_list_subject_t *subjects,
                                                 exports_baton_plugin_segmentation_list_membership_t *ret,
                                                 baton_plugin_types_plugin_error_t *err) {
  config_t config;
  baton_plugin_types_config_error_t fault;
  bool ok = parse(&invocation->config, &config, &fault);
  if (!ok) {
    mj_buffer message = {0};
    mj_put(&message, (const char *)fault.path.ptr, fault.path.len);
    mj_put_str(&message, ": ");
    mj_put(&message, (const char *)fault.message.ptr, fault.message.len);
    segment_rule_string_dup(&err->code, "invalid_config");
    segment_rule_string_dup_n(&err->message, message.ptr, message.len);
    free(message.ptr);
    baton_plugin_types_config_error_free(&fault);
  } else {
    ret->len = subjects->len;
    ret->ptr = subjects->len ? malloc(subjects->len * sizeof(*ret->ptr)) : NULL;
    for (size_t i = 0; i < subjects->len; i++) judge(&config, &subjects->ptr[i], &ret->ptr[i]);
    free(config.exclude_tier);
  }
  baton_plugin_types_invocation_free(invocation);
  exports_baton_plugin_segmentation_list_subject_free(subjects);
  return ok;
}
