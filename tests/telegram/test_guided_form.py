"""The guided form on its own: one question at a time, checked at each step, ending in the canonical command."""

from __future__ import annotations

from alerts.caveats import Tlp
from alerts.incident import DocumentType, Incident
from alerts.priority import Priority
from bot.connectors.guided import CANCEL, NONE, SEND, Draft, GuidedForm
from handlers.commands import AlertCommand, RequestCommand
from handlers.parser import parse
from handlers.vocabulary import Vocabulary

VOCABULARY = Vocabulary(topics=("document-fraud", "people-smuggling"), organisations=frozenset({"TH", "MY", "IOM"}))


def walk(form: GuidedForm, kind: str, answers: list[tuple[str | None, str]]) -> list:
    outcome = form.start(kind, now=1000.0, update=1)
    seen = [outcome]
    for update, (pressed, value) in enumerate(answers, start=2):
        outcome = form.answer(outcome.draft, value, update, pressed=pressed)
        seen.append(outcome)
    return seen


def test_an_alert_from_first_question_to_the_command_text() -> None:
    form = GuidedForm(VOCABULARY)
    steps = walk(form, "alert", [(None, "th, MY"), ("tlp", "AMBER"), ("priority", "urgent"), ("topic", "0"),
                                 ("grade", "B"), ("credibility", "2"), ("incident", NONE),
                                 (None, "Two travellers <x> & y"), ("confirm", SEND)])
    assert [o.question.step for o in steps[:-1]] == ["to", "tlp", "priority", "topic", "grade", "credibility",
                                                     "incident", "body", "confirm"]
    assert steps[0].question.text.startswith("New alert · step 1 of 7")
    assert "To: TH,MY" in steps[-2].question.text and "grade B2" in steps[-2].question.text
    final = steps[-1]
    assert final.draft is None and final.command is not None
    parsed = parse(final.command, VOCABULARY)
    assert isinstance(parsed, AlertCommand)
    draft = parsed.draft
    assert [str(s) for s in draft.recipients] == ["TH", "MY"]
    assert draft.caveat.tlp is Tlp.AMBER and draft.priority is Priority.URGENT
    assert draft.topic == "document-fraud" and draft.grading.code == "B2"
    assert draft.body == "Two travellers <x> & y"


def test_a_request_asks_the_purpose_and_a_full_grade_skips_credibility() -> None:
    form = GuidedForm(VOCABULARY)
    steps = walk(form, "request", [(None, "TH"), (None, "red"), (None, "routine"), ("topic", NONE),
                                   (None, "c3"), (None, "identity check"),
                                   (None, "document:passport issuer:TH"), (None, "Passport N1234567?"),
                                   ("confirm", SEND)])
    assert steps[4].question.step == "grade" and steps[5].question.step == "purpose"
    parsed = parse(steps[-1].command, VOCABULARY)
    assert isinstance(parsed, RequestCommand)
    assert parsed.draft.purpose == "identity check" and parsed.draft.grading.code == "C3"
    assert parsed.draft.topic is None
    assert parsed.draft.incident == Incident(document=DocumentType.PASSPORT, issuer="TH")


def test_a_wrong_answer_is_explained_and_the_question_asked_again() -> None:
    form = GuidedForm(VOCABULARY)
    start = form.start("alert", 0.0, 1)
    wrong = form.answer(start.draft, "XX", 2)
    assert wrong.draft == start.draft and wrong.question.step == "to"
    assert "not valid" in wrong.note
    by_topic = form.answer(start.draft, "topic", 2)
    assert by_topic.draft.to == ""
    later = form.answer(form.answer(by_topic.draft, "green", 3).draft, "routine", 4)
    assert ("No topic", NONE) not in later.question.choices  # sent by topic: a topic is needed
    assert "needs a topic" in form.answer(later.draft, NONE, 5, pressed="topic").note


def test_a_wrong_incident_field_is_explained_and_asked_again() -> None:
    form = GuidedForm(VOCABULARY)
    draft = Draft(kind="alert", step="incident", started=0.0)
    for wrong, note in (("method:boat", "Method 'boat' is not valid"), ("persns:4", "did you mean persons?"),
                        ("four people", "Unexpected 'four people'"), ("tlp:red", "Unknown field 'tlp'")):
        outcome = form.answer(draft, wrong, 2)
        assert outcome.draft == draft and outcome.question.step == "incident" and note in outcome.note, outcome
    kept = form.answer(draft, "persons:3\nRoute: MM > TH > MY", 2)  # one line, or a form, as typed
    assert kept.draft.incident == "persons:3 route:MM>TH>MY" and kept.question.step == "body"


def test_an_old_button_does_not_answer_the_current_question() -> None:
    form = GuidedForm(VOCABULARY)
    after_to = form.answer(form.start("alert", 0.0, 1).draft, "TH", 2)
    stale = form.answer(after_to.draft, "all", 3, pressed="to")
    assert stale.draft == after_to.draft and "answered already" in stale.note


def test_cancel_and_expiry() -> None:
    form = GuidedForm(VOCABULARY)
    draft = form.start("alert", 0.0, 1).draft
    assert form.answer(Draft(**{**draft.to_json(), "step": "confirm"}), CANCEL, 2).command is None
    assert form.expired(draft, 3 * 3600.0) and not form.expired(draft, 60.0)
    assert Draft.from_json(draft.to_json()) == draft
