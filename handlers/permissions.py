"""Which roles may use which command. Anything not listed is open to every directory member."""

from __future__ import annotations

from alerts.directory import Contact
from alerts.roles import Role

_SENDERS = frozenset({Role.OFFICER, Role.CONTACT, Role.COORDINATOR})
_COORDINATION = frozenset({Role.COORDINATOR, Role.ADMIN})
_ADMINISTRATION = frozenset({Role.ADMIN})

REQUIRED_ROLES: dict[str, frozenset[Role]] = {
    "alert": _SENDERS,
    "request": _SENDERS,
    "forward": _SENDERS,
    "overdue": _COORDINATION | {Role.CONTACT, Role.OFFICER},
    "stats": _COORDINATION | {Role.AUDITOR},
    "escalate": _COORDINATION | {Role.OFFICER, Role.CONTACT},
    "member": _ADMINISTRATION,
    "rooms": _ADMINISTRATION | {Role.COORDINATOR},
    "room": _ADMINISTRATION,
    "device": _ADMINISTRATION,
}


def refusal(command: str, contact: Contact) -> str | None:
    """A short reason the contact may not use the command, or None when they may."""
    needed = REQUIRED_ROLES.get(command)
    if needed is None or contact.roles & needed:
        return None
    names = ", ".join(sorted(r.value for r in needed))
    return f"/{command} needs one of these roles: {names}. Yours: {', '.join(sorted(r.value for r in contact.roles))}."
