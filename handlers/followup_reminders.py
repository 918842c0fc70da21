"""Scheduled follow-up: reminders and escalations, the coordinators' daily digest, the monthly bulletin.

    service = ReminderService(uow_factory, directory, policy, digest_room=..., bulletin_room=...)
    service.reconcile(now)   # at start: plan every open item again from the items themselves
    service.tick(now)        # on a timer: send what is due, plan what comes next
    service.digest(now, day) / service.bulletin(now, month)

The scheduler (bot/scheduler.py) calls these with the time; tests call them with a manual clock.
Each round of items runs in one transaction that reads the items' state under lock, notes each
reminder under its deterministic key, and only when the key is new queues the outbox row and the
audit entry: so a reminder for an item answered meanwhile is never made, and a job fired twice, or
a second scheduler, sends nothing twice. Nothing here knows APScheduler, SQL or a platform.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from alerts.audit import AuditAction, AuditEvent
from alerts.bulletin import SharedItem, may_carry, render_bulletin
from alerts.digest import render_digest
from alerts.directory import Directory
from alerts.identity import ChatRef
from alerts.items import Reference
from alerts.messages import MessageKind, OutboundMessage
from alerts.reminder_policy import ReminderPolicy
from alerts.reminder_render import render_reminder
from alerts.reminders import FollowUp, Reminder, overdue, plan_item
from alerts.routing import Destination
from alerts.stats import period_bounds
from handlers.ports import DirectorySource, ItemSummary, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

BOT_ACTOR = "liaison-bot"  # as the delivery worker names the bot in the audit log
BATCH = 250  # items per transaction: short enough that commands never wait long behind a round
SCAN = 5000  # items looked up per query for candidates: one scan of the items serves many batches


@dataclass
class TickReport:
    planned: int = 0
    sent: int = 0
    superseded: int = 0
    unreachable: int = 0


def destination_of(directory: Directory, contact_id: str) -> Destination | None:
    """The contact's direct chat, where reminders go; None when they have no account any more."""
    contact = directory.contacts.get(contact_id)
    if contact is None or not contact.identities:
        return None
    return Destination.direct(contact.identities[0])


class ReminderService:
    def __init__(self, uow_factory: UnitOfWorkFactory, directory: DirectorySource,
                 policy: ReminderPolicy, *, digest_room: ChatRef | None = None,
                 bulletin_room: ChatRef | None = None, batch: int = BATCH) -> None:
        self._uow_factory = uow_factory
        self._directory = directory
        self.policy = policy
        self._digest_room = digest_room
        self._bulletin_room = bulletin_room
        self._batch = batch

    # --- reminders ------------------------------------------------------------------------------

    def reconcile(self, now: datetime) -> TickReport:
        """Forget every plan and plan each open item again from its own state; what fell due while
        the bot was down is sent now, once."""
        with self._uow_factory() as uow:
            uow.reminders.forget_plans()
            uow.commit()
        return self.tick(now)

    def tick(self, now: datetime) -> TickReport:
        report = TickReport()
        seen: set[str] = set()
        while True:
            with self._uow_factory() as uow:
                references = uow.reminders.candidates(now, SCAN)
            fresh = [r for r in references if r not in seen]
            if not fresh:  # nothing left, or only items planned this round already (a safeguard)
                return report
            seen.update(fresh)
            for start in range(0, len(fresh), self._batch):
                self.process(fresh[start:start + self._batch], now, report)

    def process(self, references: list[str], now: datetime, report: TickReport | None = None) -> TickReport:
        """One transaction: read the items under lock, send what is due, store the next plans."""
        report = report or TickReport()
        directory = self._directory.current()
        with self._uow_factory() as uow:
            plans: dict[str, datetime | None] = {}
            for item in uow.reminders.follow_ups(references, lock=True):
                plan = plan_item(item, now, self.policy, directory)
                for reminder in plan.superseded:
                    report.superseded += uow.reminders.record(reminder, "superseded", now)
                for reminder in plan.send:
                    self._send(uow, reminder, item, directory, now, report)
                plans[item.reference] = plan.next_at
            uow.reminders.set_plans(plans, now)
            uow.commit()
        report.planned += len(plans)
        return report

    def _send(self, uow: UnitOfWork, reminder: Reminder, item: FollowUp, directory: Directory,
              now: datetime, report: TickReport) -> None:
        destination = destination_of(directory, reminder.target)
        if destination is None:
            report.unreachable += uow.reminders.record(reminder, "unreachable", now)
            return
        if not uow.reminders.record(reminder, "sent", now):
            return  # handled before: by an earlier run of this job, or another scheduler
        escalation = reminder.stage.escalation
        uow.outbox.enqueue(OutboundMessage(
            key=reminder.key, kind=MessageKind.ESCALATION if escalation else MessageKind.REMINDER,
            destination=destination, text=render_reminder(reminder, item, directory, now),
            reference=item.reference, contact=reminder.target, protect_content=item.caveat.protect_content,
        ))
        uow.audit.record(AuditEvent(
            action=AuditAction.ESCALATION if escalation else AuditAction.REMINDER, at=now, actor=BOT_ACTOR,
            recipients=(reminder.target,), channel=str(destination), reference=item.reference,
            caveat=item.caveat.label(),
            detail={"stage": f"{reminder.track.value}-{reminder.stage.value}", "repeat": str(reminder.n),
                    "owed_by": reminder.contact, "due": reminder.due.isoformat(), "key": reminder.key},
        ))
        report.sent += 1

    # --- the coordinators' digest and the monthly bulletin --------------------------------------

    def digest(self, now: datetime, day: date) -> bool:
        """Post the digest for the local `day` to the coordinators' room, once; False if done before."""
        if self._digest_room is None:
            return False
        directory = self._directory.current()
        key = f"digest:{day.isoformat()}"
        with self._uow_factory() as uow:
            if not uow.reminders.claim(key, now):
                return False
            owed = overdue(uow.reminders.overdue(now), now, directory)
            new_items = len(uow.reminders.summaries(now - timedelta(hours=24), now))
            text = render_digest(owed, directory, now, day=f"{day:%a %d %b %Y}", new_items=new_items)
            room = Destination.chat(self._digest_room)
            uow.outbox.enqueue(OutboundMessage(key=key, kind=MessageKind.NOTICE, destination=room, text=text))
            uow.audit.record(AuditEvent(
                action=AuditAction.REMINDER, at=now, actor=BOT_ACTOR, channel=str(room),
                detail={"kind": "digest", "day": day.isoformat(),
                        "overdue": ", ".join(sorted({o.item.reference for o in owed}))},
            ))
            uow.commit()
        return True

    def bulletin(self, now: datetime, month: date) -> bool:
        """Post the bulletin of the calendar `month` (UTC) to the bulletin room, once."""
        if self._bulletin_room is None:
            return False
        directory = self._directory.current()
        since, until, label = period_bounds(f"{month:%Y-%m}", now)
        key = f"bulletin:{month:%Y-%m}"
        room = Destination.chat(self._bulletin_room)
        green_allowed = directory.room(self._bulletin_room) is not None  # registered: network members only
        with self._uow_factory() as uow:
            if not uow.reminders.claim(key, now):
                return False
            items = [self._shared(uow, s, directory, green_allowed) for s in uow.reminders.summaries(since, until)]
            text = render_bulletin(items, label, green_allowed=green_allowed)
            uow.outbox.enqueue(OutboundMessage(key=key, kind=MessageKind.NOTICE, destination=room, text=text))
            carried = [i for i in items if i.body is not None]
            uow.audit.record(AuditEvent(
                action=AuditAction.DELIVERY, at=now, actor=BOT_ACTOR, channel=str(room),
                detail={"kind": "bulletin", "month": f"{month:%Y-%m}", "items": str(len(items)),
                        "content_of": ", ".join(i.reference for i in carried)},
            ))
            for item in carried:  # each disclosure of content is findable under the item's reference
                uow.audit.record(AuditEvent(
                    action=AuditAction.DELIVERY, at=now, actor=BOT_ACTOR, channel=str(room),
                    reference=item.reference, caveat=item.caveat.label(),
                    detail={"kind": "bulletin", "month": f"{month:%Y-%m}"},
                ))
            uow.commit()
        return True

    @staticmethod
    def _shared(uow: UnitOfWork, summary: ItemSummary, directory: Directory,
                green_allowed: bool) -> SharedItem:
        def org(contact_id: str) -> str:
            contact = directory.contacts.get(contact_id)
            return contact.organisation if contact else contact_id

        body = None
        if may_carry(summary.caveat, green_allowed=green_allowed):
            record = uow.items.get(Reference.parse(summary.reference))
            body = record.item.draft.body if record else None
        recipients = tuple(dict.fromkeys(org(c) for c in summary.recipients))
        return SharedItem(summary.reference, summary.caveat, summary.priority, summary.topic,
                          org(summary.originator), recipients, summary.created_at, body)
