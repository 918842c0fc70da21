"""Parsing the admin commands: /member add, /member remove, /room sync, /device and /arrangement."""

from __future__ import annotations

import re
from datetime import date

from alerts.devices import DeviceOp
from alerts.errors import InvalidValue
from alerts.identity import ChatRef, Platform, UserRef
from alerts.roles import ACCEPTED as ROLES_ACCEPTED
from alerts.roles import Role
from alerts.zones import canonical_zone
from handlers.commands_admin import ZONE_DEFAULT
from handlers.commands import (ArrangementAddCommand, ArrangementEndCommand, ArrangementListCommand, DeviceCommand,
                               MemberAddCommand, MemberBackupCommand, MemberRemoveCommand, ReassignCommand,
                               RoomRegisterCommand,
                               RoomRetireCommand, RoomSyncCommand)
from handlers.lexer import (OPENING_QUOTES, CommandSyntaxError, FieldSpec, Scan, key_like, read_quoted, scan_fields,
                            shorten, take_word)
from handlers.values import (checked, invalid, parse_desk, parse_hub, parse_organisation, parse_topic,
                             parse_user, take_reference)
from handlers.vocabulary import Vocabulary

MEMBER_ADD_EXAMPLE = "/member add @alice:example.org country:TH role:contact desk:immigration"
MEMBER_ADD_FULL_EXAMPLE = ('/member add @somchai:example.org country:TH role:contact name:"Somchai P." '
                           'backup:@kanya:example.org tz:Asia/Bangkok')
MEMBER_REMOVE_EXAMPLE = '/member remove @alice:example.org reason:"left the service"'
MEMBER_BACKUP_EXAMPLE = "/member backup console:th-deputy th-immigration"
MEMBER_USAGE = (f"Use /member add USER country:TH role:contact, /member remove USER, or /member backup USER BACKUP. "
                f"Example: {MEMBER_ADD_EXAMPLE}")

MEMBER_ADD_FIELDS = FieldSpec(
    keys={
        "country": "org",
        "org": "org",
        "organisation": "org",
        "organization": "org",
        "role": "role",
        "desk": "desk",
        "name": "name",
        "backup": "backup",
        "tz": "tz",
        "timezone": "tz",
    },
    examples={"org": "country:TH", "role": "role:contact", "desk": "desk:immigration", "name": 'name:"Somchai P."',
              "backup": "backup:@th-imm2:example.org", "tz": "tz:Asia/Bangkok"},
    takes_text=False,
)
MEMBER_REMOVE_FIELDS = FieldSpec(
    keys={"reason": "reason", "why": "reason"},
    examples={"reason": 'reason:"left the service"'},
)

DEVICE_EXAMPLE = "/device verify @alice:example.org ABCDEFGHIJ"
DEVICE_USAGE = ("Use /device list USER to see someone's Matrix devices, then /device verify USER DEVICE or "
                f"/device blacklist USER DEVICE. Example: {DEVICE_EXAMPLE}")
_DEVICE_OPS = {"list": DeviceOp.LIST, "ls": DeviceOp.LIST, "verify": DeviceOp.VERIFY,
               "blacklist": DeviceOp.BLACKLIST, "blocklist": DeviceOp.BLACKLIST, "block": DeviceOp.BLACKLIST}
# Matrix device ids are opaque; this keeps out what could not be a device id typed on a phone.
_DEVICE_ID = re.compile(r"[A-Za-z0-9._+/=-]{1,64}")

# `--apply`, and what phones make of it: an em or en dash.
_APPLY_WORDS = {"--apply", "—apply", "–apply", "-apply", "apply"}


def parse_member(rest: str, vocabulary: Vocabulary) -> MemberAddCommand | MemberRemoveCommand | MemberBackupCommand:
    action, after = take_word(rest)
    if action.lower() == "add":
        return _member_add(after, vocabulary)
    if action.lower() == "remove":
        return _member_remove(after)
    if action.lower() == "backup":
        return _member_backup(after)
    raise CommandSyntaxError(MEMBER_USAGE)


_CONTACT_ID = re.compile(r"@?[a-z0-9][a-z0-9._-]{0,199}")


def _person(word: str, example: str = MEMBER_BACKUP_EXAMPLE) -> str:
    """An account, or a contact id as the directory has it (th-immigration): who /member backup and
    /member remove name."""
    try:
        return parse_user(word)
    except InvalidValue:
        if _CONTACT_ID.fullmatch(word.lower()):
            return word.lower().removeprefix("@")
        raise CommandSyntaxError(f"'{shorten(word, 40)}' is neither an account nor a contact id. "
                                 f"Example: {example}") from None


def _member_backup(text: str) -> MemberBackupCommand:
    """`/member backup PERSON BACKUP`, or `none` for BACKUP to clear it."""
    user, after = take_word(text)
    backup, extra = take_word(after)
    if not user or not backup or extra.strip():
        raise CommandSyntaxError("Use /member backup PERSON BACKUP (or none), each an account or a contact id. "
                                 f"Example: {MEMBER_BACKUP_EXAMPLE}")
    return MemberBackupCommand(_person(user), None if backup.lower() == "none" else _person(backup))


def _take_user(text: str, command: str, example: str) -> tuple[str, str]:
    word, after = take_word(text)
    if not word:
        raise CommandSyntaxError(f"/{command} needs a user, first. Example: {example}")
    return parse_user(word), after


def _member_add(text: str, vocabulary: Vocabulary) -> MemberAddCommand:
    user, after = _take_user(text, "member add", MEMBER_ADD_EXAMPLE)
    scan = scan_fields(after, MEMBER_ADD_FIELDS, after_words=True)
    if scan.text:
        raise CommandSyntaxError(
            f"Unexpected '{shorten(scan.text)}'. /member add takes country:, role:, desk:, name:, backup: and tz:. "
            f"Example: {MEMBER_ADD_EXAMPLE}"
        )
    values = scan.single(MEMBER_ADD_FIELDS)
    if "org" not in values:
        raise CommandSyntaxError(f"Say where they work with country: (or org:). Example: {MEMBER_ADD_EXAMPLE}")
    if "role" not in values:
        raise CommandSyntaxError(
            f"Say what they do with role: {ROLES_ACCEPTED}. Example: {MEMBER_ADD_EXAMPLE}"
        )
    organisation = parse_organisation(values["org"], vocabulary, example="country:TH")
    role = checked(Role.parse, values["role"])
    desk = parse_desk(organisation, values["desk"], vocabulary, field=True) if "desk" in values else None
    zone, name = member_zone(values.get("tz")), values.get("name")
    problem = member_zone_problem(zone) or member_name_problem(name)
    if problem is not None:
        raise CommandSyntaxError(f"{problem} Example: {MEMBER_ADD_FULL_EXAMPLE}")
    return MemberAddCommand(user, organisation, role, desk, name, values.get("backup"), zone)


# The rules of /member add's tz: and name:, here once: `liaison-bot member add --tz/--name` applies them too
# (bot/cli/member.py), each giving its own example.

def member_zone(zone: str | None) -> str | None:
    """A person's time zone as given: `default` in any case read as ZONE_DEFAULT, a zone as the tz
    database spells it (alerts.zones: `asia/bangkok` is Asia/Bangkok), anything else as typed, for
    member_zone_problem to refuse."""
    if zone is None:
        return None
    if zone.strip().lower() == ZONE_DEFAULT:
        return ZONE_DEFAULT
    return canonical_zone(zone) or zone


def member_zone_problem(zone: str | None) -> str | None:
    """What is wrong with a person's time zone as given (member_zone), or None (none given is fine: a
    new person follows the network's default_timezone, someone known keeps theirs)."""
    if zone is not None and zone != ZONE_DEFAULT and canonical_zone(zone) != zone:
        return (f"Time zone '{shorten(zone, 40)}' is not valid: use an IANA zone such as Asia/Bangkok or UTC, "
                "or default for the network's.")
    return None


def member_name_problem(name: str | None) -> str | None:
    """What is wrong with a person's display name as given, or None (none given: their account's name)."""
    if name is not None and (len(name) > 100 or any(ch in name for ch in "\n\r")):
        return "A name is one line of up to 100 characters."
    return None


def _member_remove(text: str) -> MemberRemoveCommand:
    """`/member remove USER [reason:"..."]`, USER an account or a contact id; free text after the user
    is the reason too."""
    word, after = take_word(text)
    if not word:
        raise CommandSyntaxError(f"/member remove needs a user, first. Example: {MEMBER_REMOVE_EXAMPLE}")
    user = _person(word, MEMBER_REMOVE_EXAMPLE)
    scan = scan_fields(after, MEMBER_REMOVE_FIELDS, after_words=True)
    reason = scan.single(MEMBER_REMOVE_FIELDS).get("reason")
    if reason and scan.text:
        raise CommandSyntaxError(
            f'Give the reason once, as reason:"..." or as text after the user. Example: {MEMBER_REMOVE_EXAMPLE}'
        )
    return MemberRemoveCommand(user, reason or scan.text or None)


REASSIGN_EXAMPLE = "/reassign A-2026-0042 to:@th-imm2:example.org"
REASSIGN_FIELDS = FieldSpec(keys={"to": "to"}, examples={"to": "to:@th-imm2:example.org"}, takes_text=False)


def parse_reassign(rest: str, vocabulary: Vocabulary) -> ReassignCommand:
    """`/reassign REF to:PERSON`: PERSON a contact id or an account (a mention is one)."""
    reference, after = take_reference(rest, "reassign")
    scan = scan_fields(after, REASSIGN_FIELDS, after_words=True)
    to = scan.single(REASSIGN_FIELDS).get("to")
    if scan.text or not to:
        raise CommandSyntaxError(f"Say who takes the item over with to:, and nothing else. "
                                 f"Example: /reassign {reference} to:@th-imm2:example.org")
    return ReassignCommand(reference, to)


ROOM_REGISTER_EXAMPLE = ('/room register console:#kul name:"KUL airport" purpose:network orgs:MY,TH hubs:KUL '
                         "topics:document-fraud")
ROOM_RETIRE_EXAMPLE = "/room retire console:#kul the airport desk moved"
ROOM_FIELDS = FieldSpec(
    keys={"name": "name", "purpose": "purpose", "orgs": "orgs", "organisations": "orgs", "organizations": "orgs",
          "hubs": "hubs", "hub": "hubs", "topics": "topics", "topic": "topics"},
    examples={"name": 'name:"KUL airport"', "purpose": "purpose:network", "orgs": "orgs:MY,TH", "hubs": "hubs:KUL",
              "topics": "topics:document-fraud"},
    lists=frozenset({"orgs", "hubs", "topics"}),
    takes_text=False,
)
_PURPOSES = ("network", "country", "organisation", "coordination", "management")  # alerts.directory.RoomPurpose


def parse_room(rest: str, vocabulary: Vocabulary) -> RoomSyncCommand | RoomRegisterCommand | RoomRetireCommand:
    action, after = take_word(rest)
    if action.lower() == "register":
        return _room_register(after, vocabulary)
    if action.lower() == "retire":
        return _room_retire(after)
    flag, extra = take_word(after)
    if action.lower() != "sync" or extra.strip() or (flag and flag.lower() not in _APPLY_WORDS):
        raise CommandSyntaxError(
            "Use /room sync to see what would change in the rooms, /room sync --apply to change it; "
            "/room register CHAT … or /room retire CHAT REASON. Example: /room sync --apply"
        )
    return RoomSyncCommand(apply=bool(flag))


def _take_chat(text: str, example: str) -> tuple[str, str]:
    word, after = take_word(text)
    if not word:
        raise CommandSyntaxError(f"Say which room first, as the platform names it. Example: {example}")
    chat = ChatRef.parse(word)
    if chat.is_direct:
        raise CommandSyntaxError(f"{shorten(word, 40)} is a direct chat, not a room. Example: {example}")
    return str(chat), after


def _fields_only(text: str, spec: FieldSpec, refusal: str) -> Scan:
    """The fields of a command that takes no text; a word before them (`/arrangement add MY TH from:…`)
    is refused with `refusal`, not read as a text that pushes the fields after it out of place."""
    words = text.split(maxsplit=1)
    if words and key_like(words[0]) is None:
        raise CommandSyntaxError(f"Unexpected '{shorten(words[0], 30)}'. {refusal}")
    scan = scan_fields(text, spec, after_words=True)
    if scan.text:
        raise CommandSyntaxError(f"Unexpected '{shorten(scan.text)}'. {refusal}")
    return scan


def _room_register(text: str, vocabulary: Vocabulary) -> RoomRegisterCommand:
    chat, after = _take_chat(text, ROOM_REGISTER_EXAMPLE)
    scan = _fields_only(after, ROOM_FIELDS, "/room register takes name:, purpose:, orgs:, hubs: and topics:. "
                                            f"Example: {ROOM_REGISTER_EXAMPLE}")
    values = scan.single(ROOM_FIELDS)
    for needed in ("name", "purpose", "orgs"):
        if needed not in values:
            raise CommandSyntaxError(f"Give {ROOM_FIELDS.examples[needed].split(':')[0]}: too. "
                                     f"Example: {ROOM_REGISTER_EXAMPLE}")
    purpose = values["purpose"].lower()
    if purpose not in _PURPOSES:
        raise invalid("Purpose", values["purpose"], ", ".join(_PURPOSES), "purpose:network")
    organisations = tuple(dict.fromkeys(parse_organisation(code, vocabulary, example="orgs:MY,TH")
                                        for code in _listed([values["orgs"]])))
    hubs = tuple(dict.fromkeys(parse_hub(h) for h in _listed([values["hubs"]]))) if "hubs" in values else ()
    topics = tuple(dict.fromkeys(parse_topic(t, vocabulary) for t in _listed([values["topics"]]))) \
        if "topics" in values else ()
    if not organisations:
        raise CommandSyntaxError(f"orgs: names no organisation. Example: {ROOM_REGISTER_EXAMPLE}")
    return RoomRegisterCommand(chat, " ".join(values["name"].split()), purpose, organisations, hubs, topics)


def _room_retire(text: str) -> RoomRetireCommand:
    chat, after = _take_chat(text, ROOM_RETIRE_EXAMPLE)
    reason = " ".join(after.split())
    if not reason:
        raise CommandSyntaxError(f"Say why it is retired, after the room; the audit log keeps it. "
                                 f"Example: {ROOM_RETIRE_EXAMPLE}")
    return RoomRetireCommand(chat, reason)


def parse_device(rest: str, vocabulary: Vocabulary) -> DeviceCommand:
    """`/device list USER`, `/device verify USER DEVICE`, `/device blacklist USER DEVICE`."""
    word, after = take_word(rest)
    op = _DEVICE_OPS.get(word.lower())
    if op is None:
        raise CommandSyntaxError(DEVICE_USAGE)
    example = ("/device list @alice:example.org" if op is DeviceOp.LIST
               else f"/device {op.value} @alice:example.org ABCDEFGHIJ")
    user_word, after = take_word(after)
    if not user_word:
        raise CommandSyntaxError(f"/device {op.value} needs a Matrix user. Example: {example}")
    user = _matrix_user(user_word, example)
    device, extra = take_word(after)
    if op is DeviceOp.LIST:
        if device:
            raise CommandSyntaxError(f"Unexpected '{shorten(device, 30)}': /device list takes only the user. "
                                     f"Example: /device list {user.user_id}")
        return DeviceCommand(op, user, None)
    if not device:
        raise CommandSyntaxError(f"Say which device, after the user (/device list {user.user_id} shows them). "
                                 f"Example: /device {op.value} {user.user_id} ABCDEFGHIJ")
    if not _DEVICE_ID.fullmatch(device):
        raise CommandSyntaxError(f"'{shorten(device, 30)}' is not a device id; /device list {user.user_id} shows "
                                 f"them. Example: /device {op.value} {user.user_id} ABCDEFGHIJ")
    if extra.strip():
        raise CommandSyntaxError(f"Unexpected '{shorten(extra.strip(), 30)}': /device {op.value} takes a user and "
                                 f"one device. Example: /device {op.value} {user.user_id} {device}")
    return DeviceCommand(op, user, device)


def _matrix_user(word: str, example: str) -> UserRef:
    text = word if word.lower().startswith("matrix:") else f"matrix:{word}"
    try:
        user = UserRef.parse(text)
    except InvalidValue:
        user = None
    if user is None or user.platform is not Platform.MATRIX:
        raise CommandSyntaxError(f"'{shorten(word, 40)}' is not a Matrix user; device trust is for Matrix "
                                 f"accounts such as @alice:example.org. Example: {example}")
    return user


# --- /arrangement ----------------------------------------------------------------------------------

ARRANGEMENT_ADD_EXAMPLE = ('/arrangement add between:MY,CA doc:"MoU MY-CA 2026" topics:document-fraud '
                           "from:2026-01-01 until:2026-11-30")
ARRANGEMENT_END_EXAMPLE = "/arrangement end 3 superseded by the 2027 memorandum"
ARRANGEMENT_USAGE = ("Use /arrangement list, /arrangement add between:MY,CA doc:\"…\" [topics:…] [from:DATE] "
                     "[until:DATE] [direction:MY>CA], or /arrangement end NUMBER|\"DOCUMENT\" REASON. "
                     f"Example: {ARRANGEMENT_ADD_EXAMPLE}")
MAX_DOCUMENT = 200  # the stored kind's column holds this much
ARRANGEMENT_FIELDS = FieldSpec(
    keys={"between": "between", "parties": "between", "doc": "doc", "document": "doc", "ref": "doc",
          "topics": "topics", "topic": "topics", "from": "from", "starts": "from", "until": "until",
          "ends": "until", "direction": "direction"},
    examples={"between": "between:MY,CA", "doc": 'doc:"MoU MY-CA 2026"', "topics": "topics:document-fraud",
              "from": "from:2026-01-01", "until": "until:2026-11-30", "direction": "direction:MY>CA"},
    lists=frozenset({"between", "topics"}),
    takes_text=False,
)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_ONE_WAY = re.compile(r"([A-Za-z0-9-]+)\s*(?:>|->|→)\s*([A-Za-z0-9-]+)")


def parse_arrangement(rest: str, vocabulary: Vocabulary) -> (
        ArrangementAddCommand | ArrangementEndCommand | ArrangementListCommand):
    action, after = take_word(rest)
    word = action.lower()
    if word in ("list", "ls"):
        if after.strip():
            raise CommandSyntaxError(f"Unexpected '{shorten(after.strip(), 30)}': /arrangement list takes nothing "
                                     "more. Example: /arrangement list")
        return ArrangementListCommand()
    if word == "add":
        return _arrangement_add(after, vocabulary)
    if word == "end":
        return _arrangement_end(after)
    raise CommandSyntaxError(ARRANGEMENT_USAGE)


def _day(text: str, what: str) -> date:
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(what, text, "a date as YYYY-MM-DD (UTC)", ARRANGEMENT_ADD_EXAMPLE) from None


def _listed(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _arrangement_add(text: str, vocabulary: Vocabulary) -> ArrangementAddCommand:
    scan = _fields_only(text, ARRANGEMENT_FIELDS, "/arrangement add takes between:, doc:, topics:, from:, until: "
                                                  f"and direction:. Example: {ARRANGEMENT_ADD_EXAMPLE}")
    values = scan.single(ARRANGEMENT_FIELDS)
    if "between" not in values:
        raise CommandSyntaxError(f"Name the parties with between:, two or more organisations. "
                                 f"Example: {ARRANGEMENT_ADD_EXAMPLE}")
    parties = tuple(dict.fromkeys(parse_organisation(code, vocabulary, example="between:MY,CA")
                                  for code in _listed([values["between"]])))
    if len(parties) < 2:
        raise CommandSyntaxError(f"An arrangement is between two or more organisations. Example: "
                                 f"{ARRANGEMENT_ADD_EXAMPLE}")
    document = " ".join(values.get("doc", "").split())
    if not document:
        raise CommandSyntaxError(f"Name the signed document with doc:, the reference people know it by. "
                                 f"Example: {ARRANGEMENT_ADD_EXAMPLE}")
    if len(document) > MAX_DOCUMENT:
        raise CommandSyntaxError(f"doc: is {len(document)} characters long; at most {MAX_DOCUMENT}. Give the "
                           "document's reference, not its text.")
    topics = tuple(dict.fromkeys(parse_topic(t, vocabulary) for t in _listed([values["topics"]]))) \
        if "topics" in values else ()
    starts = _day(values["from"], "from:") if "from" in values else None
    ends = _day(values["until"], "until:") if "until" in values else None
    if starts is not None and ends is not None and ends < starts:
        raise CommandSyntaxError(f"until:{ends.isoformat()} is before from:{starts.isoformat()}. "
                           f"Example: {ARRANGEMENT_ADD_EXAMPLE}")
    giver = _direction(values.get("direction"), parties, vocabulary)
    return ArrangementAddCommand(parties, document, topics, starts, ends, giver)


def _direction(text: str | None, parties: tuple[str, ...], vocabulary: Vocabulary) -> str | None:
    if text is None or text.lower() in ("both", "both-ways", "mutual"):
        return None
    match = _ONE_WAY.fullmatch(text.strip())
    example = f"direction:{parties[0]}>{parties[1]}"
    if match is None:
        raise CommandSyntaxError(f"direction '{shorten(text, 30)}' is not valid. Accepted: both, or one way between the "
                           f"two parties as FROM>TO. Example: {example}")
    giver = parse_organisation(match[1], vocabulary, example=example)
    taker = parse_organisation(match[2], vocabulary, example=example)
    if len(parties) != 2 or {giver, taker} != set(parties):
        raise CommandSyntaxError(f"direction:{shorten(text, 30)} must name the two parties, FROM>TO; a one-way "
                           f"arrangement has exactly two. Example: {example}")
    return giver


def _arrangement_end(text: str) -> ArrangementEndCommand:
    stripped = text.strip()
    if not stripped:
        raise CommandSyntaxError(f"Say which arrangement (its number in /arrangement list, or its document in "
                                 f"quotes) and why. Example: {ARRANGEMENT_END_EXAMPLE}")
    if stripped[0] in OPENING_QUOTES:
        which, end = read_quoted(stripped, 0, "/arrangement end ")
        which, reason = " ".join(which.split()), stripped[end:].strip()
    else:
        which, reason = take_word(stripped)
        which, reason = which.removeprefix("#"), reason.strip()
    if not which:
        raise CommandSyntaxError(f"Say which arrangement. Example: {ARRANGEMENT_END_EXAMPLE}")
    if not reason:
        raise CommandSyntaxError(f"Say why it ends, after the arrangement; the audit log keeps it. "
                                 f"Example: {ARRANGEMENT_END_EXAMPLE}")
    return ArrangementEndCommand(which, " ".join(reason.split()))
