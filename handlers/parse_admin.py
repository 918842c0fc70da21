"""Parsing the admin commands: /member add, /member remove and /room sync."""

from __future__ import annotations

from alerts.roles import Role
from handlers.commands import MemberAddCommand, MemberRemoveCommand, RoomSyncCommand
from handlers.lexer import CommandSyntaxError, FieldSpec, scan_fields, shorten, take_word
from handlers.values import checked, parse_desk, parse_organisation, parse_user
from handlers.vocabulary import Vocabulary

MEMBER_ADD_EXAMPLE = "/member add @alice:example.org country:TH role:contact desk:immigration"
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
    },
    examples={"org": "country:TH", "role": "role:contact", "desk": "desk:immigration"},
)
MEMBER_REMOVE_FIELDS = FieldSpec(
    keys={"reason": "reason", "why": "reason"},
    examples={"reason": 'reason:"left the service"'},
)

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
    scan = scan_fields(after, MEMBER_ADD_FIELDS)
    if scan.text:
        raise CommandSyntaxError(
            f"Unexpected '{shorten(scan.text)}'. /member add takes country:, role: and desk:. "
            f"Example: {MEMBER_ADD_EXAMPLE}"
        )
    values = scan.single(MEMBER_ADD_FIELDS)
    if "org" not in values:
        raise CommandSyntaxError(f"Say where they work with country: (or org:). Example: {MEMBER_ADD_EXAMPLE}")
    if "role" not in values:
        raise CommandSyntaxError(
            f"Say what they do with role: officer, contact, coordinator, admin or auditor. Example: {MEMBER_ADD_EXAMPLE}"
        )
    organisation = parse_organisation(values["org"], vocabulary, example="country:TH")
    role = checked(Role.parse, values["role"])
    desk = parse_desk(organisation, values["desk"], vocabulary) if "desk" in values else None
    return MemberAddCommand(user, organisation, role, desk)


def _member_remove(text: str) -> MemberRemoveCommand:
    """`/member remove USER [reason:"..."]`; free text after the user is the reason too."""
    user, after = _take_user(text, "member remove", MEMBER_REMOVE_EXAMPLE)
    scan = scan_fields(after, MEMBER_REMOVE_FIELDS)
    reason = scan.single(MEMBER_REMOVE_FIELDS).get("reason")
    if reason and scan.text:
        raise CommandSyntaxError(
            f'Give the reason once, as reason:"..." or as text after the user. Example: {MEMBER_REMOVE_EXAMPLE}'
        )
    return MemberRemoveCommand(user, reason or scan.text or None)


def parse_room(rest: str, vocabulary: Vocabulary) -> RoomSyncCommand:
    action, after = take_word(rest)
    flag, extra = take_word(after)
    if action.lower() != "sync" or extra.strip() or (flag and flag.lower() not in _APPLY_WORDS):
        raise CommandSyntaxError(
            "Use /room sync to see what would change in the rooms, /room sync --apply to change it. "
            "Example: /room sync --apply"
        )
    return RoomSyncCommand(apply=bool(flag))
