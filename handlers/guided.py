"""The guided /alert and /request form: one question at a time, for a phone, on any platform: one
definition of the steps, which Telegram renders with buttons (bot/connectors/telegram/guided_chat.py)
and Matrix and the console as numbered choices (handlers/dispatcher.py).

A bare `/alert` in a private chat starts it. The form asks for the recipients, the TLP, the
priority, the topic, the source grade (and, for a request, the purpose), the harmonised incident
fields (or None), then the text; shows a
summary; and on Send produces the canonical command text (AlertCommand(draft).render()), which the
connector records in the inbox like anything typed, so validation, routing and audit are exactly
those of a typed command. `/cancel` leaves at any step.

Everything here is pure: a Draft is the whole state (JSON-serialisable, so a connector may keep it
durably), and answer() returns the next Draft and what to say. Each answer is also checked here, at
its step, with the parser's own value functions, so a mistake is pointed out at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any
from datetime import timedelta

from alerts.caveats import Caveat, Tlp
from alerts.errors import InvalidValue
from alerts.grading import CREDIBILITY, RELIABILITY, Grading
from alerts.incident import DocumentType, Incident
from alerts.items import ItemDraft, ItemKind
from alerts.priority import Priority
from handlers.commands import AlertCommand, RequestCommand, incident_tokens
from handlers.lexer import CommandSyntaxError, shorten
from handlers.parse_items import INCIDENT_EXAMPLE, parse_incident
from handlers.values import parse_recipients, parse_topic
from handlers.vocabulary import Vocabulary

KINDS = ("alert", "request")
_STEPS = {
    "alert": ("to", "tlp", "priority", "topic", "grade", "credibility", "incident", "body", "confirm"),
    "request": ("to", "tlp", "priority", "topic", "grade", "credibility", "purpose", "incident", "body", "confirm"),
}
BY_TOPIC = "topic"  # the `to` answer meaning "the topic's usual recipients"
NONE = "-"          # no topic, not graded
SEND, CANCEL = "ok", "x"


@dataclass(frozen=True)
class Draft:
    kind: str                # "alert" or "request"
    step: str
    started: float           # seconds since the epoch; a draft older than the form's ttl has expired
    update: int = 0          # the last platform update applied, so a re-read update is not applied twice
    to: str | None = None    # "TH,MY"; "" means by topic
    tlp: str | None = None
    priority: str | None = None
    topic: str | None = None  # "" means none
    grade: str | None = None  # "B2", "B" while the credibility is asked, "" means not graded
    purpose: str | None = None
    incident: str | None = None  # the harmonised fields as canonical tokens ("persons:4 method:sea"); "" none
    body: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(frozen=True)
class Question:
    step: str
    text: str
    choices: tuple[tuple[str, str], ...] = ()  # (button label, value)
    columns: int = 3


@dataclass(frozen=True)
class Outcome:
    draft: Draft | None              # the form after this answer; None when it has ended
    question: Question | None = None  # what to ask next (or again)
    note: str | None = None          # a short remark first: an error, "Cancelled."
    command: str | None = None       # on Send: the command text to record as if typed
    chosen: str | None = None        # the answer as shown, to mark the question it answered


class GuidedForm:
    def __init__(self, vocabulary: Vocabulary, ttl: timedelta = timedelta(hours=2)) -> None:
        self._vocabulary = vocabulary
        self._ttl = ttl.total_seconds()

    def start(self, kind: str, now: float, update: int) -> Outcome:
        draft = Draft(kind=kind, step="to", started=now, update=update)
        return Outcome(draft, self.question(draft))

    def expired(self, draft: Draft, now: float) -> bool:
        return now - draft.started > self._ttl

    def cancel(self) -> Outcome:
        return Outcome(None, note="Cancelled. Nothing was sent.")

    def answer(self, draft: Draft, value: str, update: int, pressed: str | None = None) -> Outcome:
        """Apply one answer: typed text, or a button's value (`pressed` names the button's step)."""
        if pressed is not None and pressed != draft.step:
            return Outcome(draft, self.question(draft), note="That question was answered already.")
        if draft.step == "confirm":
            return self._confirm(draft, value.strip().lower())
        try:
            changes, chosen = self._parse(draft, value.strip())
        except (InvalidValue, CommandSyntaxError) as error:
            return Outcome(draft, self.question(draft), note=str(error))
        answered = replace(draft, update=update, **changes)
        following = replace(answered, step=self._next_step(answered))
        return Outcome(following, self.question(following), chosen=chosen)

    def _next_step(self, draft: Draft) -> str:
        steps = _STEPS[draft.kind]
        following = steps[steps.index(draft.step) + 1]
        if following == "credibility" and len(draft.grade or "") != 1:  # only a bare letter asks for it
            following = steps[steps.index(following) + 1]
        return following

    def _parse(self, draft: Draft, text: str) -> tuple[dict[str, Any], str]:
        step, voc = draft.step, self._vocabulary
        if not text:
            raise CommandSyntaxError("Please answer the question, or send /cancel to stop.")
        if step == "to":
            if text.lower() == BY_TOPIC:
                return {"to": ""}, "by topic"
            rendered = ",".join(str(s) for s in parse_recipients([text], voc))
            return {"to": rendered}, rendered
        if step == "tlp":
            return {"tlp": Tlp.parse(text).value}, Tlp.parse(text).label
        if step == "priority":
            return {"priority": Priority.parse(text).value}, Priority.parse(text).value
        if step == "topic":
            if text == NONE:
                if draft.to == "":
                    raise CommandSyntaxError("Sent by topic, it needs a topic: choose one.")
                return {"topic": ""}, "no topic"
            if text.isdigit() and int(text) < len(voc.topics):
                text = voc.topics[int(text)]
            topic = parse_topic(text, voc)
            return {"topic": topic}, topic
        if step == "grade":
            if text == NONE:
                return {"grade": ""}, "not graded"
            if len(text) == 1 and text.upper() in RELIABILITY:
                return {"grade": text.upper()}, f"source {text.upper()}"
            return {"grade": Grading.parse(text).code}, Grading.parse(text).code
        if step == "credibility":
            code = Grading.parse((draft.grade or "") + text).code
            return {"grade": code}, code
        if step == "purpose":
            return {"purpose": " ".join(text.split())}, shorten(text, 60)
        if step == "incident":
            if text == NONE:
                return {"incident": ""}, "no incident fields"
            canonical = " ".join(incident_tokens(parse_incident(text)))
            return {"incident": canonical}, canonical
        return {"body": text}, "text received"

    def _confirm(self, draft: Draft, value: str) -> Outcome:
        if value == CANCEL:
            return self.cancel()
        if value != SEND:
            return Outcome(draft, self.question(draft), note="Press Send or Cancel (or send /cancel).")
        try:
            command = self.command(draft)
        except (InvalidValue, CommandSyntaxError, ValueError) as error:
            return Outcome(draft, self.question(draft), note=f"Cannot send it as it is: {error}")
        return Outcome(None, note=None, command=command, chosen="sent")

    def command(self, draft: Draft) -> str:
        """The canonical command text for a complete draft."""
        kind = ItemKind.ALERT if draft.kind == "alert" else ItemKind.REQUEST
        item = ItemDraft(
            kind=kind,
            body=draft.body or "",
            recipients=parse_recipients([draft.to], self._vocabulary) if draft.to else (),
            caveat=Caveat(tlp=Tlp.parse(draft.tlp or "amber")),
            grading=Grading.parse(draft.grade) if draft.grade else None,
            priority=Priority.parse(draft.priority or "routine"),
            topic=draft.topic or None,
            purpose=draft.purpose or None,
            incident=parse_incident(draft.incident) if draft.incident else Incident(),
        )
        return (AlertCommand(item) if kind is ItemKind.ALERT else RequestCommand(item)).render()

    def question(self, draft: Draft) -> Question:
        steps = [s for s in _STEPS[draft.kind] if s not in ("credibility", "confirm")]
        noun = "alert" if draft.kind == "alert" else "request"
        where = f"New {noun} · step {steps.index(draft.step) + 1} of {len(steps)}\n" if draft.step in steps else ""
        step = draft.step
        if step == "to":
            return Question(step, where + "Who should receive it? Type codes such as TH, MY or TH/immigration "
                            "or a person such as @th-npoc, or choose:",
                            (("All members", "all"), ("By topic (its usual recipients)", BY_TOPIC)), 1)
        if step == "tlp":
            lines = "\n".join(f"{t.label}: {t.meaning}" for t in Tlp)
            return Question(step, where + "Which TLP?\n" + lines, tuple((t.value, t.value) for t in Tlp), 3)
        if step == "priority":
            return Question(step, where + "Priority?", tuple((p.value, p.value) for p in Priority), 3)
        if step == "topic":
            choices = tuple((topic, str(i)) for i, topic in enumerate(self._vocabulary.topics))
            if draft.to != "":
                choices += (("No topic", NONE),)
            return Question(step, where + "Topic?" + ("" if choices else " Type one."), choices, 2)
        if step == "grade":
            lines = "\n".join(f"{k}: {v}" for k, v in RELIABILITY.items())
            return Question(step, where + "Source reliability? (or type a full grade such as B2)\n" + lines,
                            tuple((k, k) for k in RELIABILITY) + (("Not graded", NONE),), 3)
        if step == "credibility":
            return Question(step, "Information credibility?",
                            tuple((f"{k} {v}", k) for k, v in CREDIBILITY.items()), 2)
        if step == "purpose":
            return Question(step, where + "Purpose: why is it asked? The audit log records it.")
        if step == "incident":
            return Question(step, where + "Incident fields, if any, as key:value (any of them), for example "
                            f"{INCIDENT_EXAMPLE}. Method: air, sea or land; document: "
                            f"{', '.join(d.value for d in DocumentType)}. Or choose None.",
                            (("None", NONE),), 1)
        if step == "body":
            return Question(step, where + f"Now write the text of the {noun}, in one message.")
        return Question(step, self.summary(draft), (("Send", SEND), ("Cancel", CANCEL)), 2)

    def summary(self, draft: Draft) -> str:
        facts = [f"TLP:{draft.tlp}", f"priority {draft.priority}",
                 f"topic {draft.topic}" if draft.topic else "no topic",
                 f"grade {draft.grade}" if draft.grade else "not graded"]
        lines = [f"Ready to send this {draft.kind}:", f"To: {draft.to or 'by topic'}", " · ".join(facts)]
        if draft.purpose:
            lines.append(f"Purpose: {draft.purpose}")
        if draft.incident:
            lines.append(f"Incident: {parse_incident(draft.incident).compact()}")
        lines += ["Text:", shorten(draft.body or "", 300), "Send it?"]
        return "\n".join(lines)
