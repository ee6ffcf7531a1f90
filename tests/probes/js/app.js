// A probing personalizer in JavaScript: reports, as JSON in the body, what the sandbox lets it
// see. tests/tests/suite/polyglot_sandbox.rs asserts that the clock and randomness are virtual (derived
// from the invocation) and that no file, environment or network API exists. A build with `fetch`
// (jco's default `http` feature) imports wasi:http, which Baton refuses at install.

export const personalization = {
  info() {
    return {
      name: "probe-js",
      version: "0.1.0",
      kind: "personalizer",
      description: "Reports what the sandbox allows.",
      configSchema: "{}",
      needs: { attributes: [], events: [], eventWindow: undefined, allowedHosts: [], secrets: [] },
    };
  },

  validateConfig(config) {},

  personalize(invocation, subject, template) {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    const report = {
      now_ms: Date.now(),
      date: new Date().toISOString(),
      random: Math.random(),
      crypto: Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""),
      process: typeof process,
      require: typeof require,
      fetch: typeof fetch,
    };
    if (JSON.parse(invocation.config).fetch) {
      // Built without jco's http feature, `fetch` exists but its WASI import is a trap: the
      // call fails as a whole, which the test asserts.
      fetch("http://127.0.0.1:9/");
    }
    return { ...template, body: JSON.stringify(report) };
  },
};
