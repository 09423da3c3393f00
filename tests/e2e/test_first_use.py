"""What scripts and first-time users trip over, through the real CLI on a real cluster.

WAIT options after the command, one-line config errors and typo warnings,
``last`` naming the last job a user submitted, cache states by name, listings
of nothing, and every output format on every show command.
"""

from __future__ import annotations

import csv
import json
import string

import pytest

from directord.testing import Cluster, wait_for

SHOW_COMMANDS = [("job", "show", "last"), ("job", "analyze", "--job", "last"), ("job", "analyze", "last"),
                 ("job", "analyze", "--all"), ("job", "export", "jobs.yaml"), ("node", "export", "nodes.yaml"),
                 ("--cache-path", "node2", "cache", "dump")]


def submitted(cluster: Cluster, verb: str, text: str, *extra: str) -> str:
    """Submit one job (no following) and return its id."""
    result = cluster.cli("exec", "--verb", verb, text, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


def finished(cluster: Cluster, job_id: str) -> None:
    wait_for(lambda: not cluster.job(job_id)["PROCESSING"], 30, interval=0.1, what=f"job {job_id}")


# -- WAIT ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "retry"), [
    ('--cmd "echo x >> {log}; false" --retry 2 --retry-wait 0.05', 2),
    ("--retry 1 --cmd echo x >> {log}; false --retry-wait 0.05", 1),
])
def test_wait_retry_anywhere_counts_the_attempts(cluster: Cluster, tmp_path, text: str, retry: int) -> None:
    log = tmp_path / "attempts"
    result = cluster.cli("exec", "--verb", "WAIT", text.format(log=log), "--target", "node1", "--wait")
    assert result.returncode == 1, result.stdout + result.stderr
    assert log.read_text() == "x\n" * (retry + 1)  # the first attempt, then --retry more
    assert cluster.job()["INFO"]["node1"] == f"Command was not successful. Retried {retry} times."


def test_wait_exec_help_names_what_cmd_and_url_take(cluster: Cluster) -> None:
    result = cluster.cli("exec", "--verb", "WAIT", "--exec-help --cmd true")
    assert result.returncode == 0, result.stderr
    assert "--url URL" in result.stdout and "--cmd CMD" in result.stdout and "--retry N" in result.stdout
    assert "Options may appear anywhere." in result.stdout


# -- configuration -----------------------------------------------------------------
def test_a_broken_config_file_is_one_line(cluster: Cluster) -> None:
    broken = cluster.write("broken-config.yaml", "job_port: 5555\nheartbeat_interval: [1\n")
    result = cluster.cli("--config-file", str(broken), "job", "list")
    assert result.returncode == 2
    assert result.stderr == (f"directord: config file {broken}: line 3, column 1:"
                             " expected ',' or ']', but got '<stream end>'\n")


def test_a_mistyped_config_key_is_one_warning_line(cluster: Cluster) -> None:
    typo = cluster.write("typo-config.yaml", "heartbeat_intervall: 5\nmy_plugin_setting: 1\n")
    result = cluster.cli("--config-file", str(typo), "job", "list", "-f", "json")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)
    assert result.stderr == (f"directord: warning: config file {typo}: unknown key 'heartbeat_intervall';"
                             " did you mean 'heartbeat_interval'?\n")


# -- last ------------------------------------------------------------------------------
def test_last_is_the_users_last_job_with_its_real_id(cluster: Cluster) -> None:
    run_id = submitted(cluster, "RUN", "--skip-cache echo latest")
    assert cluster.job()["JOB_ID"] == run_id
    shown = cluster.cli("job", "show", "last", "-f", "value", "-c", "ID")
    assert shown.stdout.strip() == run_id
    table = cluster.cli("job", "show", "last").stdout.splitlines()
    assert [line.split("|")[2].strip() for line in table if line.startswith("| ID ")] == [run_id]


def test_last_after_a_query_is_the_query_not_its_arg_callback(cluster: Cluster) -> None:
    query_id = submitted(cluster, "QUERY", "--skip-cache hostname")
    finished(cluster, query_id)

    def callback() -> list[dict]:
        jobs = json.loads(cluster.cli("job", "list", "-f", "json").stdout)
        return [j for j in jobs if j["VERB"] == "ARG" and j["PARENT_JOB_ID"] == query_id and not j["PROCESSING"]]

    assert wait_for(callback, 30, interval=0.1, what="the QUERY's ARG callback")
    record = cluster.job("last")
    assert (record["JOB_ID"], record["VERB"]) == (query_id, "QUERY")
    info = {row["KEY"]: row["VALUE"] for row in json.loads(cluster.cli("manage", "--job-info", "last",
                                                                        "-f", "json").stdout)}
    assert (info["ID"], info["VERB"]) == (query_id, "QUERY")
    for args in (("job", "analyze", "--job", "last"), ("manage", "--analyze-job", "last")):
        analysis = cluster.cli(*args, "-f", "json")
        assert analysis.returncode == 0, analysis.stderr
        data = json.loads(analysis.stdout)
        rows = {row["KEY"]: row["VALUE"] for row in data} if isinstance(data, list) else data
        assert rows["ID"] == query_id, args


# -- cache dump ------------------------------------------------------------------------
def test_cache_dump_names_job_states(cluster: Cluster) -> None:
    for text in ("--skip-cache echo cached-ok", "--skip-cache false"):
        finished(cluster, submitted(cluster, "RUN", text, "--target", "node2"))
    node_cache = ("--cache-path", str(cluster.root / "node2"))
    dump = cluster.cli(*node_cache, "cache", "dump", "-f", "json")
    assert dump.returncode == 0, dump.stderr
    states = {value for value in json.loads(dump.stdout).values() if isinstance(value, str)}
    assert {"success", "failed"} <= states
    table = cluster.cli(*node_cache, "cache", "dump")
    assert table.returncode == 0 and "| success" in table.stdout and "| failed" in table.stdout
    assert not set(table.stdout) - set(string.printable)  # no raw control codes
    assert not set(table.stdout) & set("\x00\x04\x15\x16")


# -- output formats ----------------------------------------------------------------------
@pytest.mark.parametrize("command", SHOW_COMMANDS, ids=" ".join)
def test_every_format_works_on_show_commands(cluster: Cluster, command: tuple[str, ...]) -> None:
    outputs = {}
    for fmt in ("table", "value", "json", "yaml", "csv", "shell"):
        result = cluster.cli(*command, "-f", fmt)
        assert result.returncode == 0, (fmt, result.stderr)
        assert result.stdout.strip(), fmt
        outputs[fmt] = result.stdout
    fields = json.loads(outputs["json"])
    header, row = list(csv.reader(outputs["csv"].splitlines()))
    assert header == list(fields)
    assert row[0] == str(fields[header[0]])


def test_job_purge_in_csv_then_listings_of_nothing(cluster: Cluster) -> None:
    purge = cluster.cli("job", "purge", "-f", "csv")
    assert (purge.returncode, purge.stdout.splitlines()) == (0, ['"SUCCESS"', "True"])
    for args in (("job", "list"), ("job", "list", "--filter", "failed"), ("manage", "--list-jobs")):
        assert json.loads(cluster.cli(*args, "-f", "json").stdout) == [], args
        table = cluster.cli(*args)
        assert (table.returncode, table.stderr) == (0, ""), args
        assert cluster.cli(*args, "-f", "csv").stdout.startswith('"ID",'), args


def test_node_list_stays_a_probe_while_job_list_of_nothing_succeeds(tmp_path) -> None:
    bare = Cluster(tmp_path, clients=0)
    bare.start_server()
    try:
        for args in (("node", "list"), ("manage", "--list-nodes")):
            probe = bare.cli(*args)
            assert probe.returncode == 1 and probe.stderr == "directord: No data found\n", args
        jobs = bare.cli("job", "list", "-f", "json")
        assert (jobs.returncode, json.loads(jobs.stdout)) == (0, [])
        empty_table = bare.cli("job", "list")
        assert (empty_table.returncode, empty_table.stderr) == (0, "")
    finally:
        bare.stop()
