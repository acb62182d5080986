"""Request metrics: the counter and histogram families Prometheus scrapes, kept as plain numbers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shared.observability import RequestMetrics, request_id_of


def scrape(metrics: RequestMetrics) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(metrics)
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_requests_are_counted_by_status_and_timed_into_cumulative_buckets() -> None:
    metrics = RequestMetrics(buckets=(0.01, 0.1))
    for seconds in (0.01, 0.02, 0.5):  # on a bound counts in that bucket (le: less or equal)
        metrics.record("lots", "GET", "/l/{code:path}", 200, seconds)
    metrics.record("lots", "GET", "/l/{code:path}", 304, 0.001)
    found = scrape(metrics)
    route = (("method", "GET"), ("route", "/l/{code:path}"), ("service", "lots"))
    counts = found["chacra_http_requests_total"]
    assert counts[(*route[:2], ("service", "lots"), ("status", "200"))] == 3
    assert counts[(*route[:2], ("service", "lots"), ("status", "304"))] == 1
    buckets = found["chacra_http_request_duration_seconds_bucket"]
    assert [buckets[tuple(sorted((*route, ("le", le))))] for le in ("0.01", "0.1", "+Inf")] == [2, 3, 4]
    assert found["chacra_http_request_duration_seconds_count"][route] == 4
    assert abs(found["chacra_http_request_duration_seconds_sum"][route] - 0.531) < 1e-9


def test_a_request_keeps_its_callers_id_or_gets_a_new_unique_one() -> None:
    given = {"headers": [(b"x-request-id", b"from-the-gateway")]}
    assert request_id_of(given) == b"from-the-gateway"
    assert len(request_id_of({"headers": [(b"x-request-id", b"")]})) == 32  # an empty one is no id
    made = {request_id_of({"headers": []}) for _ in range(1000)}
    assert len(made) == 1000 and all(len(i) == 32 and int(i, 16) >= 0 for i in made)
