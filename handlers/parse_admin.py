"""Parsing the admin commands: /member add, /member remove, /room sync and /device."""

from __future__ import annotations

import re

from alerts.devices import DeviceOp
from alerts.errors import InvalidValue
from alerts.identity import Platform, UserRef
from alerts.reminder_policy import known_zone
from alerts.roles import Role
from handlers.commands import DeviceCommand, MemberAddCommand, MemberRemoveCommand, ReassignCommand, RoomSyncCommand
from handlers.lexer import CommandSyntaxError, FieldSpec, scan_fields, shorten, take_word
from handlers.values import checked, parse_desk, parse_organisation, parse_user, take_reference
from handlers.vocabulary import Vocabulary

MEMBER_ADD_EXAMPLE = "/member add @alice:example.org country:TH role:contact desk:immigration"
MEMBER_ADD_FULL_EXAMPLE = ('/member add @somchai:example.org country:TH role:contact name:"Somchai P." '
                           'backup:@kanya:example.org tz:Asia/Bangkok')
MEMBER_REMOVE_EXAMPLE = '/member remove @alice:example.org reason:"left the service"'
MEMBER_USAGE = f"Use /member add USER country:TH role:contact, or /member remove USER. Example: {MEMBER_ADD_EXAMPLE}"

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


def parse_member(rest: str, vocabulary: Vocabulary) -> MemberAddCommand | MemberRemoveCommand:
    action, after = take_word(rest)
    if action.lower() == "add":
        return _member_add(after, vocabulary)
    if action.lower() == "remove":
        return _member_remove(after)
    raise CommandSyntaxError(MEMBER_USAGE)


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
            f"Say what they do with role: officer, contact, coordinator, admin, auditor or approver. Example: {MEMBER_ADD_EXAMPLE}"
        )
    organisation = parse_organisation(values["org"], vocabulary, example="country:TH")
    role = checked(Role.parse, values["role"])
    desk = parse_desk(organisation, values["desk"], vocabulary) if "desk" in values else None
    zone = values.get("tz")
    if zone is not None and not known_zone(zone):
        raise CommandSyntaxError(f"Time zone '{shorten(zone, 40)}' is not valid: use an IANA zone such as "
                                 f"Asia/Bangkok or UTC. Example: {MEMBER_ADD_FULL_EXAMPLE}")
    name = values.get("name")
    if name is not None and (len(name) > 100 or any(ch in name for ch in "\n\r")):
        raise CommandSyntaxError(f"A name is one line of up to 100 characters. Example: {MEMBER_ADD_FULL_EXAMPLE}")
    return MemberAddCommand(user, organisation, role, desk, name, values.get("backup"), zone)


def _member_remove(text: str) -> MemberRemoveCommand:
    """`/member remove USER [reason:"..."]`; free text after the user is the reason too."""
    user, after = _take_user(text, "member remove", MEMBER_REMOVE_EXAMPLE)
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


def parse_room(rest: str, vocabulary: Vocabulary) -> RoomSyncCommand:
    action, after = take_word(rest)
    flag, extra = take_word(after)
    if action.lower() != "sync" or extra.strip() or (flag and flag.lower() not in _APPLY_WORDS):
        raise CommandSyntaxError(
            "Use /room sync to see what would change in the rooms, /room sync --apply to change it. "
            "Example: /room sync --apply"
        )
    return RoomSyncCommand(apply=bool(flag))


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
