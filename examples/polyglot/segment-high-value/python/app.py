"""`segment-high-value`, the Python twin (built with componentize-py).

Members are profiles worth at least `min_ltv` with at least `min_orders` completed orders, except
those of an excluded tier. The behaviour is specified in `examples/polyglot/README.md`; the Rust,
JavaScript and C twins match it exactly.
"""

import json
from dataclasses import dataclass
from typing import List, Optional

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
    Value_Float,
    Value_Integer,
    Value_Text,
)

KNOWN = ("min_ltv", "min_orders", "exclude_tier")

CONFIG_SCHEMA = (
    '{"type":"object","properties":{"min_ltv":{"type":"number","minimum":0},'
    '"min_orders":{"type":"integer","minimum":0},"exclude_tier":{"type":"string"}},'
    '"additionalProperties":false}'
)


@dataclass
class Config:
    min_ltv: float
    min_orders: float
    exclude_tier: Optional[str]


def _reject_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; JSON does not.
    raise ValueError(name)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse(config: str) -> Config:
    """Parses and checks the config; raises Err(ConfigError) with the first fault."""
    try:
        document = json.loads(config, parse_constant=_reject_constant)
    except ValueError:
        raise Err(ConfigError("", "config is not valid JSON"))
    if not isinstance(document, dict):
        raise Err(ConfigError("", "config must be a JSON object"))
    min_ltv = document.get("min_ltv", 100)
    if not _is_number(min_ltv) or min_ltv < 0:
        raise Err(ConfigError("/min_ltv", "must be a number of at least 0"))
    min_orders = document.get("min_orders", 0)
    if not _is_number(min_orders) or min_orders < 0 or not float(min_orders).is_integer():
        raise Err(ConfigError("/min_orders", "must be a whole number of at least 0"))
    exclude_tier = document.get("exclude_tier")
    if "exclude_tier" in document and not isinstance(exclude_tier, str):
        raise Err(ConfigError("/exclude_tier", "must be a string"))
    unknown = sorted(key for key in document if key not in KNOWN)
    if unknown:
        raise Err(ConfigError(f"/{unknown[0]}", "is not a setting (known: min_ltv, min_orders, exclude_tier)"))
    return Config(float(min_ltv), float(min_orders), exclude_tier)


def judge(config: Config, subject: Subject) -> Membership:
    ltv = None
    tier = None
    for attribute in subject.attributes:
        if attribute.name == "lifetime_value" and isinstance(attribute.value, (Value_Integer, Value_Float)):
            ltv = float(attribute.value.value)
        elif attribute.name == "tier" and isinstance(attribute.value, Value_Text):
            tier = attribute.value.value
    orders = sum(1 for event in subject.events if event.name == "order_completed")
    excluded = config.exclude_tier is not None and tier == config.exclude_tier
    member = ltv is not None and ltv >= config.min_ltv and orders >= config.min_orders and not excluded
    return Membership(member=member, score=ltv)


class Segmentation(exports.Segmentation):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="segment-high-value-python",
            version="1.0.0",
            kind=PluginKind.SEGMENT_RULE,
            description="Profiles worth at least min_ltv with at least min_orders orders, except one tier.",
            config_schema=CONFIG_SCHEMA,
            needs=Needs(
                attributes=["lifetime_value", "tier"],
                events=["order_completed"],
                event_window=None,
                allowed_hosts=[],
                secrets=[],
            ),
        )

    def validate_config(self, config: str) -> None:
        parse(config)

    def evaluate(self, invocation: Invocation, subjects: List[Subject]) -> List[Membership]:
        try:
            config = parse(invocation.config)
        except Err as err:
            fault = err.value
            raise Err(PluginError("invalid_config", f"{fault.path}: {fault.message}"))
        return [judge(config, subject) for subject in subjects]
