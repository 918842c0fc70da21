"""In-memory fakes of the membership and device ports (issues 6 and 8), beside handlers.fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from alerts.devices import DeviceAction, device_message
from alerts.directory import Contact, Directory
from alerts.identity import ChatRef, UserRef
from alerts.membership import PlannedAction, action_message
from handlers.fakes import MemoryStore, MemoryUnitOfWork, _Outbox


class MemoryDirectory:
    """handlers.ports.DirectorySource whose snapshot MembershipMemoryUnitOfWork replaces on commit,
    as DatabaseDirectory.refresh() does after a directory change."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def current(self) -> Directory:
        return self.directory


@dataclass
class MemoryRooms:
    """Who is in each room as the bot knows it (account -> "invited" or "joined")."""

    present: dict[ChatRef, dict[UserRef, str]] = field(default_factory=dict)


class _DirectoryWriter:
    """handlers.ports.DirectoryWriter on a staged copy of the contacts."""

    def __init__(self, contacts: dict[str, Contact]) -> None:
        self.contacts = contacts
        self.changed = False

    def _check_accounts(self, contact: Contact) -> None:
        for other in self.contacts.values():
            if other.id != contact.id and set(other.identities) & set(contact.identities):
                raise ValueError(f"an account of {contact.id} belongs to {other.id}")

    def add_contact(self, contact: Contact) -> None:
        if contact.id in self.contacts:
            raise ValueError(f"there is a contact {contact.id} already")
        self._check_accounts(contact)
        self.contacts[contact.id] = contact
        self.changed = True

    def update_contact(self, contact: Contact) -> None:
        if contact.id not in self.contacts:
            raise KeyError(contact.id)
        self._check_accounts(contact)
        self.contacts[contact.id] = contact
        self.changed = True

    def remove_contact(self, contact_id: str) -> bool:
        self.changed = True
        return self.contacts.pop(contact_id, None) is not None


class _Membership:
    """handlers.ports.MembershipGateway in memory: actions become outbox rows, as in storage."""

    def __init__(self, outbox: _Outbox, rooms: MemoryRooms) -> None:
        self._outbox = outbox
        self._rooms = rooms

    def plan(self, actions: Sequence[PlannedAction]) -> int:
        staged = self._outbox._staged.outbox  # noqa: SLF001 - the fake's own staging
        new = [a for a in actions if a.key not in staged]
        self._outbox.enqueue_many(action_message(a) for a in new)
        return len(new)

    def present(self, room: ChatRef) -> dict[UserRef, str] | None:
        found = self._rooms.present.get(room)
        return dict(found) if found is not None else None


class _Devices:
    """handlers.ports.DeviceDesk in memory: actions become outbox rows, as in bot/device_gateway.py."""

    def __init__(self, outbox: _Outbox) -> None:
        self._outbox = outbox

    def plan(self, action: DeviceAction) -> None:
        self._outbox.enqueue(device_message(action))


class MembershipMemoryUnitOfWork(MemoryUnitOfWork):
    """MemoryUnitOfWork with handlers.ports.MembershipUnitOfWork's directory_writer and membership,
    and handlers.ports.DeviceDesk as `devices` (as where the Matrix connector runs)."""

    def __init__(self, store: MemoryStore, directory: MemoryDirectory, rooms: MemoryRooms) -> None:
        super().__init__(store)
        self._directory = directory
        self.directory_writer = _DirectoryWriter(dict(directory.directory.contacts))
        self.membership = _Membership(self.outbox, rooms)
        self.devices = _Devices(self.outbox)

    def commit(self) -> None:
        super().commit()
        if self.directory_writer.changed:
            current = self._directory.directory
            self._directory.directory = Directory.build(current.organisations.values(),
                                                        self.directory_writer.contacts.values(), current.rooms,
                                                        current.arrangements)
            self.directory_writer.changed = False
