// {{name}}: a channel adapter. POSTs the message body to the configured URL
// (`{"url": "https://..."}`) with a bearer token the host substitutes for
// `{{secret:HOOK_TOKEN}}`: the plugin never sees the secret, and never does I/O itself.
//
// WIT types in JavaScript: records are objects with camelCase fields, s64/u64 are BigInt, an
// option<T> is the value or undefined, a variant is { tag, val }, and a function returning
// result<T, E> returns T or throws E. The contract is in wit/.

/** Reads the binding config; throws a config-error naming the setting at fault. */
function urlOf(config) {
  let settings;
  try {
    settings = JSON.parse(config);
  } catch {
    throw { path: "", message: "config is not valid JSON" };
  }
  if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
    throw { path: "", message: "config must be a JSON object" };
  }
  if (!("url" in settings)) throw { path: "/url", message: "is required" };
  const url = settings.url;
  if (typeof url !== "string" || !(url.startsWith("https://") || url.startsWith("http://"))) {
    throw { path: "/url", message: "must be an http:// or https:// URL" };
  }
  return url;
}

export const channel = {
  info() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      kind: "channel-adapter",
      description: "POSTs the message body.",
      configSchema: "{}",
      needs: { attributes: [], events: [], eventWindow: undefined, allowedHosts: ["*"], secrets: ["HOOK_TOKEN"] },
      provides: [],
    };
  },

  validateConfig(config) {
    urlOf(config);
  },

  build(invocation, message) {
    let url;
    try {
      url = urlOf(invocation.config);
    } catch (fault) {
      throw { code: "invalid_config", message: `${fault.path}: ${fault.message}` };
    }
    return [
      {
        method: "POST",
        url,
        headers: [
          ["authorization", "Bearer {{secret:HOOK_TOKEN}}"],
          // The vendor drops a retried send it has already accepted.
          ["idempotency-key", message.idempotencyKey],
        ],
        body: new TextEncoder().encode(message.body),
      },
    ];
  },

  classify(invocation, requestIndex, response) {
    const status = response.status;
    if (status >= 200 && status <= 299) return { tag: "delivered", val: undefined };
    if (status === 429) return { tag: "throttled", val: undefined };
    if (status >= 500 && status <= 599) return { tag: "retry-after", val: undefined };
    return { tag: "rejected", val: `vendor answered ${status}` };
  },

  // How the vendor signs its webhooks, for a feedback endpoint; this one takes none. An adapter
  // that does returns a signature check, for example
  // { key: { tag: "hmac-sha256", val: "HOOK_SIGNING_SECRET" }, signed: [{ tag: "body" }],
  //   header: "x-signature", prefix: "sha256=", encoding: "hex", timestampHeader: undefined }.
  verification(config) {
    throw { path: "", message: "this adapter takes no vendor feedback" };
  },

  // Turns one verified webhook request into reports ({ kind: "bounced", idempotencyKey, ... }).
  feedback(invocation, request) {
    return [];
  },
};
