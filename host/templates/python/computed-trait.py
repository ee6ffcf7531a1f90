"""{{name}}: a computed trait.

Writes `event_count`, how many events of the configured name the profile has (`{"event":
"order_completed"}`; "order_completed" when unset). The host stores it with the profile, where
segments and personalizers read it like any attribute. WIT types in Python: records are
dataclasses with snake_case fields, a variant case is a class (`Value_Integer`, with `.value`), an
option is the value or None, and a function returning result<T, E> returns T or raises `Err(E)`.
The contract is in wit/.
"""

import json
from typing import List

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    Attribute,
    ConfigError,
    Invocation,
    Needs,
    PluginError,
    PluginInfo,
    PluginKind,
    Subject,
    Value_Integer,
)

TRAIT = "event_count"
"""The trait this plugin writes."""


def event_of(config: str) -> str:
    """Reads the binding config; raises Err(ConfigError) naming the setting at fault."""
    try:
        settings = json.loads(config)
    except ValueError:
        raise Err(ConfigError("", "config is not valid JSON"))
    if not isinstance(settings, dict):
        raise Err(ConfigError("", "config must be a JSON object"))
    event = settings.get("event", "order_completed")
    if not isinstance(event, str):
        raise Err(ConfigError("/event", "must be a string"))
    return event


class Traits(exports.Traits):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="{{name}}",
            version="0.1.0",
            kind=PluginKind.COMPUTED_TRAIT,
            description="Counts one event per profile.",
            config_schema="{}",
            # The most it may ever read: any event. `needs_for_config` narrows it per binding.
            needs=Needs(attributes=[], events=["*"], event_window=None, allowed_hosts=[], secrets=[]),
            provides=[TRAIT],
        )

    def validate_config(self, config: str) -> None:
        event_of(config)

    def needs_for_config(self, config: str) -> Needs:
        """Only the counted event, so the host loads nothing else."""
        try:
            event = event_of(config)
        except Err:
            return self.info().needs
        return Needs(attributes=[], events=[event], event_window=None, allowed_hosts=[], secrets=[])

    def compute(self, invocation: Invocation, subjects: List[Subject]) -> List[List[Attribute]]:
        try:
            event = event_of(invocation.config)
        except Err as err:
            raise Err(PluginError("invalid_config", f"{err.value.path}: {err.value.message}"))
        return [
            [Attribute(TRAIT, Value_Integer(sum(1 for e in subject.events if e.name == event)))]
            for subject in subjects
        ]
