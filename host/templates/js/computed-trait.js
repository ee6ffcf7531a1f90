// {{name}}: a computed trait. Writes `event_count`, how many events of the configured name the
// profile has (`{"event": "order_completed"}`; "order_completed" when unset). The host stores it
// with the profile, where segments and personalizers read it like any attribute.
//
// WIT types in JavaScript: records are objects with camelCase fields, s64/u64 are BigInt, an
// option<T> is the value or undefined, a variant is { tag, val }, and a function returning
// result<T, E> returns T or throws E. The contract is in wit/.

/** The trait this plugin writes. */
const TRAIT = "event_count";

/** Reads the binding config; throws a config-error naming the setting at fault. */
function eventOf(config) {
  let settings;
  try {
    settings = JSON.parse(config);
  } catch {
    throw { path: "", message: "config is not valid JSON" };
  }
  if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
    throw { path: "", message: "config must be a JSON object" };
  }
  if (!("event" in settings)) return "order_completed";
  if (typeof settings.event !== "string") throw { path: "/event", message: "must be a string" };
  return settings.event;
}

export const traits = {
  info() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      kind: "computed-trait",
      description: "Counts one event per profile.",
      configSchema: "{}",
      // The most it may ever read: any event. `needsForConfig` narrows it per binding.
      needs: { attributes: [], events: ["*"], eventWindow: undefined, allowedHosts: [], secrets: [] },
      provides: [TRAIT],
    };
  },

  validateConfig(config) {
    eventOf(config);
  },

  // Only the counted event, so the host loads nothing else.
  needsForConfig(config) {
    let event;
    try {
      event = eventOf(config);
    } catch {
      return traits.info().needs;
    }
    return { attributes: [], events: [event], eventWindow: undefined, allowedHosts: [], secrets: [] };
  },

  compute(invocation, subjects) {
    let event;
    try {
      event = eventOf(invocation.config);
    } catch (fault) {
      throw { code: "invalid_config", message: `${fault.path}: ${fault.message}` };
    }
    return subjects.map((subject) => {
      const count = subject.events.filter((e) => e.name === event).length;
      return [{ name: TRAIT, value: { tag: "integer", val: BigInt(count) } }];
    });
  },
};
