"""Seeding items straight into storage, and counting what the scheduler made of them."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import Engine, func, select

from alerts.caveats import Caveat, Tlp
from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import Item, ItemDraft, ItemKind, Reference, Selector, SelectorKind
from alerts.priority import Priority
from alerts.reminder_policy import ReminderPolicy, StageTimes
from alerts.routing import Delivery, Destination, Route, RoutingPolicy
from bot.config.release import ReleaseSettings
from bot.runtime.dbthread import DatabaseThread
from tests.fakes import FixedDirectory
from storage.audit.tables import audit_entries
from storage.reminder_tables import reminder_log
from storage.uow import SqlUnitOfWorkFactory
from storage.tables import outbox
from tests.sample_network import network_with_rooms

# Only the stage at the due time: each item then has exactly one reminder to give.
DUE_ONLY = ReminderPolicy({p: StageTimes(None, None, 0, None, None) for p in Priority})


def seed(uow_factory: SqlUnitOfWorkFactory, number: int, created: datetime, *, to: tuple[str, ...] = ("my-npoc",),
         ack: timedelta = timedelta(hours=1), feedback: timedelta = timedelta(hours=24),
         priority: Priority = Priority.URGENT, sent_after: timedelta | None = timedelta(0)) -> str:
    """Item A-2026-<number> from my-officer to `to`, its copies sent `sent_after` its creation."""
    reference = Reference(ItemKind.ALERT, 2026, number)
    draft = ItemDraft(ItemKind.ALERT, f"Body of item {number}", tuple(Selector(SelectorKind.PERSON, person=c) for c in to),
                      Caveat(Tlp.AMBER), priority=priority)
    item = Item(reference, draft, "my-officer", ChatRef.parse("console:@my-officer"), created, created + ack,
                created + feedback)
    route = Route(tuple(Delivery(c, Destination.direct(UserRef.parse(f"console:{c}")), f"to:@{c}") for c in to))
    keys = {c: f"d-{number}-{c}" for c in to}
    with uow_factory() as uow:
        uow.items.add(item, route, keys)
        if sent_after is not None:
            for key in keys.values():
                uow.items.mark_delivery(key, "sent", created + sent_after, f"m-{key}")
        uow.commit()
    return str(reference)


def count(engine: Engine, table, *where) -> int:  # noqa: ANN001 - a Table
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def reminders_in_outbox(engine: Engine) -> int:
    return count(engine, outbox, outbox.c.kind.in_(["reminder", "escalation"]))


def reminder_keys(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox.c.key).where(outbox.c.kind.in_(["reminder", "escalation"]))).scalars())


def audited(engine: Engine, action: str) -> int:
    return count(engine, audit_entries, audit_entries.c.action == action)


def logged(engine: Engine, outcome: str) -> int:
    return count(engine, reminder_log, reminder_log.c.outcome == outcome)


def runtime_like(engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock, reminders) -> SimpleNamespace:  # noqa: ANN001
    """What bot.scheduling.scheduler.start_scheduler needs of bot.runtime.app.Runtime; close `db` when done."""
    wakes: list[int] = []
    return SimpleNamespace(
        settings=SimpleNamespace(reminders=reminders, routing_policy=RoutingPolicy, release=ReleaseSettings()), clock=clock, engine=engine, db=DatabaseThread(),
        uow_factory=uow_factory, directory=FixedDirectory(network_with_rooms()),
        worker=SimpleNamespace(wake=lambda: wakes.append(1), wakes=wakes), connectors={Platform.CONSOLE: None},
        portal_url=None,
    )
