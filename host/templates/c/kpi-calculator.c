/* {{name}}: a KPI calculator. Counts the events it is fed.
 *
 * The WIT resource `accumulator` is the struct below: `open` allocates one and hands the host a
 * handle to it, `add` and `finish` receive it back, and the destructor frees it when the host
 * drops the handle.
 *
 * Ownership, as wit-bindgen's C bindings define it: arguments belong to the callee (free them),
 * and everything returned must be heap-allocated (the bindings free it after the call).
 * `gen/kpi_calculator.h`, written by `baton plugin bindings c kpi-calculator`, has every type.
 */
#include <stdlib.h>

#include "kpi_calculator.h"

typedef kpi_calculator_string_t string_t;

struct exports_baton_plugin_kpi_accumulator_t {
  uint64_t count;
};

static void dup_list(kpi_calculator_list_string_t *list, const char *const *items, size_t len) {
  list->len = len;
  list->ptr = len ? malloc(len * sizeof(string_t)) : NULL;
  if (len && !list->ptr) abort();
  for (size_t i = 0; i < len; i++) kpi_calculator_string_dup(&list->ptr[i], items[i]);
}

/* What the calculator reads: every event, whatever the config. */
static void fill_needs(baton_plugin_types_needs_t *needs) {
  static const char *const events[] = {"*"};
  dup_list(&needs->attributes, NULL, 0);
  dup_list(&needs->events, events, 1);
  needs->event_window.is_some = false;
  dup_list(&needs->allowed_hosts, NULL, 0);
  dup_list(&needs->secrets, NULL, 0);
}

void exports_baton_plugin_kpi_info(exports_baton_plugin_kpi_plugin_info_t *ret) {
  kpi_calculator_string_dup(&ret->name, "{{name}}");
  kpi_calculator_string_dup(&ret->version, "0.1.0");
  ret->kind = BATON_PLUGIN_TYPES_PLUGIN_KIND_KPI_CALCULATOR;
  kpi_calculator_string_dup(&ret->description, "Counts events.");
  kpi_calculator_string_dup(&ret->config_schema, "{}");
  fill_needs(&ret->needs);
  dup_list(&ret->provides, NULL, 0);
}

/* What this binding's config reads: the same whatever the config (the host loads only this). */
void exports_baton_plugin_kpi_needs_for_config(string_t *config, exports_baton_plugin_kpi_needs_t *ret) {
  kpi_calculator_string_free(config);
  fill_needs(ret);
}

bool exports_baton_plugin_kpi_validate_config(string_t *config, exports_baton_plugin_kpi_config_error_t *err) {
  (void)err;
  kpi_calculator_string_free(config);
  return true;
}

bool exports_baton_plugin_kpi_static_accumulator_open(exports_baton_plugin_kpi_invocation_t *invocation,
                                                      exports_baton_plugin_kpi_own_accumulator_t *ret,
                                                      exports_baton_plugin_kpi_plugin_error_t *err) {
  (void)err;
  exports_baton_plugin_kpi_accumulator_t *accumulator = calloc(1, sizeof *accumulator);
  if (!accumulator) abort();
  *ret = exports_baton_plugin_kpi_accumulator_new(accumulator);
  exports_baton_plugin_kpi_invocation_free(invocation);
  return true;
}

bool exports_baton_plugin_kpi_method_accumulator_add(exports_baton_plugin_kpi_borrow_accumulator_t self,
                                                     exports_baton_plugin_kpi_list_event_t *events,
                                                     exports_baton_plugin_kpi_plugin_error_t *err) {
  (void)err;
  self->count += events->len;
  exports_baton_plugin_kpi_list_event_free(events);
  return true;
}

bool exports_baton_plugin_kpi_method_accumulator_finish(exports_baton_plugin_kpi_borrow_accumulator_t self,
                                                        exports_baton_plugin_kpi_list_metric_t *ret,
                                                        exports_baton_plugin_kpi_plugin_error_t *err) {
  (void)err;
  exports_baton_plugin_kpi_metric_t *metric = calloc(1, sizeof *metric);
  if (!metric) abort();
  kpi_calculator_string_dup(&metric->name, "events");
  metric->value = (double)self->count;
  kpi_calculator_string_dup(&metric->unit, "count");
  /* calloc left the options empty (is_some = false) and the dimensions an empty list. */
  ret->ptr = metric;
  ret->len = 1;
  return true;
}

void exports_baton_plugin_kpi_accumulator_destructor(exports_baton_plugin_kpi_accumulator_t *rep) {
  free(rep);
}
