"""Sends one customer's story through an official analytics client library with its default
settings, as an app would: python send.py segment|rudderstack URL WRITE_KEY.

Ids are prefixed with the library's name, so both libraries can send to one server."""

import sys

which, url, key = sys.argv[1:4]
if which == "segment":
    import segment.analytics as analytics

    analytics.host = url
else:
    import rudderstack.analytics as analytics

    analytics.dataPlaneUrl = url
analytics.write_key = key
errors = []
analytics.on_error = lambda error, batch: errors.append(str(error))

p = which
analytics.identify(
    f"{p}-ada",
    {"email": f"Ada.{p}@Example.com", "first_name": "Ada", "email_opt_in": True},
    context={"timezone": "Europe/Paris", "locale": "fr-FR"},
    anonymous_id=f"{p}-anon-1",
)
order = {"revenue": 40, "currency": "EUR"}
utm = {"campaign": {"source": "newsletter", "medium": "email", "name": "spring"}}
analytics.track(f"{p}-ada", "Order Completed", order, context=utm, message_id=f"{p}-order-1")
# The app retries the same message: stored once.
analytics.track(f"{p}-ada", "Order Completed", order, context=utm, message_id=f"{p}-order-1")
analytics.page(f"{p}-ada", "Docs", "Install", {"url": "https://example.com/docs"})
analytics.screen(f"{p}-ada", "App", "Home")
analytics.group(f"{p}-ada", f"{p}-acme", {"plan": "pro"})
analytics.track(anonymous_id=f"{p}-anon-2", event="Product Viewed", properties={"sku": "A1"})
analytics.alias(f"{p}-anon-2", f"{p}-ada")
analytics.flush()
if errors:
    print("\n".join(errors))
    sys.exit(1)
