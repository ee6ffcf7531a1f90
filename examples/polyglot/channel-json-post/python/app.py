"""`channel-json-post`, the Python twin (built with componentize-py).

Posts each message as a small JSON document to one URL with a bearer token the host substitutes,
and classifies the answer. The behaviour is specified in `examples/polyglot/README.md`; the Rust,
JavaScript and C twins match it exactly.
"""

import json
from typing import List, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.channel import (
    DeliveryOutcome,
    DeliveryOutcome_Delivered,
    DeliveryOutcome_Rejected,
    DeliveryOutcome_RetryAfter,
    DeliveryOutcome_Throttled,
    HttpRequest,
    HttpResponse,
)
from wit_world.imports.types import (
    ConfigError,
    Invocation,
    Message,
    Needs,
    PluginError,
    PluginInfo,
    PluginKind,
)

CONFIG_SCHEMA = (
    '{"type":"object","required":["url"],"properties":{"url":{"type":"string","pattern":"^https?://"}},'
    '"additionalProperties":false}'
)


def _reject_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; JSON does not.
    raise ValueError(name)


def parse(config: str) -> str:
    """Parses and checks the config and returns the URL; raises Err(ConfigError) with the first fault."""
    try:
        document = json.loads(config, parse_constant=_reject_constant)
    except ValueError:
        raise Err(ConfigError("", "config is not valid JSON"))
    if not isinstance(document, dict):
        raise Err(ConfigError("", "config must be a JSON object"))
    if "url" not in document:
        raise Err(ConfigError("/url", "is required"))
    url = document["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise Err(ConfigError("/url", "must be an http:// or https:// URL"))
    unknown = sorted(key for key in document if key != "url")
    if unknown:
        raise Err(ConfigError(f"/{unknown[0]}", "is not a setting (known: url)"))
    return url


def whole_seconds(value: Optional[str]) -> Optional[int]:
    """`retry-after` as whole seconds: one to nine ASCII digits, nothing else."""
    if value is None or not 1 <= len(value) <= 9 or not all("0" <= c <= "9" for c in value):
        return None
    return int(value)


class Channel(exports.Channel):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="channel-json-post-python",
            version="1.0.0",
            kind=PluginKind.CHANNEL_ADAPTER,
            description="Posts each message as JSON to one URL with a bearer token.",
            config_schema=CONFIG_SCHEMA,
            needs=Needs(attributes=[], events=[], event_window=None, allowed_hosts=["*"], secrets=["WEBHOOK_TOKEN"]),
        )

    def validate_config(self, config: str) -> None:
        parse(config)

    def build(self, invocation: Invocation, message: Message) -> List[HttpRequest]:
        try:
            url = parse(invocation.config)
        except Err as err:
            fault = err.value
            raise Err(PluginError("invalid_config", f"{fault.path}: {fault.message}"))
        if not message.recipient:
            raise Err(PluginError("missing_recipient", "the message has no recipient"))
        payload = {
            "to": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "variant": message.variant_id,
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = [
            ("content-type", "application/json"),
            ("authorization", "Bearer {{secret:WEBHOOK_TOKEN}}"),
            ("idempotency-key", message.idempotency_key),
        ]
        return [HttpRequest(method="POST", url=url, headers=headers, body=body)]

    def classify(self, invocation: Invocation, request_index: int, response: HttpResponse) -> DeliveryOutcome:
        headers = dict(reversed(response.headers))  # the first value of a repeated header wins
        status = response.status
        if 200 <= status <= 299:
            return DeliveryOutcome_Delivered(headers.get("x-message-id"))
        if status == 429:
            seconds = whole_seconds(headers.get("retry-after"))
            return DeliveryOutcome_Throttled(None if seconds is None else seconds * 1000)
        if 500 <= status <= 599:
            return DeliveryOutcome_RetryAfter(None)
        return DeliveryOutcome_Rejected(f"vendor answered {status}")
