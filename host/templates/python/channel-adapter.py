"""{{name}}: a channel adapter.

POSTs the message body to the configured URL (`{"url": "https://..."}`) with a bearer token the
host substitutes for `{{secret:HOOK_TOKEN}}`: the plugin never sees the secret, and never does I/O
itself. WIT types in Python: records are dataclasses with snake_case fields, a variant case is a
class (`DeliveryOutcome_Throttled`, with `.value`), an option is the value or None, and a function
returning result<T, E> returns T or raises `Err(E)`. The contract is in wit/.
"""

import json
from typing import List

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
    InboundRequest,
    SignatureCheck,
    VendorReport,
)
from wit_world.imports.types import ConfigError, Invocation, Message, Needs, PluginError, PluginInfo, PluginKind


def url_of(config: str) -> str:
    """Reads the binding config; raises Err(ConfigError) naming the setting at fault."""
    try:
        settings = json.loads(config)
    except ValueError:
        raise Err(ConfigError("", "config is not valid JSON"))
    if not isinstance(settings, dict):
        raise Err(ConfigError("", "config must be a JSON object"))
    if "url" not in settings:
        raise Err(ConfigError("/url", "is required"))
    url = settings["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise Err(ConfigError("/url", "must be an http:// or https:// URL"))
    return url


class Channel(exports.Channel):
    def info(self) -> PluginInfo:
        return PluginInfo(
            name="{{name}}",
            version="0.1.0",
            kind=PluginKind.CHANNEL_ADAPTER,
            description="POSTs the message body.",
            config_schema="{}",
            needs=Needs(attributes=[], events=[], event_window=None, allowed_hosts=["*"], secrets=["HOOK_TOKEN"]),
            provides=[],
        )

    def validate_config(self, config: str) -> None:
        url_of(config)

    def build(self, invocation: Invocation, message: Message) -> List[HttpRequest]:
        try:
            url = url_of(invocation.config)
        except Err as err:
            raise Err(PluginError("invalid_config", f"{err.value.path}: {err.value.message}"))
        headers = [
            ("authorization", "Bearer {{secret:HOOK_TOKEN}}"),
            # The vendor drops a retried send it has already accepted.
            ("idempotency-key", message.idempotency_key),
        ]
        return [HttpRequest(method="POST", url=url, headers=headers, body=message.body.encode())]

    def classify(self, invocation: Invocation, request_index: int, response: HttpResponse) -> DeliveryOutcome:
        status = response.status
        if 200 <= status <= 299:
            return DeliveryOutcome_Delivered(None)
        if status == 429:
            return DeliveryOutcome_Throttled(None)
        if 500 <= status <= 599:
            return DeliveryOutcome_RetryAfter(None)
        return DeliveryOutcome_Rejected(f"vendor answered {status}")

    def verification(self, config: str) -> SignatureCheck:
        """How the vendor signs its webhooks, for a feedback endpoint; this adapter takes none.

        One that does returns, for example, SignatureCheck(key=SignatureKey_HmacSha256(
        "HOOK_SIGNING_SECRET"), signed=[SignedPart_Body()], header="x-signature", prefix="sha256=",
        encoding=SignatureEncoding.HEX, timestamp_header=None).
        """
        raise Err(ConfigError("", "this adapter takes no vendor feedback"))

    def feedback(self, invocation: Invocation, request: InboundRequest) -> List[VendorReport]:
        """Turns one verified webhook request into reports (VendorReport(kind=ReportKind.BOUNCED, ...))."""
        return []
