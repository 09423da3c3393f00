"""What the server counts for Prometheus, and how the exporter turns it into families."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import promtext
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from directord import config
from directord.datastores.memory import MemoryDatastore
from directord.job import Job
from directord.metrics import ServerCollector
from directord.models import Control, Message
from directord.server.jobs import JobTable
from directord.server.metrics import Histogram, ServerMetrics

END, FAILED = Control.JOB_END.value, Control.JOB_FAILED.value


def scrape(metrics: ServerMetrics) -> dict[str, float]:
    """Every sample the exporter would serve, keyed ``name{label=value,...}``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(metrics))
    return promtext.samples(generate_latest(registry).decode())


def result(job_id: str, control: str, seconds: float) -> Message:
    return Message(job_id, control, "RUN", {"execution_time": seconds})


def test_histogram_buckets_are_cumulative_with_an_infinite_one() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 7.0):
        histogram.observe(value)
    buckets, total = histogram.cumulative()
    assert buckets == [("0.1", 2), ("1.0", 3), ("+Inf", 4)]
    assert total == pytest.approx(7.65)


def test_the_job_table_counts_jobs_and_results_as_they_end() -> None:
    table = JobTable(MemoryDatastore())
    for job_id in ("ok", "bad"):
        table.create(Job(verb="RUN", job_id=job_id), ["n1", "n2"])
    table.skip(Job(verb="ADD", job_id="skipped"), "not in --restrict")
    table.apply("n1", result("ok", END, 0.2))
    table.apply("n2", result("ok", END, 0.3))
    table.apply("n1", result("bad", END, 0.2))
    assert table.metrics.succeeded == {"RUN": 1} and not table.metrics.failed  # "bad" is not over yet
    table.apply("n2", result("bad", FAILED, 4.0))
    table.apply("n2", result("bad", END, 0.1))  # late and ignored: counted nowhere
    table.flush()
    metrics = table.metrics
    assert metrics.submitted == {"RUN": 2} and metrics.skipped == {"ADD": 1}
    assert metrics.succeeded == {"RUN": 1} and metrics.failed == {"RUN": 1}
    assert metrics.results == {"success": 3, "failed": 1}
    assert metrics.execution.cumulative()[1] == pytest.approx(4.7)
    assert sum(metrics.roundtrip.counts) == 4
    assert sum(metrics.datastore_writes.counts) >= 1


def test_the_exporter_serves_every_family_with_the_counts() -> None:
    metrics = ServerMetrics()
    metrics.job_submitted("RUN")
    metrics.job_submitted("RUN")
    metrics.job_finished("RUN", failed=True)
    metrics.node_result(False, 0.2, None)
    metrics.snapshot = {"role": "active", "nodes_live": 3, "nodes_held": 1, "nodes_expired": 2,
                        "jobs_active": 1, "queue_depth": 5, "unacked_messages": 4, "dropped": 7}
    samples = scrape(metrics)
    assert samples["directord_jobs_submitted_total{verb=RUN}"] == 2
    assert samples["directord_jobs_failed_total{verb=RUN}"] == 1
    assert samples["directord_node_results_total{outcome=failed}"] == 1
    assert samples["directord_node_results_total{outcome=success}"] == 0
    assert samples["directord_roundtrip_seconds_count{}"] == 1
    assert samples["directord_roundtrip_seconds_bucket{le=0.25}"] == 1
    assert samples["directord_execution_seconds_count{}"] == 0
    assert samples["directord_nodes{state=live}"] == 3 and samples["directord_nodes{state=held}"] == 1
    assert samples["directord_nodes_expired_total{}"] == 2
    assert samples["directord_dropped_frames_total{}"] == 7
    assert samples["directord_queue_depth{}"] == 5 and samples["directord_unacked_messages{}"] == 4
    assert samples["directord_server_role{role=active}"] == 1
    assert samples["directord_server_role{role=standby}"] == 0


@pytest.mark.parametrize("text, expected", [("127.0.0.1:9100", ("127.0.0.1", 9100)),
                                            ("[::1]:9100", ("::1", 9100)), ("host.example:1", ("host.example", 1))])
def test_bind_addresses_split_into_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert config.split_bind(text) == expected
    assert config.bind_address(text) == text


@pytest.mark.parametrize("text", ["9100", ":9100", "host:", "host:99999", "host:http"])
def test_a_bind_address_without_host_and_port_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        config.bind_address(text)


def test_the_all_extra_installs_every_optional_feature() -> None:
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[2] / "setup.cfg")
    extras = {name: set(value.split()) for name, value in setup["options.extras_require"].items()}
    wanted = set().union(*(deps for name, deps in extras.items() if name not in ("all", "test")))
    assert wanted <= extras["all"]


def test_the_sample_grafana_dashboard_queries_only_served_metrics() -> None:
    dashboard = json.loads((Path(__file__).parents[2] / "examples" / "grafana-dashboard.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"directord_[a-z_]+", target["expr"])}
    metrics = ServerMetrics()
    metrics.job_submitted("RUN")
    metrics.job_finished("RUN", failed=True)
    metrics.job_finished("RUN", failed=False)
    metrics.node_result(True, 0.1, 0.1)
    served = {key.split("{")[0] for key in scrape(metrics)}  # a labelled family with no sample serves no line
    assert queried and queried <= served
