"""The dashboard in a real headless Chromium, against a real server and clients."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from directord.testing import Cluster, free_port, wait_for
from directord.testing.browser import headless_chromium
from directord.testing.processes import reap

ARTIFACTS = Path(os.environ.get("DIRECTORD_TEST_ARTIFACTS", Path(__file__).parents[1] / "artifacts"))
TOKEN = "correct-horse-battery-staple"  # noqa: S105 - a test token


def get(url: str, token: str = "", method: str = "GET", body: Any = None,
        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers or {}),
               **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, method=method, data=data, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("dashboard"), clients=2).running() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def dashboard(cluster: Cluster) -> Iterator[str]:
    process, url = cluster.start_dashboard()
    yield url
    process.terminate()
    reap(process, 10)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = headless_chromium()
    yield driver
    driver.quit()


READ = """return [...document.querySelectorAll(arguments[0])].map(e => ({
    text: e.textContent, cls: e.getAttribute("class") || "", node: e.dataset.node, job: e.dataset.job}));"""


def shown(browser: webdriver.Chrome, css: str, count: int | None = None, timeout: float = 10) -> list[dict[str, Any]]:
    """What the elements matching ``css`` hold (text, class, data-node, data-job), once there are some
    (``count`` of them, when given). Read in one script: a live redraw cannot change them half-way."""
    def found() -> list[dict[str, Any]]:
        elements = browser.execute_script(READ, css)
        return elements if elements and (count is None or len(elements) == count) else []
    return wait_for(found, timeout, interval=0.1, what=css)


def test_the_node_list_shows_the_live_nodes(browser: webdriver.Chrome, dashboard: str, cluster: Cluster) -> None:
    browser.get(dashboard + "/#/nodes")
    rows = shown(browser, "tr[data-node]", count=2)
    assert sorted(row["node"] for row in rows) == cluster.names
    assert all("active" in row["text"] for row in rows)


def test_a_job_submitted_from_the_cli_appears_without_a_reload(browser: webdriver.Chrome, dashboard: str,
                                                                cluster: Cluster) -> None:
    browser.get(dashboard + "/#/jobs")
    shown(browser, "#out")
    browser.execute_script("window.sameDocument = true")
    result = cluster.cli("exec", "--verb", "RUN", "--skip-cache echo from the cli", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    job_id = cluster.job()["JOB_ID"]
    wait_for(lambda: "success" in shown(browser, f'tr[data-job="{job_id}"]', count=1)[0]["text"], 5,
             what="the job's success")
    assert browser.execute_script("return window.sameDocument") is True  # no reload happened


def test_the_timeline_draws_a_row_per_node_and_a_bar_per_job(browser: webdriver.Chrome, dashboard: str,
                                                             cluster: Cluster) -> None:
    path = cluster.write("timeline.yaml", "- jobs:\n  - RUN: --skip-cache echo one\n  - RUN: --skip-cache sleep 0.2\n"
                                          "  - RUN: --skip-cache echo three; exit 3\n")
    result = cluster.cli("orchestrate", str(path), "--wait")
    assert result.returncode != 0  # the last job failed on both nodes
    failed = cluster.job()
    browser.get(f"{dashboard}/#/orchestration/{failed['PARENT_JOB_ID']}")
    rows = shown(browser, "svg#timeline g.row", count=2)
    assert sorted(row["node"] for row in rows) == cluster.names
    bars = shown(browser, "svg#timeline rect.bar", count=6)  # 3 jobs x 2 nodes
    red = [bar for bar in bars if "failed" in bar["cls"].split()]
    assert {bar["job"] for bar in red} == {failed["JOB_ID"]}
    assert sorted(bar["node"] for bar in red) == cluster.names
    assert all("success" in bar["cls"].split() for bar in bars if bar not in red)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard-timeline.png"))
    assert (ARTIFACTS / "dashboard-timeline.png").stat().st_size > 10_000


def test_read_only_by_default(dashboard: str) -> None:
    status, body = get(dashboard + "/api/submit", method="POST", body={"verb": "RUN", "text": "true"},
                       headers={"X-Directord-Submit": "1"})
    assert status == 403 and "read-only" in body["error"]


def test_a_non_loopback_bind_needs_a_token(cluster: Cluster) -> None:
    done = subprocess.run(cluster.cli_argv("dashboard", "--bind", f"0.0.0.0:{free_port()}"), capture_output=True,
                          text=True, timeout=30, env=cluster.env, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "needs --token-file" in done.stderr


def test_with_a_token_every_request_must_carry_it(cluster: Cluster, browser: webdriver.Chrome) -> None:
    token_file = cluster.write("dashboard.token", TOKEN + "\n")
    process, url = cluster.start_dashboard("--bind", f"0.0.0.0:{free_port()}", "--token-file", str(token_file),
                                   "--allow-submit")
    try:
        assert get(url + "/api/state")[0] == 401
        assert get(url + "/api/state", token="wrong-token-wrong-token")[0] == 401  # noqa: S106
        status, state = get(url + "/api/state", token=TOKEN)
        assert status == 200 and state["allow_submit"] is True
        # --allow-submit: a job from the API runs, but only with the header no cross-site form can send
        job = {"verb": "RUN", "text": "--skip-cache echo submitted", "targets": "node1"}
        assert get(url + "/api/submit", token=TOKEN, method="POST", body=job)[0] == 400
        status, answer = get(url + "/api/submit", token=TOKEN, method="POST", body=job,
                             headers={"X-Directord-Submit": "1"})
        assert status == 200, answer
        wait_for(lambda: cluster.job(answer["job_ids"][0])["SUCCESS"] == ["node1"], 10, what="the submitted job")
        # a browser signs in once; the cookie carries the token from then on
        browser.delete_all_cookies()
        browser.get(url + "/")
        shown(browser, "input[name=token]")
        field = browser.find_element(By.NAME, "token")  # the login page never redraws
        field.send_keys(TOKEN)
        field.submit()
        shown(browser, "tr[data-node]", count=2)
    finally:
        process.terminate()
        reap(process, 10)


def test_a_thousand_nodes_and_ten_thousand_jobs_come_in_pages(tmp_path: Path, browser: webdriver.Chrome) -> None:
    """1,000 simulated nodes (real protocol peers) and 10,000 jobs: the page shows them a page at a time."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    import simfleet

    from directord.orchestration import build_job
    from directord.user import UserClient

    cluster = Cluster(tmp_path, clients=0, heartbeat=10.0)
    with cluster.supervised():
        cluster.start_server()
        fleet = simfleet.launch(cluster.job_port, 1000, 1000, 10.0, logs=tmp_path)
        try:
            user = UserClient(cluster.socket, timeout=60)
            wait_for(lambda: len(user.call("list_nodes")) == 1000, 60, interval=0.5, what="1,000 simulated nodes")
            first = user.call("list_nodes")[0]["identity"]
            jobs = [build_job("RUN", "true", extra={"targets": [first]}).to_dict() for _ in range(10_000)]
            ids = user.call("submit", jobs=jobs)["job_ids"]
            wait_for(lambda: all(s and s["complete"] for s in user.call("wait", job_ids=ids[-1:], timeout=5).values()),
                     60, what="the last of 10,000 jobs")
            process, url = cluster.start_dashboard()
            try:
                browser.get(url + "/#/nodes")
                shown(browser, "tr[data-node]", count=500, timeout=30)
                assert "1–500 of 1000" in shown(browser, ".pager")[0]["text"]
                browser.get(url + "/#/jobs")
                wait_for(lambda: "1–100 of 10000" in shown(browser, ".pager", timeout=30)[0]["text"], 30,
                         what="the jobs' pager")
                assert len(shown(browser, "tr[data-job]", count=100)) == 100
                browser.find_element(By.CSS_SELECTOR, ".pager button[data-page='1']").click()
                wait_for(lambda: "101–200 of 10000" in shown(browser, ".pager")[0]["text"], 10, what="page two")
            finally:
                process.terminate()
                reap(process, 10)
        finally:
            simfleet.stop(fleet)


def test_tls_serves_https_and_a_secure_cookie(cluster: Cluster, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert), "-days", "1"], check=True, capture_output=True)
    token_file = cluster.write("tls.token", TOKEN)
    port = free_port()
    process, _url = cluster.start_dashboard("--bind", f"127.0.0.1:{port}", "--token-file", str(token_file),
                                            "--tls-cert", str(cert), "--tls-key", str(key), scheme="https")
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        request = urllib.request.Request(f"https://127.0.0.1:{port}/login", data=f"token={TOKEN}".encode(),
                                         method="POST")  # noqa: S310 - loopback
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(request, timeout=10)
        assert redirect.value.code == 302
        cookie = redirect.value.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    finally:
        process.terminate()
        reap(process, 10)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
