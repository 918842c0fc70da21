"""The example configuration loads into the sample network, and settings cannot be changed."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.directory import OrgKind, Standing
from alerts.identity import ChatRef, UserRef
from alerts.items import ALL, Selector, SelectorKind
from alerts.priority import Priority
from alerts.roles import Role
from bot.config.settings import ConfigError, load_settings, settings_from_toml

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
MEMBERS = {"AF", "AU", "BD", "KH", "ID", "MY", "MV", "MM", "NZ", "PK", "PH", "LK", "TH", "US", "VN"}


@pytest.fixture(scope="module")
def example():
    return load_settings(EXAMPLE)


def test_example_loads_without_errors_or_warnings(example):
    assert example.warnings == ()
    assert example.source == EXAMPLE


def test_example_network_has_members_observer_organisations_and_coordinator(example):
    directory = example.directory()
    countries = {o.code for o in directory.organisations.values() if o.kind is OrgKind.COUNTRY}
    assert countries == MEMBERS | {"CA"}
    assert {o.code for o in directory.members() if o.kind is OrgKind.COUNTRY} == MEMBERS
    assert directory.organisations["CA"].standing is Standing.OBSERVER
    others = {o.code: o.kind for o in directory.organisations.values() if o.kind is not OrgKind.COUNTRY}
    assert others == {"IOM": OrgKind.ORGANISATION, "UNHCR": OrgKind.ORGANISATION,
                      "UNODC": OrgKind.ORGANISATION, "RSO": OrgKind.COORDINATOR}


def test_every_organisation_has_a_national_point_of_contact_on_the_console(example):
    directory = example.directory()
    for code in directory.organisations:
        npoc = directory.point_of_contact(code)
        assert npoc is not None, code
        assert npoc.desk is None and npoc.has(Role.CONTACT)
        assert any(i.platform.value == "console" for i in npoc.identities)


def test_desk_selectors_resolve_to_desk_points_of_contact(example):
    directory = example.directory()
    assert directory.point_of_contact("TH", "immigration").id == "th-immigration"
    assert directory.point_of_contact("MY", "police").id == "my-police"
    assert directory.point_of_contact("VN", "immigration").id == "vn-npoc"  # falls back to the national one
    assert directory.organisation("THA").code == "TH"


def test_example_people_roles_backups_and_time_zones(example):
    directory = example.directory()
    assert directory.contact_for(UserRef.parse("console:my-officer")).id == "my-officer"
    assert directory.contacts["my-officer"].has(Role.OFFICER)
    assert [c.id for c in directory.with_role(Role.COORDINATOR)] == ["rso-coordinator"]
    assert directory.with_role(Role.ADMIN) and directory.with_role(Role.AUDITOR)
    assert directory.backup_for(directory.contacts["th-npoc"]).id == "th-immigration"
    assert directory.contacts["af-npoc"].timezone == "Asia/Kabul"
    assert directory.contacts["au-npoc"].timezone == "Australia/Canberra"
    assert {r.chat for r in directory.rooms} == {ChatRef.parse("console:#network"),
                                                 ChatRef.parse("console:#coordination")}
    assert directory.room(ChatRef.parse("console:#network")).organisations == frozenset(directory.organisations)


def test_example_topics_defaults_and_due_policy(example):
    assert "document-fraud" in example.network.topics and len(example.network.topics) == 8
    defaults = example.topic_defaults()
    assert defaults["document-fraud"][0] == Selector(SelectorKind.DESK, organisation="TH", desk="immigration")
    assert Selector(SelectorKind.ORGANISATION, organisation="IOM") in defaults["trafficking-in-persons"]
    policy = example.due_policy()
    assert policy.by_priority[Priority.URGENT].acknowledge == timedelta(hours=1)
    assert policy.by_priority[Priority.ROUTINE].feedback == timedelta(days=7)


def test_example_runs_on_the_console_alone_with_no_secret(example):
    assert example.console.enabled and not example.matrix.enabled and not example.telegram.enabled
    assert example.secrets_in_use() == () and example.check_secrets() == []


def test_relative_paths_are_resolved_from_the_config_folder(example):
    folder = EXAMPLE.parent
    assert example.storage.url == f"sqlite:///{folder / 'var/liaison.sqlite'}"
    assert example.storage.sqlite_path == folder / "var/liaison.sqlite"
    assert example.keys.path == folder / "var/keys/liaison.keys"
    assert example.matrix.store_path == folder / "var/matrix"


def test_an_empty_file_takes_every_default(tmp_path):
    settings = settings_from_toml("", tmp_path / "config.toml")
    assert settings.storage.url == f"sqlite:///{tmp_path / 'var/liaison.sqlite'}"
    assert settings.bot.name == "liaison-bot" and settings.bot.default_timezone == "UTC"
    assert settings.console.enabled and not settings.matrix.enabled and not settings.telegram.enabled
    assert settings.delivery.max_attempts == 10 and settings.audit.retention_days is None
    assert settings.due_policy().by_priority[Priority.PRIORITY].feedback == timedelta(days=3)
    assert settings.directory().contacts == {}


def test_settings_are_immutable(example):
    with pytest.raises(dataclasses.FrozenInstanceError):
        example.storage = None  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        example.storage.url = "sqlite:///elsewhere.sqlite"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        example.network.contacts[0].timezone = "UTC"  # type: ignore[misc]
    with pytest.raises(TypeError):
        example.routing.topic_defaults["maritime"] = (ALL,)  # type: ignore[index]
    with pytest.raises(TypeError):
        example.due.by_priority[Priority.URGENT] = None  # type: ignore[index]
    with pytest.raises(AttributeError):
        example.network.topics.append("other")  # type: ignore[attr-defined]


def test_what_callers_get_is_their_own_copy(example):
    defaults = example.topic_defaults()
    defaults.clear()
    directory = example.directory()
    directory.contacts.clear()
    assert example.topic_defaults() and example.directory().contacts


def test_postgresql_url_and_password_secret(tmp_path):
    settings = settings_from_toml(
        '[storage]\nurl = "postgresql://liaison@db.example.org/liaison"\n'
        'password = { env = "LIAISON_DB_PASSWORD" }\n', tmp_path / "c.toml")
    assert settings.storage.url == "postgresql://liaison@db.example.org/liaison"
    assert not settings.storage.is_sqlite and settings.storage.sqlite_path is None
    assert settings.storage.password.env == "LIAISON_DB_PASSWORD"


def test_connectors_enabled_with_their_secrets(tmp_path):
    settings = settings_from_toml("""
[matrix]
enabled = true
homeserver = "https://matrix.example.org/"
user_id = "@liaison-bot:example.org"
access_token = { env = "LIAISON_MATRIX_TOKEN" }
pickle_key = { file = "secrets/pickle" }
device_trust = "verified"
[telegram]
enabled = true
token = { env = "LIAISON_TELEGRAM_TOKEN" }
mode = "webhook"
webhook_url = "https://bot.example.org/telegram"
webhook_secret = { env = "LIAISON_TELEGRAM_WEBHOOK_SECRET" }
bot_username = "@LiaisonNetworkBot"
""", tmp_path / "c.toml")
    assert settings.matrix.homeserver == "https://matrix.example.org"
    assert settings.matrix.pickle_key.file == tmp_path / "secrets/pickle"
    assert settings.matrix.device_trust.value == "verified"
    assert settings.telegram.bot_username == "LiaisonNetworkBot"
    assert [key for key, _ in settings.secrets_in_use()] == [
        "matrix.access_token", "matrix.pickle_key", "telegram.token", "telegram.webhook_secret"]


def test_a_missing_file_is_one_line():
    with pytest.raises(ConfigError) as caught:
        load_settings(Path("/nonexistent/config.toml"))
    assert caught.value.lines == ["/nonexistent/config.toml: cannot read the configuration file: No such file or directory"]


def test_invalid_toml_is_one_line_with_its_position(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[bot\nname = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    (line,) = caught.value.lines
    assert line.startswith(f"{path}: not valid TOML: ") and "line 1" in line
