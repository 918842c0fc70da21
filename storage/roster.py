"""Room membership as the bot knows it, and membership actions planned as outbox rows."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from alerts.identity import ChatRef, UserRef
from alerts.membership import PlannedAction, action_message
from handlers.ports import Outbox
from storage.cursors import SqlCursors
from storage.directory import in_chunks
from storage.tables import outbox as outbox_table


class SqlRoomRoster:
    """Room membership as the bot knows it (what it did and what it saw), and each run's progress.

    Kept as small JSON values in the `cursors` key-value table ("roster:<chat>", "membership-run:<op>"),
    so no migration was needed; a dedicated table is the step up if rooms grow past a few hundred members.
    """

    ROSTER = "roster:"
    RUN = "membership-run:"

    def __init__(self, connection: Connection) -> None:
        self._cursors = SqlCursors(connection)

    def present(self, room: ChatRef) -> dict[UserRef, str] | None:
        raw = self._cursors.get(self.ROSTER + str(room))
        if raw is None:
            return None
        return {UserRef.parse(k): v for k, v in json.loads(raw).items()}

    def mark(self, room: ChatRef, identity: UserRef, state: str | None) -> None:
        """`identity` is in `room` as `state` ("invited", "joined"), or gone (None)."""
        members = {str(k): v for k, v in (self.present(room) or {}).items()}
        if state is None:
            members.pop(str(identity), None)
        else:
            members[str(identity)] = state
        self._cursors.set(self.ROSTER + str(room), json.dumps(members, sort_keys=True))

    def seen(self, room: ChatRef, members: dict[UserRef, str]) -> None:
        """A full list of the room's members, as a platform that can list them gave it."""
        self._cursors.set(self.ROSTER + str(room), json.dumps({str(k): v for k, v in members.items()}, sort_keys=True))

    def progress(self, op: str, key: str, outcome: str) -> dict[str, str]:
        """Note `outcome` of the action `key` of run `op` (once: a second note of the same key is
        ignored); every outcome of the run so far, by key."""
        raw = self._cursors.get(self.RUN + op)
        outcomes: dict[str, str] = json.loads(raw) if raw else {}
        if key not in outcomes:
            outcomes[key] = outcome
            self._cursors.set(self.RUN + op, json.dumps(outcomes, sort_keys=True))
        return outcomes


class SqlMembershipGateway:
    """handlers.ports.MembershipGateway: planned actions become outbox rows of kind MEMBERSHIP in the
    caller's transaction (bot/actions/membership.py carries them out after the commit)."""

    def __init__(self, connection: Connection, outbox: Outbox, roster: SqlRoomRoster) -> None:
        self._conn = connection
        self._outbox = outbox
        self._roster = roster

    def plan(self, actions: Sequence[PlannedAction]) -> int:
        keys = [a.key for a in actions]
        known: set[str] = set()
        for chunk in in_chunks(keys):
            known |= set(self._conn.execute(select(outbox_table.c.key).where(outbox_table.c.key.in_(chunk))).scalars())
        new = [a for a in actions if a.key not in known]
        if new:
            self._outbox.enqueue_many([action_message(a) for a in new])
        return len(new)

    def present(self, room: ChatRef) -> dict[UserRef, str] | None:
        return self._roster.present(room)
