"""Roles of the people in the directory, and the commands each may use."""

from __future__ import annotations

import enum

from alerts.errors import InvalidValue


class Role(enum.Enum):
    OFFICER = "officer"
    CONTACT = "contact"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    AUDITOR = "auditor"
    APPROVER = "approver"  # may approve the release of their organisation's items (alerts/release.py)

    @classmethod
    def parse(cls, text: str) -> Role:
        key = text.strip().lower()
        key = {"npoc": "contact", "poc": "contact", "lo": "officer", "coord": "coordinator"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            raise InvalidValue(
                "Role", text, "officer, contact, coordinator, admin, auditor, approver", "role:contact"
            ) from None
