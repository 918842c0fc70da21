"""Scheduled follow-up: reminders and escalations, the coordinators' daily digest, the monthly bulletin.

    service = ReminderService(uow_factory, directory, policy, digest_room=..., bulletin_room=...)
    service.reconcile(now)   # at start: plan every open item again from the items themselves
    service.tick(now)        # on a timer: send what is due, plan what comes next
    service.digest(now, day) / service.bulletin(now, month)

The scheduler (bot/scheduling/scheduler.py) calls these with the time; tests call them with a manual clock.
The digest and the bulletin carry their charts as images, drawn outside handlers/ (the ChatCharts port)
and queued as the outbox row's own files; one that cannot be drawn leaves the text to go alone.
Each round of items runs in one transaction that reads the items' state under lock, notes each
reminder under its deterministic key, and only when the key is new queues the outbox row and the
audit entry: so a reminder for an item answered meanwhile is never made, and a job fired twice, or
a second scheduler, sends nothing twice. Nothing here knows APScheduler, SQL or a platform.

Someone standing in (handlers/away.py): a reminder to a person away goes to their delegate, and an
escalation to a contact's backup carries the item itself where its caveat lets the backup read it
(never TLP:RED, which is not escalated to a backup at all), so that they can act on it. A backup
away is stood in for along their chain, and with nobody on it here the coordinators are told at
once (alerts/reminders.py); who is away is read in the round's own transaction. The
coordinators' escalations stay content-free (alerts/reminder_render.py). The same round tells
people back from away what arrived meanwhile.

One item the rounds cannot handle (a stored time out of range, a value storage cannot read) never
stops them for the others: it is set aside. Its round logs the error with an error reference,
records it in the audit log (the reference and the error's type, no content), tells the admins
once (the note that it is set aside is durable, so neither the next tick nor a restart tells them
again) and goes on. An item set aside gets no reminders until a start finds it can be handled
again (its stored values were put right, or it was closed); the digest and the bulletin leave it
out and try it again each time.

A digest or bulletin room on a platform the bot does not run would keep the post waiting forever:
it goes to the admins instead (where they are told what the bot finds on its own), headed by one
line saying so (alerts.reachability.configured_room_not_run), and nothing is queued for the room.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Protocol, TypeVar

from alerts.arrangements import ENDING_NOTICE
from alerts.incident import COUNT_MINIMUM, Incident
from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.bulletin import SharedItem, may_carry, render_bulletin
from alerts.caveat_rules import ENCRYPTED_ONLY
from alerts.caveats import Tlp
from alerts.digest import render_digest
from alerts.directory import Directory
from alerts.identity import ChatRef, Platform
from alerts.items import Reference
from alerts.messages import Attachment, Disclosure, MessageKind, OutboundMessage
from alerts.release import ReleasePolicy
from alerts.reminder_policy import ReminderPolicy
from alerts.reminder_render import owed_while_away, render_reminder
from alerts.reminders import FollowUp, Plan, Reminder, Stage, overdue, plan_item
from alerts.away import Absence, for_line, may_pass
from alerts.caveat_rules import check
from alerts.reachability import configured_room_not_run
from alerts.render import render_delivery
from alerts.routing_places import direct_place
from alerts.routing import Destination, DestinationKind
from alerts.stats import period_bounds
from alerts.times import UTC, zone_at
from handlers.answer_place import messages_about
from handlers.arrangements import remind_ending
from handlers.away import stand_in_place, summarise_returns
from handlers.errorref import new_error_ref
from handlers.release import release_round
from handlers.ports import ChatCharts, DirectorySource, ItemSummary, SetAside, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

BATCH = 250  # items per transaction: short enough that commands never wait long behind a round
SCAN = 5000  # items looked up per query for candidates: one scan of the items serves many batches
REMINDERS, DIGEST, BULLETIN = "reminders", "digest", "bulletin"  # the rounds that may set an item aside
STOPS = {REMINDERS: "Its reminders and escalations stop; the bot tries it again at every start.",
         DIGEST: "It is left out of the coordinators' digest, and tried again at the next one.",
         BULLETIN: "It is left out of the monthly bulletin, and tried again at the next one."}

# Where admins are told of an item set aside: (destination, contact id or None for a room).
AdminPlaces = Callable[[], Sequence[tuple[Destination, str | None]]]


class _Referenced(Protocol):
    @property
    def reference(self) -> str: ...


R = TypeVar("R", bound=_Referenced)


def _storable(moment: datetime) -> datetime:
    """The moment in UTC, as storage writes it: a time that has no UTC form fails here, for its own
    item, rather than in the write of a whole batch."""
    return moment.astimezone(timezone.utc)


@dataclass
class TickReport:
    planned: int = 0
    sent: int = 0
    superseded: int = 0
    unreachable: int = 0
    set_aside: int = 0  # items newly set aside by this round
    returned: int = 0  # people back from away, told what arrived meanwhile


def _absences(uow: UnitOfWork, now: datetime) -> Callable[[str], Absence | None]:
    """Who is away at `now`, each person looked up once a round."""
    known: dict[str, Absence | None] = {}

    def absence_of(contact: str) -> Absence | None:
        if contact not in known:
            known[contact] = uow.absences.current(contact, now)
        return known[contact]
    return absence_of


def _returns(uow: UnitOfWork, now: datetime) -> Callable[[str], Sequence[Absence]]:
    """Each person's absences begun before `now` (alerts.reminders keeps those over that count), looked
    up once a round: someone back is reminded again of what they still owe."""
    known: dict[str, Sequence[Absence]] = {}

    def absences_of(contact: str) -> Sequence[Absence]:
        if contact not in known:
            known[contact] = uow.absences.overlapping(contact, _EPOCH, now)
        return known[contact]
    return absences_of


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _channels(posts: Sequence[OutboundMessage]) -> str:
    """Where a round's post went, for its audit entry: the room, or the admins' places."""
    return ", ".join(str(p.destination) for p in posts) or "nowhere"


def _has_account(directory: Directory, contact_id: str) -> bool:
    contact = directory.contacts.get(contact_id)
    return contact is not None and bool(contact.identities)


class ReminderService:
    def __init__(self, uow_factory: UnitOfWorkFactory, directory: DirectorySource,
                 policy: ReminderPolicy, *, digest_room: ChatRef | None = None,
                 bulletin_room: ChatRef | None = None, batch: int = BATCH, admins: AdminPlaces = lambda: (),
                 error_ref: Callable[[], str] = new_error_ref, platforms: AbstractSet[Platform] | None = None,
                 encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY, arrangement_notice: timedelta = ENDING_NOTICE,
                 count_minimum: int = COUNT_MINIMUM, digest_zone: str = UTC, release: ReleasePolicy | None = None,
                 portal_url: Callable[[], str | None] = lambda: None, charts: ChatCharts | None = None) -> None:
        """`platforms` (those the bot runs; None: every one) and `encrypted_only` choose each reminder's
        chat as routing chooses an item's (alerts.routing_places.direct_place); `arrangement_notice`: how
        long before its last day a sharing arrangement reminds the coordinators; `count_minimum`: the
        smallest count of a harmonised incident field the bulletin shows. `digest_zone` is the time
        zone of the digest's day and hour, on whose clock its times are written too. `release`: items
        held for two-person release are reminded about and expired in each tick. `portal_url`: the
        web portal's address while it is served (None: not served); the digest and the bulletin then end
        with a link to its statistics, where their charts are. `charts`: draws the digest's and the
        bulletin's charts, which their messages carry as images (None: text only)."""
        self._uow_factory = uow_factory
        self._directory = directory
        self.policy = policy
        self._digest_room = digest_room
        self._bulletin_room = bulletin_room
        self._batch = batch
        self._admins = admins
        self._error_ref = error_ref
        self._platforms = platforms
        self._encrypted_only = encrypted_only
        self.arrangement_notice = arrangement_notice
        self.count_minimum = count_minimum
        self._digest_zone = digest_zone
        self._release = release
        self._portal_url = portal_url
        self._charts = charts

    # --- reminders ------------------------------------------------------------------------------

    def reconcile(self, now: datetime) -> TickReport:
        """Forget every plan and plan each open item again from its own state; what fell due while
        the bot was down is sent now, once. Items set aside are tried again first, one by one: one
        put right meanwhile (or closed) is back in the rounds, the others stay aside, untold."""
        with self._uow_factory() as uow:
            uow.reminders.forget_plans()
            aside = sorted(uow.reminders.set_aside_items(REMINDERS))
            uow.commit()
        report = TickReport()
        for reference in aside:
            self.process([reference], now, report, again=True)
        return self.tick(now, report)

    def tick(self, now: datetime, report: TickReport | None = None) -> TickReport:
        report = report or TickReport()
        report.sent += self.arrangements_ending(now)
        if self._release is not None:
            self.releases(now)
        seen: set[str] = set()
        while True:
            with self._uow_factory() as uow:
                references = uow.reminders.candidates(now, SCAN)
            fresh = [r for r in references if r not in seen]
            if not fresh:  # nothing left, or only items planned this round already (a safeguard)
                report.returned += self.returns(now)
                return report
            seen.update(fresh)
            for start in range(0, len(fresh), self._batch):
                self.process(fresh[start:start + self._batch], now, report)

    def releases(self, now: datetime) -> int:
        """Remind the approvers of items held for release, and expire those past their time (handlers/release.py)."""
        assert self._release is not None
        with self._uow_factory() as uow:
            done = release_round(uow, self._directory.current(), self._release, now, self._encrypted_only,
                                 self._platforms)
            uow.commit()
        return done

    def process(self, references: list[str], now: datetime, report: TickReport | None = None, *,
                again: bool = False) -> TickReport:
        """One transaction: read the items under lock, send what is due, store the next plans. An
        item that cannot be handled is set aside; with `again` the items are ones set aside before,
        and each that is handled now (or is no longer open) is taken back."""
        report = report or TickReport()
        directory = self._directory.current()
        with self._uow_factory() as uow:
            plans: dict[str, datetime | None] = {}
            found = uow.reminders.follow_ups(references, lock=True)
            unreadable = uow.reminders.unreadable()
            failed = set(unreadable)
            for reference, error in sorted(unreadable.items()):
                report.set_aside += self._set_aside(uow, reference, REMINDERS, error, now)
            away, returns = _absences(uow, now), _returns(uow, now)
            for item in found:
                try:
                    plan, texts = self._prepare(uow, item, now, directory, away, returns)
                except Exception as error:  # anything this one item's values make of the planning
                    report.set_aside += self._set_aside(uow, item.reference, REMINDERS, error, now)
                    failed.add(item.reference)
                    continue
                for reminder in plan.superseded:
                    report.superseded += uow.reminders.record(reminder, "superseded", now)
                for reminder in plan.send:
                    self._send(uow, reminder, item, directory, texts, now, report)
                plans[item.reference] = plan.next_at
            if again:
                for reference in sorted(set(references) - failed):
                    self._restore(uow, reference, REMINDERS, now)
            uow.reminders.set_plans(plans, now)
            uow.commit()
        report.planned += len(plans)
        return report

    def _prepare(self, uow: UnitOfWork, item: FollowUp, now: datetime, directory: Directory,
                 away: Callable[[str], Absence | None],
                 returns: Callable[[str], Sequence[Absence]] | None = None) -> tuple[Plan, dict[str, str]]:
        """The item's plan and the texts of what it sends, by key: all that is made of its stored
        values, made before anything of it is written. Planned from who is away now, in the round's
        transaction: a backup back, or away, since the last round counts."""
        plan = plan_item(item, now, self.policy, directory, away, self._platforms,
                         returns or (lambda contact: ()))
        texts = {r.key: render_reminder(r, item, directory, now,
                                        away=self._owed_while_away(uow, r, item, directory, now))
                 for r in plan.send if _has_account(directory, r.to)}
        for reminder in plan.send + plan.superseded:
            _storable(reminder.planned_at)
        if plan.next_at is not None:
            _storable(plan.next_at)
        return plan, texts

    def _owed_while_away(self, uow: UnitOfWork, reminder: Reminder, item: FollowUp, directory: Directory,
                         now: datetime) -> str | None:
        """On an escalation about someone away, the line saying so and who has had their reminders
        (as _stand_in sends them): "Please check with X" alone would send the backup to someone on leave."""
        if not reminder.stage.escalation:
            return None
        chain, delegate, _ = stand_in_place(uow, directory, reminder.contact, item.caveat, _audience(item, directory),
                                            now, encrypted_only=self._encrypted_only, platforms=self._platforms)
        return owed_while_away(reminder.contact, chain, delegate.id if delegate is not None else None,
                               not may_pass(item.caveat), directory)

    def _send(self, uow: UnitOfWork, reminder: Reminder, item: FollowUp, directory: Directory,
              texts: dict[str, str], now: datetime, report: TickReport) -> None:
        escalation = reminder.stage.escalation
        target, text, files = self._stand_in(uow, reminder, item, directory, texts.get(reminder.key, ""), now)
        with_item = text != texts.get(reminder.key, "") and reminder.stage is Stage.BACKUP  # _backup_copy's
        found = messages_about(directory, target, item.caveat, item.reference, text,
                               lambda: reminder.key, key=reminder.key,
                               kind=MessageKind.ESCALATION if escalation else MessageKind.REMINDER,
                               encrypted_only=self._encrypted_only, platforms=self._platforms,
                               protect_content=item.caveat.protect_content, attachments=files,
                               disclosure=Disclosure.ESCALATION if with_item else None)
        if not found:  # no account on a platform the bot runs: noted once, and the next step goes on
            if uow.reminders.record(reminder, "unreachable", now):
                report.unreachable += 1
                log.warning("a %s of item %s cannot be sent: its reader has no account on a platform this bot "
                            "runs", "escalation" if escalation else "reminder", item.reference)
            return
        if not uow.reminders.record(reminder, "sent", now):
            return  # handled before: by an earlier run of this job, or another scheduler
        uow.outbox.enqueue_many(found)
        destination = found[0].destination
        uow.audit.record(AuditEvent(
            action=AuditAction.ESCALATION if escalation else AuditAction.REMINDER, at=now, actor=BOT_ACTOR,
            recipients=(target,), channel=str(destination), reference=item.reference,
            caveat=item.caveat.label(),
            detail={"stage": f"{reminder.track.value}-{reminder.stage.value}", "repeat": str(reminder.n),
                    "owed_by": reminder.contact, "due": reminder.due.isoformat(), "key": reminder.key,
                    **({"for": reminder.target} if target != reminder.target else {}),
                    **({"passed": reminder.passed.person} if reminder.passed is not None else {}),
                    **({"with": "the item"} if with_item else {}),
                    **({"attachments": str(len(files))} if files else {})},
        ))
        report.sent += 1

    def _stand_in(self, uow: UnitOfWork, reminder: Reminder, item: FollowUp, directory: Directory, text: str,
                  now: datetime) -> tuple[str, str, tuple[str, ...]]:
        """Who is told, what, and with which of the item's files: a reminder to someone away goes to
        their delegate (handlers/away.py); an escalation to a backup carries the item itself, its
        photos and files included, under its caveat, so the backup can act."""
        if reminder.stage is Stage.BACKUP:  # to the backup, or whoever stands in for them (alerts.reminders)
            return (reminder.to, *self._backup_copy(uow, reminder, item, directory, text))
        if reminder.stage.escalation or reminder.target != reminder.contact:
            return reminder.target, text, ()
        audience = _audience(item, directory)
        chain, delegate, _ = stand_in_place(uow, directory, reminder.target, item.caveat, audience, now,
                                            encrypted_only=self._encrypted_only, platforms=self._platforms)
        person = directory.contacts.get(reminder.target)
        if chain is None or chain.away is None or delegate is None or person is None:
            return reminder.target, text, ()
        # Without the /snooze hint: it holds one's own reminders, and a delegate is refused it.
        text = render_reminder(reminder, item, directory, now, may_snooze=False)
        return delegate.id, f"{for_line(person, chain.away, directory, chain)}\n{text}", ()

    def _backup_copy(self, uow: UnitOfWork, reminder: Reminder, item: FollowUp, directory: Directory,
                     nudge: str) -> tuple[str, tuple[str, ...]]:
        """The escalation to a backup, with the item itself and its photos and files (as a first
        delivery has them) when its caveat lets the backup read it where direct_place puts it; else
        the content-free nudge alone."""
        backup = directory.contacts.get(reminder.to)
        reference = Reference.parse(item.reference)
        record = uow.items.get(reference)
        if backup is None or record is None or record.erasure is not None or not may_pass(item.caveat):
            return nudge, ()
        place = direct_place(backup, item.caveat, directory, self._encrypted_only, self._platforms).destination
        if place is None or check(item.caveat, place, directory, _audience(item, directory)) is not None:
            return nudge, ()
        return "\n".join([nudge, f"You may act for them: /ack {item.reference} · /reply {item.reference} <text>",
                          render_delivery(record.item, directory,
                                          zone=zone_at(directory, backup.id, place))]), \
            uow.items.attachment_ids(reference)

    # --- back from away -------------------------------------------------------------------------

    def returns(self, now: datetime) -> int:
        """Tell each person back from away (the date passed, or /away off) what arrived meanwhile;
        once each, whatever the restarts (handlers.away.summarise)."""
        directory = self._directory.current()
        with self._uow_factory() as uow:
            told = summarise_returns(uow, directory, now, platforms=self._platforms,
                                     encrypted_only=self._encrypted_only, quiet=self.policy.quiet)
            uow.commit()
        return told

    # --- items set aside ------------------------------------------------------------------------

    def _set_aside(self, uow: UnitOfWork, reference: str, loop: str, error: Exception,
                   now: datetime) -> bool:
        """Leave the item out of the round `loop`: logged, audited and told to the admins the first
        time (True); a round that meets it again (a start, the next digest) only says it is still aside."""
        aside = SetAside(loop, type(error).__name__, self._error_ref(), now)
        if not uow.reminders.set_aside(reference, aside):
            log.warning("item %s is still set aside: the %s round cannot handle it (%s)", reference, loop, aside.error)
            return False
        log.error("item %s set aside: the %s round cannot handle it [%s]", reference, loop, aside.error_ref,
                  exc_info=error)
        uow.audit.record(AuditEvent(
            action=AuditAction.REMINDER, at=now, actor=BOT_ACTOR, channel="scheduler", reference=reference,
            detail={"event": "set-aside", "round": loop, "error": aside.error, "error_ref": aside.error_ref},
        ))
        text = (f"⚠ Item {reference} is set aside: the {loop} round cannot handle what is stored for it "
                f"({aside.error}, reference {aside.error_ref}). {STOPS[loop]} Everything else goes on.")
        places = self._admins()
        for n, (destination, contact) in enumerate(places):
            uow.outbox.enqueue(OutboundMessage(key=f"set-aside:{aside.error_ref}:{n}", kind=MessageKind.NOTICE,
                                               destination=destination, text=text, contact=contact))
        if not places:
            log.warning("no admin can be told that item %s is set aside [%s] (no management room or admin chat "
                        "on a connected platform)", reference, aside.error_ref)
        return True

    def _set_aside_unreadable(self, uow: UnitOfWork, loop: str, now: datetime) -> None:
        """Set aside what storage could not read in this unit of work since it was last asked."""
        for reference, error in sorted(uow.reminders.unreadable().items()):
            self._set_aside(uow, reference, loop, error, now)

    def _restore(self, uow: UnitOfWork, reference: str, loop: str, now: datetime) -> None:
        uow.reminders.restore(reference, loop)
        log.info("item %s is no longer set aside: the %s round handles it again", reference, loop)
        uow.audit.record(AuditEvent(
            action=AuditAction.REMINDER, at=now, actor=BOT_ACTOR, channel="scheduler", reference=reference,
            detail={"event": "set-aside-lifted", "round": loop},
        ))

    def _handled(self, uow: UnitOfWork, loop: str, now: datetime, found: Sequence[R],
                 check: Callable[[R], object]) -> list[R]:
        """The items `check` handles without an error; the others, and any storage could not read,
        are set aside. An item set aside before by this round and handled now is taken back."""
        before = uow.reminders.set_aside_items(loop)
        self._set_aside_unreadable(uow, loop, now)
        kept = []
        for item in found:
            try:
                check(item)
            except Exception as error:  # anything this one item's values make of the round
                self._set_aside(uow, item.reference, loop, error, now)
                continue
            kept.append(item)
            if item.reference in before:
                self._restore(uow, item.reference, loop, now)
        return kept

    def arrangements_ending(self, now: datetime) -> int:
        """Remind the coordinators of arrangements near their end, each once (handlers.arrangements)."""
        directory = self._directory.current()
        if not any(a.ends is not None for a in directory.arrangements):
            return 0  # the usual case: no transaction at all
        with self._uow_factory() as uow:
            told = remind_ending(uow, directory, now, self.arrangement_notice, self._platforms)
            uow.commit()
        return told

    # --- the coordinators' digest and the monthly bulletin --------------------------------------

    def digest(self, now: datetime, day: date) -> bool:
        """Post the digest for the local `day` to the coordinators' room, once; False if done before."""
        if self._digest_room is None:
            return False
        directory = self._directory.current()
        key = f"digest:{day.isoformat()}"
        # Drawn before the round's transaction, which then holds no lock while they are drawn (a job
        # fired twice draws them twice, and the second is dropped at the claim).
        files = self._drawn(DIGEST, lambda charts: charts.digest(now, day))
        with self._uow_factory() as uow:
            if not uow.reminders.claim(key, now):
                return False
            label = f"{day:%a %d %b %Y}"
            # Each item's lines are made alone first: one that cannot be is set aside, not the digest.
            found = self._handled(uow, DIGEST, now, uow.reminders.overdue(now), lambda item: render_digest(
                overdue([item], now, directory), directory, now, day=label, new_items=0, zone=self._digest_zone))
            owed = overdue(found, now, directory)
            new_items = len(uow.reminders.summaries(now - timedelta(hours=24), now))
            self._set_aside_unreadable(uow, DIGEST, now)
            text = render_digest(owed, directory, now, day=label, new_items=new_items, zone=self._digest_zone)
            text += self._charts_line("/stats")
            posts = self._posts(self._digest_room, "digest room", key, text, files)
            uow.outbox.enqueue_many(posts)
            uow.audit.record(AuditEvent(
                action=AuditAction.REMINDER, at=now, actor=BOT_ACTOR, channel=_channels(posts),
                detail={"kind": "digest", "day": day.isoformat(),
                        "overdue": ", ".join(sorted({o.item.reference for o in owed}))},
            ))
            uow.commit()
        return True

    def _posts(self, room: ChatRef, what: str, key: str, text: str,
               files: tuple[Attachment, ...]) -> list[OutboundMessage]:
        """The round's post in `room`; where the bot does not run the room's platform, to the admins
        instead, headed by one line saying so (none when no admin can be reached: logged)."""
        aside = configured_room_not_run(what, room, self._platforms)
        if aside is None:
            return [OutboundMessage(key=key, kind=MessageKind.NOTICE, destination=Destination.chat(room), text=text,
                                    files=files)]
        places = self._admins()
        if not places:
            log.warning("the %s is on a platform this bot does not run and no admin can be told (no management "
                        "room or admin chat on a connected platform): %s not posted", what, key)
        return [OutboundMessage(key=f"{key}:admins:{n}", kind=MessageKind.NOTICE, destination=destination,
                                text=f"{aside}\n{text}", files=files, contact=contact)
                for n, (destination, contact) in enumerate(places)]

    def _drawn(self, round_: str, draw: Callable[[ChatCharts], Sequence[Attachment]]) -> tuple[Attachment, ...]:
        """The round's charts, or none when they cannot be drawn: its text goes without them, and the
        log says so with an error reference and the error's type only (no content, no numbers)."""
        if self._charts is None:
            return ()
        try:
            files = tuple(draw(self._charts))
            if any(f.data is None or len(f.data) != f.size for f in files):
                raise ValueError("a chart came without its bytes")
        except Exception as error:
            log.error("the %s's charts could not be drawn (%s); it is sent without them [%s]",
                      round_, type(error).__name__, self._error_ref())
            return ()
        return files

    def _charts_line(self, path: str) -> str:
        """A closing line linking to the portal's charts, when the portal is served."""
        base = self._portal_url()
        return f"\nCharts (coordinators, admins and auditors): {base.rstrip('/')}{path}" if base else ""

    def bulletin(self, now: datetime, month: date) -> bool:
        """Post the bulletin of the calendar `month` (UTC) to the bulletin room, once."""
        if self._bulletin_room is None:
            return False
        directory = self._directory.current()
        since, until, label = period_bounds(f"{month:%Y-%m}", now)
        key = f"bulletin:{month:%Y-%m}"
        room = Destination.chat(self._bulletin_room)
        aside = configured_room_not_run("bulletin room", self._bulletin_room, self._platforms)
        # Registered: network members only. Sent to the admins instead: their management rooms
        # (registered) or their own direct chats.
        green_allowed = all(d.kind is DestinationKind.DIRECT or
                            (isinstance(d.address, ChatRef) and directory.room(d.address) is not None)
                            for d in ([room] if aside is None else [d for d, _ in self._admins()]))
        files = self._drawn(BULLETIN, lambda charts: charts.bulletin(f"{month:%Y-%m}", now))  # as the digest's
        with self._uow_factory() as uow:
            if not uow.reminders.claim(key, now):
                return False
            shared: dict[str, SharedItem] = {}

            def share(summary: ItemSummary) -> None:  # each item's part made alone first, as the digest's
                shared[summary.reference] = self._shared(uow, summary, directory, green_allowed)
                render_bulletin([shared[summary.reference]], label, green_allowed=green_allowed,
                                minimum=self.count_minimum)

            items = [shared[s.reference] for s in self._handled(uow, BULLETIN, now,
                                                                uow.reminders.summaries(since, until), share)]
            text = render_bulletin(items, label, green_allowed=green_allowed, minimum=self.count_minimum)
            text += self._charts_line(f"/stats?period={month:%Y-%m}")
            posts = self._posts(self._bulletin_room, "bulletin room", key, text, files)
            uow.outbox.enqueue_many(posts)
            channel = _channels(posts)
            carried = [i for i in items if i.body is not None]
            uow.audit.record(AuditEvent(
                action=AuditAction.DELIVERY, at=now, actor=BOT_ACTOR, channel=channel,
                detail={"kind": "bulletin", "month": f"{month:%Y-%m}", "items": str(len(items)),
                        "content_of": ", ".join(i.reference for i in carried)},
            ))
            for item in carried:  # each disclosure of content is findable under the item's reference
                uow.audit.record(AuditEvent(
                    action=AuditAction.DELIVERY, at=now, actor=BOT_ACTOR, channel=channel,
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

        # Every item is opened for its harmonised fields, which are counted whatever its caveat; its
        # body is carried only where may_carry allows. An erased item has neither.
        record = uow.items.get(Reference.parse(summary.reference))
        draft = record.item.draft if record is not None and record.erasure is None else None
        body = draft.body if draft is not None and may_carry(summary.caveat, green_allowed=green_allowed) else None
        recipients = tuple(dict.fromkeys(org(c) for c in summary.recipients))
        return SharedItem(summary.reference, summary.caveat, summary.priority, summary.topic,
                          org(summary.originator), recipients, summary.created_at, body,
                          draft.incident if draft is not None else Incident())


def _audience(item: FollowUp, directory: Directory) -> frozenset[str]:
    """The organisations an item's caveat lets it go to: its recipients' and its originator's."""
    contacts = [item.originator, *(p.contact for p in item.recipients)]
    return frozenset(directory.contacts[c].organisation for c in contacts if c in directory.contacts)
