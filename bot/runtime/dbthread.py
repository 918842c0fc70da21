"""One thread for all database work, so the event loop never blocks on a commit and SQLite sees one writer."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Protocol, TypeVar

from storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

T = TypeVar("T")


class DatabaseThread:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liaison-db")

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class Database(Protocol):
    """What read and write need (bot.runtime.app.Runtime has it)."""

    db: DatabaseThread
    uow_factory: SqlUnitOfWorkFactory


async def read(on: Database, look: Callable[[SqlUnitOfWork], T]) -> T:
    """`look` in a read-only unit of work, on the database thread."""
    def run() -> T:
        with on.uow_factory(read_only=True) as uow:
            return look(uow)
    return await on.db.run(run)


async def write(on: Database, change: Callable[[SqlUnitOfWork], object]) -> None:
    """`change` in a unit of work it then commits, on the database thread."""
    def run() -> None:
        with on.uow_factory() as uow:
            change(uow)
            uow.commit()
    await on.db.run(run)
