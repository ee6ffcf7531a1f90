"""{{name}}: a personalizer.

Replaces every `{{first_name}}` in the body with the profile's `first_name` attribute, or "there"
when it has none. WIT types in Python: records are dataclasses with snake_case fields, a variant
case is a class (`Value_Text`, with `.value`), an option is the value or None, and a function
returning result<T, E> returns T or raises `Err(E)`. The contract is in wit/.
"""

from wit_world import exports
from wit_world.imports.types import Invocation, Message, Needs, PluginInfo, PluginKind, Subject, Value_Text


class Personalization(exports.Personalization):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="{{name}}",
            version="0.1.0",
            kind=PluginKind.PERSONALIZER,
            description="Greets by first name.",
            config_schema="{}",
            needs=Needs(attributes=["first_name"], events=[], event_window=None, allowed_hosts=[], secrets=[]),
            provides=[],
        )

    def validate_config(self, config: str) -> None:
        pass

    def personalize(self, invocation: Invocation, subject: Subject, template: Message) -> Message:
        first_name = "there"
        for attribute in subject.attributes:
            if attribute.name == "first_name" and isinstance(attribute.value, Value_Text):
                first_name = attribute.value.value
        template.body = template.body.replace("{{first_name}}", first_name)
        return template
