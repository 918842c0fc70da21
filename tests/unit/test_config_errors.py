"""Each kind of mistake is exactly one line naming the file, the key and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.settings import ConfigError, settings_from_toml

SOURCE = Path("config.toml")

NETWORK = """
[network]
topics = ["document-fraud", "maritime"]
organisations = [
  { code = "TH", kind = "country", desks = ["immigration", "police"] },
  { code = "MY", kind = "country" },
  { code = "RSO", name = "Regional Support Office", kind = "coordinator" },
]

[[network.contacts]]
id = "th-npoc"
name = "National point of contact"
organisation = "TH"
roles = ["contact"]
identities = ["console:th-npoc"]
timezone = "Asia/Bangkok"

[[network.contacts]]
id = "my-npoc"
name = "National point of contact"
organisation = "MY"
roles = ["contact"]
identities = ["console:my-npoc"]
timezone = "Asia/Kuala_Lumpur"

[[network.contacts]]
id = "rso-npoc"
name = "Focal point"
organisation = "RSO"
roles = ["contact", "coordinator"]
identities = ["console:rso-npoc"]
"""

# A fourth contact whose fields each test may spoil; it is network.contacts[3].
FOURTH = """
[[network.contacts]]
id = "{id}"
name = "Immigration desk"
organisation = "{organisation}"
desk = "immigration"
roles = ["contact"]
identities = ["{identity}"]
timezone = "{timezone}"
"""


def fourth(**spoilt: str) -> str:
    fields = {"id": "th-immigration", "organisation": "TH", "identity": "console:th-immigration",
              "timezone": "Asia/Bangkok"} | spoilt
    return FOURTH.format(**fields)


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_from_toml(text, SOURCE)
    assert str(caught.value) == "\n".join(caught.value.lines)
    return caught.value.lines


def test_the_base_network_is_valid():
    settings = settings_from_toml(NETWORK + fourth(), SOURCE)
    assert settings.warnings == ()
    assert settings.directory().point_of_contact("TH", "immigration").id == "th-immigration"


@pytest.mark.parametrize(("text", "line"), [
    pytest.param('[storage]\nurl = "sqlite:///x.db"\npool = 5\n',
                 "config.toml: storage.pool: unknown key; expected one of password, url", id="unknown key"),
    pytest.param('[matrix]\nhomeservr = "https://m.example.org"\n',
                 "config.toml: matrix.homeservr: unknown key (did you mean homeserver?); expected one of",
                 id="unknown key with a hint"),
    pytest.param('[stroage]\n', "config.toml: stroage: unknown key (did you mean storage?)", id="unknown section"),
    pytest.param('[storage]\nurl = 42\n',
                 'config.toml: storage.url: expected a string like "sqlite:///var/liaison.sqlite" or '
                 '"postgresql://liaison@db.example.org/liaison", got 42', id="wrong type"),
    pytest.param('[console]\nenabled = "yes"\n',
                 'config.toml: console.enabled: expected true or false, got "yes"', id="wrong type, bool"),
    pytest.param('[delivery]\nmax_attempts = true\n',
                 "config.toml: delivery.max_attempts: expected a whole number of at least 1, got true",
                 id="a bool is not a number"),
    pytest.param('[due.urgent]\nacknowledge = "soon"\n',
                 'config.toml: due.urgent.acknowledge: expected a duration like "30m", "1h", "24h", "3d" or '
                 '"1h30m", got "soon"', id="bad duration"),
    pytest.param('[telegram]\nenabled = true\n',
                 'config.toml: telegram.token: missing; expected { env = "LIAISON_TELEGRAM_TOKEN" } or '
                 '{ file = "/run/credentials/liaison/telegram-token" } when enabled = true', id="missing value"),
    pytest.param('[storage]\nurl = "sqlite://"\n',
                 'config.toml: storage.url: expected a string like', id="in-memory database"),
    pytest.param('[due]\nroutine = 5\n', "config.toml: due.routine: expected a table [due.routine], got 5",
                 id="a value where a table belongs"),
])
def test_one_line_per_mistake_outside_the_network(text, line):
    (found,) = errors(text)
    assert found.startswith(line)


def test_missing_required_value_in_a_contact():
    text = NETWORK + fourth().replace('name = "Immigration desk"\n', "")
    assert errors(text) == [
        'config.toml: network.contacts[3].name: missing; expected a name like "National point of contact"']


def test_bad_timezone():
    assert errors(NETWORK + fourth(timezone="Bangkok")) == [
        'config.toml: network.contacts[3].timezone: expected an IANA time zone like "Asia/Bangkok" or "UTC", '
        'got "Bangkok"; did you mean "Asia/Bangkok"?']


def test_timezone_in_the_wrong_case_is_kept_as_the_tz_database_spells_it():
    """As /member add's tz: and the command line take it (alerts/zones.py): the case of a zone is no
    mistake worth refusing a start for, and it is stored in the one spelling."""
    settings = settings_from_toml("[bot]\ndefault_timezone = \"utc\"\n" + NETWORK + fourth(timezone="asia/bangkok"),
                                  SOURCE)
    assert settings.directory().contacts["th-immigration"].timezone == "Asia/Bangkok"
    assert settings.bot.default_timezone == "UTC" and settings.reminders.digest_timezone == "UTC"


@pytest.mark.parametrize("odd", ["localtime", "Factory", "posixrules", "posix/Asia/Bangkok", "right/UTC"])
def test_an_odd_entry_of_the_tz_database_is_refused(odd: str):
    """The machine's own zone, the placeholder Factory and the files beside the zones name no place."""
    (line,) = errors(NETWORK + fourth(timezone=odd))
    assert line.startswith('config.toml: network.contacts[3].timezone: expected an IANA time zone like '
                           f'"Asia/Bangkok" or "UTC", got "{odd}"')
    (line,) = errors(f"[bot]\ndefault_timezone = \"{odd}\"\n" + NETWORK + fourth())
    assert line.startswith(f'config.toml: bot.default_timezone: expected an IANA time zone like "Asia/Bangkok" or '
                           f'"UTC", got "{odd}"')


def test_unknown_organisation_in_a_contact():
    text = NETWORK + fourth(organisation="XX")
    assert errors(text) == [
        'config.toml: network.contacts[3].organisation: expected the code of an organisation like "TH", '
        'got "XX"; not in network.organisations (TH, MY, RSO)']


def test_desk_unknown_in_its_organisation():
    text = NETWORK + fourth().replace('desk = "immigration"', 'desk = "customs"')
    assert errors(text) == [
        'config.toml: network.contacts[3].desk: expected one of Thailand\'s desks (immigration, police), '
        'got "customs"']


def test_duplicate_identity():
    assert errors(NETWORK + fourth(identity="console:th-npoc")) == [
        'config.toml: network.contacts[3].identities[0]: expected each account once, got "console:th-npoc" '
        'again (first given by th-npoc, network.contacts[0])']


def test_unparsable_identity():
    (line,) = errors(NETWORK + fourth(identity="matrix:alice"))
    assert line.startswith('config.toml: network.contacts[3].identities[0]: expected an account like "console:th-npoc"')
    assert line.endswith('got "matrix:alice"')


def test_duplicate_contact_id():
    (line,) = errors(NETWORK + fourth(id="th-npoc", identity="console:other"))
    assert line == ('config.toml: network.contacts[3].id: expected each contact id once, got "th-npoc" again '
                    "(first given by network.contacts[0])")


def test_second_point_of_contact_for_a_desk():
    text = NETWORK + fourth() + fourth(id="th-immigration-2", identity="console:th-immigration-2")
    assert errors(text) == [
        "config.toml: network.contacts[4].roles: expected one point of contact per organisation and desk, got a "
        "second for Thailand immigration desk; the first is th-immigration (network.contacts[3])"]


def test_backup_must_be_a_contact():
    (line,) = errors(NETWORK + fourth() + 'backup = "nobody"\n')
    assert line == ('config.toml: network.contacts[3].backup: expected the id of another contact, got "nobody", '
                    "which no contact has")


def test_room_chat_must_parse():
    text = NETWORK + '[[network.rooms]]\nchat = "console:network"\nname = "N"\npurpose = "network"\n' \
                     'organisations = ["all"]\n'
    (line,) = errors(text)
    assert line.startswith('config.toml: network.rooms[0].chat: expected a chat like "console:#network"')


def test_topic_defaults_name_known_topics_and_valid_selectors():
    text = NETWORK + '[routing.topic_defaults]\nmaritime = ["TH/customs", "@th-npoc", "all"]\nsmuggling = ["TH"]\n'
    assert errors(text) == [
        'config.toml: routing.topic_defaults.maritime[0]: expected a recipient as in to:, like "TH", "THA", "IOM", '
        '"TH/immigration", "all" or "@th-npoc", got "TH/customs"; Thailand has no customs desk '
        "(its desks: immigration, police)",
        "config.toml: routing.topic_defaults.smuggling: unknown topic; expected one of network.topics "
        "(document-fraud, maritime)",
    ]


def test_a_missing_national_point_of_contact_is_a_warning_not_an_error():
    text = NETWORK.replace('organisation = "MY"', 'organisation = "MY"\ndesk = "police"').replace(
        '{ code = "MY", kind = "country" }', '{ code = "MY", kind = "country", desks = ["police"] }')
    settings = settings_from_toml(text, SOURCE)
    assert settings.warnings == (
        'config.toml: network.organisations[1]: Malaysia has no national point of contact (a contact with role '
        '"contact" and no desk); items to MY are refused until one is added',)


def test_many_mistakes_are_all_reported_at_once():
    text = ('[bot]\nnmae = "x"\n[storage]\nurl = 42\n[audit]\ncheckpoint_every = 0\n'
            + NETWORK + fourth(organisation="XX", timezone="Mars/Olympus", identity="console:my-npoc"))
    lines = errors(text)
    assert [line.split(": ")[1] for line in lines] == [
        "bot.nmae", "storage.url", "audit.checkpoint_every", "network.contacts[3].organisation",
        "network.contacts[3].identities[0]", "network.contacts[3].timezone"]
    assert all(line.startswith("config.toml: ") for line in lines)


def test_a_string_where_a_list_is_expected():
    (line,) = errors(NETWORK + fourth().replace('roles = ["contact"]', 'roles = "contact"'))
    assert line == ('config.toml: network.contacts[3].roles: expected a list, each a role: officer, contact, '
                    'coordinator, admin, auditor, national-focal-point, organisational-focal-point, approver, got "contact"')



def test_a_key_needed_by_another_is_named_in_the_same_run_as_a_typo():
    text = ('[matrix]\nenabled = true\nhomeservr = "https://matrix.example.org"\nuser_id = "@bot:example.org"\n'
            'access_token = { env = "T" }\npickle_key = { env = "K" }\n')
    assert errors(text) == [
        'config.toml: matrix.homeserver: missing; expected an address like "https://matrix.example.org" when '
        'enabled = true',
        "config.toml: matrix.homeservr: unknown key (did you mean homeserver?); expected one of access_token, "
        "device_name, device_trust, enabled, homeserver, password, pickle_key, store_path, user_id"]


def test_what_an_organisation_lacks_depends_on_its_kind():
    text = '[network]\norganisations = [{ kind = "organisation" }, { kind = "country" }, { code = "IOM" }]\n'
    assert errors(text) == [
        'config.toml: network.organisations[0].code: missing; expected a short code of letters like "IOM"',
        'config.toml: network.organisations[0].name: missing; expected a name like "International Organization for '
        'Migration"',
        'config.toml: network.organisations[1].code: missing; expected an ISO 3166 country code like "TH" or "THA"',
        'config.toml: network.organisations[2].kind: missing; expected one of "country", "organisation", '
        '"coordinator"',
        'config.toml: network.organisations[2].name: missing; expected a name like "International Organization for '
        'Migration"']


@pytest.mark.parametrize("text, line", [
    pytest.param('[storage]\nurl = "sqlite:///a.sqlite"\n# a note\nurl = "sqlite:///b.sqlite"\n',
                 "config.toml: storage.url: given twice (at line 4, first at line 2): keep one", id="in a table"),
    pytest.param('[bot]\nname = "x"\n[storage]\nurl = "sqlite:///a.sqlite"\n[bot]\nname = "y"\n',
                 "config.toml: [bot] is declared twice (at line 5, first at line 1): put its keys under one [bot]",
                 id="a table twice"),
    pytest.param(NETWORK + '\n[[network.rooms]]\nchat = "console:#a"\nname = "A"\nname = "B"\n',
                 "config.toml: network.rooms[0].name: given twice (at line 36, first at line 35): keep one",
                 id="in an array of tables"),
    pytest.param('title = "a"\n"title" = "b"\n', "config.toml: title: given twice (at line 2, first at line 1)",
                 id="quoted"),
])
def test_a_key_given_twice_is_named_with_its_path_and_both_lines(text: str, line: str) -> None:
    """tomllib says only "Cannot overwrite a value (at line N, column M)"."""
    (found,) = errors(text)
    assert found.startswith(line), found
