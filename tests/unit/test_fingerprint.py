"""Fingerprints: SHA3-224 of jobs, orchestrations and files, equal to the original Directord's."""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from directord import fingerprint
from directord.fingerprint import file_sha3_224, object_sha3_224
from directord.orchestration import fingerprint_rows

from .helpers import built, built_jobs


def test_object_golden_vector() -> None:
    assert object_sha3_224({"test": "value"}) == "4bc695abcb557b8e893a69389488afa07fcf9b42028de30db92c887b"


def test_object_digest_keeps_key_order_and_default_separators() -> None:
    # No key sorting: insertion order is part of the fingerprint.
    assert object_sha3_224({"a": 1, "b": 2}) != object_sha3_224({"b": 2, "a": 1})
    expected = hashlib.sha3_224(b'{"a": 1, "b": [1, 2]}').hexdigest()
    assert object_sha3_224({"a": 1, "b": [1, 2]}) == expected


def test_run_job_dict_golden_vector() -> None:
    job = {
        "verb": "RUN",
        "no_block": False,
        "retry": 1,
        "command": "long '{{ jinja }}' quoted string string",
        "timeout": 600,
        "run_once": False,
    }
    assert object_sha3_224(job) == "9bbc435b49b5104da33093b22402c75a263a2d1665bcfc6faa29249e"


def test_run_job_built_from_text_matches_golden_vector() -> None:
    job = built("RUN", "long '{{ jinja }}' quoted string string")
    assert job["command"] == "long '{{ jinja }}' quoted string string"
    assert job["job_sha3_224"] == "9bbc435b49b5104da33093b22402c75a263a2d1665bcfc6faa29249e"


def test_arg_golden_vector() -> None:
    job = built("ARG", "key value")
    assert job["args"] == {"key": "value"}
    assert job["job_sha3_224"] == "a5d63364114e96a96e5be4261f31a9bc0a45ecd2d5edba11336dd896"
    literal = {"verb": "ARG", "args": {"key": "value"}, "timeout": 600, "run_once": False}
    assert object_sha3_224(literal) == job["job_sha3_224"]


def test_orchestration_golden_vector() -> None:
    orchestration = {
        "targets": ["test1", "test2", "test3"],
        "jobs": [{"RUN": "command1"}, {"RUN": "command2"}, {"RUN": "command3"}],
    }
    assert object_sha3_224(orchestration) == "5bc535e8fa927e4a4ab9ca188f8b560935b32a00dacc4f9e76b05d08"


@pytest.mark.parametrize(
    ("execute", "expected"),
    [
        ("command3", "40a7e8a1ca03e22337791ff51665494440c5463269c88228caa49bc3"),
        ("command 1", "04adb60da1a30eb6da60da3ff967fc4d025c39e45ec1ab021835d946"),
    ],
)
def test_run_command_golden_vectors(execute: str, expected: str) -> None:
    job = built("RUN", execute)
    # build_job adds timeout and run_once before hashing.
    assert job["timeout"] == 600
    assert job["run_once"] is False
    assert job["job_sha3_224"] == expected


def test_run_with_vars_golden_vector() -> None:
    job = built("RUN", "echo x", {"stdout_arg": "o", "timeout": 5})
    assert job["stdout_arg"] == "o"
    assert job["timeout"] == 5
    assert job["job_sha3_224"] == "c8187de3f789f89043f8ea6d806c5280d614d9516e4e9564a2cc6a75"


def test_job_sha_ignores_fields_added_after_hashing() -> None:
    plain = built("RUN", "command3")
    extra = built(
        "RUN", "command3", ignore_cache=True,
        extra={"targets": ["n1"], "parent_id": "p", "job_name": "named", "restrict": ["x"]},
    )
    assert extra["skip_cache"] is True
    assert extra["targets"] == ["n1"]
    assert extra["job_sha3_224"] == plain["job_sha3_224"]


def test_job_sha_covers_the_sha_relevant_fields() -> None:
    base = built("RUN", "command3")["job_sha3_224"]
    assert built("RUN", "--timeout 5 command3")["job_sha3_224"] != base
    assert built("RUN", "--run-once command3")["job_sha3_224"] != base
    assert built("RUN", "command4")["job_sha3_224"] != base
    # --skip-cache is not part of the fingerprint.
    assert built("RUN", "--skip-cache command3")["job_sha3_224"] == base


def test_text_runs_verbatim_but_is_fingerprinted_collapsed() -> None:
    # The command keeps its quoting, spacing and newlines; the fingerprint is
    # taken over the whitespace-collapsed text, as the original hashed it.
    job = built("RUN", "echo a\necho   'b  c'\n")
    assert job["command"] == "echo a\necho   'b  c'"
    expected = object_sha3_224({
        "verb": "RUN", "no_block": False, "retry": 1, "command": "echo a echo 'b c'",
        "timeout": 600, "run_once": False,
    })
    assert job["job_sha3_224"] == expected


def test_arg_value_runs_verbatim_but_is_fingerprinted_collapsed() -> None:
    job = built("ARG", 's "a  b"')
    assert job["args"] == {"s": "a  b"}
    assert job["job_sha3_224"] == object_sha3_224({"verb": "ARG", "args": {"s": "a b"}, "timeout": 600,
                                                   "run_once": False})


def test_env_fingerprint_uses_the_unconverted_value() -> None:
    job = built("ENV", "PORT 8080")
    assert job["envs"] == {"PORT": "8080"}  # stored as text for the environment
    assert job["job_sha3_224"] == object_sha3_224({"verb": "ENV", "envs": {"PORT": 8080}, "timeout": 600,
                                                   "run_once": False})


def test_options_inside_the_command_stay_in_the_command() -> None:
    job = built("RUN", "echo --timeout 5 hi")
    assert job["command"] == "echo --timeout 5 hi"
    assert job["timeout"] == 600


def test_file_golden_vector(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"data")
    assert file_sha3_224(str(path)) == "4516c726a95c8d5dadcf1d252fac1f2c2e0c435a2cd76db0be854bf7"


def test_file_digest_is_independent_of_chunking(tmp_path: Path) -> None:
    content = bytes(range(256)) * 200  # 51200 bytes: several 10 KiB chunks
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    expected = hashlib.sha3_224(content).hexdigest()
    assert fingerprint.FILE_CHUNK == 10240
    assert file_sha3_224(str(path)) == expected
    assert file_sha3_224(str(path), chunk_size=7) == expected


def test_file_digest_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert file_sha3_224(str(path)) == hashlib.sha3_224(b"").hexdigest()


# -- golden vectors produced by running Directord 0.12.0 ----------------------------
# Each value below is the job_sha3_224 that Directord 0.12.0's Mixin.format_action
# returned for the same verb, text and vars (its QUERY_WAIT, JOB_WAIT, FACTER and
# REBOOT are the components it ships in share/directord/components). ADD/COPY hash
# the absolute source path, so those jobs ran with the files below in GOLDEN_DIR
# as the working directory; the files' content is not part of the fingerprint.
#
# Jobs read differently on purpose, whose fingerprints therefore differ:
# * RUN options inside or after the command (``echo --timeout 5 hi``): the
#   original took them as options; here they stay in the command.
# * ``RUN: -- echo hi``: the original kept ``--`` in the command; here it ends
#   the options.
# * ``DNF: vim --latest tmux``: the original dropped ``tmux`` (words after an
#   option that follows other words); here every package is kept.
# * ``WORKDIR: /opt/{{ name }}``: the original stored ``/opt/{{``; here the span
#   stays whole. ``ADD: b.txt /etc/{{ host }}.crt`` and ``ADD: SRC --chown u
#   DEST`` failed in the original; here they build.
GOLDEN_DIR = "/tmp/directord-golden"  # noqa: S108 - fixed: the absolute path is in the golden values
GOLDEN_FILES = ("a.j2", "b.txt", "my file.txt")
GOLDEN_JOBS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("RUN", "command3", None,
     "40a7e8a1ca03e22337791ff51665494440c5463269c88228caa49bc3"),
    ("RUN", "echo a\n  echo   b\nls -la\n", None,
     "e08de7141d6153bc7c950383981feda087473468cf5e04edb9259d0f"),
    ('RUN', 'for i in 1 2; do\n    echo "$i"\ndone\n', None,
     "99a226b301ae73e460c4b8715ab822a3e819b4a5938d693bda1daee7"),
    ("RUN", "echo   a    b", None,
     "677a6df3028e86a17c903cb6f185101a68cca91edd6f9e8d100c6771"),
    ('RUN', 'echo "a  b" \'c\'', None,
     "bf1f6effb26c6806f6e961bada163f0e35ba2ddec470211653029946"),
    ("RUN", "--skip-cache echo hi", None,
     "072f75503fd451668cf477f21d43d9003d1b581b3042772e68db1441"),
    ("RUN", "--stdout-arg x hostname", None,
     "87b5804d67983c978d2ec572761c26e40038be7a230ba90bbc7c2b6d"),
    ("RUN", "--timeout 5 sleep 1", None,
     "79fb1380225280943bd921072e275e026f58edceb7966905581f1920"),
    ("RUN", "--no-block --retry 3 --stderr-arg e sleep 1", None,
     "7580d2e4c8e63c0555fcf3e5f7085afb10342adc417e4e9b75974e25"),
    ("RUN", "--run-once --force-lock echo once", None,
     "4e0d3f1eaa3d3986d5fce967802f5be65aee992756b757c31d66ba06"),
    ("RUN", "echo x", {"stdout_arg": "o", "timeout": 5},
     "c8187de3f789f89043f8ea6d806c5280d614d9516e4e9564a2cc6a75"),
    ("RUN", "ls -la /tmp", None,
     "28e9ef22462ed0af7455aa363e111a8766d591951ba45be5664334b0"),
    ("ARG", "key value", None,
     "a5d63364114e96a96e5be4261f31a9bc0a45ecd2d5edba11336dd896"),
    ('ARG', 'ip "{{ ips[deployment_host] }}"', None,
     "f66be187f2dcf75bee8e2b254d51a8855c43df2de8fc955a9cca324f"),
    ('ARG', 'd {"a": 1, "b": [1, 2]}', None,
     "9ce964a3c309a47579ad0b8d348ede8a140c0c08b30793eddf5db1f4"),
    ('ARG', "l [1, 'a']", None,
     "b1e32f797054c361ff3245b7453461f4ab30063be64d215b3a49e974"),
    ('ARG', '--extend-args d {"a": {"b": 1}}', None,
     "f146ad8a50cec7b8329e182a5cdd4baf2f5fdb3069aaac0d478b842c"),
    ('ARG', 'cfg {"a":\n  1,\n "b": "x  y"}\n', None,
     "dd73338cf1b4d30be5caf7406ec0155a8afc3f1c39f9165fbaca6878"),
    ('ARG', 's "a  b"', None,
     "c9d28af9b0d6d5d91f137a6975dcf9493d7f87f6c74ba87b2291e49d"),
    ("ARG", "n 5", None,
     "04e202ead87237a667d4c9b288e97260a14a956ac8f783c86456fca9"),
    ("ARG", "words hello   big world", None,
     "eeb3fb5de6cd4ad80628cd7145f6a10f164d15a22ef9207a8a32c0c5"),
    ("ENV", "FOO bar", None,
     "d84805004957f7f5b8f5a3f1f8aa9d42f2d2c1c322c7433bff275bb5"),
    ("ENV", "PORT 8080", None,
     "cbc7ad27a7a2a43b7549bf4d288f75064f80dd6a3f6c3994d052f728"),
    ("ENV", "PATH /usr/bin:/bin", None,
     "770e9257f3cdf607ecd8010e630b7e4fb2d68f4beb278743eb7b2b5b"),
    ("ENV", "--extend-args X 1.5", None,
     "b3db38d7d8f8041ab58179f2d59e781d1303af188ab95fb16e987a99"),
    ("ADD", "--blueprint a.j2 /etc/x.conf --chown root --chmod 0600", None,
     "507128a1194fc16bd14435a16f44e83076f758c3405a6bd1b8810c81"),
    ("ADD", "--blueprint a.j2 /etc/x.conf", None,
     "e045fc9400f1b19f977b864f588066f08052e7b599d11c16ced971c3"),
    ("ADD", "--chown root:wheel --chmod 0644 b.txt /etc/", None,
     "80af424a263eabcb3a1f6338d43ccf8b4d53b7f8fd68fefb7029c2c6"),
    ("ADD", "b.txt /etc/b.txt --chown root:wheel", None,
     "c12b8fabaa7ff56e066757668a73df990bf44fcfde1040b8233bc2fe"),
    ("ADD", f"{GOLDEN_DIR}/b.txt /opt/b.txt", None,
     "b93819fa6a53b69ae95ec4be79b5c890bece1c854e45cdaa2b970d5e"),
    ('ADD', '--skip-cache b.txt "/opt/dir with space/"', None,
     "95c015ed7cc21f61497256acdc3612376af55d10914fb93acbd572ce"),
    ('ADD', '"my file.txt" /opt/', None,
     "90dafa6d55c8e15acb32c449043a03e456feba55793fa9b7a0d48876"),
    ("ADD", "b.txt /etc/{{host}}.crt", None,
     "1906d4332df806edd1a2bfedca401176a6d9fb3e56b2c5f39d4999bc"),
    ("ADD", "--chown :wheel b.txt /etc/", None,
     "215b1411932df86d99637e44c0946b9f63fc4908400f87ff1e5ec575"),
    ("COPY", "--chmod 0644 b.txt /opt/b.txt", None,
     "20d3aa000b2c17c1702293b77900cf97b84d4b47607ac38dd3e6bd1f"),
    ("COPY", "b.txt /opt/ --blueprint", None,
     "6ce818bd7ab34baa82437633207db0c3f096715801a69129df336e18"),
    ("WORKDIR", "/opt/app", None,
     "c24c1131ac224cbff617f9ee41c39e277af47e3d1e813bfc9fac2e9a"),
    ("WORKDIR", "--chown root:root --chmod 0755 /opt/app", None,
     "fb0c61f5615f778cdcb70990bd68255e1158f81bdfaab5f2691abc3f"),
    ("WORKDIR", "/opt/app --chmod 0750 --chown alice", None,
     "4b87205a53faa5382270a83d7dffc11abfe05853e36bd867e0eabc1d"),
    ("CACHEFILE", "/etc/directord/facts.yaml", None,
     "d4446debdb28a61c64732c56c01898cd6835a41ab4ae694da04d3f86"),
    ("CACHEFILE", "--skip-cache /x.yaml", None,
     "f2dd0f4221f6d73ad25bd8c8873e380bd8d3bfd11be7308b5e57e140"),
    ("CACHEFILE", "/x.yaml --timeout 30", None,
     "ff80161526a4cab404c8bbebc1e95b8af5cb96fbbc36170bfefac06f"),
    ("CACHEEVICT", "all", None,
     "6b82e1399f5706e4cba5b2386696e0760e82d6e32394d7d72adc41d8"),
    ("CACHEEVICT", "args", None,
     "7aeff001ac7be50294a90b92c7026193111a582c1abad5001e716af9"),
    ("CACHEEVICT", "--timeout 9 jobs", None,
     "502b7c1ab4c14296f08e4e50e95ba0fc23b7b8d22eaca1a8098ec79d"),
    ("QUERY", "hostname", None,
     "98d013a6c834ad7eddf931e3cd7fa701c729333e9f5eee350cf0eb83"),
    ("QUERY", "--no-wait hostname", None,
     "f5833d3518c535f56c7aa805d60db25ee0b59e6bdcd6506bbdfe4bfb"),
    ("QUERY", "hostname --no-wait", None,
     "f5833d3518c535f56c7aa805d60db25ee0b59e6bdcd6506bbdfe4bfb"),
    ("QUERY_WAIT", "k", None,
     "2bd80708da33e887beeb188ce774088082c9ec1760a52e2e87d71cac"),
    ("QUERY_WAIT", "--query-timeout 5 --identity n1 n2 -- k", None,
     "f4c9496cbb7b2cf0ca567d14f056ddce785b5d243dbf0d4d21eb05d9"),
    ("QUERY_WAIT", "k --identity n1 n2", None,
     "c9e021a5bef228bd74268b98b3c29350c89d0ea15d2f6ec219f01782"),
    ("JOB_WAIT", "abc123 --identity n1 n2", None,
     "0108df6a76d0fd3ed8ccc2413b24cab19e8c0685151da47142567637"),
    ("JOB_WAIT", "--identity n1 n2 -- abc123", None,
     "0108df6a76d0fd3ed8ccc2413b24cab19e8c0685151da47142567637"),
    ("DNF", "vim", None,
     "e15260e5d3d24421bf5ba888487c4860ce01ec4cc6751661e105ec1b"),
    ("DNF", "--latest vim tmux", None,
     "15f310afdf5f9d04c7f5c52ecc94e61b31594ef7a8794e0bfe5672c7"),
    ("DNF", "--absent --exclude kernel vim", None,
     "9e31fc40fe8739d94348ecff5910936d8c6f38a84d5129a022dd0830"),
    ("DNF", "--clear-metadata --retry 5 vim", None,
     "5b063e4999148fc2d55c7bc68e9615aec5d4bcb7ef489b2b4940a72e"),
    ("DNF", "vim tmux --latest", None,
     "15f310afdf5f9d04c7f5c52ecc94e61b31594ef7a8794e0bfe5672c7"),
    ("DNF", "{{ pkg }}", None,
     "dbdd84cc28337ae772232619836f24fbfc9d4c78ff1b2b06a76edca0"),
    ("SERVICE", "sshd", None,
     "1a1d786b2bad384378cdf713ab06a46bfcd07cb1abdcc4eef579151a"),
    ("SERVICE", "--restarted --enable sshd crond", None,
     "afd9455c56dd55d4d92f3376836a6d2f2629e131d2a089cafc8aef1d"),
    ("SERVICE", "--daemon-reload sshd", None,
     "79cefa88436dc967bce02845dbcdaa09d6aff877a49cef70e0503997"),
    ("SERVICE", "--stopped --mask x", None,
     "b0ef650c087c8657d86c5688bb1865303bd97714ec35ba305aebb0db"),
    ("SERVICE", "--reloaded --disable --retry 1 x", None,
     "c033774c656828e92b8c8ec61dc19c85b64add20ac91fa225f9fab23"),
    ("SERVICE", "--unmask x", None,
     "b0582fe2343eac8ee2ea7ae5457a33ccc40c1d0a0def25b4fe12fe1e"),
    ("SERVICE", "sshd --restarted", None,
     "f7efbb2260bee916f780b04746fbd246ba4c418ca42bfef9d59c6b33"),
    ("WAIT", "--seconds 5", None,
     "b7515fa703f847bd199005b83ad2aaeb9ff4f6e4701eb853112ed98c"),
    ("WAIT", "--url http://localhost:8000", None,
     "a7bbfca178f009a121261b80e35c9cd0a6ff8ac0db923ca77f06e265"),
    ("WAIT", "--cmd test -f /tmp/x", None,
     "8605a437dd26b6ad2ab024337c5030f710e3a4539ddbbad078062543"),
    ("WAIT", "--retry 5 --retry-wait 2 --insecure --url https://x/", None,
     "e09653aee619421ba502fa064e32a0745f86fccf06e915d6c5f7da6b"),
    ("WAIT", "--cmd   test  -f\n/tmp/x", None,
     "8605a437dd26b6ad2ab024337c5030f710e3a4539ddbbad078062543"),
    ("FACTER", "", None,
     "552ae180eca6fb7da68e394ca55caabfc8162e2bc10ad0b8583f50b2"),
    ("FACTER", "--custom-dir /x --external-dir /y", None,
     "9705f11219713afb8c75b0d07b3ce36b95448c7450cc88b0af13610e"),
    ("REBOOT", "5", None,
     "26ba3bbfefa0c8d99077f2a573f7a869ed9353af9d67e8748062a51c"),
    ("QUEUESENTINEL", "true", None,
     "c0c278b21163956c6700e1a2a141b82fd953655c5499f7ba283a0a8f"),
]


@pytest.fixture
def golden_dir(monkeypatch: pytest.MonkeyPatch) -> str:
    """The fixed directory the ADD/COPY vectors were made in, with its files, as the cwd."""
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    for name in GOLDEN_FILES:
        Path(GOLDEN_DIR, name).write_text(f"content of {name}\n", encoding="utf-8")
    monkeypatch.chdir(GOLDEN_DIR)
    return GOLDEN_DIR


@pytest.mark.parametrize(("verb", "text", "arg_vars", "expected"), GOLDEN_JOBS)
def test_job_fingerprint_equals_directord_0_12(golden_dir: str, verb: str, text: str,
                                               arg_vars: dict[str, Any] | None, expected: str) -> None:
    assert built(verb, text, copy.deepcopy(arg_vars))["job_sha3_224"] == expected


def test_add_hashes_the_absolute_source_path(golden_dir: str) -> None:
    job = built("ADD", "--blueprint a.j2 /etc/x.conf --chown root --chmod 0600")
    assert job["from"] == [f"{golden_dir}/a.j2"]
    assert (job["to"], job["user"], job["group"], job["mode"], job["blueprint"]) == ("/etc/x.conf", "root", None,
                                                                                    0o600, True)


GOLDEN_ORCHESTRATIONS: list[dict[str, Any]] = [
    {"targets": ["test1", "test2", "test3"],
     "jobs": [{"RUN": "command1"}, {"RUN": "command2"}, {"RUN": "command3"}]},
    {"name": "deploy", "assign": ["n1"], "async": True,
     "jobs": [{"ARG": 'ip "{{ ips[deployment_host] }}"'},
              {"RUN": "echo a\n  echo   b\n", "vars": {"timeout": 5}, "name": "two"},
              {"DNF": "--latest vim", "assign": ["n2"]}]},
]
# (verb, job_sha3_224, parent_sha3_224) of each job Directord 0.12.0's
# exec_orchestrations sent for GOLDEN_ORCHESTRATIONS.
GOLDEN_ORCHESTRATION_JOBS = [
    ("RUN", "e4b6223aa7e089ef41c972df012ea2b7ae309019cf00a35b4b00cf64",
     "5bc535e8fa927e4a4ab9ca188f8b560935b32a00dacc4f9e76b05d08"),
    ("RUN", "9adf48fd066004bc9cf3e02670e3d1f3971c69dec353717e83be6266",
     "5bc535e8fa927e4a4ab9ca188f8b560935b32a00dacc4f9e76b05d08"),
    ("RUN", "40a7e8a1ca03e22337791ff51665494440c5463269c88228caa49bc3",
     "5bc535e8fa927e4a4ab9ca188f8b560935b32a00dacc4f9e76b05d08"),
    ("ARG", "f66be187f2dcf75bee8e2b254d51a8855c43df2de8fc955a9cca324f",
     "d9a118875a34fc5384de33f82c42cec5e62971a6d98420bc09b1be30"),
    ("RUN", "5cf6bcf572670abf4b791c16ab17920016a1680a9264d5e3d110f112",
     "d9a118875a34fc5384de33f82c42cec5e62971a6d98420bc09b1be30"),
    ("DNF", "bcd1a1925d884714e022786db88708b1daa7dc024135240a770fbb18",
     "d9a118875a34fc5384de33f82c42cec5e62971a6d98420bc09b1be30"),
]


def test_orchestration_fingerprints_equal_directord_0_12() -> None:
    jobs = built_jobs(copy.deepcopy(GOLDEN_ORCHESTRATIONS))
    assert [(j["verb"], j["job_sha3_224"], j["parent_sha3_224"]) for j in jobs] == GOLDEN_ORCHESTRATION_JOBS


def test_finger_print_rows_show_the_same_job_sha() -> None:
    rows = fingerprint_rows(copy.deepcopy(GOLDEN_ORCHESTRATIONS))
    shas = [sha for _verb, sha, _parent in GOLDEN_ORCHESTRATION_JOBS]
    assert [row[4] for row in rows] == shas
    assert [row[5] for row in rows] == ["", "", "", "", "two", ""]
