"""What each page shows, read through the unit of work, and only what the viewer may see under each
item's caveat: handlers.visibility is the same rule /status and /overdue apply in chat.

Every function runs on the database thread inside one unit of work, records the consultation in the
audit log as the chat commands do, and returns plain values for the templates (which escape them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from alerts.audit import AuditAction, AuditEvent
from alerts.caveats import Tlp
from alerts.bulletin import SharedItem, may_carry, render_bulletin
from alerts.directory import Contact, Directory, Standing
from alerts.focal import FOCAL_POINTS, management_refusal
from alerts.identity import ChatRef
from alerts.items import Reference
from alerts.lifecycle import FEEDBACK_TO_ORIGINATOR, UPDATE_TO_RECIPIENTS, Feedback
from alerts.routing_types import Destination, DestinationKind
from alerts.reminder_render import duration
from alerts.reminders import Owed, Track, chased, deadline, overdue
from alerts.revisions import RevisionText, changes
from alerts.reminder_policy import zone_of
from alerts.roles import Role
from alerts.times import zone_line, zone_name
from alerts.stats import ExchangeTimes, group_stats, median, percentile, period_bounds
from alerts.incident import COUNT_MINIMUM, Incident, harmonised_counts
from handlers.arrangements import status as arrangement_status
from handlers.coordination import incidents_of
from handlers.ports import DeliveryRecord, ItemRecord, ItemSummary, UnitOfWork
from handlers.visibility import (ItemView, feedback_for, item_view, overdue_for, overdue_shown, own_copies,
                                 record_view)

PORTAL_CHANNEL = "portal"
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
STAGE_NAMES = {"before": "reminded before due", "due": "reminded at due time", "repeat": "reminded again",
               "backup": "escalated to the backup", "coordinators": "escalated to coordinators"}
STAGE_ORDER = tuple(STAGE_NAMES)


class NotFound(Exception):
    """The page does not exist for this viewer: unknown, or not theirs to see (both answer 404)."""


def may_see_stats(viewer: Contact) -> bool:
    """As /stats in chat: coordinators, admins and auditors."""
    return any(viewer.has(r) for r in (Role.COORDINATOR, Role.ADMIN, Role.AUDITOR))


def may_see_rooms(viewer: Contact) -> bool:
    """Coordinators and admins: the rooms the bot keeps, and their drift."""
    return viewer.has(Role.COORDINATOR) or viewer.has(Role.ADMIN)


def menu(viewer: Contact, directory: Directory) -> list[tuple[str, str]]:
    """The pages the menu offers `viewer`: by the same checks the pages themselves make, so the two
    cannot drift apart."""
    offered = [("/board", "Overdue", True), ("/items", "Items", True),
               ("/stats", "Statistics", may_see_stats(viewer)),
               ("/bulletin", "Bulletin", may_see_bulletin(viewer, directory)),
               ("/directory", "Directory", may_see_directory(viewer)),
               ("/rooms", "Rooms", may_see_rooms(viewer)),
               ("/arrangements", "Arrangements", may_see_arrangements(viewer))]
    return [(href, label) for href, label, shown in offered if shown]


def may_act(viewer: Contact) -> bool:
    """Remind and escalate from the board: coordinators (chat lets originators too, item by item)."""
    return viewer.has(Role.COORDINATOR)


@dataclass(frozen=True)
class Clock:
    """Times on the viewer's wall clock."""

    zone: str

    def at(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        local = moment.astimezone(zone_of(self.zone))
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _title(directory: Directory, contact_id: str) -> str:
    contact = directory.contacts.get(contact_id)
    return contact.title(directory) if contact else contact_id


def _via(directory: Directory, destination: str) -> str:
    """`Telegram, direct chat`, `Matrix, Network room`: where a copy went, without platform ids."""
    try:
        where = Destination.parse(destination)
    except ValueError:
        return "?"
    platform = where.platform.value.title()
    if where.kind is DestinationKind.DIRECT or not isinstance(where.address, ChatRef):
        return f"{platform}, direct chat"
    room = directory.room(where.address)
    return f"{platform}, {room.name if room else 'a chat'}"


def _consulted(uow: UnitOfWork, viewer: Contact, now: datetime, *, reference: str | None = None,
               caveat: str | None = None, **detail: str) -> None:
    uow.audit.record(AuditEvent(action=AuditAction.CONSULTATION, at=now, actor=viewer.id, channel=PORTAL_CHANNEL,
                                reference=reference, caveat=caveat, detail=detail))


# --- the overdue board ----------------------------------------------------------------------------

def _stage(owed: Owed) -> str:
    """How far reminders on this debt have gone, from the reminder keys sent (alerts.reminders.reminder_key)."""
    reached = -1
    for key in owed.item.done:
        parts = key.split(":")
        if len(parts) < 5 or parts[2] != owed.contact or not parts[3].startswith(owed.track.value + "-"):
            continue
        stage = parts[3].split("-", 1)[1]
        if stage in STAGE_ORDER:
            reached = max(reached, STAGE_ORDER.index(stage))
    return STAGE_NAMES[STAGE_ORDER[reached]] if reached >= 0 else "not reminded yet"


@dataclass
class BoardLine:
    reference: str
    tlp: str
    tlp_class: str
    owes: str
    what: str
    due: str
    late: str
    stage: str
    originator: str
    snoozed: str | None


@dataclass
class BoardGroup:
    country: str
    desk: str
    lines: list[BoardLine] = field(default_factory=list)


def board(uow: UnitOfWork, directory: Directory, viewer: Contact, now: datetime) -> dict[str, Any]:
    owed = overdue_for(viewer, overdue(uow.reminders.overdue(now), now, directory))
    clock = Clock(directory.zone_for(viewer))
    groups: dict[tuple[str, str], BoardGroup] = {}
    for o in owed:
        contact = directory.contacts.get(o.contact)
        country = contact.organisation if contact else "?"
        desk = (contact.desk if contact else None) or "—"
        what = "acknowledgement" if o.track is Track.ACK else (
            "answer" if o.item.reference.startswith("R-") else "feedback")
        snoozed = o.item.snoozed_until(o.contact)
        groups.setdefault((country, desk), BoardGroup(country, desk)).lines.append(BoardLine(
            o.item.reference, o.item.caveat.tlp.label, _tlp_class(o.item.caveat.tlp), _title(directory, o.contact),
            what, clock.at(o.due), duration(o.late(now)), _stage(o), _title(directory, o.item.originator),
            clock.at(snoozed) if snoozed is not None and snoozed > now else None))
    _consulted(uow, viewer, now, command="portal overdue", view="all" if may_act(viewer) else "own",
               references=", ".join(sorted({o.item.reference for o in owed})))
    references = sorted({o.item.reference for o in owed})
    return {"groups": [groups[k] for k in sorted(groups)], "count": len(owed), "references": references,
            "can_act": may_act(viewer), "zone": zone_name(directory.zone_for(viewer)),
            "shown": overdue_shown(viewer)}  # what of the list the viewer sees, when not every line


def _tlp_class(tlp: Tlp) -> str:
    return "tlp-" + tlp.value.lower().replace("+", "-")


# --- items --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemFilters:
    tlp: str = ""
    topic: str = ""
    country: str = ""

    def problems(self, directory: Directory, topics: tuple[str, ...]) -> list[str]:
        """Fail closed: a filter value that is not one of the accepted ones is named, with those."""
        found = []
        if self.tlp and self.tlp not in {t.value for t in Tlp}:
            found.append(f"TLP '{self.tlp}' is not one of {', '.join(t.value for t in Tlp)}.")
        if self.topic and self.topic not in topics:
            found.append(f"Topic '{self.topic}' is not one of {', '.join(topics)}.")
        if self.country and self.country not in directory.organisations:
            found.append(f"Country '{self.country}' is not one of {', '.join(sorted(directory.organisations))}.")
        return found


def visible_summaries(uow: UnitOfWork, viewer: Contact, now: datetime) -> list[tuple[ItemSummary, ItemView]]:
    """Every item the viewer may see, newest first, with what they may see of it."""
    found = []
    for summary in uow.reminders.summaries(EPOCH, now + timedelta(seconds=1)):
        view = item_view(viewer, summary.originator, summary.recipients, summary.holders)
        if view is not None:
            found.append((summary, view))
    found.sort(key=lambda pair: (pair[0].created_at, pair[0].reference), reverse=True)
    return found


def items_list(uow: UnitOfWork, directory: Directory, viewer: Contact, now: datetime, filters: ItemFilters,
               topics: tuple[str, ...]) -> dict[str, Any]:
    problems = filters.problems(directory, topics)
    clock = Clock(directory.zone_for(viewer))
    rows = []
    if not problems:
        for summary, view in visible_summaries(uow, viewer, now):
            tlp = summary.caveat.tlp
            countries = {c.organisation for c in (directory.contacts.get(r) for r in summary.recipients) if c}
            if filters.tlp and tlp.value != filters.tlp or filters.topic and summary.topic != filters.topic:
                continue
            if filters.country and filters.country not in countries:
                continue
            rows.append({
                "reference": summary.reference, "tlp": tlp.label, "tlp_class": _tlp_class(tlp),
                "priority": summary.priority.value, "topic": summary.topic or "—",
                "created": clock.at(summary.created_at), "originator": _title(directory, summary.originator),
                "recipients": (str(len(summary.recipients)) if view is ItemView.EVERY_RECIPIENT else "you"),
            })
        _consulted(uow, viewer, now, command="portal items",
                   references=", ".join(r["reference"] for r in rows))
    return {"rows": rows, "filters": filters, "problems": problems, "tlps": [t.value for t in Tlp],
            "topics": topics, "countries": sorted(directory.organisations), "zone": zone_name(directory.zone_for(viewer))}


def _record_for(uow: UnitOfWork, viewer: Contact, reference_text: str) -> tuple[ItemRecord, ItemView]:
    try:
        reference = Reference.parse(reference_text)
    except ValueError:
        raise NotFound() from None
    record = uow.items.get(reference)
    if record is None:
        raise NotFound()
    view = record_view(viewer, record)
    if view is None:
        raise NotFound()
    return record, view


def item_page(uow: UnitOfWork, directory: Directory, viewer: Contact, now: datetime,
              reference_text: str) -> dict[str, Any]:
    """One item as the viewer may see it. NotFound for an unknown reference and for one the viewer may
    not see (the refusal is audited, as in chat, with no more than the reference)."""
    try:
        record, view = _record_for(uow, viewer, reference_text)
    except NotFound:
        uow.audit.record(AuditEvent(action=AuditAction.REFUSAL, at=now, actor=viewer.id, channel=PORTAL_CHANNEL,
                                    detail={"command": "portal item", "reason": "not found or not theirs"}))
        raise
    item, clock = record.item, Clock(directory.zone_for(viewer))
    reference = str(item.reference)
    overseer = view is ItemView.EVERY_RECIPIENT
    copies = own_copies(viewer, record)  # a recipient's own; a delegate's, those they held for someone away
    revisions = _revisions(uow, directory, copies, record, overseer, clock, viewer.id)
    # The earlier texts shown are named, as the bulletin names the items whose text it carried.
    shown = ", ".join(str(r["number"]) for r in revisions if r["said"] == "shown")
    _consulted(uow, viewer, now, reference=reference, caveat=item.caveat.label(), command="portal item",
               view=view.value, **({"earlier_texts": shown} if shown else {}))
    draft = item.draft
    page: dict[str, Any] = {
        "reference": reference, "tlp": item.caveat.tlp.label, "tlp_class": _tlp_class(item.caveat.tlp),
        "tlp_meaning": item.caveat.tlp.meaning, "caveat": item.caveat.label(), "kind": item.kind.noun,
        "priority": draft.priority.value, "topic": draft.topic or "—",
        "grading": str(draft.grading) if draft.grading else "—", "purpose": draft.purpose,
        "originator": _title(directory, item.originator), "created": clock.at(item.created_at),
        "ack_due": clock.at(item.ack_due), "feedback_due": clock.at(item.feedback_due),
        "erased": record.erasure is not None, "body": "" if record.erasure is not None else draft.body,
        "closure": None, "withdrawal": None, "view": view.value, "overseer": overseer, "zone": zone_name(directory.zone_for(viewer)),
        "deliveries": [_copy(directory, clock, d) for d in record.deliveries if overseer or d.contact in copies],
        "revision": item.revision, "revised": clock.at(item.revised_at) if item.revised_at else None, "revisions": revisions,
        "forwards": [], "feedback": [],
        "can_act": may_act(viewer) and record.closure is None and record.erasure is None,
        "is_auditor": viewer.has(Role.AUDITOR),
    }
    withdrawn = record.withdrawal
    # A withdrawal closes its item: that closure is the withdrawal, said once (one made before stays).
    by_withdrawal = withdrawn is not None and record.closure is not None and (
        record.closure.closed_at, record.closure.closed_by) == (withdrawn.withdrawn_at, withdrawn.withdrawn_by)
    if record.closure is not None and not by_withdrawal:
        page["closure"] = {"by": _title(directory, record.closure.closed_by), "at": clock.at(record.closure.closed_at),
                           "outcome": record.closure.outcome}
    if record.withdrawal is not None:
        # Whoever may open the page could see the item, so they may learn why it was taken back (as in chat).
        withdrawal = record.withdrawal
        page["withdrawal"] = {"by": _title(directory, withdrawal.withdrawn_by), "at": clock.at(withdrawal.withdrawn_at),
                              "reason": "" if record.erasure is not None else (withdrawal.reason or "")}
    if record.erasure is None:
        page["feedback"] = [_feedback_row(directory, clock, f)
                            for f in feedback_for(viewer, view, uow.audit.feedback(item.reference), copies)]
    if overseer:
        page["forwards"] = [{
            "asker": _title(directory, f.asker), "to": ", ".join(_title(directory, c) for c in f.contacts),
            "purpose": f.purpose, "state": f.state.value, "requested": clock.at(f.requested_at),
        } for f in uow.items.forwards(item.reference)]
    return page


def _copy(directory: Directory, clock: Clock, delivery: DeliveryRecord) -> dict[str, str]:
    return {"contact": _title(directory, delivery.contact), "state": delivery.state, "sent": clock.at(delivery.sent_at),
            "acknowledged": clock.at(delivery.acknowledged_at), "answered": clock.at(delivery.answered_at),
            "platform": _via(directory, delivery.destination)}


def _revisions(uow: UnitOfWork, directory: Directory, copies: frozenset[str], record: ItemRecord, overseer: bool,
               clock: Clock, viewer: str = "") -> list[dict[str, Any]]:
    """The item's earlier revisions (/correct), oldest first: when each was made and superseded, its
    copies the viewer may see (every one for an overseer, else those of `copies`, the recipients whose
    copies are theirs: as for the current revision), and what it said. Its text (a line of what differs
    from the current revision, then its body) goes to an overseer, and to a recipient only for a
    revision a copy of theirs was part of: what was never sent to them stays unknown to them."""
    by_number: dict[int, list[DeliveryRecord]] = {}
    for number, delivery in uow.items.earlier_deliveries(record.item.reference):
        by_number.setdefault(number, []).append(delivery)
    item, erased = record.item, record.erasure is not None
    texts = {} if erased or not by_number else {t.revision: t for t in uow.audit.revisions(item.reference)}
    current = RevisionText(item.revision, item.revised_at or item.created_at, item.draft.body, item.caveat.label(),
                           item.draft.priority.value, item.draft.topic or "")
    found: list[dict[str, Any]] = []
    made: datetime | None = item.created_at
    for number in sorted(by_number):
        earlier = by_number[number]
        ended = min((d.superseded_at for d in earlier if d.superseded_at is not None), default=None)
        # and a copy of that revision the viewer was sent themselves (their own, or one they held), though
        # the current revision is theirs only as a delegate now, or the other way round
        seen = [d for d in earlier if overseer or d.contact in copies or viewer in (d.contact, d.held_by)]
        text = texts.get(number)
        # "hidden": not the viewer's; "erased": gone with the case; "missing": no entry holds it.
        said = ("hidden" if not (overseer or seen) else "erased" if erased else "missing" if text is None else "shown")
        found.append({"number": number, "made": clock.at(made), "superseded": clock.at(ended),
                      "copies": [_copy(directory, clock, d) for d in seen], "said": said,
                      "changes": changes(text, current) if text is not None and said == "shown" else "",
                      "body": text.body if text is not None and said == "shown" else ""})
        made = ended
    return found


def _feedback_row(directory: Directory, clock: Clock, feedback: Feedback) -> dict[str, str]:
    by = _title(directory, feedback.by)
    if feedback.on_behalf_of:
        by += f" for {_title(directory, feedback.on_behalf_of)}"
    return {"by": by, "at": clock.at(feedback.given_at), "text": feedback.text,
            "direction": UPDATE_TO_RECIPIENTS if feedback.update else FEEDBACK_TO_ORIGINATOR}


def audit_page(uow: UnitOfWork, directory: Directory, viewer: Contact, now: datetime, reference_text: str,
               entries: list[Any]) -> dict[str, Any]:
    """An item's audit trail, for auditors only (anyone else: 404)."""
    if not viewer.has(Role.AUDITOR):
        raise NotFound()
    record, _ = _record_for(uow, viewer, reference_text)
    reference = str(record.item.reference)
    _consulted(uow, viewer, now, reference=reference, caveat=record.item.caveat.label(), command="portal audit")
    clock = Clock(directory.zone_for(viewer))
    return {"reference": reference, "tlp": record.item.caveat.tlp.label,
            "tlp_class": _tlp_class(record.item.caveat.tlp), "zone": zone_name(directory.zone_for(viewer)),
            "entries": [{"seq": e.seq, "at": clock.at(e.recorded_at), "action": e.action, "actor": e.actor or "—",
                         "channel": e.channel or "—", "recipients": ", ".join(e.recipients),
                         "content": e.content,
                         "detail": "; ".join(f"{k}: {v}" for k, v in sorted((e.detail or {}).items()))}
                        for e in entries]}


# --- statistics ---------------------------------------------------------------------------------

def _month(moment: datetime) -> str:
    return f"{moment:%Y-%m}"


def overdue_series(rows: Sequence[ExchangeTimes], closed_at: Mapping[str, datetime], directory: Directory,
                   ends: Sequence[datetime]) -> list[int]:
    """How many copies were overdue at each moment of `ends`: as alerts.stats counts "overdue now" (the
    due time from when the copy was sent; coordinators' oversight copies left out), at that moment:
    not yet answered then, past the feedback time, or past the acknowledgement time and not yet
    acknowledged then, and the item not yet closed then."""
    counts = []
    for end in ends:
        count = 0
        for row in rows:
            if row.created_at > end or not chased(directory, row.contact):
                continue
            closed = closed_at.get(row.reference)
            if (closed is not None and closed <= end) or (row.answered_at is not None and row.answered_at <= end):
                continue
            start = row.sent_at or row.created_at
            acked = any(moment is not None and moment <= end for moment in (row.acknowledged_at, row.answered_at))
            answer_by = deadline(row.feedback_due, row.created_at, start) if row.feedback_due else None
            ack_by = deadline(row.ack_due, row.created_at, start) if row.ack_due else None
            if (answer_by is not None and answer_by <= end) or (not acked and ack_by is not None and ack_by <= end):
                count += 1
        counts.append(count)
    return counts


def day_ends(since: datetime, until: datetime, now: datetime) -> list[datetime]:
    """The end of each UTC day of [since, until), up to now (at most a year of days)."""
    last = min(until, now)
    day = datetime(since.year, since.month, since.day, tzinfo=timezone.utc) + timedelta(days=1)
    ends: list[datetime] = []
    while day <= last and len(ends) < 400:
        ends.append(day)
        day += timedelta(days=1)
    return ends + ([last] if not ends or ends[-1] < last else [])


def volume_by_topic(summaries: Sequence[Any]) -> tuple[list[str], dict[str, list[int]]]:
    """Items per month (YYYY-MM) by topic: the months with items, and each topic's count in each."""
    months = sorted({_month(s.created_at) for s in summaries})
    by_topic: dict[str, Counter[str]] = {}
    for s in summaries:
        by_topic.setdefault(s.topic or "(none)", Counter())[_month(s.created_at)] += 1
    return months, {topic: [counts.get(m, 0) for m in months] for topic, counts in sorted(by_topic.items())}


def overdue_by_day(uow: UnitOfWork, directory: Directory, since: datetime, until: datetime,
                   now: datetime) -> tuple[list[str], list[int]]:
    """Copies overdue at the end of each UTC day from `since` to `until`: day labels (MM-DD), counts."""
    # Items made up to a quarter before the period may still have been overdue in it.
    history = uow.reminders.exchange_times(since - timedelta(days=92), until)
    closed_at: dict[str, datetime] = {}
    for reference in {row.reference for row in history if not row.open}:
        record = uow.items.get(Reference.parse(reference))
        if record is not None and record.closure is not None:
            closed_at[reference] = record.closure.closed_at
    ends = day_ends(since, until, now)
    return [f"{end - timedelta(seconds=1):%m-%d}" for end in ends], overdue_series(history, closed_at, directory, ends)


def stats_page(uow: UnitOfWork, directory: Directory, viewer: Contact, now: datetime, period: str | None,
               count_minimum: int = COUNT_MINIMUM) -> dict[str, Any]:
    """The numbers behind the charts (drawn by bot.portal.charts). Counts, no content: as /stats in chat,
    the harmonised incident fields too, each value from `count_minimum` items (as /stats counts them)."""
    if not may_see_stats(viewer):
        raise NotFound()
    since, until, label = period_bounds(period, now)
    groups = group_stats(uow.reminders.exchange_times(since, until), directory, now)
    year_ago = datetime(now.year - 1, now.month, 1, tzinfo=timezone.utc)
    summaries = uow.reminders.summaries(year_ago, now + timedelta(seconds=1))
    months, volume = volume_by_topic(summaries)
    countries = [g for g in groups if not g.indent and g.label != "All"]

    def hours(value: timedelta | None) -> float:
        return round(value.total_seconds() / 3600, 2) if value is not None else 0.0

    times = [{
        "label": g.label, "deliveries": g.deliveries,
        "ack_median": hours(median(g.ack.times)), "ack_p90": hours(percentile(g.ack.times, 0.9)),
        "feedback_median": hours(median(g.feedback.times)), "feedback_p90": hours(percentile(g.feedback.times, 0.9)),
        "overdue": g.overdue_now,
    } for g in countries]
    overdue_days, overdue_counts = overdue_by_day(uow, directory, since, until, now)
    incidents = harmonised_counts(incidents_of(uow, uow.reminders.summaries(since, until)), count_minimum)
    _consulted(uow, viewer, now, command="portal stats", period=label)
    return {"incidents": incidents, "overdue_days": overdue_days, "overdue_counts": overdue_counts, "label": label, "since": f"{since:%Y-%m-%d}", "until": f"{until:%Y-%m-%d}", "months": months,
            "volume": volume, "times": times, "lines": [g.line() for g in groups], "period": period or ""}


# --- the monthly bulletin -----------------------------------------------------------------------

def may_see_bulletin(viewer: Contact, directory: Directory) -> bool:
    """The bulletin goes to the network's members: people of a member organisation (not an observer's)."""
    organisation = directory.organisations.get(viewer.organisation)
    return organisation is not None and organisation.standing is Standing.MEMBER


def bulletin_page(uow: UnitOfWork, directory: Directory, viewer: Contact, now: datetime, month: str | None,
                  count_minimum: int = COUNT_MINIMUM) -> dict[str, Any]:
    """The monthly bulletin as alerts.bulletin renders it for chat, for the calendar month `month`
    (YYYY-MM; the last complete month when None). It carries the text of TLP:CLEAR H0 items only:
    a page is not a registered room, so TLP:GREEN content stays out (alerts.bulletin.may_carry)."""
    if not may_see_bulletin(viewer, directory):
        raise NotFound()
    if month is None:
        first = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
        month = f"{first - timedelta(days=1):%Y-%m}"
    since, until, label = period_bounds(month, now)

    def org(contact_id: str) -> str:
        contact = directory.contacts.get(contact_id)
        return contact.organisation if contact else contact_id

    items = []
    for summary in uow.reminders.summaries(since, until):
        body = None
        record = uow.items.get(Reference.parse(summary.reference))
        kept = record is not None and record.erasure is None
        if may_carry(summary.caveat, green_allowed=False) and record is not None and kept:
            body = record.item.draft.body
        # Every item's harmonised fields are counted (never shown per item), as in the bulletin in chat.
        incident = record.item.draft.incident if record is not None and kept else Incident()
        items.append(SharedItem(summary.reference, summary.caveat, summary.priority, summary.topic,
                                org(summary.originator), tuple(dict.fromkeys(org(c) for c in summary.recipients)),
                                summary.created_at, body, incident))
    _consulted(uow, viewer, now, command="portal bulletin", month=month,
               content_of=", ".join(i.reference for i in items if i.body is not None))
    previous = f"{since - timedelta(days=1):%Y-%m}"
    following = f"{until:%Y-%m}" if until <= now else None
    return {"month": month, "label": label, "text": render_bulletin(items, label, green_allowed=False, minimum=count_minimum),
            "previous": previous, "following": following}


# --- the directory and the arrangements ---------------------------------------------------------

def may_see_directory(viewer: Contact) -> bool:
    """Admins, coordinators, points of contact and focal points (national or organisational)."""
    return any(viewer.has(r) for r in (Role.ADMIN, Role.COORDINATOR, Role.CONTACT, *FOCAL_POINTS))


def _listed(viewer: Contact, directory: Directory, contact: Contact) -> bool:
    """Whether the directory page lists `contact` to `viewer`: a point of contact sees their own
    organisation's people; a focal point those whose entries they manage (alerts/focal.py)."""
    if viewer.has(Role.CONTACT) and contact.organisation == viewer.organisation:
        return True
    return any(viewer.has(r) for r in FOCAL_POINTS) and management_refusal(
        viewer, directory, contact.organisation, contact.desk, ()) is None


def directory_page(uow: UnitOfWork, directory: Directory, viewer: Contact, now: datetime) -> dict[str, Any]:
    """People with their roles, desks, zones, backups and accounts: every one for admins, their own
    organisation's for a point of contact, those they manage for a focal point; the sharing arrangements
    for coordinators and admins. Anyone else: 404."""
    admin = viewer.has(Role.ADMIN)
    focal = viewer.has(Role.CONTACT) or any(viewer.has(r) for r in FOCAL_POINTS)
    sees_arrangements = admin or viewer.has(Role.COORDINATOR)
    if not may_see_directory(viewer):
        raise NotFound()
    people = []
    if admin or focal:
        for contact in sorted(directory.contacts.values(), key=lambda c: (c.organisation, c.desk or "", c.id)):
            if not admin and not _listed(viewer, directory, contact):
                continue
            people.append({"id": contact.id, "name": contact.name, "organisation": contact.organisation,
                           "desk": contact.desk or "—", "roles": ", ".join(sorted(r.value for r in contact.roles)),
                           "timezone": zone_line(directory, contact), "backup": contact.backup or "—",
                           "accounts": ", ".join(str(i) for i in contact.identities) or "none"})
    arrangements = []
    if sees_arrangements:
        arrangements = [{"kind": a.kind, "parties": ", ".join(sorted(a.parties)), "scope": a.scope()}
                        for a in sorted(directory.arrangements, key=lambda a: a.key)]
    _consulted(uow, viewer, now, command="portal directory", view="all" if admin else viewer.organisation)
    return {"people": people, "arrangements": arrangements, "all": admin, "organisation": viewer.organisation,
            "whole_organisation": viewer.has(Role.CONTACT),
            "sees_people": admin or focal, "sees_arrangements": sees_arrangements}


def may_see_arrangements(viewer: Contact) -> bool:
    """Coordinators and admins (who manage them, as /arrangement in chat) and auditors (read only)."""
    return any(viewer.has(r) for r in (Role.COORDINATOR, Role.ADMIN, Role.AUDITOR))


def arrangements_page(uow: UnitOfWork, directory: Directory, viewer: Contact, now: datetime) -> dict[str, Any]:
    """Every sharing arrangement with its dates and where it stands today (UTC days, as routing reads
    them): the same status /arrangement list gives in chat."""
    if not may_see_arrangements(viewer):
        raise NotFound()
    today = now.astimezone(timezone.utc).date()
    rows = []
    for a in sorted(directory.arrangements, key=lambda a: (a.number is None, a.number or 0, a.key)):
        lapse = a.lapse(now)
        rows.append({
            "number": str(a.number) if a.number is not None else "—", "open": a.number is not None and a.ended_at is None,
            "document": a.kind, "parties": ", ".join(sorted(a.parties)), "topics": a.scope(),
            "direction": f"one way, from {a.giver}" if a.giver else "both ways",
            "starts": a.starts.isoformat() if a.starts else "—", "ends": a.ends.isoformat() if a.ends else "—",
            "left": ("—" if a.ends is None or lapse is not None else str((a.ends - today).days)),
            "in_force": lapse is None, "status": arrangement_status(a, now),
        })
    _consulted(uow, viewer, now, command="portal arrangements")
    return {"rows": rows, "today": today.isoformat()}
