"""The delivery worker: the outbox relay that sends through the connectors, retrying what is retryable.

Rows are leased, sent, then marked in a second transaction. A crash between the send and the mark
leaves a leased row whose lease expires and is sent again with the same key, which the platform
de-duplicates where it can (Matrix transaction ids); that is the at-least-once half of the contract.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.clock import Clock
from alerts.identity import Platform
from alerts.items import Reference
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.connectors.base import Connector, Outgoing
from bot.dbthread import DatabaseThread
from bot.logging_setup import item_fields
from bot.errors import NotConnected, PlatformError, TransientFailure, UnknownOutcome
from storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger(__name__)



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
    """`coordinators` names where the network's coordinators are told of a delivery that failed for
    good (each one's direct chat); it is asked at the time of the failure, so it follows the directory."""

    def __init__(
        self,
        db: DatabaseThread,
        uow_factory: SqlUnitOfWorkFactory,  # the worker leases and marks outbox rows: SQL only
        connectors: dict[Platform, Connector],
        clock: Clock,
        new_key: Callable[[], str],
        retry: RetryPolicy = RetryPolicy(),
        batch: int = 50,
        coordinators: Callable[[], list[Destination]] = no_one,
    ) -> None:
        self._db = db
        self._uow_factory = uow_factory
        self._connectors = connectors
        self._clock = clock
        self._new_key = new_key
        self._retry = retry
        self._batch = batch
        self._coordinators = coordinators
        self._send_timeout = retry.lease.total_seconds() * 0.75
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def deliver_due(self) -> int:
        """Lease what is due and send it; at most one row per destination, so order per recipient holds."""
        leased = await self._db.run(self._lease)
        if leased:
            await asyncio.gather(*(self._send(message) for message in leased))
        return len(leased)

    async def settle(self, max_rounds: int = 1000) -> None:
        """Deliver until nothing is due now (the console and tests use it to see results at once)."""
        for _ in range(max_rounds):
            if not await self.deliver_due():
                return

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        while not stop.is_set():
            try:
                sent = await self.deliver_due()
            except Exception:  # keep relaying: one bad round must not stop every later delivery
                log.exception("delivery round failed")
                sent = 0
            if not sent:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=idle)
                except asyncio.TimeoutError:
                    pass

    def _lease(self) -> list[Outgoing]:
        platforms = {p.value for p in self._connectors}
        with self._uow_factory() as uow:
            rows = uow.outbox.lease(self._clock.now(), self._batch, self._retry.lease, platforms)
            uow.commit()
        return [
            Outgoing(
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
            )
            for row in rows
        ]

    async def _send(self, message: Outgoing) -> None:
        connector = self._connectors.get(message.destination.platform)
        try:
            if connector is None:
                raise NotConnected("not-connected", message.destination.platform.value)
            message_id = await asyncio.wait_for(connector.send(message), timeout=self._send_timeout)
        except asyncio.TimeoutError:
            # Give up before the lease runs out, or this worker would lease the row again while the
            # first send may still land; the retry carries the same key.
            error = UnknownOutcome("send-timeout", f"no answer in {self._send_timeout:.0f} s")
            await self._db.run(self._record_failure, message, error)
        except PlatformError as error:
            await self._db.run(self._record_failure, message, error)
        except Exception as error:  # a connector bug: keep the row, retry later, log the trace
            log.exception("connector %s raised while sending %s", message.destination.platform.value, message.key,
                          extra=item_fields(reference=message.reference, key=message.key))
            await self._db.run(self._record_failure, message, TransientFailure("connector-error", type(error).__name__))
        else:
            await self._db.run(self._record_sent, message, message_id)

    def _record_sent(self, message: Outgoing, message_id: str) -> None:
        now = self._clock.now()
        with self._uow_factory() as uow:
            uow.outbox.mark_sent(message.key, message_id, now)
            if message.kind is MessageKind.DELIVERY and message.reference:
                uow.items.mark_delivery(message.key, "sent", now, message_id)
                record = uow.items.get(Reference.parse(message.reference))
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
                        detail={"platform_message_id": message_id, "attempt": str(message.attempt)},
                    )
                )
            uow.commit()

    def _record_failure(self, message: Outgoing, error: PlatformError) -> None:
        now = self._clock.now()
        attempts = message.attempt
        with self._uow_factory() as uow:
            if error.retried_after(attempts, self._retry.max_attempts):
                uow.outbox.retry_later(message.key, now + self._retry.delay(attempts, error.retry_after), error.code,
                                       outcome_unknown=isinstance(error, UnknownOutcome))
                log.info("delivery %s will be retried (%s, attempt %d)", message.key, error.code, attempts,
                         extra=item_fields(reference=message.reference, key=message.key))
            else:
                uow.outbox.mark_failed(message.key, error.code)
                log.warning("delivery %s failed for good (%s)", message.key, error.code,
                            extra=item_fields(reference=message.reference, key=message.key))
                if message.kind is MessageKind.DELIVERY and message.reference:
                    self._surface_failure(uow, message, error, now)
            uow.commit()

    def _surface_failure(self, uow, message: Outgoing, error: PlatformError, now) -> None:  # noqa: ANN001
        """A delivery that cannot be made is told to its originator and to the coordinators, never
        silently dropped. The notices are outbox rows in the transaction that marks the row failed."""
        uow.items.mark_delivery(message.key, "failed", now, None)
        record = uow.items.get(Reference.parse(message.reference or ""))
        if record is None or record.erasure is not None:  # nothing may be written about an erased case
            return
        uow.audit.record(
            AuditEvent(
                action=AuditAction.REFUSAL,
                at=now,
                actor=BOT_ACTOR,
                recipients=(message.contact or "",),
                channel=str(message.destination),
                reference=message.reference,
                caveat=record.item.caveat.label(),
                detail={"reason": f"delivery failed: {error.code}"},
            )
        )
        uow.outbox.enqueue(
            OutboundMessage(
                key=self._new_key(),
                kind=MessageKind.NOTICE,
                destination=Destination.chat(record.item.origin_chat),
                text=(
                    f"Delivery of {message.reference} to {message.contact} failed ({error.code}). "
                    "Coordinators can see it with /status; try another channel if it is urgent."
                ),
                reference=message.reference,
                contact=record.item.originator,
            )
        )
        told = {Destination.chat(record.item.origin_chat), message.destination}  # not twice, not where it fails
        for destination in self._coordinators():
            if destination in told:
                continue
            told.add(destination)
            uow.outbox.enqueue(
                OutboundMessage(
                    key=self._new_key(),
                    kind=MessageKind.NOTICE,
                    destination=destination,
                    text=(
                        f"Delivery of {message.reference} to {message.contact} failed for good ({error.code}) "
                        f"after {message.attempt} attempt{'s' if message.attempt != 1 else ''}. "
                        f"{record.item.originator} has been told. See /status {message.reference}."
                    ),
                    reference=message.reference,
                )
            )
