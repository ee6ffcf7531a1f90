// {{name}}: a KPI calculator. Counts the events it is fed.
//
// The host opens one accumulator per run, feeds it events in batches and asks for the metrics:
// in JavaScript the WIT resource is a class with a static `open`.

class Accumulator {
  constructor() {
    this.count = 0;
  }

  static open(invocation) {
    return new Accumulator();
  }

  add(events) {
    this.count += events.length;
  }

  finish() {
    return [
      {
        name: "events",
        value: this.count,
        unit: "count",
        numerator: undefined,
        denominator: undefined,
        denominatorName: undefined,
        dimensions: [],
      },
    ];
  }
}

export const kpi = {
  info() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      kind: "kpi-calculator",
      description: "Counts events.",
      configSchema: "{}",
      needs: { attributes: [], events: ["*"], eventWindow: undefined, allowedHosts: [], secrets: [] },
      provides: [],
    };
  },

  validateConfig(config) {},

  // What this binding's config reads: the same whatever the config (the host loads only this).
  needsForConfig(config) {
    return kpi.info().needs;
  },

  Accumulator,
};
