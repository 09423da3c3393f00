"""Prometheus metrics of a server (the ``metrics`` extra), served when ``--metrics-bind`` is set.

The server counts as it goes (``directord.server.metrics``); this module only
turns those counts into Prometheus families when a scraper asks, on the
HTTP server's own thread, so a scrape never runs on the server's event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from directord.exceptions import ConfigError
from directord.server.metrics import Histogram, ServerMetrics

try:
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
except ImportError:  # pragma: no cover - exercised by the message test with the extra absent
    CollectorRegistry = None  # type: ignore[assignment,misc]

BY_VERB = (
    ("directord_jobs_submitted", "Jobs accepted by the server, by verb.", "submitted"),
    ("directord_jobs_succeeded", "Jobs that ended with every node successful, by verb.", "succeeded"),
    ("directord_jobs_failed", "Jobs that ended with at least one node failed, by verb.", "failed"),
    ("directord_jobs_skipped", "Jobs that ran nowhere (--restrict), by verb.", "skipped"),
)
HISTOGRAMS = (
    ("directord_roundtrip_seconds", "Submission to a node's final result.", "roundtrip"),
    ("directord_execution_seconds", "Time a node reports it ran a job.", "execution"),
    ("directord_datastore_write_seconds", "One batched write of job records to the datastore.", "datastore_writes"),
)


class ServerCollector:
    """Every directord_ family, read from one server's ``ServerMetrics``."""

    def __init__(self, metrics: ServerMetrics):
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        metrics = self.metrics
        for name, doc, attribute in BY_VERB:
            family = CounterMetricFamily(name, doc, labels=["verb"])
            for verb, count in sorted(dict(getattr(metrics, attribute)).items()):
                family.add_metric([verb], count)
            yield family
        results = CounterMetricFamily("directord_node_results", "Final results recorded from nodes, by outcome.",
                                      labels=["outcome"])
        counted = dict(metrics.results)
        for outcome in ("success", "failed"):
            results.add_metric([outcome], counted.get(outcome, 0))
        yield results
        for name, doc, attribute in HISTOGRAMS:
            histogram: Histogram = getattr(metrics, attribute)
            buckets, total = histogram.cumulative()
            yield HistogramMetricFamily(name, doc, buckets=buckets, sum_value=total)
        yield from _gauges(metrics.snapshot)


def _gauges(snapshot: dict[str, Any]) -> Iterator[Any]:
    nodes = GaugeMetricFamily("directord_nodes", "Registered nodes, by state.", labels=["state"])
    for state in ("live", "held"):
        nodes.add_metric([state], snapshot.get(f"nodes_{state}", 0))
    yield nodes
    for key, doc in (("jobs_active", "Jobs not yet final on every node."),
                     ("queue_depth", "Messages waiting to be sent to nodes (held nodes' included)."),
                     ("unacked_messages", "Messages sent to nodes and not yet acknowledged.")):
        yield GaugeMetricFamily(f"directord_{key}", doc, value=snapshot.get(key, 0))
    yield CounterMetricFamily("directord_dropped_frames", "Malformed frames and messages dropped.",
                              value=snapshot.get("dropped", 0))
    yield CounterMetricFamily("directord_nodes_expired", "Nodes expired after missing their heartbeats.",
                              value=snapshot.get("nodes_expired", 0))
    role = GaugeMetricFamily("directord_server_role", "1 for this server's role (active or standby).",
                             labels=["role"])
    for name in ("active", "standby"):
        role.add_metric([name], 1 if snapshot.get("role") == name else 0)
    yield role


def serve(metrics: ServerMetrics, host: str, port: int) -> Any:
    """Serve ``/metrics`` on ``host:port`` from a thread; the HTTP server (``shutdown()`` stops it)."""
    if CollectorRegistry is None:
        raise ConfigError("--metrics-bind needs prometheus_client: pip install 'directord[metrics]'")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(metrics))
    try:
        httpd, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
    return httpd
