"""Which reminders and escalations are due: a pure function of an item's follow-up state and the time.

    plan = plan_item(follow_up, now, policy, directory)
    plan.send        reminders to send now, each with a key that is the same every time it is computed
    plan.superseded  stages overtaken while they waited (downtime, quiet hours, a snooze): recorded, not sent
    plan.next_at     the earliest moment anything more may become due (None: nothing more is planned)

For each recipient who has the item (their copy was sent) and has not answered, two tracks run:
acknowledgement (until they acknowledge) and feedback (until they answer); closing the item stops
both. Once feedback is due, the acknowledgement's reminders to the recipient stop (its escalations
do not): the feedback's ask for the answer, which acknowledges too, so one message goes, not two.
Each track has stages: before the due time, at it, repeats, then escalation to the
recipient's backup and to the coordinators. A recipient reached late is given the item's whole
allowance from when their copy was sent. Stages already in `FollowUp.done` never come back, so
computing the plan again (a restart, a re-fired job) sends nothing twice. Of the reminders to one
recipient that fell due together, only the latest is sent: one message, late, not a burst.

A backup who is away when their step falls (`absent`: the running absence of a person) is stood in
for as a person away is (alerts.away.follow): the first person here on their chain is told in
their place (`Reminder.via`), under the backup's key, so it is sent once whoever stands in. When
nobody on it can take it (a circle, too long, or it leads back to the recipient or the originator),
the coordinators are told at the backup's step rather than at their own: an overdue item never
waits with someone who is not there. TLP:RED has no backup step at all. A backup the bot cannot
reach (no account on a platform it runs: `platforms`) counts as one nobody can stand in for: the
coordinators are told at the backup's step, and their escalation says why (`Reminder.unreached`).

A recipient back from away (`returned`: their absences) whose own reminders fell while they were
away (to their delegate, or waiting for them) is reminded again of what they still owe: the repeats
start afresh from the moment they came back (`Reminder.resumed`, a key of their own), one at a time
as any repeats; the stages of the first series still to come are replaced by them, never added.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from collections.abc import Set as AbstractSet
from typing import Callable, Iterable, Iterator, Sequence

from alerts.away import Absence, Chain, follow
from alerts.caveats import Caveat, Tlp
from alerts.directory import Directory
from alerts.identity import Platform
from alerts.lifecycle import Progress
from alerts.priority import Priority
from alerts.reachability import reaches
from alerts.reminder_policy import ReminderPolicy, StageTimes
from alerts.roles import Role

KEY_LIMIT = 100  # the outbox key column


class Track(enum.Enum):
    ACK = "ack"
    FEEDBACK = "feedback"


class Stage(enum.Enum):
    BEFORE = "before"
    DUE = "due"
    REPEAT = "repeat"
    BACKUP = "backup"
    COORDINATORS = "coordinators"

    @property
    def escalation(self) -> bool:
        return self in (Stage.BACKUP, Stage.COORDINATORS)


@dataclass(frozen=True, slots=True)
class Snooze:
    """Reminders held until `until`: the whole item's (contact None) or one recipient's."""

    contact: str | None
    until: datetime
    by: str
    at: datetime

    def covers(self, contact: str) -> bool:
        return self.contact is None or self.contact == contact


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What reminders need to know of one item; all of it is kept in clear, no content."""

    reference: str
    priority: Priority
    caveat: Caveat
    created_at: datetime
    ack_due: datetime | None
    feedback_due: datetime | None
    originator: str
    open: bool
    recipients: tuple[Progress, ...]  # of each copy, only the state and when it was sent count here
    done: frozenset[str] = frozenset()  # keys of reminders sent or superseded
    snoozes: tuple[Snooze, ...] = ()
    revision: int = 1  # /correct: a new revision's copies are reminded afresh (their keys differ)

    def snoozed_until(self, contact: str) -> datetime | None:
        held = [s.until for s in self.snoozes if s.covers(contact)]
        return max(held) if held else None


def reminder_key(reference: str, contact: str, track: Track, stage: Stage, n: int, target: str,
                 resumed: str | None = None) -> str:
    """The outbox key of a reminder: made from what it is, so that it is the same whenever computed."""
    key = f"rem:{reference}:{contact}:{track.value}-{stage.value}:{n}"
    if target != contact:
        key += f":{target}"
    if resumed is not None:
        key += f":back-{resumed}"
    if len(key) > KEY_LIMIT:  # long contact ids: still deterministic, still unique
        key = "rem:" + hashlib.sha256(key.encode()).hexdigest()
    return key


@dataclass(frozen=True, slots=True)
class Reminder:
    reference: str
    contact: str         # the recipient who owes the acknowledgement or feedback
    track: Track
    stage: Stage
    n: int               # the repeat's number; 0 for the other stages
    target: str          # who is told: the recipient, their backup, or a coordinator
    planned_at: datetime  # when the stage falls, before quiet hours or a snooze held it
    due: datetime        # the due time the stage is about
    revision: int = 1    # of the item; the first revision's keys are as they always were
    # The backup's step when the backup (`target`) is away: who is told in their place (None: the
    # target), and the backup's chain, for the line that says who was passed over. On the
    # coordinators' step, told early because nobody on the backup's chain could take it: that chain.
    via: str | None = None
    passed: Chain | None = None
    # On the coordinators' step, told early because the backup cannot be reached at all: the backup.
    unreached: str | None = None
    # A repeat of the series begun again when the recipient came back from away: that absence's id.
    resumed: str | None = None

    @property
    def to(self) -> str:
        """Who is told: the target, or whoever stands in for them."""
        return self.via or self.target

    @property
    def key(self) -> str:
        subject = self.reference if self.revision <= 1 else f"{self.reference}~rev{self.revision}"
        return reminder_key(subject, self.contact, self.track, self.stage, self.n, self.target, self.resumed)


@dataclass(frozen=True)
class Plan:
    send: tuple[Reminder, ...]
    superseded: tuple[Reminder, ...]
    next_at: datetime | None


def deadline(due: datetime, created_at: datetime, sent_at: datetime) -> datetime:
    """A recipient's due time: the item's, or the item's whole allowance from when their copy was sent."""
    return max(due, sent_at + (due - created_at))


def chased(directory: Directory, contact_id: str) -> bool:
    """Whether a recipient is chased for acknowledgement and feedback. Coordinators get copies to
    oversee (every urgent item goes to them): they are not chased, nor counted as overdue."""
    contact = directory.contacts.get(contact_id)
    return contact is None or not contact.has(Role.COORDINATOR)


def open_tracks(item: FollowUp, progress: Progress) -> list[tuple[Track, datetime]]:
    """What the recipient still owes and by when; nothing before their copy was sent."""
    if not item.open or progress.state.answered or progress.sent_at is None:
        return []
    tracks = []
    if item.feedback_due is not None:
        tracks.append((Track.FEEDBACK, deadline(item.feedback_due, item.created_at, progress.sent_at)))
    # Acknowledgement due no earlier than feedback is covered by the feedback track.
    if item.ack_due is not None and not progress.state.acknowledged and (
            item.feedback_due is None or item.ack_due < item.feedback_due):
        tracks.insert(0, (Track.ACK, deadline(item.ack_due, item.created_at, progress.sent_at)))
    return tracks


def back_from(progress: Progress, absences: Sequence[Absence], now: datetime) -> tuple[Absence, ...]:
    """The recipient's absences over by `now` that ran while they had their copy, in the order they
    came back."""
    assert progress.sent_at is not None
    over = [a for a in absences if progress.sent_at < a.back_at() <= now and a.set_at < a.back_at()]
    return tuple(sorted(over, key=lambda a: (a.back_at(), a.id)))


def _to_recipient(item: FollowUp, progress: Progress, track: Track, due: datetime,
                  policy: ReminderPolicy, covered_from: datetime | None = None,
                  back: Sequence[Absence] = ()) -> Iterator[Reminder]:
    """The stages that go to the recipient themselves, earliest first; none from `covered_from` on
    (the acknowledgement's, once feedback is due: its reminders ask for the answer, which acknowledges too).
    `back`: absences they came back from, in order; when stages fell during one, the repeats begin
    again from their return and take the place of the stages still to come."""
    times, contact = policy.stages[item.priority], progress.contact
    first = list(_first_series(item, progress, track, due, times))
    assert progress.sent_at is not None  # open_tracks: no stage before their copy was sent
    for absence in back:
        returned_at, went = absence.back_at(), max(absence.set_at, progress.sent_at)
        if any(went <= r.planned_at < returned_at for r in first):
            first = [r for r in first if r.planned_at < returned_at]
            count = times.max_repeats if times.repeat is not None else 1
            step = times.repeat or timedelta(0)
            first += [Reminder(item.reference, contact, track, Stage.REPEAT, n, contact, returned_at + n * step, due,
                               item.revision, resumed=absence.id) for n in range(1, count + 1)]
    for reminder in first:
        if covered_from is not None and reminder.planned_at >= covered_from:
            return  # later stages are later still
        yield reminder


def _first_series(item: FollowUp, progress: Progress, track: Track, due: datetime,
                  times: StageTimes) -> Iterator[Reminder]:
    contact = progress.contact

    if times.before is not None and due - times.before > progress.sent_at:  # type: ignore[operator]
        yield Reminder(item.reference, contact, track, Stage.BEFORE, 0, contact, due - times.before, due,
                       item.revision)
    yield Reminder(item.reference, contact, track, Stage.DUE, 0, contact, due, due, item.revision)
    if times.repeat is not None:
        for n in range(1, times.max_repeats + 1):
            yield Reminder(item.reference, contact, track, Stage.REPEAT, n, contact, due + n * times.repeat, due,
                           item.revision)


def _escalations(item: FollowUp, contact: str, track: Track, due: datetime, policy: ReminderPolicy,
                 directory: Directory, soonest: datetime | None, now: datetime,
                 absent: Callable[[str], Absence | None],
                 platforms: AbstractSet[Platform] | None = None) -> list[Reminder]:
    """The backup's and the coordinators' stages; none when all fall after `soonest` (see plan_item)."""
    times = policy.stages[item.priority]
    found: list[Reminder] = []
    after = [t for t in (times.backup_after, times.coordinators_after) if t is not None]
    first = due + min(after) if after else None
    if first is None or (first > now and soonest is not None and first >= soonest):
        return found
    person = directory.contacts.get(contact)
    backup = directory.backup_for(person) if person is not None else None
    passed: Chain | None = None  # the backup's chain, when nobody on it can take the backup's step
    unreached: str | None = None  # the backup, when the bot cannot reach them
    # TLP:RED is for named people only: a backup is not named, so is not told of it.
    if times.backup_after is not None and backup is not None and backup.id != contact and item.caveat.tlp is not Tlp.RED:
        chain = follow(backup.id, absent)
        via = stand_in_for_backup(chain, item, contact, directory, platforms) if chain.away is not None else None
        if chain.away is None and not reaches(backup, platforms):
            unreached = backup.id  # a copy for them would wait forever: on to the coordinators now
        elif chain.away is None or via is not None:
            found.append(Reminder(item.reference, contact, track, Stage.BACKUP, 0, backup.id,
                                  due + times.backup_after, due, item.revision, via=via,
                                  passed=chain if chain.away is not None else None))
        else:
            passed = chain
    if times.coordinators_after is not None:
        at = due + times.coordinators_after
        if (passed is not None or unreached is not None) and times.backup_after is not None:
            at = min(at, due + times.backup_after)  # fail closed: not a moment's wait more
        found += [Reminder(item.reference, contact, track, Stage.COORDINATORS, 0, c.id, at, due, item.revision,
                           passed=passed, unreached=unreached)
                  for c in directory.with_role(Role.COORDINATOR) if c.id != contact]
    return found


def stand_in_for_backup(chain: Chain, item: FollowUp, contact: str, directory: Directory,
                        platforms: AbstractSet[Platform] | None = None) -> str | None:
    """Who takes the backup's step for a backup away: the first person here on their chain, unless
    that is the recipient who owes it or the originator (no one else would look at it), or someone
    the bot cannot reach. None: nobody can, and the coordinators are told instead."""
    reached = directory.contacts.get(chain.reached) if chain.reached is not None else None
    if reached is None or reached.id in (contact, item.originator) or not reaches(reached, platforms):
        return None
    return reached.id


def _when_sendable(reminder: Reminder, item: FollowUp, now: datetime, policy: ReminderPolicy,
                   directory: Directory) -> datetime:
    """The stage's time, held by a snooze on the recipient and then by the target's quiet hours.
    A stage whose time has passed (the bot was down) is held too if it is night for them now."""
    at = reminder.planned_at
    snoozed = item.snoozed_until(reminder.contact)
    if snoozed is not None and snoozed > at:
        at = snoozed
    zone = directory.zone_for(directory.contacts.get(reminder.to))
    return policy.release(max(at, now), item.priority, zone)


def _nobody_away(contact: str) -> Absence | None:
    return None


def _never_away(contact: str) -> Sequence[Absence]:
    return ()


def plan_item(item: FollowUp, now: datetime, policy: ReminderPolicy, directory: Directory,
              absent: Callable[[str], Absence | None] = _nobody_away,
              platforms: AbstractSet[Platform] | None = None,
              returned: Callable[[str], Sequence[Absence]] = _never_away) -> Plan:
    """`absent`: the running absence of a person at `now` (a backup away is stood in for);
    `platforms`: those the bot runs (None: every one), to pass over a backup it cannot reach;
    `returned`: a person's absences (those over by `now` count), to remind them again once back."""
    send: list[Reminder] = []
    superseded: list[Reminder] = []
    soonest: datetime | None = None  # when the first stage not sendable yet will be

    def done(reminder: Reminder) -> bool:
        return bool(item.done) and reminder.key in item.done

    def beyond_soonest(reminder: Reminder) -> bool:
        """Not sendable now, and no sooner than what is planned next anyway (a stage is never sent
        before its time): skip the work of placing it. Keeps planning thousands of items cheap."""
        return reminder.planned_at > now and soonest is not None and reminder.planned_at >= soonest

    for progress in distinct_recipients(item.recipients):
        if not chased(directory, progress.contact):
            continue
        tracks = open_tracks(item, progress)
        feedback_due = next((due for track, due in tracks if track is Track.FEEDBACK), None)
        newest: dict[Track, Reminder] = {}  # the one reminder of each track to send the recipient now
        back = back_from(progress, returned(progress.contact), now) if tracks else ()
        for track, due in tracks:
            ripe: list[Reminder] = []  # due now, to the recipient themselves
            latest_done = None
            if progress.contact in directory.contacts:  # someone no longer in the directory cannot be reminded
                covered_from = feedback_due if track is Track.ACK else None
                for reminder in _to_recipient(item, progress, track, due, policy, covered_from, back):
                    if done(reminder):
                        latest_done = reminder.planned_at
                        continue
                    if beyond_soonest(reminder):
                        break
                    at = _when_sendable(reminder, item, now, policy, directory)
                    if at > now:
                        # Later stages go to the same person, so are no earlier (release is monotone): stop.
                        soonest = at if soonest is None else min(soonest, at)
                        break
                    ripe.append(reminder)
            for reminder in _escalations(item, progress.contact, track, due, policy, directory, soonest, now,
                                         absent, platforms):
                if beyond_soonest(reminder) or done(reminder):
                    continue
                at = _when_sendable(reminder, item, now, policy, directory)
                if at > now:
                    soonest = at if soonest is None else min(soonest, at)
                else:
                    send.append(reminder)
            if ripe:
                latest = ripe.pop()  # the latest stage; the ones it overtook are noted, not sent
                superseded += ripe
                if latest_done is not None and latest_done > latest.planned_at:
                    superseded.append(latest)  # a later reminder went already
                else:
                    newest[track] = latest
        if Track.ACK in newest and Track.FEEDBACK in newest:
            # Both fell due together (held by a snooze, the night or a downtime): one message, the
            # feedback's, which asks for the answer that acknowledges too.
            superseded.append(newest.pop(Track.ACK))
        send += newest.values()
    return Plan(tuple(sorted(send, key=_in_order)), tuple(sorted(superseded, key=_in_order)), soonest)


_STAGE_ORDER = {stage: i for i, stage in enumerate(Stage)}


def _in_order(reminder: Reminder) -> tuple[datetime, int, str, str]:
    """Oldest stage first; at the same moment the recipient's own reminder before escalations."""
    return reminder.planned_at, _STAGE_ORDER[reminder.stage], reminder.contact, reminder.target


def distinct_recipients(recipients: Iterable[Progress]) -> list[Progress]:
    """One progress per contact (the first delivery counts, as ItemRecord.delivery_to has it)."""
    seen: dict[str, Progress] = {}
    for progress in recipients:
        seen.setdefault(progress.contact, progress)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class Owed:
    """One thing overdue: `contact` owes `track` on the item since `due`."""

    item: FollowUp
    contact: str
    track: Track
    due: datetime

    def late(self, now: datetime) -> timedelta:
        return now - self.due


def overdue(items: Iterable[FollowUp], now: datetime, directory: Directory) -> list[Owed]:
    """What is overdue now, most overdue first: one line per recipient, feedback once it is overdue
    (answering acknowledges too), else the acknowledgement."""
    found = []
    for item in items:
        for progress in distinct_recipients(item.recipients):
            if not chased(directory, progress.contact):
                continue
            late = dict((t, d) for t, d in open_tracks(item, progress) if d <= now)
            track = Track.FEEDBACK if Track.FEEDBACK in late else Track.ACK
            if track in late:
                found.append(Owed(item, progress.contact, track, late[track]))
    return sorted(found, key=lambda o: (o.due, o.item.reference, o.contact))
