/* `channel-json-post`, the C twin (clang's wasm32-wasi target, bindings from
 * `baton plugin bindings c channel-adapter`, component from `baton plugin componentize`).
 *
 * Posts each message as a small JSON document to one URL with a bearer token the host
 * substitutes, and classifies the answer. The behaviour is specified in
 * examples/polyglot/README.md; the Rust, JavaScript and Python twins match it exactly.
 *
 * Ownership, as wit-bindgen's C bindings define it: arguments belong to the callee (free them),
 * and everything returned must be heap-allocated (the bindings free it after the call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_adapter.h"
#include "minijson.h"

typedef channel_adapter_string_t string_t;
typedef exports_baton_plugin_channel_delivery_outcome_t outcome_t;

static const char CONFIG_SCHEMA[] =
    "{\"type\":\"object\",\"required\":[\"url\"],\"properties\":{\"url\":{\"type\":\"string\","
    "\"pattern\":\"^https?://\"}},\"additionalProperties\":false}";

static bool starts_with(const char *text, size_t len, const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(text, prefix, n) == 0;
}

static void set_error(baton_plugin_types_config_error_t *err, const char *path, size_t path_len,
                      const char *message) {
  channel_adapter_string_dup_n(&err->path, path, path_len);
  channel_adapter_string_dup(&err->message, message);
}

/* Parses and checks the config; on success stores the URL in `url` (malloc'd, may be NULL when
 * the caller only validates). On a fault fills `err` with the first one and returns false. */
static bool parse(const string_t *text, string_t *url, baton_plugin_types_config_error_t *err) {
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
  const mj_member *m = mj_get(&object, "url");
  if (!m) {
    set_error(err, "/url", 4, "is required");
    goto out;
  }
  if (m->type != MJ_STRING || !(starts_with(m->string, m->string_len, "http://") ||
                                starts_with(m->string, m->string_len, "https://"))) {
    set_error(err, "/url", 4, "must be an http:// or https:// URL");
    goto out;
  }
  static const char *const known[] = {"url"};
  const mj_member *first = mj_first_unknown(&object, known, 1);
  if (first) {
    mj_buffer path = {0};
    mj_put(&path, "/", 1);
    mj_put(&path, first->key, first->key_len);
    set_error(err, path.ptr, path.len, "is not a setting (known: url)");
    free(path.ptr);
    goto out;
  }
  if (url) channel_adapter_string_dup_n(url, m->string, m->string_len);
  ok = true;
out:
  mj_free(&object);
  return ok;
}

static void dup_list(channel_adapter_list_string_t *list, const char **items, size_t len) {
  list->len = len;
  list->ptr = len ? malloc(len * sizeof(string_t)) : NULL;
  for (size_t i = 0; i < len; i++) channel_adapter_string_dup(&list->ptr[i], items[i]);
}

void exports_baton_plugin_channel_info(baton_plugin_types_plugin_info_t *ret) {
  static const char *hosts[] = {"*"};
  static const char *secrets[] = {"WEBHOOK_TOKEN"};
  channel_adapter_string_dup(&ret->name, "channel-json-post-c");
  channel_adapter_string_dup(&ret->version, "1.0.0");
  ret->kind = BATON_PLUGIN_TYPES_PLUGIN_KIND_CHANNEL_ADAPTER;
  channel_adapter_string_dup(&ret->description, "Posts each message as JSON to one URL with a bearer token.");
  channel_adapter_string_dup(&ret->config_schema, CONFIG_SCHEMA);
  dup_list(&ret->needs.attributes, NULL, 0);
  dup_list(&ret->needs.events, NULL, 0);
  ret->needs.event_window.is_some = false;
  dup_list(&ret->needs.allowed_hosts, hosts, 1);
  dup_list(&ret->needs.secrets, secrets, 1);
}

bool exports_baton_plugin_channel_validate_config(string_t *text, baton_plugin_types_config_error_t *err) {
  bool ok = parse(text, NULL, err);
  channel_adapter_string_free(text);
  return ok;
}

static void put_field(mj_buffer *body, const char *name, const string_t *value) {
  mj_put_str(body, name);
  mj_put_json_string(body, (const char *)value->ptr, value->len);
}

static void put_optional(mj_buffer *body, const char *name, const channel_adapter_option_string_t *value) {
  if (value->is_some) {
    put_field(body, name, &value->val);
  } else {
    mj_put_str(body, name);
    mj_put_str(body, "null");
  }
}

static void header(channel_adapter_tuple2_string_string_t *slot, const char *name, const char *value,
                   size_t value_len) {
  channel_adapter_string_dup(&slot->f0, name);
  channel_adapter_string_dup_n(&slot->f1, value, value_len);
}

bool exports_baton_plugin_channel_build(baton_plugin_types_invocation_t *invocation,
                                        baton_plugin_types_message_t *message,
                                        exports_baton_plugin_channel_list_http_request_t *ret,
                                        baton_plugin_types_plugin_error_t *err) {
  string_t url;
  baton_plugin_types_config_error_t fault;
  bool ok = false;
  if (!parse(&invocation->config, &url, &fault)) {
    mj_buffer text = {0};
    mj_put(&text, (const char *)fault.path.ptr, fault.path.len);
    mj_put_str(&text, ": ");
    mj_put(&text, (const char *)fault.message.ptr, fault.message.len);
    channel_adapter_string_dup(&err->code, "invalid_config");
    channel_adapter_string_dup_n(&err->message, text.ptr, text.len);
    free(text.ptr);
    baton_plugin_types_config_error_free(&fault);
    goto out;
  }
  if (message->recipient.len == 0) {
    channel_adapter_string_dup(&err->code, "missing_recipient");
    channel_adapter_string_dup(&err->message, "the message has no recipient");
    channel_adapter_string_free(&url);
    goto out;
  }
  mj_buffer body = {0};
  put_field(&body, "{\"to\":", &message->recipient);
  put_optional(&body, ",\"subject\":", &message->subject);
  put_field(&body, ",\"body\":", &message->body);
  put_optional(&body, ",\"variant\":", &message->variant_id);
  mj_put_str(&body, "}");

  exports_baton_plugin_channel_http_request_t *request = malloc(sizeof *request);
  if (!request) abort();
  channel_adapter_string_dup(&request->method, "POST");
  request->url = url;
  request->headers.len = 3;
  request->headers.ptr = malloc(3 * sizeof(*request->headers.ptr));
  if (!request->headers.ptr) abort();
  header(&request->headers.ptr[0], "content-type", "application/json", 16);
  header(&request->headers.ptr[1], "authorization", "Bearer {{secret:WEBHOOK_TOKEN}}", 31);
  header(&request->headers.ptr[2], "idempotency-key", (const char *)message->idempotency_key.ptr,
         message->idempotency_key.len);
  request->body.ptr = (uint8_t *)body.ptr;
  request->body.len = body.len;
  ret->ptr = request;
  ret->len = 1;
  ok = true;
out:
  baton_plugin_types_invocation_free(invocation);
  baton_plugin_types_message_free(message);
  return ok;
}

/* The first value of the named header (names arrive lowercase), or NULL. */
static const string_t *find_header(const exports_baton_plugin_channel_http_response_t *response,
                                   const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < response->headers.len; i++) {
    const string_t *key = &response->headers.ptr[i].f0;
    if (key->len == n && memcmp(key->ptr, name, n) == 0) return &response->headers.ptr[i].f1;
  }
  return NULL;
}

/* `retry-after` as whole seconds: one to nine ASCII digits, nothing else. */
static bool whole_seconds(const string_t *value, uint64_t *seconds) {
  if (!value || value->len == 0 || value->len > 9) return false;
  uint64_t n = 0;
  for (size_t i = 0; i < value->len; i++) {
    if (value->ptr[i] < '0' || value->ptr[i] > '9') return false;
    n = n * 10 + (uint64_t)(value->ptr[i] - '0');
  }
  *seconds = n;
  return true;
}

void exports_baton_plugin_channel_classify(baton_plugin_types_invocation_t *invocation, uint32_t request_index,
                                           exports_baton_plugin_channel_http_response_t *response,
                                           outcome_t *ret) {
  (void)request_index;
  uint16_t status = response->status;
  if (status >= 200 && status <= 299) {
    const string_t *id = find_header(response, "x-message-id");
    ret->tag = EXPORTS_BATON_PLUGIN_CHANNEL_DELIVERY_OUTCOME_DELIVERED;
    ret->val.delivered.is_some = id != NULL;
    if (id) channel_adapter_string_dup_n(&ret->val.delivered.val, (const char *)id->ptr, id->len);
  } else if (status == 429) {
    uint64_t seconds;
    ret->tag = EXPORTS_BATON_PLUGIN_CHANNEL_DELIVERY_OUTCOME_THROTTLED;
    ret->val.throttled.is_some = whole_seconds(find_header(response, "retry-after"), &seconds);
    ret->val.throttled.val = ret->val.throttled.is_some ? seconds * 1000 : 0;
  } else if (status >= 500 && status <= 599) {
    ret->tag = EXPORTS_BATON_PLUGIN_CHANNEL_DELIVERY_OUTCOME_RETRY_AFTER;
    ret->val.retry_after.is_some = false;
  } else {
    char reason[32];
    snprintf(reason, sizeof reason, "vendor answered %u", (unsigned)status);
    ret->tag = EXPORTS_BATON_PLUGIN_CHANNEL_DELIVERY_OUTCOME_REJECTED;
    channel_adapter_string_dup(&ret->val.rejected, reason);
  }
  baton_plugin_types_invocation_free(invocation);
  exports_baton_plugin_channel_http_response_free(response);
}
