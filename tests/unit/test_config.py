"""Config precedence: CLI flag > DIRECTORD_* env > YAML config file > default."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from directord import config
from directord.config import ConfigError, resolve


def cli(**given: object) -> argparse.Namespace:
    """A namespace as the CLI parsers build it: every option present, None when not given."""
    values = {opt.dest: None for opt in config.options()}
    values.update(given)
    return argparse.Namespace(**values)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "config.yaml"


def env_for(path: Path, **values: str) -> dict[str, str]:
    """An explicit environment pointing at ``path`` (never the real /etc file)."""
    return {"DIRECTORD_CONFIG_FILE": str(path), **values}


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    resolved = resolve(cli(config_file=str(tmp_path / "absent.yaml")), environ={})
    assert resolved.driver == "zmq"
    assert resolved.datastore == "memory"
    assert resolved.job_port == 5555
    assert resolved.backend_port == 5556
    assert resolved.heartbeat_interval == 60.0
    assert resolved.debug is False
    assert resolved.config_file == str(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("dest", "cli_value", "env_value", "file_value", "default"),
    [
        ("datastore", "file:///cli", "file:///env", "file:///file", "memory"),
        ("job_port", 6001, "6002", 6003, 5555),
        ("heartbeat_interval", 1.5, "2.5", 3.5, 60.0),
        ("socket_path", "/cli.sock", "/env.sock", "/file.sock", "/var/run/directord.sock"),
        ("zmq_server_address", "10.0.0.1", "10.0.0.2", "10.0.0.3", "127.0.0.1"),
    ],
)
def test_precedence(config_file: Path, dest: str, cli_value: object, env_value: str,
                    file_value: object, default: object) -> None:
    env_name = config.option(dest).env_names[0]
    opt_type = config.option(dest).type
    config_file.write_text(f"{dest}: {file_value}\n")
    environ = env_for(config_file, **{env_name: env_value})

    assert getattr(resolve(cli(**{dest: cli_value}), environ), dest) == cli_value
    assert getattr(resolve(cli(), environ), dest) == opt_type(env_value)
    assert getattr(resolve(cli(), env_for(config_file)), dest) == file_value
    config_file.write_text("{}\n")
    assert getattr(resolve(cli(), env_for(config_file)), dest) == default


# ``directord bootstrap`` keeps the original's short flags (its options are bootstrap_* everywhere else).
BOOTSTRAP_FLAGS = {"bootstrap_ssh_key_file": "--key-file", "bootstrap_threads": "--threads",
                   "bootstrap_known_hosts": "--known-hosts", "bootstrap_accept_new_host_keys": "--accept-new-host-keys",
                   "bootstrap_connect_timeout": "--connect-timeout"}
DASHBOARD_FLAGS = {"dashboard_bind": "--bind", "dashboard_token_file": "--token-file",
                   "dashboard_tls_cert": "--tls-cert", "dashboard_tls_key": "--tls-key",
                   "dashboard_allow_submit": "--allow-submit"}
SHORT_FLAGS = {**BOOTSTRAP_FLAGS, **DASHBOARD_FLAGS}  # a sub-command's own options drop its prefix


def test_every_option_has_a_flag_and_an_env_name() -> None:
    for opt in config.options():
        assert opt.flags[0] == SHORT_FLAGS.get(opt.dest, "--" + opt.dest.replace("_", "-"))
        assert opt.env_names[0] == "DIRECTORD_" + opt.dest.upper()


def test_bootstrap_options_resolve_from_the_environment_and_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("bootstrap_threads: 3\nbootstrap_accept_new_host_keys: 'yes'\n")
    resolved = resolve(cli(config_file=str(path)), {"DIRECTORD_BOOTSTRAP_SSH_KEY_FILE": "/k"})
    assert (resolved.bootstrap_threads, resolved.bootstrap_accept_new_host_keys) == (3, True)
    assert resolved.bootstrap_ssh_key_file == "/k"
    with pytest.raises(config.ConfigError, match="bootstrap_threads"):
        resolve(cli(config_file=str(path)), {"DIRECTORD_BOOTSTRAP_THREADS": "0"})


def test_add_options_uses_none_defaults_and_converts_types() -> None:
    parser = argparse.ArgumentParser()
    config.add_options(parser, "global")
    assert parser.parse_args([]).job_port is None
    assert parser.parse_args(["--job-port", "7000"]).job_port == 7000
    with pytest.raises(SystemExit):
        parser.parse_args(["--job-port", "99999"])


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("driver: zeromq\n")
    resolved = resolve(cli(), {"DIRECTORD_CONFIG_FILE": str(path)})
    assert resolved.driver == "zeromq"
    assert resolved.config_file == str(path)


def test_cli_config_file_beats_environment(tmp_path: Path) -> None:
    from_cli, from_env = tmp_path / "cli.yaml", tmp_path / "env.yaml"
    from_cli.write_text("driver: from-cli-file\n")
    from_env.write_text("driver: from-env-file\n")
    resolved = resolve(cli(config_file=str(from_cli)), {"DIRECTORD_CONFIG_FILE": str(from_env)})
    assert resolved.driver == "from-cli-file"


def test_msg_port_alias(config_file: Path) -> None:
    assert resolve(cli(), env_for(config_file, DIRECTORD_MSG_PORT="7100")).job_port == 7100
    both = env_for(config_file, DIRECTORD_MSG_PORT="7100", DIRECTORD_JOB_PORT="7200")
    assert resolve(cli(), both).job_port == 7200


@pytest.mark.parametrize(("text", "expected"), [
    ("false", False), ("no", False), ("0", False), ("False", False),
    ("yes", True), ("true", True), ("1", True), ("on", True),
])
def test_booleans_from_environment(config_file: Path, text: str, expected: bool) -> None:
    resolved = resolve(cli(), env_for(config_file, DIRECTORD_DEBUG=text))
    assert resolved.debug is expected


@pytest.mark.parametrize(("line", "expected"), [
    ('debug: "false"', False), ('debug: "no"', False), ('debug: "0"', False),
    ('debug: "yes"', True), ("debug: yes", True), ("debug: false", False), ("debug: 1", True),
])
def test_booleans_from_config_file(config_file: Path, line: str, expected: bool) -> None:
    config_file.write_text(line + "\n")
    assert resolve(cli(), env_for(config_file)).debug is expected


def test_bad_environment_value_names_the_source(config_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"job_port.*environment"):
        resolve(cli(), env_for(config_file, DIRECTORD_JOB_PORT="not-a-port"))
    with pytest.raises(ConfigError, match=r"debug.*environment"):
        resolve(cli(), env_for(config_file, DIRECTORD_DEBUG="maybe"))


def test_bad_file_value_names_the_file(config_file: Path) -> None:
    config_file.write_text("job_port: 70000\n")
    with pytest.raises(ConfigError) as excinfo:
        resolve(cli(), env_for(config_file))
    assert "job_port" in str(excinfo.value)
    assert str(config_file) in str(excinfo.value)
    assert excinfo.value.exit_code == 2


def test_bad_cli_value_names_the_command_line(config_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"heartbeat_interval.*command line"):
        resolve(cli(heartbeat_interval="-1"), env_for(config_file))


def test_missing_config_file_is_fine(tmp_path: Path) -> None:
    resolved = resolve(cli(), env_for(tmp_path / "nope" / "config.yaml", DIRECTORD_DRIVER="zeromq"))
    assert resolved.driver == "zeromq"
    assert resolved.job_port == 5555


def test_empty_config_file_is_fine(config_file: Path) -> None:
    config_file.write_text("")
    assert resolve(cli(), env_for(config_file)).datastore == "memory"


@pytest.mark.parametrize("content", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_config_file_is_an_error(config_file: Path, content: str) -> None:
    config_file.write_text(content)
    with pytest.raises(ConfigError, match="mapping"):
        resolve(cli(), env_for(config_file))


@pytest.mark.parametrize(("content", "problem"), [
    ("driver: [unclosed\n", "line 2, column 1: expected ',' or ']', but got '<stream end>'"),
    ("driver: zmq\njob_port: 1: 2\n", "line 2, column 12: mapping values are not allowed here"),
    ("driver: zmq\n\tjob_port: 1\n", "line 2, column 1: found character '\\t' that cannot start any token"),
])
def test_broken_yaml_config_file_is_one_line(config_file: Path, content: str, problem: str) -> None:
    config_file.write_text(content)
    with pytest.raises(ConfigError) as excinfo:
        resolve(cli(), env_for(config_file))
    assert str(excinfo.value) == f"config file {config_file}: {problem}"


def test_config_file_that_is_not_utf8_is_one_line(config_file: Path) -> None:
    config_file.write_bytes(b"driver: \xff\xfe\n")
    with pytest.raises(ConfigError, match=f"^config file {config_file}: not UTF-8 text$"):
        resolve(cli(), env_for(config_file))


def test_a_mistyped_key_is_warned_about_once(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file.write_text("job_prot: 6100\nsocket-paht: /x.sock\nmy_plugin_setting: 42\nverb: RUN\n")
    for _ in range(2):
        resolved = resolve(cli(verb=None), env_for(config_file))
    assert resolved.job_port == 5555
    assert resolved.job_prot == 6100  # still kept, like every extra key
    assert capsys.readouterr().err.splitlines() == [
        f"directord: warning: config file {config_file}: unknown key 'job_prot'; did you mean 'job_port'?",
        f"directord: warning: config file {config_file}: unknown key 'socket-paht'; did you mean 'socket_path'?",
    ]


def test_dashed_keys_and_extra_keys_from_file(config_file: Path) -> None:
    config_file.write_text("job-port: 6100\nmy_plugin_setting: 42\n")
    resolved = resolve(cli(), env_for(config_file))
    assert resolved.job_port == 6100
    assert resolved.my_plugin_setting == 42


def test_non_option_cli_attributes_are_kept(config_file: Path) -> None:
    resolved = resolve(cli(verb="RUN"), env_for(config_file))
    assert resolved.verb == "RUN"


def test_null_in_file_falls_back_to_default(config_file: Path) -> None:
    config_file.write_text("job_port: null\n")
    assert resolve(cli(), env_for(config_file)).job_port == 5555


def test_defaults_ignore_env_and_file() -> None:
    defaults = config.defaults(job_port=1234)
    assert defaults.job_port == 1234
    assert defaults.driver == "zmq"


@pytest.mark.parametrize("value", ["maybe", "2", "truthy"])
def test_parse_bool_rejects_other_text(value: str) -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        config.parse_bool(value)
