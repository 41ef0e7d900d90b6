"""Settings: environment over TOML over defaults; a bad value exits 2 naming the setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hotline.settings import SettingsError, load_settings, redacted


def test_defaults_and_env_override(tmp_path: Path) -> None:
    s = load_settings({})
    assert s.http.port == 8080 and s.agi.port == 4573 and s.embedded_db
    s = load_settings({"HOTLINE_HTTP_PORT": "9000", "HOTLINE_AGI_ALLOW": "127.0.0.1, 10.0.0.5"})
    assert s.http.port == 9000 and s.agi.allow == ("127.0.0.1", "10.0.0.5")


def test_env_wins_over_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(
        'data_dir = "/srv/hotline"\n[http]\nport = 8181\nhost = "0.0.0.0"\n'
        '[[ami]]\nid = "pbx1"\nhost = "10.1.1.1"\nsecret = "s3"\n'
        '[[ami]]\nid = "pbx2"\nhost = "10.1.1.2"\nsecret = "s4"\n'
    )
    s = load_settings({"HOTLINE_HTTP_PORT": "8282"}, cfg)
    assert s.http.port == 8282 and s.http.host == "0.0.0.0"
    assert str(s.data_dir) == "/srv/hotline"
    assert [a.id for a in s.ami] == ["pbx1", "pbx2"]
    assert "s3" not in repr(s) and "s3" not in str(redacted(s))


def test_ami_from_env_and_secret_file(tmp_path: Path) -> None:
    s = load_settings({"HOTLINE_AMI": "pbx1=hotline:pw@127.0.0.1:5039,pbx2=u:p@h2"})
    assert [(a.id, a.port) for a in s.ami] == [("pbx1", 5039), ("pbx2", 5038)]
    secret = tmp_path / "ami.secret"
    secret.write_text("from-file\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[ami]]\nid = "a"\nhost = "h"\nsecret_file = "{secret}"\n')
    assert load_settings({}, cfg).ami[0].secret == "from-file"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"HOTLINE_HTTP_PORT": "eighty"}, "HOTLINE_HTTP_PORT"),
        ({"HOTLINE_HTTP_PORT": "70000"}, "HOTLINE_HTTP_PORT"),
        ({"HOTLINE_HTTP_COOKIE_SECURE": "maybe"}, "HOTLINE_HTTP_COOKIE_SECURE"),
        ({"HOTLINE_LOG_LEVEL": "LOUD"}, "HOTLINE_LOG_LEVEL"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"HOTLINE_AMI": "pbx1@nowhere"}, "HOTLINE_AMI"),
        ({"HOTLINE_AMI": "a=u:@h"}, "ami[0].secret"),
        ({"HOTLINE_STT_WORKERS": "-1"}, "HOTLINE_STT_WORKERS"),
        ({"HOTLINE_HTTP_SESSION_HOURS": "inf"}, "HOTLINE_HTTP_SESSION_HOURS"),
        ({"HOTLINE_HTTP_LOGIN_WINDOW_SECONDS": "0"}, "HOTLINE_HTTP_LOGIN_WINDOW_SECONDS"),
    ],
)
def test_invalid_values_name_the_setting(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as exc:
        load_settings(env)
    assert exc.value.setting == name


@pytest.mark.parametrize(("toml", "name"), [("http = 5\n", "[http]"), ('ami = ["x"]\n', "ami[0]")])
def test_wrongly_shaped_toml_names_the_setting(tmp_path: Path, toml: str, name: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    with pytest.raises(SettingsError) as exc:
        load_settings({}, cfg)
    assert exc.value.setting == name


def test_unknown_toml_key_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[http]\nprot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings({}, cfg)


def test_cli_exits_2_naming_the_setting(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "check"],
        env={"PATH": "/usr/bin:/bin", "HOTLINE_HTTP_PORT": "abc"},
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == 2
    assert "HOTLINE_HTTP_PORT" in proc.stderr and "integer" in proc.stderr
