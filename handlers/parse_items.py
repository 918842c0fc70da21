"""Parsing /alert, /request and /forward: the commands that carry fields, recipients and caveats."""

from __future__ import annotations

from alerts.caveats import Caveat, Handling, Tlp
from alerts.grading import Grading
from alerts.incident import Incident
from alerts.items import Correction, ItemDraft, ItemKind, Selector
from alerts.priority import Priority
from handlers.commands import AlertCommand, CorrectCommand, ForwardCommand, RequestCommand
from handlers.lexer import CommandSyntaxError, FieldSpec, scan_fields, shorten
from handlers.values import (
    checked,
    parse_document_type,
    parse_due,
    parse_hub,
    parse_issuer,
    parse_method,
    parse_nationalities,
    parse_persons,
    parse_recipients,
    parse_route,
    parse_topic,
    parse_yes_no,
    take_reference,
)
from handlers.vocabulary import Vocabulary

ALERT_EXAMPLE = "/alert to:TH topic:document-fraud tlp:amber Two travellers with altered passports"
REQUEST_EXAMPLE = '/request to:TH purpose:"identity check" Please confirm passport N1234567'
FORWARD_EXAMPLE = '/forward A-2026-0042 to:VN purpose:"joint investigation"'

_TO_KEYS = {"to": "to", "recipients": "to", "recipient": "to"}
_PURPOSE_KEYS = {"purpose": "purpose", "why": "purpose", "reason": "purpose"}

ITEM_FIELDS = FieldSpec(
    keys=_TO_KEYS | _PURPOSE_KEYS | {
        "topic": "topic",
        "tlp": "tlp",
        "handling": "handling",
        "orcon": "orcon",
        "grade": "grade",
        "grading": "grade",
        "source": "grade",
        "priority": "priority",
        "prio": "priority",
        "feedback": "feedback",
        "due": "feedback",
        "ref": "ref",
        "confirm": "confirm",
        # the harmonised incident fields (alerts.incident)
        "persons": "persons",
        "pax": "persons",
        "nationalities": "nationalities",
        "nationality": "nationalities",
        "route": "route",
        "method": "method",
        "document": "document",
        "issuer": "issuer",
        "hub": "hub",
    },
    examples={
        "to": "to:TH,MY",
        "topic": "topic:document-fraud",
        "tlp": "tlp:amber",
        "handling": "handling:H2",
        "orcon": "orcon",
        "grade": "grade:B2",
        "priority": "priority:urgent",
        "feedback": "feedback:24h",
        "purpose": 'purpose:"identity check"',
        "ref": "ref:OP-1234",
        "confirm": "confirm:yes",
        "persons": "persons:4",
        "nationalities": "nationalities:MM,BD",
        "route": "route:MM>TH>MY",
        "method": "method:sea",
        "document": "document:passport",
        "issuer": "issuer:TH",
        "hub": "hub:KUL",
    },
    flags={"orcon": ("orcon", "yes")},
    lists=frozenset({"to", "nationalities"}),
    guarded=frozenset({"confirm"}),
)

_INCIDENT_NAMES = ("persons", "nationalities", "route", "method", "document", "issuer")
# The harmonised fields alone, for the guided form's question about them.
INCIDENT_FIELDS = FieldSpec(
    keys={key: name for key, name in ITEM_FIELDS.keys.items() if name in _INCIDENT_NAMES},
    examples={name: ITEM_FIELDS.examples[name] for name in _INCIDENT_NAMES},
    lists=frozenset({"nationalities"}),
    takes_text=False,
)
INCIDENT_EXAMPLE = "persons:4 nationalities:MM,BD method:sea route:MM>TH>MY document:passport issuer:MM"


def parse_incident(text: str) -> Incident:
    """Harmonised fields alone (`persons:4 method:sea`), as the guided form asks for them."""
    scan = scan_fields(text, INCIDENT_FIELDS, after_words=True)
    if scan.text:
        raise CommandSyntaxError(f"Unexpected '{shorten(scan.text)}'. Give fields such as {INCIDENT_EXAMPLE}")
    return _incident(scan.single(INCIDENT_FIELDS))


FORWARD_FIELDS = FieldSpec(
    keys=_TO_KEYS | _PURPOSE_KEYS,
    examples={"to": "to:VN", "purpose": 'purpose:"joint investigation"'},
    lists=frozenset({"to"}),
)


def parse_alert(rest: str, vocabulary: Vocabulary) -> AlertCommand:
    return AlertCommand(*parse_draft_and_confirmation(ItemKind.ALERT, rest, vocabulary))


def parse_request(rest: str, vocabulary: Vocabulary) -> RequestCommand:
    return RequestCommand(*parse_draft_and_confirmation(ItemKind.REQUEST, rest, vocabulary))


def parse_draft_and_confirmation(kind: ItemKind, rest: str, vocabulary: Vocabulary) -> tuple[ItemDraft, bool]:
    scan = scan_fields(rest, ITEM_FIELDS)
    values = scan.single(ITEM_FIELDS, repeatable=frozenset({"to"}))
    confirmed = parse_yes_no(values["confirm"], "Confirm", "confirm:yes") if "confirm" in values else False
    default = Caveat()
    caveat = Caveat(
        tlp=checked(Tlp.parse, values["tlp"]) if "tlp" in values else default.tlp,
        handling=checked(Handling.parse, values["handling"]) if "handling" in values else default.handling,
        orcon=parse_yes_no(values["orcon"], "Orcon", "orcon:yes") if "orcon" in values else default.orcon,
    )
    draft = ItemDraft(
        kind=kind,
        body=scan.text,
        recipients=_recipients(scan.all("to"), vocabulary, _example(kind)),
        caveat=caveat,
        grading=checked(Grading.parse, values["grade"]) if "grade" in values else None,
        priority=checked(Priority.parse, values["priority"]) if "priority" in values else Priority.ROUTINE,
        topic=parse_topic(values["topic"], vocabulary) if "topic" in values else None,
        due=parse_due(values["feedback"]) if "feedback" in values else None,
        purpose=values.get("purpose"),
        outside_ref=values.get("ref"),
        incident=_incident(values),
        hub=parse_hub(values["hub"]) if "hub" in values else None,
    )
    _check_complete(draft)
    return draft, confirmed


def _incident(values: dict[str, str]) -> Incident:
    return Incident(
        persons=parse_persons(values["persons"]) if "persons" in values else None,
        nationalities=parse_nationalities(values["nationalities"]) if "nationalities" in values else (),
        route=parse_route(values["route"]) if "route" in values else (),
        method=parse_method(values["method"]) if "method" in values else None,
        document=parse_document_type(values["document"]) if "document" in values else None,
        issuer=parse_issuer(values["issuer"]) if "issuer" in values else None,
    )


def _recipients(values: list[str], vocabulary: Vocabulary, example: str) -> tuple[Selector, ...]:
    """Every to: merged; a to: that names no one is refused, never read as "the topic's usual
    recipients", which may be many more people than meant."""
    for value in values:
        if not parse_recipients([value], vocabulary):
            raise CommandSyntaxError(
                f"to: is empty. Name the recipients, or leave to: out to send to the topic's usual "
                f"recipients. Example: {example}"
            )
    return parse_recipients(values, vocabulary)


def _example(kind: ItemKind) -> str:
    return ALERT_EXAMPLE if kind is ItemKind.ALERT else REQUEST_EXAMPLE


def _check_complete(draft: ItemDraft) -> None:
    noun = draft.kind.noun.lower()
    example = _example(draft.kind)
    if not draft.recipients and draft.topic is None:
        raise CommandSyntaxError(
            f"Say who gets the {noun}: to:TH,MY, or a topic: whose usual recipients get it. Example: {example}"
        )
    if draft.kind is ItemKind.REQUEST and not draft.purpose:
        raise CommandSyntaxError(
            f'A request needs purpose:"...", the reason the audit records. Example: {REQUEST_EXAMPLE}'
        )
    if not draft.body:
        raise CommandSyntaxError(f"The {noun} has no text: write it after the fields. Example: {example}")


def parse_correct(rest: str, vocabulary: Vocabulary) -> CorrectCommand:
    """`/correct REF` with the fields that change and/or the new text (after the fields, or after an
    empty line), as /alert takes them; what is not given stays as it was."""
    reference, after = take_reference(rest, "correct")
    scan = scan_fields(after, ITEM_FIELDS)
    values = scan.single(ITEM_FIELDS, repeatable=frozenset({"to"}))
    confirmed = parse_yes_no(values["confirm"], "Confirm", "confirm:yes") if "confirm" in values else False
    example = f"/correct {reference} to:MY tlp:green"
    correction = Correction(
        recipients=_recipients(scan.all("to"), vocabulary, example) if scan.all("to") else None,
        topic=parse_topic(values["topic"], vocabulary) if "topic" in values else None,
        tlp=checked(Tlp.parse, values["tlp"]) if "tlp" in values else None,
        handling=checked(Handling.parse, values["handling"]) if "handling" in values else None,
        orcon=parse_yes_no(values["orcon"], "Orcon", "orcon:yes") if "orcon" in values else None,
        grading=checked(Grading.parse, values["grade"]) if "grade" in values else None,
        priority=checked(Priority.parse, values["priority"]) if "priority" in values else None,
        due=parse_due(values["feedback"]) if "feedback" in values else None,
        purpose=values.get("purpose"),
        outside_ref=values.get("ref"),
        body=scan.text or None,
    )
    if correction.empty:
        raise CommandSyntaxError("Say what changes: fields (to:, tlp:, topic:, …) and/or the new text. "
                                 f"Example: {example}")
    return CorrectCommand(reference, correction, confirmed)


def parse_forward(rest: str, vocabulary: Vocabulary) -> ForwardCommand:
    """`/forward REF to:VN purpose:"..."`; free text after the fields is the purpose too."""
    reference, after = take_reference(rest, "forward")
    scan = scan_fields(after, FORWARD_FIELDS, after_words=True)
    values = scan.single(FORWARD_FIELDS, repeatable=frozenset({"to"}))
    recipients = _recipients(scan.all("to"), vocabulary, FORWARD_EXAMPLE)
    if not recipients:
        raise CommandSyntaxError(f"Say whom to forward it to with to:. Example: {FORWARD_EXAMPLE}")
    purpose = values.get("purpose")
    if purpose and scan.text:
        raise CommandSyntaxError(
            f"Give the purpose once, as purpose:\"...\" or as text after to:. Example: {FORWARD_EXAMPLE}"
        )
    return ForwardCommand(reference, recipients, purpose or scan.text or None)
