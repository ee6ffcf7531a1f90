// {{name}}: a segment rule. Members are the profiles whose `tier` attribute is the configured
// tier (`{"tier": "vip"}`; "vip" when unset).
//
// WIT types in JavaScript: records are objects with camelCase fields, s64/u64 are BigInt, an
// option<T> is the value or undefined, a variant is { tag, val }, and a function returning
// result<T, E> returns T or throws E. The contract is in wit/.

/** Reads the binding config; throws a config-error naming the setting at fault. */
function tierOf(config) {
  let settings;
  try {
    settings = JSON.parse(config);
  } catch {
    throw { path: "", message: "config is not valid JSON" };
  }
  if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
    throw { path: "", message: "config must be a JSON object" };
  }
  if (!("tier" in settings)) return "vip";
  if (typeof settings.tier !== "string") throw { path: "/tier", message: "must be a string" };
  return settings.tier;
}

export const segmentation = {
  info() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      kind: "segment-rule",
      description: "Profiles of one tier.",
      configSchema: "{}",
      needs: { attributes: ["tier"], events: [], eventWindow: undefined, allowedHosts: [], secrets: [] },
      provides: [],
    };
  },

  validateConfig(config) {
    tierOf(config);
  },

  // What this binding's config reads: the same whatever the config (the host loads only this).
  needsForConfig(config) {
    return segmentation.info().needs;
  },

  evaluate(invocation, subjects) {
    let tier;
    try {
      tier = tierOf(invocation.config);
    } catch (fault) {
      throw { code: "invalid_config", message: `${fault.path}: ${fault.message}` };
    }
    return subjects.map((subject) => {
      const value = subject.attributes.find((attribute) => attribute.name === "tier")?.value;
      return { member: value?.tag === "text" && value.val === tier, score: undefined, recheckAt: undefined };
    });
  },
};
