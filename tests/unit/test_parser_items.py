"""/alert, /request and /forward: fields, the one-line and form styles, and their errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alerts.caveats import Caveat, Handling, Tlp
from alerts.grading import Grading
from alerts.items import ALL, DueSpec, ItemDraft, ItemKind, Reference, Selector, SelectorKind
from alerts.priority import Priority
from handlers.commands import AlertCommand, ForwardCommand, ParseError, RequestCommand
from handlers.parser import parse
from handlers.vocabulary import Vocabulary

VOCABULARY = Vocabulary(
    topics=("document-fraud", "smuggling"),
    organisations=frozenset({"TH", "MY", "VN", "IOM", "RSO"}),
    desks={"TH": ("immigration", "police")},
)
TH = Selector(SelectorKind.ORGANISATION, organisation="TH")
MY = Selector(SelectorKind.ORGANISATION, organisation="MY")
VN = Selector(SelectorKind.ORGANISATION, organisation="VN")
TH_IMMIGRATION = Selector(SelectorKind.DESK, organisation="TH", desk="immigration")
BODY = "Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today."

ONE_LINE = f"/alert to:TH,MY topic:document-fraud tlp:amber grade:B2 priority:urgent feedback:24h {BODY}"
EXPECTED = AlertCommand(
    ItemDraft(
        kind=ItemKind.ALERT,
        body=BODY,
        recipients=(TH, MY),
        caveat=Caveat(Tlp.AMBER),
        grading=Grading("B", "2"),
        priority=Priority.URGENT,
        topic="document-fraud",
        due=DueSpec(after=timedelta(hours=24)),
    )
)
SAME_ALERT = [
    ONE_LINE,
    f"/alert to:TH,MY topic:document-fraud tlp:amber grade:B2 priority:urgent feedback:24h\n{BODY}",
    f"/alert\nTLP: AMBER\nTo: TH, MY\nTopic: document-fraud\nGrade: B2\nPriority: urgent\nFeedback: 24h\n{BODY}",
    f"/alert\nTLP: AMBER\nTo: TH, MY\nTopic: document-fraud\nGrade: B2\nPriority: urgent\nFeedback: 24h\n\n{BODY}",
    f"!ALERT TO:th TO:mys,TH Topic:Document-Fraud TLP:AMBER grade:b/2 prio:flash due:1d {BODY}",
    f"/alert to: TH, MY topic: document-fraud grading: B2 priority: immediate feedback: 24h {BODY}",
    f"/alert to:TH\nto:MY topic:document-fraud\nSource: B-2\nPRIORITY: Urgent\nfeedback:1440m\n{BODY}",
    f"/alert\r\nTo: TH MY\r\nTopic: Document fraud\r\nGrade: B2\r\nPriority: urgent\r\nDue: 24h\r\n{BODY}",
]


@pytest.mark.parametrize("text", SAME_ALERT)
def test_one_line_and_form_styles_mean_the_same(text: str) -> None:
    assert parse(text, VOCABULARY) == EXPECTED


def test_request_from_the_architecture_page() -> None:
    text = (
        '/request to:TH due:48h purpose:"identity check for prosecution" tlp:amber+strict\n'
        "Please confirm whether passport N1234567 was reported lost or stolen."
    )
    draft = ItemDraft(
        kind=ItemKind.REQUEST,
        body="Please confirm whether passport N1234567 was reported lost or stolen.",
        recipients=(TH,),
        caveat=Caveat(Tlp.AMBER_STRICT),
        due=DueSpec(after=timedelta(hours=48)),
        purpose="identity check for prosecution",
    )
    assert parse(text, VOCABULARY) == RequestCommand(draft)
    form = (
        "/rfi\nTo: TH\nDue: 48h\nPurpose: identity check for prosecution\nTLP: amber+strict\n\n"
        "Please confirm whether passport N1234567 was reported lost or stolen."
    )
    assert parse(form, VOCABULARY) == RequestCommand(draft)


def _draft(text: str, vocabulary: Vocabulary = VOCABULARY) -> ItemDraft:
    result = parse(text, vocabulary)
    assert isinstance(result, (AlertCommand, RequestCommand)), result
    return result.draft


@pytest.mark.parametrize(
    "text, field, expected",
    [
        ("/alert to:all x", "recipients", (ALL,)),
        ("/alert to:TH/Immigration,@th-npoc,tha x", "recipients",
         (TH_IMMIGRATION, Selector(SelectorKind.PERSON, person="th-npoc"), TH)),
        ("/alert to:TH,TH,MY,th x", "recipients", (TH, MY)),
        ("/alert to:TH, MY, VN x", "recipients", (TH, MY, VN)),
        ("/alert to:MY/visa x", "recipients", (Selector(SelectorKind.DESK, organisation="MY", desk="visa"),)),
        ("/alert topic:smuggling x", "recipients", ()),
        ("/alert to:TH x", "caveat", Caveat()),
        ("/alert to:TH tlp:red x", "caveat", Caveat(Tlp.RED)),
        ("/alert to:TH TLP:CLEAR x", "caveat", Caveat(Tlp.CLEAR)),
        ("/alert to:TH handling:2 orcon x", "caveat", Caveat(Tlp.AMBER, Handling.H2, True)),
        ("/alert to:TH orcon:no x", "caveat", Caveat()),
        ("/alert to:TH\nORCON\nx", "caveat", Caveat(orcon=True)),
        ("/alert to:TH x", "priority", Priority.ROUTINE),
        ("/alert to:TH priority:high x", "priority", Priority.PRIORITY),
        ("/alert to:TH feedback:90m x", "due", DueSpec(after=timedelta(minutes=90))),
        ("/alert to:TH feedback:1d12h x", "due", DueSpec(after=timedelta(hours=36))),
        ("/alert to:TH feedback:2w x", "due", DueSpec(after=timedelta(weeks=2))),
        ("/alert to:TH feedback:2026-11-30 x", "due",
         DueSpec(at=datetime(2026, 11, 30, 23, 59, 59, tzinfo=timezone.utc))),
        ("/alert to:TH feedback:2026-11-30T14:00 x", "due",
         DueSpec(at=datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc))),
        ('/alert to:TH feedback:"2026-11-30 14:00" x', "due",
         DueSpec(at=datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc))),
        ("/alert to:TH\nFeedback: 2026-11-30 21:00+07:00\nx", "due",
         DueSpec(at=datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc))),
        ("/alert to:TH purpose:“a quoted purpose” x", "purpose", "a quoted purpose"),
        ("/alert to:TH why:'it\\'s urgent' x", "purpose", "it's urgent"),
        ('/alert to:TH purpose:"say \\"hi\\" C:\\cases" x', "purpose", 'say "hi" C:\\cases'),
        ('/alert to:TH purpose:"" x', "purpose", None),
        ("/alert to:TH\nPurpose: Feedback: please, orcon aside\nx", "purpose", "Feedback: please, orcon aside"),
        ("/alert to:TH\nPurpose:identity check\nx", "purpose", "identity check"),
        ('/alert to:TH\nPurpose: "Op X" follow-up\nx', "purpose", '"Op X" follow-up'),
        ("/alert to:TH ref:OP-1234 x", "outside_ref", "OP-1234"),
        ("/alert to:TH\nRef:\nx", "outside_ref", None),
        ("/alert to:TH\n\nSubject: passports\nmore", "body", "Subject: passports\nmore"),
        ("/alert\nTo: TH\n\nSubject: passports\nTopic: document-fraud", "body", "Subject: passports\nTopic: document-fraud"),
        ("/alert to:TH\n\nTopic: not a field", "body", "Topic: not a field"),
        ("/alert\n\nTo: TH\n\nbody after blank lines", "body", "body after blank lines"),
        ('/alert to:TH "Quoted" start, it\'s fine', "body", '"Quoted" start, it\'s fine'),
        ("/alert to:TH\n\nRe: the case", "body", "Re: the case"),
        ("/alert to:TH The case\nurgent: not a field", "body", "The case\nurgent: not a field"),
    ],
)
def test_fields(text: str, field: str, expected: object) -> None:
    assert getattr(_draft(text), field) == expected


def test_an_open_vocabulary_accepts_any_code_and_topic() -> None:
    draft = _draft("/alert to:UNODC,KHM,XX/anything topic:New-Topic x", Vocabulary())
    assert draft.recipients == (
        Selector(SelectorKind.ORGANISATION, organisation="UNODC"),
        Selector(SelectorKind.ORGANISATION, organisation="KH"),
        Selector(SelectorKind.DESK, organisation="XX", desk="anything"),
    )
    assert draft.topic == "new-topic"


@pytest.mark.parametrize(
    "text, expected_words",
    [
        ("/alert x", ["Say who gets the alert", "to:TH", "Example: /alert"]),
        ("/alert", ["Say who gets the alert"]),
        ("/alert to:TH", ["has no text", "Example: /alert"]),
        ("/alert to:TH\n\n", ["has no text"]),
        ("/request to:TH Please confirm", ['needs purpose:"', "the reason the audit records", "Example: /request"]),
        ("/request to:TH purpose:\"\" Please confirm", ["needs purpose:"]),
        ("/alert to:TH Tpoic:smuggling x", ["Unknown field 'Tpoic'", "did you mean topic?", "Example: topic:"]),
        ("/alert\nTo: TH\nPurpse: why\nx", ["Unknown field 'Purpse'", "did you mean purpose?"]),
        ("/alert to:ZZ x", ["Organisation 'ZZ'", "Accepted:", "TH", "Example: to:TH"]),
        ("/alert to:TH/visa x", ["Desk 'visa'", "immigration, police", "Example: to:TH/immigration"]),
        ("/alert to:@ x", ["Person '@'", "Example: to:@th-npoc"]),
        ("/alert topic:fraud x", ["Topic 'fraud'", "document-fraud, smuggling", "Example: topic:document-fraud"]),
        ("/alert to:TH tlp:pink x", ["TLP 'pink'", "amber+strict", "Example: tlp:amber"]),
        ("/alert to:TH handling:H9 x", ["Handling code 'H9'", "H0, H1, H2, H3"]),
        ("/alert to:TH grade:G7 x", ["Grade 'G7'", "Example: grade:B2"]),
        ("/alert to:TH priority:meh x", ["Priority 'meh'", "routine, priority, urgent"]),
        ("/alert to:TH orcon:maybe x", ["Orcon 'maybe'", "yes or no"]),
        ("/alert to:TH feedback:soon x", ["Due time 'soon'", "24h", "2026-11-30", "Example: feedback:"]),
        ("/alert to:TH feedback:2026-02-30 x", ["Due time '2026-02-30'"]),
        ("/alert to:TH feedback:0m x", ["Due time '0m'", "up to 366d"]),
        ("/alert to:TH feedback:400d x", ["Due time '400d'"]),
        ("/alert to:TH feedback:3mo x", ["Due time '3mo'"]),
        ('/alert to:TH purpose:"unbalanced x', ["quote after purpose: is not closed", 'Example: purpose:"']),
        ("/alert to:TH purpose:“curly unbalanced x", ["not closed"]),
        ('/alert to:TH purpose:"a"b x', ["Put a space after the closing quote"]),
        ("/alert to:TH tlp:green tlp:red x", ["tlp is given twice", "Example: tlp:amber"]),
        ("/alert to:TH\nTLP: green\nTLP: red\nx", ["TLP is given twice"]),
    ],
)
def test_errors(text: str, expected_words: list[str]) -> None:
    result = parse(text, VOCABULARY)
    assert isinstance(result, ParseError), result
    assert result.command == ("request" if text.startswith("/request") else "alert")
    for words in expected_words:
        assert words in result.message
    assert "\n" not in result.message and len(result.message) < 300


def test_forward() -> None:
    reference = Reference.parse("A-2026-0042")
    expected = ForwardCommand(reference, (VN,), "joint investigation")
    assert parse('/forward a-2026-0042 to:VN purpose:"joint investigation"', VOCABULARY) == expected
    assert parse("/fwd A-2026-0042 to:VN joint investigation", VOCABULARY) == expected
    assert parse("/forward A-2026-0042\nTo: VN\nPurpose: joint investigation", VOCABULARY) == expected
    assert parse("/forward A-2026-0042 to:VN,TH", VOCABULARY) == ForwardCommand(reference, (VN, TH), None)


@pytest.mark.parametrize(
    "text, expected_words",
    [
        ("/forward", ["/forward needs a reference", "Example: /forward A-2026-0042"]),
        ("/forward 42 to:VN", ["Reference '42'", "A-YYYY-NNNN"]),
        ("/forward A-2026-0042", ["Say whom to forward it to with to:", "Example: /forward"]),
        ("/forward A-2026-0042 purpose:x", ["Say whom to forward it to"]),
        ("/forward A-2026-0042 to:VN purpose:x and more", ["Give the purpose once"]),
        ("/forward A-2026-0042 to:QQ", ["Organisation 'QQ'"]),
    ],
)
def test_forward_errors(text: str, expected_words: list[str]) -> None:
    result = parse(text, VOCABULARY)
    assert isinstance(result, ParseError) and result.command == "forward", result
    for words in expected_words:
        assert words in result.message
