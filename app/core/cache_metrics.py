"""Cache metrics for `/metrics`: per process, read at scrape time from the parts that keep counts.

Each app owns its registry, so several apps in one process (tests) never share or clash. Parts of
the app register a plain callable returning numbers; nothing on the request path updates a metric
object. With several workers, each scrape answers for the worker that served it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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


def cache_registry(cache_stats: Source) -> CollectorRegistry:
    """A registry of this app's cache counters, read from the store at scrape time (per app, per process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CacheCollector(cache_stats))
    return registry
