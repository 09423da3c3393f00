"""Prometheus metrics: a real server with --metrics-bind, scraped over HTTP after real jobs."""

from __future__ import annotations

import subprocess
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import promtext
import pytest

from directord.testing import Cluster, free_port, wait_for
from directord.user import UserClient


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("metrics"), clients=2)
    cluster.metrics_port = free_port()  # type: ignore[attr-defined]
    with cluster.supervised():
        cluster.start_server(True, "--metrics-bind", f"127.0.0.1:{cluster.metrics_port}")  # type: ignore[attr-defined]
        for name in cluster.names:
            cluster.start_client(name)
        cluster.wait_nodes(set(cluster.names))
        yield cluster


def scrape(port: int) -> dict[str, float]:
    """``/metrics`` over HTTP: every sample, keyed ``name{label=value,...}``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310 - loopback
        return promtext.samples(response.read().decode())


def by_verb(samples: dict[str, float], name: str) -> Counter[str]:
    prefix = f"{name}_total{{verb="
    return Counter({key[len(prefix):-1]: int(v) for key, v in samples.items() if key.startswith(prefix) and v})


def test_counters_equal_the_job_table_after_a_run(cluster: Cluster) -> None:
    for args in (["RUN", "true"], ["RUN", "--skip-cache false"], ["ARG", "colour blue"], ["RUN", "--skip-cache true"]):
        cluster.cli("exec", "--verb", *args, "--wait")
    records = UserClient(cluster.socket).call("list_jobs")
    assert len(records) == 4 and all(not r["PROCESSING"] for r in records)
    port = cluster.metrics_port  # type: ignore[attr-defined]
    # The gauges are a snapshot refreshed every housekeeping tick: one taken
    # while the last job was still running may be the one served first.
    samples = wait_for(lambda: (s := scrape(port))["directord_nodes{state=live}"] == 2
                       and s["directord_jobs_active{}"] == 0 and s, 10,
                       what="a gauge refresh after the last job finished")
    assert by_verb(samples, "directord_jobs_submitted") == Counter(r["VERB"] for r in records)
    assert by_verb(samples, "directord_jobs_failed") == Counter(r["VERB"] for r in records if r["FAILED"])
    assert by_verb(samples, "directord_jobs_succeeded") == Counter(r["VERB"] for r in records if not r["FAILED"])
    successes = sum(len(r["SUCCESS"]) for r in records)
    failures = sum(len(r["FAILED"]) for r in records)
    assert (successes, failures) == (6, 2)
    assert samples["directord_node_results_total{outcome=success}"] == successes
    assert samples["directord_node_results_total{outcome=failed}"] == failures
    assert samples["directord_roundtrip_seconds_count{}"] == successes + failures
    assert samples["directord_execution_seconds_count{}"] == successes + failures
    slowest = max(t for r in records for t in r["_roundtripltime"].values())
    assert samples["directord_roundtrip_seconds_sum{}"] <= slowest * (successes + failures)
    assert samples["directord_server_role{role=active}"] == 1
    assert samples["directord_datastore_write_seconds_count{}"] >= 1


def run_server(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    cluster = Cluster(tmp_path, clients=0)
    return subprocess.run([*cluster.cli_argv("server", "--zmq-bind-address", "127.0.0.1", *extra)],
                          capture_output=True, text=True, timeout=30, env=cluster.env, stdin=subprocess.DEVNULL)


def test_a_metrics_address_in_use_stops_the_server_with_one_line(tmp_path: Path, cluster: Cluster) -> None:
    taken = f"127.0.0.1:{cluster.metrics_port}"  # type: ignore[attr-defined]
    done = run_server(tmp_path, "--metrics-bind", taken)
    assert done.returncode == 2
    assert done.stderr.strip() == f"directord: cannot serve metrics on {taken}: Address already in use"
    assert not (tmp_path / "directord.sock").exists()


def test_a_metrics_address_without_a_port_is_refused(tmp_path: Path) -> None:
    done = run_server(tmp_path, "--metrics-bind", "localhost")
    assert done.returncode == 2
    assert "--metrics-bind" in done.stderr and "HOST:PORT" in done.stderr
    assert "Traceback" not in done.stderr
