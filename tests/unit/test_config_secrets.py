"""Secrets are named in the file, read from the environment or a file, and never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config.settings import ConfigError, settings_from_toml
from bot.config.credentials import SecretError, SecretRef

VALUE = "123456:AAE-very-secret-token"


def test_reads_an_environment_variable(monkeypatch):
    monkeypatch.setenv("LIAISON_TEST_TOKEN", VALUE + "\n")
    assert SecretRef.from_env("LIAISON_TEST_TOKEN").read() == VALUE


def test_reads_a_file_without_its_trailing_newline(tmp_path):
    path = tmp_path / "token"
    path.write_text(VALUE + "\r\n")
    path.chmod(0o600)
    assert SecretRef.from_file(path).read() == VALUE


def test_a_missing_environment_variable_is_named(monkeypatch):
    monkeypatch.delenv("LIAISON_TEST_TOKEN", raising=False)
    with pytest.raises(SecretError, match="^environment variable LIAISON_TEST_TOKEN is not set$"):
        SecretRef.from_env("LIAISON_TEST_TOKEN").read()


def test_an_empty_secret_is_refused(monkeypatch):
    monkeypatch.setenv("LIAISON_TEST_TOKEN", "\n")
    with pytest.raises(SecretError, match="is empty"):
        SecretRef.from_env("LIAISON_TEST_TOKEN").read()


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "absent"
    with pytest.raises(SecretError) as caught:
        SecretRef.from_file(path).read()
    assert str(caught.value) == f"secret file {path} cannot be read: No such file or directory"


@pytest.mark.skipif(os.name != "posix", reason="mode bits")
def test_a_file_others_may_read_is_refused_without_showing_it(tmp_path):
    path = tmp_path / "token"
    path.write_text(VALUE)
    path.chmod(0o644)
    with pytest.raises(SecretError) as caught:
        SecretRef.from_file(path).read()
    message = str(caught.value)
    assert "permissions 0644" in message and "chmod 600" in message and VALUE not in message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root-owned files may be group-readable")
def test_a_group_readable_file_of_ones_own_is_refused(tmp_path):
    path = tmp_path / "token"
    path.write_text(VALUE)
    path.chmod(0o640)
    with pytest.raises(SecretError, match="wider than 0600"):
        SecretRef.from_file(path).read()


def test_repr_and_str_name_the_place_never_the_value(monkeypatch, tmp_path):
    monkeypatch.setenv("LIAISON_TEST_TOKEN", VALUE)
    ref = SecretRef.from_env("LIAISON_TEST_TOKEN")
    ref.read()
    assert repr(ref) == "SecretRef(env='LIAISON_TEST_TOKEN')"
    assert str(ref) == "environment variable LIAISON_TEST_TOKEN"
    assert VALUE not in repr(ref) + str(ref)
    assert repr(SecretRef.from_file(tmp_path / "t")) == f"SecretRef(file='{tmp_path / 't'}')"


def test_settings_repr_never_shows_a_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("LIAISON_TELEGRAM_TOKEN", VALUE)
    settings = settings_from_toml('[telegram]\nenabled = true\ntoken = { env = "LIAISON_TELEGRAM_TOKEN" }\n',
                                  tmp_path / "config.toml")
    assert settings.check_secrets() == []
    assert VALUE not in repr(settings)
    assert "SecretRef(env='LIAISON_TELEGRAM_TOKEN')" in repr(settings.telegram)


def test_check_secrets_names_each_one_missing(monkeypatch, tmp_path):
    monkeypatch.delenv("LIAISON_TELEGRAM_TOKEN", raising=False)
    path = tmp_path / "config.toml"
    settings = settings_from_toml('[telegram]\nenabled = true\ntoken = { env = "LIAISON_TELEGRAM_TOKEN" }\n', path)
    assert settings.check_secrets() == [
        f"{path}: telegram.token: environment variable LIAISON_TELEGRAM_TOKEN is not set"]


def test_a_plain_string_secret_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as caught:
        settings_from_toml(f'[telegram]\ntoken = "{VALUE}"\n', Path("config.toml"))
    assert caught.value.lines == [
        'config.toml: telegram.token: a secret must not be written in the file; expected '
        '{ env = "LIAISON_TELEGRAM_TOKEN" } or { file = "/run/credentials/liaison/telegram-token" }, '
        "got a plain string"]


@pytest.mark.parametrize("written", [
    f'{{ env = "{VALUE}" }}',              # the token pasted where the variable name belongs
    f'{{ value = "{VALUE}" }}',            # a form that does not exist
    f'{{ env = "X", file = "{VALUE}" }}',  # both forms
    f'postgresql://liaison:{VALUE}@db/x',  # a password inside a database URL
])
def test_no_error_line_ever_shows_what_may_be_a_secret(written):
    if written.startswith("postgresql"):
        text = f'[storage]\nurl = "{written}"\n'
    else:
        text = f"[matrix]\naccess_token = {written}\n"
    with pytest.raises(ConfigError) as caught:
        settings_from_toml(text, Path("config.toml"))
    (line,) = caught.value.lines
    assert VALUE not in line


def test_a_password_inside_a_database_url_is_refused_and_not_shown():
    with pytest.raises(ConfigError) as caught:
        settings_from_toml(f'[storage]\nurl = "postgres://liaison:{VALUE}@db/x"\n', Path("config.toml"))
    (line,) = caught.value.lines
    assert line.startswith("config.toml: storage.url: expected") and VALUE not in line
    assert "a URL with a password (not shown)" in line


def test_secret_file_paths_are_resolved_from_the_config_folder(tmp_path):
    settings = settings_from_toml('[telegram]\ntoken = { file = "secrets/telegram" }\n', tmp_path / "config.toml")
    assert settings.telegram.token == SecretRef.from_file(tmp_path / "secrets/telegram")


@pytest.mark.parametrize(("mode", "uid", "allowed"), [
    (0o600, 1000, True), (0o400, 1000, True), (0o640, 1000, False), (0o604, 1000, False),
    (0o640, 0, True), (0o644, 0, False), (0o660, 0, False),
])
def test_permission_rule_others_never_group_only_for_root_owned_files(mode, uid, allowed, monkeypatch):
    from bot.config import credentials as secrets
    info = os.stat_result((0o100000 | mode, 0, 0, 1, uid, 0, 10, 0, 0, 0))
    monkeypatch.setattr(secrets.os, "name", "posix")
    ref = SecretRef.from_file("/run/credentials/liaison/token")
    if allowed:
        secrets._refuse_loose_permissions(ref, info)
    else:
        with pytest.raises(SecretError, match="run: chmod 600 /run/credentials/liaison/token"):
            secrets._refuse_loose_permissions(ref, info)


def test_a_password_in_any_refused_url_is_not_shown():
    text = f'[matrix]\nhomeserver = "ftp://bot:{VALUE}@matrix.example.org"\n'
    with pytest.raises(ConfigError) as caught:
        settings_from_toml(text, Path("config.toml"))
    (line,) = caught.value.lines
    assert line.startswith("config.toml: matrix.homeserver: expected") and VALUE not in line
