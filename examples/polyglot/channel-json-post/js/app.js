// `channel-json-post`, the JavaScript twin (built with `jco componentize`).
//
// Posts each message as a small JSON document to one URL with a bearer token the host
// substitutes, and classifies the answer. The behaviour is specified in
// examples/polyglot/README.md; the Rust, Python and C twins match it exactly.
//
// How WIT types look in JavaScript: records are objects with camelCase fields, `u64` is BigInt,
// an `option<T>` is the value or `undefined`, a variant is `{ tag, val }`, `list<u8>` is a
// Uint8Array, and an exported function returning `result<T, E>` returns T or throws E.

const CONFIG_SCHEMA =
  '{"type":"object","required":["url"],"properties":{"url":{"type":"string","pattern":"^https?://"}},' +
  '"additionalProperties":false}';

/** Orders strings by code point, which is UTF-8 byte order (JavaScript's default is UTF-16 order). */
function byCodePoint(a, b) {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const d = left[i].codePointAt(0) - right[i].codePointAt(0);
    if (d !== 0) return d;
  }
  return left.length - right.length;
}

/** Parses and checks the config and returns the URL; throws a config-error with the first fault. */
function parse(config) {
  let document;
  try {
    document = JSON.parse(config);
  } catch {
    throw { path: "", message: "config is not valid JSON" };
  }
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    throw { path: "", message: "config must be a JSON object" };
  }
  if (!Object.prototype.hasOwnProperty.call(document, "url")) {
    throw { path: "/url", message: "is required" };
  }
  const url = document.url;
  if (typeof url !== "string" || !(url.startsWith("http://") || url.startsWith("https://"))) {
    throw { path: "/url", message: "must be an http:// or https:// URL" };
  }
  const unknown = Object.keys(document).filter((key) => key !== "url").sort(byCodePoint);
  if (unknown.length > 0) {
    throw { path: `/${unknown[0]}`, message: "is not a setting (known: url)" };
  }
  return url;
}

/** `retry-after` as whole seconds: one to nine ASCII digits, nothing else. */
function wholeSeconds(value) {
  return value !== undefined && /^[0-9]{1,9}$/.test(value) ? BigInt(value) : undefined;
}

export const channel = {
  info() {
    return {
      name: "channel-json-post-js",
      version: "1.0.0",
      kind: "channel-adapter",
      description: "Posts each message as JSON to one URL with a bearer token.",
      configSchema: CONFIG_SCHEMA,
      needs: { attributes: [], events: [], eventWindow: undefined, allowedHosts: ["*"], secrets: ["WEBHOOK_TOKEN"] },
    };
  },

  validateConfig(config) {
    parse(config);
  },

  build(invocation, message) {
    let url;
    try {
      url = parse(invocation.config);
    } catch (fault) {
      throw { code: "invalid_config", message: `${fault.path}: ${fault.message}` };
    }
    if (message.recipient === "") {
      throw { code: "missing_recipient", message: "the message has no recipient" };
    }
    const payload = {
      to: message.recipient,
      subject: message.subject ?? null,
      body: message.body,
      variant: message.variantId ?? null,
    };
    return [
      {
        method: "POST",
        url,
        headers: [
          ["content-type", "application/json"],
          ["authorization", "Bearer {{secret:WEBHOOK_TOKEN}}"],
          ["idempotency-key", message.idempotencyKey],
        ],
        body: new TextEncoder().encode(JSON.stringify(payload)),
      },
    ];
  },

  classify(invocation, requestIndex, response) {
    const header = (name) => response.headers.find(([key]) => key === name)?.[1];
    const status = response.status;
    if (status >= 200 && status <= 299) {
      return { tag: "delivered", val: header("x-message-id") };
    }
    if (status === 429) {
      const seconds = wholeSeconds(header("retry-after"));
      return { tag: "throttled", val: seconds === undefined ? undefined : seconds * 1000n };
    }
    if (status >= 500 && status <= 599) {
      return { tag: "retry-after", val: undefined };
    }
    return { tag: "rejected", val: `vendor answered ${status}` };
  },
};
