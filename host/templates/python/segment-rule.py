"""{{name}}: a segment rule.

Members are the profiles whose `tier` attribute is the configured tier (`{"tier": "vip"}`; "vip"
when unset). WIT types in Python: records are dataclasses with snake_case fields, a variant case
is a class (`Value_Text`, with `.value`), an option is the value or None, and a function returning
result<T, E> returns T or raises `Err(E)`. The contract is in wit/.
"""

import json
from typing import List

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.segmentation import Membership
from wit_world.imports.types import (
    ConfigError,
    Invocation,
    Needs,
    PluginError,
    PluginInfo,
    PluginKind,
    Subject,
    Value_Text,
)


def tier_of(config: str) -> str:
    """Reads the binding config; raises Err(ConfigError) naming the setting at fault."""
    try:
        settings = json.loads(config)
    except ValueError:
        raise Err(ConfigError("", "config is not valid JSON"))
    if not isinstance(settings, dict):
        raise Err(ConfigError("", "config must be a JSON object"))
    tier = settings.get("tier", "vip")
    if not isinstance(tier, str):
        raise Err(ConfigError("/tier", "must be a string"))
    return tier


class Segmentation(exports.Segmentation):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="{{name}}",
            version="0.1.0",
            kind=PluginKind.SEGMENT_RULE,
            description="Profiles of one tier.",
            config_schema="{}",
            needs=Needs(attributes=["tier"], events=[], event_window=None, allowed_hosts=[], secrets=[]),
            provides=[],
        )

    def validate_config(self, config: str) -> None:
        tier_of(config)

    def needs_for_config(self, config: str) -> Needs:
        """What this binding's config reads: the same whatever the config (the host loads only this)."""
        return self.info().needs

    def evaluate(self, invocation: Invocation, subjects: List[Subject]) -> List[Membership]:
        try:
            tier = tier_of(invocation.config)
        except Err as err:
            raise Err(PluginError("invalid_config", f"{err.value.path}: {err.value.message}"))
        return [Membership(member=member_tier(subject) == tier, score=None, recheck_at=None) for subject in subjects]


def member_tier(subject: Subject):
    """The profile's tier, or None when it has no text `tier` attribute."""
    for attribute in subject.attributes:
        if attribute.name == "tier" and isinstance(attribute.value, Value_Text):
            return attribute.value.value
    return None
