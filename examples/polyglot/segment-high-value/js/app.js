// `segment-high-value`, the JavaScript twin (built with `jco componentize`).
//
// Members are profiles worth at least `min_ltv` with at least `min_orders` completed orders,
// except those of an excluded tier. The behaviour is specified in examples/polyglot/README.md;
// the Rust, Python and C twins match it exactly.
//
// How WIT types look in JavaScript: records are objects with camelCase fields, `s64`/`u64` are
// BigInt, an `option<T>` is the value or `undefined`, a variant is `{ tag, val }`, and an exported
// function returning `result<T, E>` returns T or throws E.

const KNOWN = ["min_ltv", "min_orders", "exclude_tier"];

const CONFIG_SCHEMA =
  '{"type":"object","properties":{"min_ltv":{"type":"number","minimum":0},' +
  '"min_orders":{"type":"integer","minimum":0},"exclude_tier":{"type":"string"}},' +
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

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

/** Parses and checks the config; throws a config-error with the first fault. */
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
  const has = (key) => Object.prototype.hasOwnProperty.call(document, key);
  const minLtv = has("min_ltv") ? document.min_ltv : 100;
  if (!isNumber(minLtv) || minLtv < 0) {
    throw { path: "/min_ltv", message: "must be a number of at least 0" };
  }
  const minOrders = has("min_orders") ? document.min_orders : 0;
  if (!isNumber(minOrders) || minOrders < 0 || !Number.isInteger(minOrders)) {
    throw { path: "/min_orders", message: "must be a whole number of at least 0" };
  }
  const excludeTier = has("exclude_tier") ? document.exclude_tier : undefined;
  if (has("exclude_tier") && typeof excludeTier !== "string") {
    throw { path: "/exclude_tier", message: "must be a string" };
  }
  const unknown = Object.keys(document).filter((key) => !KNOWN.includes(key)).sort(byCodePoint);
  if (unknown.length > 0) {
    throw { path: `/${unknown[0]}`, message: "is not a setting (known: min_ltv, min_orders, exclude_tier)" };
  }
  return { minLtv, minOrders, excludeTier };
}

function judge(config, subject) {
  let ltv;
  let tier;
  for (const { name, value } of subject.attributes) {
    if (name === "lifetime_value" && (value.tag === "integer" || value.tag === "float")) {
      ltv = Number(value.val);
    } else if (name === "tier" && value.tag === "text") {
      tier = value.val;
    }
  }
  const orders = subject.events.filter((event) => event.name === "order_completed").length;
  const excluded = config.excludeTier !== undefined && tier === config.excludeTier;
  const member = ltv !== undefined && ltv >= config.minLtv && orders >= config.minOrders && !excluded;
  return { member, score: ltv };
}

export const segmentation = {
  info() {
    return {
      name: "segment-high-value-js",
      version: "1.0.0",
      kind: "segment-rule",
      description: "Profiles worth at least min_ltv with at least min_orders orders, except one tier.",
      configSchema: CONFIG_SCHEMA,
      needs: {
        attributes: ["lifetime_value", "tier"],
        events: ["order_completed"],
        eventWindow: undefined,
        allowedHosts: [],
        secrets: [],
      },
    };
  },

  validateConfig(config) {
    parse(config);
  },

  evaluate(invocation, subjects) {
    let config;
    try {
      config = parse(invocation.config);
    } catch (fault) {
      throw { code: "invalid_config", message: `${fault.path}: ${fault.message}` };
    }
    return subjects.map((subject) => judge(config, subject));
  },
};
