"""An item's draft as stored: its selectors as text, what of it is sealed, and a whole draft as
JSON (a held correction's next revision, storage/releases.py). Imports no table, so both
storage/items.py and storage/releases.py use it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from alerts.caveats import Caveat, Handling, Tlp
from alerts.grading import Grading
from alerts.incident import Incident
from alerts.items import ALL, DueSpec, ItemDraft, ItemKind, Selector, SelectorKind
from alerts.priority import Priority


def join_selectors(selectors: Iterable[Selector]) -> str:
    texts = [str(s) for s in selectors]
    if any("," in t for t in texts):
        raise ValueError("a recipient selector contains a comma")
    return ",".join(texts)


def split_selectors(text: str) -> tuple[Selector, ...]:
    return tuple(parse_selector(part) for part in text.split(",")) if text else ()


def parse_selector(text: str) -> Selector:
    """The inverse of str(Selector)."""
    if text == str(ALL):
        return ALL
    if ":" in text:  # a person named by an account
        return Selector(SelectorKind.PERSON, person=text)
    if text.startswith("@"):
        return Selector(SelectorKind.PERSON, person=text[1:])
    organisation, slash, desk = text.partition("/")
    if slash:
        return Selector(SelectorKind.DESK, organisation=organisation, desk=desk)
    return Selector(SelectorKind.ORGANISATION, organisation=organisation)


def draft_json(draft: ItemDraft) -> dict[str, Any]:
    """A whole draft as JSON (to seal): a held correction's next revision (storage/releases.py)."""
    return {
        **content_of(draft), "kind": draft.kind.value, "recipients": join_selectors(draft.recipients),
        "tlp": draft.caveat.tlp.value, "handling": draft.caveat.handling.value, "orcon": draft.caveat.orcon,
        "grading": draft.grading.code if draft.grading else None, "priority": draft.priority.value,
        "topic": draft.topic,
        "due_after": draft.due.after.total_seconds() if draft.due and draft.due.after is not None else None,
        "due_at": draft.due.at.isoformat() if draft.due and draft.due.at is not None else None,
    }


def draft_from_json(data: dict[str, Any]) -> ItemDraft:
    due = None
    if data["due_after"] is not None:
        due = DueSpec(after=timedelta(seconds=data["due_after"]))
    elif data["due_at"] is not None:
        due = DueSpec(at=datetime.fromisoformat(data["due_at"]))
    grading = data["grading"]
    return ItemDraft(
        kind=ItemKind(data["kind"]), body=data["body"], recipients=split_selectors(data["recipients"]),
        caveat=Caveat(Tlp(data["tlp"]), Handling(data["handling"]), bool(data["orcon"])),
        grading=Grading(grading[0], grading[1]) if grading else None, priority=Priority(data["priority"]),
        topic=data["topic"], due=due, purpose=data["purpose"], outside_ref=data["outside_ref"],
        incident=Incident.from_json(data.get("incident")), hub=data.get("hub"))


def content_of(draft: ItemDraft) -> dict[str, Any]:
    """What of a draft is sealed: its text, purpose and their ref, and the harmonised fields and hub,
    which are content too."""
    content: dict[str, Any] = {"body": draft.body, "purpose": draft.purpose, "outside_ref": draft.outside_ref}
    if not draft.incident.empty:
        content["incident"] = draft.incident.to_json()
    if draft.hub:
        content["hub"] = draft.hub
    return content
