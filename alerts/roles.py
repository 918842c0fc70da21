"""Roles of the people in the directory, and the commands each may use."""

from __future__ import annotations

import enum

from alerts.errors import InvalidValue

# Short names and the networks' portal spellings people type; the canonical value is the role's.
_ALIASES = {
    "npoc": "contact", "poc": "contact", "lo": "officer", "coord": "coordinator",
    "nfp": "national-focal-point", "ofp": "organisational-focal-point",
    "organizational-focal-point": "organisational-focal-point",
}


class Role(enum.Enum):
    OFFICER = "officer"
    CONTACT = "contact"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    AUDITOR = "auditor"
    # The networks' portal roles: they manage the directory entries of their own people only
    # (alerts/focal.py decides whose), and send nothing by themselves.
    NATIONAL_FOCAL_POINT = "national-focal-point"
    ORGANISATIONAL_FOCAL_POINT = "organisational-focal-point"
    APPROVER = "approver"  # may approve the release of their organisation's items (alerts/release.py)

    @classmethod
    def parse(cls, text: str) -> Role:
        key = "-".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
        key = _ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            raise InvalidValue("Role", text, ACCEPTED, "role:contact") from None


ACCEPTED = ", ".join(role.value for role in Role)
