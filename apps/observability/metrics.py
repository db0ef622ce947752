"""`hector_*` Prometheus series. Named hector_<area>_<thing>_<unit>."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

http_requests_total = Counter(
    "hector_http_requests_total", "HTTP requests served.", ["method", "route", "status"]
)
http_request_duration_seconds = Histogram(
    "hector_http_request_duration_seconds", "HTTP request latency.", ["method", "route"]
)
config_reload_total = Counter(
    "hector_config_reload_total", "Config file reloads by outcome.", ["result"]
)
apps_total = Gauge("hector_apps", "Apps (tenants) registered.")
errors_total = Counter(
    "hector_errors_total", "Errors by component and type.", ["component", "type"]
)
push_notifications_total = Counter(
    "hector_push_notifications_total",
    "A2A push notification deliveries by outcome.",
    ["result"],
)
