"""Callbacks: a component's ``block_on_tasks``, from a component file written
against the original API. The server dispatches them; a job whose callback runs on its own
node stays processing until that callback ended there."""

from __future__ import annotations

import json

import pytest

from directord.testing import Cluster, wait_for

pytestmark = pytest.mark.transports("zmq", "redis")

CALLBACK_COMPONENT = '''
from directord import components


class Component(components.ComponentBase):
    def args(self):
        super().args()
        self.parser.add_argument("marker")
        self.parser.add_argument("--on", default=None)
        self.parser.add_argument("--fail", action="store_true")

    def server(self, exec_array, data, arg_vars):
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        data.update(marker=self.known_args.marker, on=self.known_args.on, fail=self.known_args.fail)
        return data

    def client(self, cache, job):
        command = "sleep 0.5; echo $(date +%s.%N) > " + job["marker"] + ("; false" if job["fail"] else "")
        self.block_on_tasks = [{
            "verb": "RUN", "command": command, "skip_cache": True, "timeout": 60,
            "targets": [job["on"] or self.driver.identity], "job_name": "callback of " + job["job_id"],
        }]
        return "handed over", None, True, None
'''


@pytest.fixture(scope="module")
def callbacks(cluster: Cluster) -> Cluster:
    cluster.components.mkdir(exist_ok=True)
    (cluster.components / "handover.py").write_text(CALLBACK_COMPONENT)
    return cluster


def handover(cluster: Cluster, marker, *options: str) -> tuple[int, dict, dict]:
    result = cluster.cli("exec", "--verb", "HANDOVER", "--target", "node1", "--wait", "--",
                         " ".join([str(marker), *options]))
    assert "Traceback" not in result.stderr
    jobs = json.loads(cluster.cli("job", "list", "-f", "json").stdout)
    job = cluster.job([j for j in jobs if j["VERB"] == "HANDOVER"][-1]["ID"])
    callback = next(j for j in jobs if j["NAME"] == f"callback of {job['ID']}")
    return result.returncode, job, cluster.job(callback["ID"])


def test_the_job_ends_after_its_callback_on_the_same_node(callbacks, tmp_path):
    marker = tmp_path / "same-node"
    code, job, callback = handover(callbacks, marker)
    assert code == 0
    assert marker.exists()  # finished before --wait returned
    assert job["SUCCESS"] == ["node1"] and callback["SUCCESS"] == ["node1"]
    assert job["INFO"]["node1"] == f"Callback [ {callback['ID']} ] completed"
    assert job["STDOUT"]["node1"] == "handed over"
    assert float(job["EXECUTION_TIME"]) >= 0.5  # the wait counts as the job's time


def test_a_failed_callback_fails_the_job_waiting_for_it(callbacks, tmp_path):
    code, job, callback = handover(callbacks, tmp_path / "failing", "--fail")
    assert code == 1
    assert callback["FAILED"] == ["node1"]
    assert job["FAILED"] == ["node1"]
    assert job["INFO"]["node1"] == f"Callback [ {callback['ID']} ] failed"


def test_a_callback_for_another_node_does_not_block(callbacks, tmp_path):
    marker = tmp_path / "other-node"
    code, job, callback = handover(callbacks, marker, "--on", "node2")
    assert code == 0
    assert job["INFO"]["node1"] == "task finished"
    done = wait_for(lambda: callbacks.job(callback["ID"])["SUCCESS"], 10, what="the callback on node2")
    assert done == ["node2"]
    assert marker.exists()
