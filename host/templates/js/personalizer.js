// {{name}}: a personalizer. Replaces every `{{first_name}}` in the body with the profile's
// `first_name` attribute, or "there" when it has none.
//
// WIT types in JavaScript: records are objects with camelCase fields, s64/u64 are BigInt, an
// option<T> is the value or undefined, a variant is { tag, val }, and a function returning
// result<T, E> returns T or throws E. The contract is in wit/.

export const personalization = {
  info() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      kind: "personalizer",
      description: "Greets by first name.",
      configSchema: "{}",
      needs: { attributes: ["first_name"], events: [], eventWindow: undefined, allowedHosts: [], secrets: [] },
      provides: [],
    };
  },

  validateConfig(config) {},

  personalize(invocation, subject, template) {
    const value = subject.attributes.find((attribute) => attribute.name === "first_name")?.value;
    const firstName = value?.tag === "text" ? value.val : "there";
    return { ...template, body: template.body.replaceAll("{{first_name}}", firstName) };
  },
};
