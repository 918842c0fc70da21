"""The role sets commands are declared with (handlers/command_list.py), and the refusal text."""

from __future__ import annotations

from alerts.directory import Contact
from alerts.roles import Role

EVERYONE = frozenset(Role)  # any member of the directory, whatever their roles
SENDERS = frozenset({Role.OFFICER, Role.CONTACT, Role.COORDINATOR})
COORDINATION = frozenset({Role.COORDINATOR, Role.ADMIN})
ADMINISTRATION = frozenset({Role.ADMIN})


def refusal(command: str, needed: frozenset[Role], contact: Contact) -> str | None:
    """A short reason the contact may not use the command, or None when they may."""
    if needed == EVERYONE or contact.roles & needed:
        return None
    names = ", ".join(sorted(r.value for r in needed))
    return f"/{command} needs one of these roles: {names}. Yours: {', '.join(sorted(r.value for r in contact.roles))}."
