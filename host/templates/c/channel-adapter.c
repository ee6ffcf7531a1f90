/* {{name}}: a channel adapter. POSTs the message body to the configured URL
 * (`{"url": "https://..."}`) with a bearer token the host substitutes for
 * `{{secret:HOOK_TOKEN}}`: the plugin never sees the secret, and never does I/O itself.
 *
 * Ownership, as wit-bindgen's C bindings define it: arguments belong to the callee (free them),
 * and everything returned must be heap-allocated (the bindings free it after the call).
 * `gen/channel_adapter.h`, written by `baton plugin bindings c channel-adapter`, has every type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_adapter.h"
#include "minijson.h"

typedef channel_adapter_string_t string_t;
typedef exports_baton_plugin_channel_config_error_t config_error_t;

static void fail(config_error_t *err, const char *path, const char *message) {
  channel_adapter_string_dup(&err->path, path);
  channel_adapter_string_dup(&err->message, message);
}

static bool starts_with(const char *text, size_t len, const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(text, prefix, n) == 0;
}

/* Reads the URL from the binding config into `url`; on a fault fills `err` and returns false. */
static bool url_of(const string_t *config, string_t *url, config_error_t *err) {
  mj_object settings;
  mj_status status = mj_parse_object((const char *)config->ptr, config->len, &settings);
  if (status != MJ_OK) {
    fail(err, "", status == MJ_INVALID ? "config is not valid JSON" : "config must be a JSON object");
    return false;
  }
  const mj_member *m = mj_get(&settings, "url");
  bool ok = false;
  if (!m) {
    fail(err, "/url", "is required");
  } else if (m->type != MJ_STRING || !(starts_with(m->string, m->string_len, "https://") ||
                                       starts_with(m->string, m->string_len, "http://"))) {
    fail(err, "/url", "must be an http:// or https:// URL");
  } else {
    channel_adapter_string_dup_n(url, m->string, m->string_len);
    ok = true;
  }
  mj_free(&settings);
  return ok;
}

static void dup_list(channel_adapter_list_string_t *list, const char *const *items, size_t len) {
  list->len = len;
  list->ptr = len ? malloc(len * sizeof(string_t)) : NULL;
  if (len && !list->ptr) abort();
  for (size_t i = 0; i < len; i++) channel_adapter_string_dup(&list->ptr[i], items[i]);
}

void exports_baton_plugin_channel_info(exports_baton_plugin_channel_plugin_info_t *ret) {
  static const char *const hosts[] = {"*"};
  static const char *const secrets[] = {"HOOK_TOKEN"};
  channel_adapter_string_dup(&ret->name, "{{name}}");
  channel_adapter_string_dup(&ret->version, "0.1.0");
  ret->kind = BATON_PLUGIN_TYPES_PLUGIN_KIND_CHANNEL_ADAPTER;
  channel_adapter_string_dup(&ret->description, "POSTs the message body.");
  channel_adapter_string_dup(&ret->config_schema, "{}");
  dup_list(&ret->needs.attributes, NULL, 0);
  dup_list(&ret->needs.events, NULL, 0);
  ret->needs.event_window.is_some = false;
  dup_list(&ret->needs.allowed_hosts, hosts, 1);
  dup_list(&ret->needs.secrets, secrets, 1);
  dup_list(&ret->provides, NULL, 0);
}

bool exports_baton_plugin_channel_validate_config(string_t *config, config_error_t *err) {
  string_t url;
  bool ok = url_of(config, &url, err);
  if (ok) channel_adapter_string_free(&url);
  channel_adapter_string_free(config);
  return ok;
}

bool exports_baton_plugin_channel_build(exports_baton_plugin_channel_invocation_t *invocation,
                                        exports_baton_plugin_channel_message_t *message,
                                        exports_baton_plugin_channel_list_http_request_t *ret,
                                        exports_baton_plugin_channel_plugin_error_t *err) {
  string_t url;
  config_error_t fault;
  bool ok = url_of(&invocation->config, &url, &fault);
  if (!ok) {
    mj_buffer text = {0};
    mj_put(&text, (const char *)fault.path.ptr, fault.path.len);
    mj_put_str(&text, ": ");
    mj_put(&text, (const char *)fault.message.ptr, fault.message.len);
    channel_adapter_string_dup(&err->code, "invalid_config");
    channel_adapter_string_dup_n(&err->message, text.ptr, text.len);
    free(text.ptr);
    exports_baton_plugin_channel_config_error_free(&fault);
  } else {
    exports_baton_plugin_channel_http_request_t *request = malloc(sizeof *request);
    if (!request) abort();
    channel_adapter_string_dup(&request->method, "POST");
    request->url = url;
    request->headers.len = 2;
    request->headers.ptr = malloc(2 * sizeof(*request->headers.ptr));
    if (!request->headers.ptr) abort();
    channel_adapter_string_dup(&request->headers.ptr[0].f0, "authorization");
    channel_adapter_string_dup(&request->headers.ptr[0].f1, "Bearer {{secret:HOOK_TOKEN}}");
    /* The vendor drops a retried send it has already accepted. */
    channel_adapter_string_dup(&request->headers.ptr[1].f0, "idempotency-key");
    request->headers.ptr[1].f1 = message->idempotency_key; /* moved: the message is ours */
    message->idempotency_key = (string_t){0};
    request->body.ptr = message->body.ptr; /* moved likewise */
    request->body.len = message->body.len;
    message->body = (string_t){0};
    ret->ptr = request;
    ret->len = 1;
  }
  exports_baton_plugin_channel_invocation_free(invocation);
  exports_baton_plugin_channel_message_free(message);
  return ok;
}

void exports_baton_plugin_channel_classify(exports_baton_plugin_channel_invocation_t *invocation,
                                           uint32_t request_index,
                                           exports_baton_plugin_channel_http_response_t *response,
                                           exports_baton_plugin_channel_delivery_outcome_t *ret) {
  (void)request_index;
  uint16_t status = response->status;
  if (status >= 200 && status <= 299) {
    ret->tag = EXPORTS_BATON_PLUGIN_CHANNEL_DELIVERY_OUTCOME_DELIVERED;
    ret->val.delivered.is_some = false;
  } else if (status == 429) {
    ret->tag = EXPORTS_BATON_PLUGIN_CHANNEL_DELIVERY_OUTCOME_THROTTLED;
    ret->val.throttled.is_some = false;
  } else if (status >= 500 && status <= 599) {
    ret->tag = EXPORTS_BATON_PLUGIN_CHANNEL_DELIVERY_OUTCOME_RETRY_AFTER;
    ret->val.retry_after.is_some = false;
  } else {
    char reason[32];
    snprintf(reason, sizeof reason, "vendor answered %u", (unsigned)status);
    ret->tag = EXPORTS_BATON_PLUGIN_CHANNEL_DELIVERY_OUTCOME_REJECTED;
    channel_adapter_string_dup(&ret->val.rejected, reason);
  }
  exports_baton_plugin_channel_invocation_free(invocation);
  exports_baton_plugin_channel_http_response_free(response);
}

/* How the vendor signs its webhooks, for a feedback endpoint; this adapter takes none. One that
 * does fills `ret` (key, signed parts, header, prefix, encoding) and returns true. */
bool exports_baton_plugin_channel_verification(string_t *config, exports_baton_plugin_channel_signature_check_t *ret,
                                               config_error_t *err) {
  (void)ret;
  channel_adapter_string_free(config);
  fail(err, "", "this adapter takes no vendor feedback");
  return false;
}

/* Turns one verified webhook request into reports: none here. */
bool exports_baton_plugin_channel_feedback(exports_baton_plugin_channel_invocation_t *invocation,
                                           exports_baton_plugin_channel_inbound_request_t *request,
                                           exports_baton_plugin_channel_list_vendor_report_t *ret,
                                           exports_baton_plugin_channel_plugin_error_t *err) {
  (void)err;
  ret->ptr = NULL;
  ret->len = 0;
  exports_baton_plugin_channel_invocation_free(invocation);
  exports_baton_plugin_channel_inbound_request_free(request);
  return true;
}
