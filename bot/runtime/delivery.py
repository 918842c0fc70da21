"""The delivery worker: the outbox relay that sends through the connectors, retrying what is retryable.

Rows are leased, sent, then marked in a second transaction. A crash between the send and the mark
leaves a leased row whose lease expires and is sent again with the same key, which the platform
de-duplicates where it can (Matrix transaction ids); that is the at-least-once half of the contract.

Each destination is its own pipeline: the outbox leases a destination's next row only when nothing
to it is in flight, and the worker leases again as soon as any send ends, so a slow destination
holds only itself and twenty messages to one person are twenty sends in a row, not twenty rounds.
A send that lands is recorded in the transaction that leases what is next (its destination's next
row among them): one commit and one trip through the database thread per step, not two.
A platform that is not connected yet is waited for, not failed: its rows go back untried and are
leased again the moment the connector says it is connected.

Most rows are texts, posted by their platform's connector (`send`). A row of a kind in `actions`
(MEMBERSHIP, DEVICE, REMOVAL, SUPERSEDE: see bot/actions/) is a platform action instead, carried out
by that kind's Operation; it is leased, retried and recorded like any other row, and waits, like
them, for its platform's connector to be connected. The table is built in the composition root
(bot/runtime/app.py). A platform action's row whose kind has no Operation there is never posted as a
text: it is set aside, as a row that cannot be read is (failed, logged with an error reference, the
coordinators told).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Mapping

from alerts.audit import BOT_ACTOR, AuditAction, AuditEvent
from alerts.caveat_rules import private_answer
from alerts.clock import Clock
from alerts.identity import Platform
from alerts.items import Reference
from alerts.messages import PLATFORM_ACTIONS, Attachment, MessageKind, OutboundMessage, disclosure_of
from alerts.routing import Destination
from alerts.supersede import superseded_line
from bot.connectors.base import Connector, Outgoing
from bot.runtime.dbthread import DatabaseThread
from bot.ops.logs import item_fields
from bot.connectors.errors import NotConnected, PlatformError, UnknownOutcome
from handlers.errorref import new_error_ref
from handlers.ports import DeliveryRecord, ItemRecord
from storage.outbox import UnreadableRow
from storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger(__name__)

READY_POLL = 0.05  # seconds between looks at a waited-for connector's `connected`: a flag, not a query

# Carries out an outbox row that is a platform action, not a text to post; returns what is recorded
# as its platform message id. Raises bot.connectors.errors.PlatformError as a connector's send does.
Operation = Callable[[Outgoing], Awaitable[str]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=10)
    lease: timedelta = timedelta(seconds=60)

    def delay(self, attempt: int, retry_after: float | None) -> timedelta:
        if retry_after is not None:
            return timedelta(seconds=retry_after)
        return min(self.cap, self.base * (2 ** max(0, attempt - 1)))


def no_one() -> list[Destination]:
    return []


class DeliveryWorker:
    """`connectors` is read at each lease and send, so a connector added later (Telegram by
    add_receiver) is used from then on, for its texts and its actions alike. A row whose kind is in
    `actions` goes to that Operation, any other text to its platform's connector's send(), and a
    platform action (alerts.messages.PLATFORM_ACTIONS) with no Operation is set aside.
    `coordinators` names where the network's coordinators are told of a delivery that failed for
    good (each one's direct chat); it is asked at the time of the failure, so it follows the directory.
    `concurrency` bounds the sends in flight at once (each to a different destination)."""

    def __init__(
        self,
        db: DatabaseThread,
        uow_factory: SqlUnitOfWorkFactory,  # the worker leases and marks outbox rows: SQL only
        connectors: Mapping[Platform, Connector],
        clock: Clock,
        new_key: Callable[[], str],
        retry: RetryPolicy = RetryPolicy(),
        batch: int = 50,
        coordinators: Callable[[], list[Destination]] = no_one,
        concurrency: int = 32,
        tell_originator: Callable[[ItemRecord, str], list[OutboundMessage]] = lambda record, text: [],
        tell_coordinators: Callable[[ItemRecord, str], list[OutboundMessage]] | None = None,
        withdrawn_copy: Callable[[ItemRecord, DeliveryRecord], list[OutboundMessage]] | None = None,
        actions: Mapping[MessageKind, Operation] | None = None,
        late_copy: Callable[[ItemRecord, int, DeliveryRecord, str | None, bool], list[OutboundMessage]] | None = None,
        withdrawn_line: Callable[[ItemRecord, DeliveryRecord], list[OutboundMessage]] | None = None,
    ) -> None:
        self._db = db
        self._uow_factory = uow_factory
        self._connectors = connectors
        self._actions: Mapping[MessageKind, Operation] = actions if actions is not None else {}
        self._clock = clock
        self._new_key = new_key
        self._retry = retry
        self._batch = batch
        self._coordinators = coordinators
        self._tell_originator = tell_originator  # the rows telling an item's originator `text` about it
        self._tell_coordinators = tell_coordinators  # and the coordinators, where the item's caveat lets it go
        # The rows that take back a copy of a withdrawn item (handlers.withdrawal.withdrawn_copy): for a
        # copy whose send was in flight when its item was withdrawn, and landed.
        self._withdrawn_copy = withdrawn_copy
        # The rows for a copy of an earlier revision whose send was in flight when its item was
        # corrected, and landed, or failed after part of it went (handlers.correction.late_copy): its
        # mark as superseded, or its removal.
        self._late_copy = late_copy
        # The removal of a line told in place of a superseded copy's edit (alerts.supersede) whose send
        # was in flight when its item was withdrawn, and landed (handlers.withdrawal.withdrawn_line).
        self._withdrawn_line = withdrawn_line
        self._concurrency = max(1, concurrency)
        self._send_timeout = retry.lease.total_seconds() * 0.75
        self._wake = asyncio.Event()
        self._waiting: dict[Platform, float] = {}  # platform -> monotonic time it said "not connected"
        self._sent: list[tuple[Outgoing, str, asyncio.Future[bool]]] = []  # sends waiting to be recorded
        self._recording = False
        self._in_flight: set[asyncio.Task[bool]] = set()
        self._stop: asyncio.Event | None = None  # run()'s, while it runs: recording a send also leases what is next

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def wake(self) -> None:
        self._wake.set()

    async def deliver_due(self) -> int:
        """Lease what is due and send it, each destination's next row; how many rows were leased
        (sent, or set aside unread)."""
        leased, handled = await self._db.run(self._lease, self._batch, self._ready_platforms())
        if leased:
            limit = asyncio.Semaphore(self._concurrency)

            async def bounded(message: Outgoing) -> None:
                async with limit:
                    await self._deliver(message)

            await asyncio.gather(*(bounded(message) for message in leased))
        return handled

    async def settle(self, max_rounds: int = 1000) -> None:
        """Deliver until nothing is due now (the console and tests use it to see results at once);
        rows for a platform that is not connected are left for when it is."""
        for _ in range(max_rounds):
            if not await self.deliver_due():
                return

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Lease whenever a send ends, something is enqueued (wake) or a platform comes up, up to
        `concurrency` sends in flight; on stop, the sends in flight are finished."""
        in_flight = self._in_flight
        self._stop = stop
        try:
            while not stop.is_set():
                self._wake.clear()  # before leasing: a wake that comes during the lease is not lost
                free = self._concurrency - len(in_flight)
                leased: list[Outgoing] = []
                handled = 0
                if free > 0:
                    try:
                        leased, handled = await self._db.run(self._lease, free, self._ready_platforms())
                    except Exception:  # keep relaying: a database fault now must not stop later deliveries
                        log.exception("leasing deliveries failed")
                for message in leased:
                    self._start(message)
                if handled and len(in_flight) < self._concurrency:
                    continue  # there may be more due to other destinations
                await self._idle(stop, idle)
        except asyncio.CancelledError:
            self._stop = None  # first: a record written from now on leases nothing to start
            for task in list(in_flight):  # cancelled (demoted: another instance sends now): stop at once
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            raise
        finally:
            self._stop = None
        while in_flight:  # stopped: finish what is under way, so it is recorded
            await asyncio.gather(*in_flight, return_exceptions=True)

    def _leasing(self) -> bool:
        """run() is running and not asked to stop: a send's record leases what is next."""
        return self._stop is not None and not self._stop.is_set()

    def _start(self, message: Outgoing) -> None:
        task = asyncio.create_task(self._deliver(message))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[bool]) -> None:
        self._in_flight.discard(task)
        # A send whose record leased what was next wakes nobody: that lease saw everything due then.
        if task.cancelled() or task.exception() is not None or not task.result():
            self._wake.set()

    async def _idle(self, stop: asyncio.Event, idle: float) -> None:
        """Wait for a wake, a stop, a waited-for platform coming up, or `idle` seconds (a safety net)."""
        deadline = time.monotonic() + idle
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            step = min(remaining, READY_POLL) if self._waiting else remaining
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=step)
                return
            except asyncio.TimeoutError:
                pass
            if self._came_up():
                return

    def _ready_platforms(self) -> set[str]:
        self._came_up()
        return {platform.value for platform in self._connectors if platform not in self._waiting}

    def _came_up(self) -> bool:
        """Stop waiting for platforms whose connector says it is connected (after a short pause, so
        a connector that says so wrongly is asked at most every READY_POLL, never in a busy loop)."""
        now = time.monotonic()
        up = [platform for platform, since in self._waiting.items()
              if now - since >= READY_POLL and self._is_connected(platform)]
        for platform in up:
            del self._waiting[platform]
        return bool(up)

    def _is_connected(self, platform: Platform) -> bool:
        connector = self._connectors.get(platform)
        return connector is not None and bool(getattr(connector, "connected", True))

    def _lease(self, limit: int, platforms: set[str]) -> tuple[list[Outgoing], int]:
        """The rows to send, and how many rows were leased (those set aside unread included)."""
        if not platforms:
            return [], 0
        with self._uow_factory() as uow:
            leased = self._lease_in(uow, limit, platforms)
            uow.commit()
        return leased

    def _lease_in(self, uow, limit: int, platforms: set[str]) -> tuple[list[Outgoing], int]:  # noqa: ANN001
        """_lease within `uow`, uncommitted."""
        if not platforms or limit <= 0:
            return [], 0
        rows = uow.outbox.lease(self._clock.now(), limit, self._retry.lease, platforms)
        messages = []
        for row in rows:
            if isinstance(row, UnreadableRow):
                self._set_aside_unreadable(uow, row)
                continue
            files = _attachments(uow, row.reference, row.attachments)
            if files is None:  # never the text without the files it was sent with
                self._set_aside_unreadable(uow, UnreadableRow(row.key, row.kind.value, row.reference, row.contact,
                                                              row.attempts, "AttachmentMissing"))
                continue
            messages.append(Outgoing(
                key=row.key,
                kind=row.kind,
                destination=row.destination,
                text=row.text,
                reference=row.reference,
                contact=row.contact,
                protect_content=row.protect_content,
                reply_to=row.reply_to,
                attempt=row.attempts,
                possible_repeat=row.possible_repeat,
                attachments=row.files + files,  # the row's own (charts), then its item's
                attention=row.attention,
                disclosure=row.disclosure,
            ))
        return messages, len(rows)

    async def _deliver(self, message: Outgoing) -> bool:
        """Send one row and record the outcome; whatever goes wrong stays with this row. True when
        the record also leased what was next."""
        try:
            return await self._send(message)
        except Exception:  # recording the outcome failed (a database fault): the lease runs out and
            # the row is sent again with the same key; the other rows go on
            log.exception("recording delivery %s failed", message.key,
                          extra=item_fields(reference=message.reference, key=message.key))
            return False

    async def _send(self, message: Outgoing) -> bool:
        platform = message.destination.platform
        connector = self._connectors.get(platform)
        operation = self._actions.get(message.kind)
        if operation is None and message.kind in PLATFORM_ACTIONS:  # never posted as a text: set aside, told
            error_ref = new_error_ref()
            log.error("outbox row %s is a %s action that nothing carries out; set aside as %s", message.key,
                      message.kind.value, error_ref, extra=item_fields(reference=message.reference, key=message.key))
            await self._db.run(self._set_aside, message, error_ref, f"nothing carries out a {message.kind.value} row")
            return False
        try:
            if connector is None:
                raise NotConnected("not-connected", platform.value)
            sending = operation(message) if operation is not None else connector.send(message)
            message_id = await asyncio.wait_for(sending, timeout=self._send_timeout)
        except NotConnected:
            # Not a failure: the row goes back untried and waits, with every other row of the
            # platform, for the connector to be connected.
            self._waiting.setdefault(platform, time.monotonic())
            await self._db.run(self._release, message)
        except asyncio.TimeoutError:
            # Give up before the lease runs out, or this worker would lease the row again while the
            # first send may still land; the retry carries the same key.
            error = UnknownOutcome("send-timeout", f"no answer in {self._send_timeout:.0f} s")
            await self._db.run(self._record_failure, message, error)
        except PlatformError as error:
            await self._db.run(self._record_failure, message, error)
        except Exception as error:  # a connector bug for this row: set it aside, the others go on
            error_ref = new_error_ref()
            log.exception("connector %s raised while sending %s; set aside as %s", platform.value, message.key,
                          error_ref, extra=item_fields(reference=message.reference, key=message.key))
            await self._db.run(self._set_aside, message, error_ref, f"the connector raised {type(error).__name__}")
        else:
            return await self._record_sent(message, message_id)
        return False

    def _release(self, message: Outgoing) -> None:
        self._release_all([message])

    def _release_all(self, messages: list[Outgoing]) -> None:
        with self._uow_factory() as uow:
            for message in messages:
                uow.outbox.release(message.key)
            uow.commit()

    async def _record_sent(self, message: Outgoing, message_id: str) -> bool:
        """Record a send; sends that end while a record is being written share the next transaction
        (one commit, and one read of each item, for a fan-out's deliveries that end together). In
        run(), that transaction also leases what is next, and the leased rows are sent at once.
        True when it did."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._sent.append((message, message_id, done))
        if not self._recording:
            self._recording = True
            asyncio.create_task(self._record_sent_batches())
        return await done

    async def _record_sent_batches(self) -> None:
        try:
            while self._sent:
                batch, self._sent = self._sent, []
                # The sends of this batch are ending: their places are free for what is leased now.
                limit = self._concurrency - len(self._in_flight) + len(batch) if self._leasing() else 0
                leased_next = limit > 0
                leased: list[Outgoing] = []
                try:
                    leased, _ = await self._db.run(self._write_sent, [(message, message_id) for message, message_id, _
                                                                      in batch], limit, self._ready_platforms())
                    outcomes: list[BaseException | None] = [None] * len(batch)
                    # Every place taken: more may be due than this lease could take.
                    leased_next = leased_next and len(leased) < limit
                except Exception:  # one row spoils the transaction: record each alone, so only it fails
                    leased_next = False  # the run loop leases when these sends are done
                    outcomes = []
                    for message, message_id, _ in batch:
                        try:
                            await self._db.run(self._write_sent, [(message, message_id)], 0, set())
                            outcomes.append(None)
                        except Exception as error:
                            outcomes.append(error)
                if self._leasing():
                    for message in leased:
                        self._start(message)
                elif leased:  # stopped while this was written: the rows go back untried, at once
                    leased_next = False
                    try:
                        await self._db.run(self._release_all, leased)
                    except Exception:  # their leases run out instead, and they are sent then
                        log.exception("handing back %d leased deliveries failed", len(leased))
                for (_, _, done), outcome in zip(batch, outcomes):
                    if done.done():  # its send was cancelled meanwhile
                        continue
                    if outcome is None:
                        done.set_result(leased_next)
                    else:
                        done.set_exception(outcome)
        finally:
            self._recording = False

    def _write_sent(self, sent: list[tuple[Outgoing, str]], limit: int = 0,
                    platforms: set[str] | frozenset[str] = frozenset()) -> tuple[list[Outgoing], int]:
        """Mark `sent` sent and lease up to `limit` rows of `platforms` to send next, in one transaction."""
        now = self._clock.now()
        with self._uow_factory() as uow:
            # Each copy's item (and a superseded copy's line's) is read, and locked, before anything is
            # written: a /correct or /withdraw of it waits for this record of its send, or this waits for
            # it and then sees the copy cancelled (a late copy), so one side or the other plans the copy's
            # edit or removal. In
            # one order (the items', then the outbox's rows), so two such transactions never deadlock.
            copies_of = sorted({m.reference for m, _ in sent if m.reference and _taken_back_with(m)})
            records: dict[str, ItemRecord | None] = {  # within one transaction: the same item, read once
                reference: uow.items.get(Reference.parse(reference), for_update=True) for reference in copies_of}
            for message, message_id in sent:
                uow.outbox.mark_sent(message.key, message_id, now, files=bool(message.attachments))
                if message.kind is MessageKind.NOTICE and message.reference and _taken_back_with(message):
                    self._take_back_line(uow, records[message.reference], message, message_id, now)
                if message.kind is MessageKind.DELIVERY and message.reference:
                    current = uow.items.mark_delivery(message.key, "sent", now, message_id)
                    record = records[message.reference]
                    if record is not None and record.erasure is None:
                        if not current:  # not a copy of the current revision: of one corrected meanwhile?
                            self._supersede_late(uow, record, message, message_id, now)
                        elif record.withdrawal is not None:
                            self._take_back(uow, record, message, message_id, now)
                self._audit_disclosure(uow, records, message, message_id, now)
            leased = self._lease_in(uow, limit, set(platforms))
            uow.commit()
        return leased

    @staticmethod
    def _audit_disclosure(uow, records: dict[str, ItemRecord | None], message: Outgoing,  # noqa: ANN001
                          message_id: str, now: datetime) -> None:
        """A sent row that carried its item's content (a copy, relayed feedback, an update, an outcome,
        an escalation with the item, an approval request: alerts.messages.disclosure_of) is a
        disclosure: whom it reached, by which chat, the platform's message id, and why (the item's
        purpose, and what the row was). One entry per row, in the transaction that records its send."""
        disclosure = disclosure_of(message.kind, message.disclosure)
        if disclosure is None or not message.reference:
            return
        if message.reference not in records:  # read once per item and transaction, as the copies' are
            try:
                records[message.reference] = uow.items.get(Reference.parse(message.reference))
            except ValueError:  # a reference that does not parse (a corrupt row): the entry says what it can
                records[message.reference] = None
        record = records[message.reference]
        uow.audit.record(
            AuditEvent(
                action=AuditAction.DELIVERY,
                at=now,
                actor=BOT_ACTOR,
                recipients=(message.contact or "",),
                channel=str(message.destination),
                reference=message.reference,
                caveat=record.item.caveat.label() if record else None,
                purpose=record.item.draft.purpose if record else None,
                detail={"platform_message_id": message_id, "attempt": str(message.attempt),
                        "kind": message.kind.value, "sent_as": disclosure.value},
            )
        )

    def _take_back(self, uow, record: ItemRecord, message: Outgoing, message_id: str,  # noqa: ANN001
                   now: datetime) -> None:
        """A copy of an item withdrawn while its send was in flight landed: take it back as the
        withdrawal took back the others (its removal, and the line its reader is told)."""
        if self._withdrawn_copy is None:
            return
        delivery = next((d for d in record.deliveries if d.outbox_key == message.key), None)
        if delivery is None:
            return
        landed = replace(delivery, state="sent", platform_message_id=message_id, sent_at=delivery.sent_at or now)
        uow.outbox.enqueue_many(self._withdrawn_copy(record, landed))

    def _take_back_line(self, uow, record: ItemRecord | None, message: Outgoing, message_id: str,  # noqa: ANN001
                        now: datetime) -> None:
        """A line about a superseded copy landed after its item was withdrawn (the withdrawal found its
        send in flight): its removal, as the withdrawal planned for a line sent before it."""
        if self._withdrawn_line is None or record is None or record.withdrawal is None or record.erasure is not None:
            return
        line = DeliveryRecord(message.contact or "", str(message.destination), message.key, "sent", sent_at=now,
                              platform_message_id=message_id)
        uow.outbox.enqueue_many(self._withdrawn_line(record, line))

    def _supersede_late(self, uow, record: ItemRecord, message: Outgoing, message_id: str,  # noqa: ANN001
                        now: datetime) -> None:
        """A copy of an earlier revision landed after its item was corrected (the correction found its
        send in flight): recorded, and marked superseded as the correction marked the others, in this
        transaction with its send, so a restart cannot lose it; its keys make it once."""
        if self._late_copy is None:
            return
        found = uow.items.mark_earlier(message.key, "sent", now, message_id)
        if found is None:
            return
        revision, landed = found
        banner = message.text.split("\n", 1)[0]  # the line it was sent with (the earlier draft is not kept)
        uow.outbox.enqueue_many(self._late_copy(record, revision, landed, banner, message.protect_content))

    def _supersede_partly_sent(self, uow, record: ItemRecord, key: str, first: str, now: datetime,  # noqa: ANN001
                               message: Outgoing | None) -> None:
        """A copy of an earlier revision that the correction cancelled while it was being sent, and that
        failed after its first message(s) reached the reader (a photo before its text): recorded failed,
        known by `first` (so a later /withdraw takes it back), and planned as a late copy is, in this
        transaction: marked superseded, or taken back from a reader the new revision leaves out."""
        found = uow.items.mark_earlier(key, "failed", now, first)
        if found is None or self._late_copy is None:
            return
        revision, partly = found
        banner = message.text.split("\n", 1)[0] if message is not None else None
        uow.outbox.enqueue_many(self._late_copy(record, revision, partly, banner,
                                                message.protect_content if message is not None else False))

    def _record_failure(self, message: Outgoing, error: PlatformError) -> None:
        now = self._clock.now()
        attempts = message.attempt
        with self._uow_factory() as uow:
            if message.kind is MessageKind.DELIVERY and message.reference:
                _lock_item(uow, message.reference)
            if error.retried_after(attempts, self._retry.max_attempts) and uow.outbox.retry_later(
                    message.key, now + self._retry.delay(attempts, error.retry_after), error.code,
                    outcome_unknown=isinstance(error, UnknownOutcome)):
                log.info("delivery %s will be retried (%s, attempt %d)", message.key, error.code, attempts,
                         extra=item_fields(reference=message.reference, key=message.key))
            else:  # failed for good, or cancelled while it was being sent (then never retried)
                failed = uow.outbox.mark_failed(message.key, error.code)
                if failed.cancelled:
                    log.info("delivery %s was cancelled while it was being sent (%s); not retried", message.key,
                             error.code, extra=item_fields(reference=message.reference, key=message.key))
                    self._cancelled_meanwhile(uow, message.key, message.kind.value, message.reference, failed.reached,
                                              now, message)
                    uow.commit()
                    return
                # With an error reference: an answer that could not be given (a stranger's refusal whose
                # direct chat cannot be opened) is told to nobody else, so the log is where it is found.
                log.warning("delivery %s failed for good (%s) [%s]", message.key, error.code, new_error_ref(),
                            extra=item_fields(reference=message.reference, key=message.key))
                if message.kind is MessageKind.DELIVERY and message.reference:
                    self._surface_failure(uow, message.key, message.reference, message.contact,
                                          message.destination, message.attempt, error.code, now, failed.reached)
            uow.commit()

    def _cancelled_meanwhile(self, uow, key: str, kind: str, reference: str | None,  # noqa: ANN001
                             reached: tuple[str, ...], now: datetime, message: Outgoing | None = None) -> None:
        """A row cancelled (/withdraw, /correct) while its send was in flight, and the send failed: done,
        as its canceller planned; nobody is told a delivery failed. What of a copy reached its reader
        before (a photo) is taken back if its item was withdrawn, as a failed copy's is (_surface_failure);
        a copy of a revision corrected meanwhile is treated as one that landed late (_supersede_late):
        what went is marked superseded, or taken back, so nobody acts on it. `message`: the row as it
        was being sent (None when it could not be read). The caller locked the item first (_lock_item)."""
        if not reached or kind != MessageKind.DELIVERY.value or not reference:
            return
        current = uow.items.mark_delivery(key, "failed", now, reached[0])
        try:
            record = uow.items.get(Reference.parse(reference))
        except ValueError:  # a reference that does not parse (a corrupt row): nothing to take back
            return
        if record is None or record.erasure is not None:
            return
        if not current:  # a copy of an earlier revision: of one corrected while it was being sent?
            self._supersede_partly_sent(uow, record, key, reached[0], now, message)
            return
        if record.withdrawal is None or self._withdrawn_copy is None:
            return
        delivery = next((d for d in record.deliveries if d.outbox_key == key), None)
        if delivery is not None:
            uow.outbox.enqueue_many(self._withdrawn_copy(record, delivery))

    def _set_aside(self, message: Outgoing, error_ref: str, why: str) -> None:
        """A row that must not be tried again (the connector raised an unexpected exception for it, or no
        Operation carries out its kind): failed, with the error reference."""
        with self._uow_factory() as uow:
            self._set_aside_row(uow, message.key, message.kind.value, message.reference, message.contact,
                                message.destination, message.attempt, error_ref, why, message)
            uow.commit()

    def _set_aside_unreadable(self, uow, row: UnreadableRow) -> None:  # noqa: ANN001 - a unit of work
        error_ref = new_error_ref()
        log.error("outbox row %s cannot be read (%s); set aside as %s", row.key, row.cause, error_ref,
                  extra=item_fields(reference=row.reference, key=row.key))
        self._set_aside_row(uow, row.key, row.kind, row.reference, row.contact, None, row.attempts, error_ref,
                            "it could not be read")

    def _set_aside_row(self, uow, key: str, kind: str, reference: str | None, contact: str | None,  # noqa: ANN001
                       destination: Destination | None, attempt: int, error_ref: str, why: str,
                       message: Outgoing | None = None) -> None:
        """Mark one row failed with `error_ref` as its code, record it in the audit log and tell people
        once: a delivery's originator and the coordinators as for any failed delivery; for any other
        row, the coordinators. `message`: the row as leased (None: it could not be read)."""
        now = self._clock.now()
        code = f"set-aside:{error_ref}"
        if kind == MessageKind.DELIVERY.value and reference:
            _lock_item(uow, reference)
        failed = uow.outbox.mark_failed(key, code)
        if failed.cancelled:  # cancelled while it was being sent: nothing to tell, as for any failure of it
            log.info("outbox row %s set aside as %s had been cancelled meanwhile", key, error_ref,
                     extra=item_fields(reference=reference, key=key))
            self._cancelled_meanwhile(uow, key, kind, reference, failed.reached, now, message)
            return
        if kind == MessageKind.DELIVERY.value and reference:
            self._surface_failure(uow, key, reference, contact, destination, attempt, code, now, failed.reached)
            return
        uow.audit.record(AuditEvent(action=AuditAction.REFUSAL, at=now, actor=BOT_ACTOR, recipients=(contact or "",),
                                    channel=str(destination) if destination else "", reference=reference,
                                    detail={"event": "set-aside", "kind": kind, "error_ref": error_ref, "reason": why}))
        text = (f"A message{f' about {reference}' if reference else ''} was set aside, unsent: {why} "
                f"(error {error_ref}). Quote the reference to whoever runs the bot.")
        for chat in self._coordinators():
            if chat != destination:
                uow.outbox.enqueue(OutboundMessage(key=self._new_key(), kind=MessageKind.NOTICE, destination=chat,
                                                   text=text, reference=reference))

    def _surface_failure(self, uow, key: str, reference: str, contact: str | None,  # noqa: ANN001
                         destination: Destination | None, attempt: int, code: str, now: datetime,
                         reached: tuple[str, ...] = ()) -> None:
        """A delivery that cannot be made is told to its originator and to the coordinators, never
        silently dropped. The notices are outbox rows in the transaction that marks the row failed.
        `reached`: the messages of it that reached its reader all the same (a photo before its text):
        the copy is known by the first, so /withdraw and /correct take them back, and is said to be
        partly delivered; if its item was withdrawn while it was being sent, they are taken back now,
        as a copy landing late is. The caller locked the item first (_lock_item)."""
        current = uow.items.mark_delivery(key, "failed", now, reached[0] if reached else None)
        try:
            record = uow.items.get(Reference.parse(reference))
        except ValueError:  # a reference that does not parse (a corrupt row): nobody to find
            record = None
        if record is None or record.erasure is not None:  # nothing may be written about an erased case
            return
        if reached and current and record.withdrawal is not None:
            delivery = next((d for d in record.deliveries if d.outbox_key == key), None)
            if delivery is not None and self._withdrawn_copy is not None:
                uow.outbox.enqueue_many(self._withdrawn_copy(record, delivery))
        uow.audit.record(
            AuditEvent(
                action=AuditAction.REFUSAL,
                at=now,
                actor=BOT_ACTOR,
                recipients=(contact or "",),
                channel=str(destination) if destination else "",
                reference=reference,
                caveat=record.item.caveat.label(),
                detail={"reason": f"delivery failed: {code}"},
            )
        )
        part = (f", after part of it reached them ({len(reached)} message{'s' if len(reached) != 1 else ''}: "
                "a photo or file, or the beginning of its text); the rest will not be sent"
                if reached else "")
        text = (f"Delivery of {reference} to {contact} failed ({code}){part}. "
                "Coordinators can see it with /status; try another channel if it is urgent."
                + (f" If what reached them must not stay, /withdraw {reference} takes it back." if reached else ""))
        # Where the item's caveat lets a message about it go, never a shared chat its facts must stay out of.
        notices = self._tell_originator(record, text)
        if not notices and not private_answer(record.item.origin_chat, {record.item.caveat.tlp}):
            notices = [OutboundMessage(key=self._new_key(), kind=MessageKind.NOTICE, text=text, reference=reference,
                                       destination=Destination.chat(record.item.origin_chat),
                                       contact=record.item.originator)]
        uow.outbox.enqueue_many(notices)
        told = {m.destination for m in notices} | {destination}  # not twice, not where it fails
        told_them = (f"Delivery of {reference} to {contact} failed for good ({code}) "
                     f"after {attempt} attempt{'s' if attempt != 1 else ''}"
                     f"{'; part of it reached them' if reached else ''}. "
                     f"{record.item.originator} has been told. See /status {reference}.")
        rows = self._tell_coordinators(record, told_them) if self._tell_coordinators is not None else None
        if rows is None:  # not given: each coordinator's chat, whatever the item
            rows = [OutboundMessage(key=self._new_key(), kind=MessageKind.NOTICE, destination=chat, text=told_them,
                                    reference=reference) for chat in self._coordinators()]
        for row in rows:
            if row.destination in told:
                continue
            told.add(row.destination)
            uow.outbox.enqueue(row)


def _lock_item(uow, reference: str) -> None:  # noqa: ANN001 - a unit of work
    """Lock a copy's item before its outbox row is marked failed, in the order _write_sent takes them
    (the item's, then the row's): a /withdraw meanwhile either sees the copy failed (and takes back what
    of it reached its reader) or has withdrawn the item before the failure is recorded, which then
    takes it back (_surface_failure); never neither."""
    try:
        uow.items.get(Reference.parse(reference), for_update=True)
    except ValueError:  # a reference that does not parse (a corrupt row): nothing to lock
        pass


def _taken_back_with(message: Outgoing) -> bool:
    """A row that a withdrawal (or correction) of its item takes back when it lands after it: a copy,
    or a line told in place of a superseded copy's edit. Its item is locked while its send is recorded."""
    return message.kind is MessageKind.DELIVERY or superseded_line(message.kind, message.key)


def _attachments(uow, reference: str | None, ids: tuple[str, ...]) -> tuple[Attachment, ...] | None:  # noqa: ANN001
    """The files an outbox row names, opened from its item; None when one of them cannot be."""
    if not ids:
        return ()
    if reference is None:
        return None
    files = [uow.items.attachment(Reference.parse(reference), ident) for ident in ids]
    return None if any(f is None for f in files) else tuple(f for f in files if f is not None)
