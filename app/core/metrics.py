"""Prometheus metrics at `/metrics`: per process, read at scrape time from the parts that keep counts.

Each app owns its registry, so several apps in one process (tests) never share or clash. Parts of
the app register a plain callable returning numbers; nothing on the request path updates a metric
object. With several workers, each scrape answers for the worker that served it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response

Source = Callable[[], Mapping[str, int]]

_HELP = {
    "druginfo_cache_hits": "Cache lookups that found an entry.",
    "druginfo_cache_misses": "Cache lookups that found nothing.",
    "druginfo_cache_evictions": "Entries dropped for room (LRU).",
    "druginfo_cache_entries": "Entries held now.",
    "druginfo_cache_bytes": "Bytes of prepared bodies held now.",
}
_COUNTERS = {"druginfo_cache_hits", "druginfo_cache_misses", "druginfo_cache_evictions"}
# `<cache>_<what>` in the store's stats → metric `druginfo_cache_<what>{cache="<cache>"}`.
_CACHE_METRICS: dict[str, tuple[str, str]] = {
    f"{cache}_{what}": (f"druginfo_cache_{what}", cache)
    for cache in ("responses", "documents", "bodies", "live")
    for what in ("hits", "misses", "evictions", "entries", "bytes")
}
_PLAIN_METRICS: dict[str, tuple[str, str, str]] = {
    "generation": ("druginfo_content_generation", "Content generation this process serves.", "gauge"),
    "views_made": (
        "druginfo_cache_generations",
        "Generation views made (each drops the previous generation's answers).",
        "counter",
    ),
    "renders": ("druginfo_documents_rendered", "Drug documents rendered from revisions.", "counter"),
}


class CacheCollector(Collector):
    """Turns the store's counters into Prometheus families at scrape time."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        stats = self.source()
        families: dict[str, Metric] = {}
        for key, (name, label) in _CACHE_METRICS.items():
            if key not in stats:
                continue
            family = families.get(name)
            if family is None:
                family_type = CounterMetricFamily if name in _COUNTERS else GaugeMetricFamily
                family = families[name] = family_type(name, _HELP[name], labels=["cache"])
            family.add_metric([label], stats[key])  # type: ignore[attr-defined]
        for key, (name, text, kind) in _PLAIN_METRICS.items():
            if key in stats:
                family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                families[name] = family_type(name, text, value=stats[key])
        yield from families.values()


def install_metrics(app: FastAPI, *, cache_stats: Source) -> CollectorRegistry:
    """A registry for this app, with the cache collector, served at `/metrics`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CacheCollector(cache_stats))
    app.state.metrics_registry = registry

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics of this process",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry
