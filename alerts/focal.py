"""Focal points: whose directory entries someone other than an admin may manage.

A national focal point manages the people of their own country; an organisational focal point the
people of their own organisation: an international organisation as a whole or, inside a country,
their own desk (the agency they stand for). Admins manage everyone. A focal point manages people
only as far as the roles go that a focal point may give: never an admin, coordinator or auditor.

Fail closed: a focal point whose own place cannot be told (an organisational focal point of a
country with no desk), or a person whose organisation is unknown, is left to the admins.
"""

from __future__ import annotations

from typing import Iterable

from alerts.directory import Contact, Directory, OrgKind
from alerts.roles import Role

FOCAL_POINTS = frozenset({Role.NATIONAL_FOCAL_POINT, Role.ORGANISATIONAL_FOCAL_POINT})
# The roles each focal point may give and take away: its own level and below, never administration.
GRANTABLE: dict[Role, frozenset[Role]] = {
    Role.NATIONAL_FOCAL_POINT: frozenset({Role.OFFICER, Role.CONTACT, Role.ORGANISATIONAL_FOCAL_POINT,
                                          Role.NATIONAL_FOCAL_POINT}),
    Role.ORGANISATIONAL_FOCAL_POINT: frozenset({Role.OFFICER, Role.CONTACT, Role.ORGANISATIONAL_FOCAL_POINT}),
}


def _place(directory: Directory, organisation: str | None, desk: str | None) -> str:
    org = directory.organisations.get(organisation) if organisation else None
    name = org.name if org is not None else (organisation or "no organisation")
    return f"{name} {desk} desk" if desk else name


def _outside(manager: Contact, role: Role, directory: Directory, organisation: str | None,
             desk: str | None, who: str) -> str | None:
    """Why (organisation, desk) is outside what `manager`, as `role`, manages; None when inside."""
    own = directory.organisations.get(manager.organisation)
    target = directory.organisations.get(organisation) if organisation else None
    if role is Role.NATIONAL_FOCAL_POINT:
        if own is None or own.kind is not OrgKind.COUNTRY:
            return (f"as national focal point you need a country of your own, and "
                    f"{_place(directory, manager.organisation, None)} is not one in the directory")
        if target is None or target.code != own.code:
            return f"you manage the people of {own.name} only; {who} is of {_place(directory, organisation, desk)}"
        return None
    if own is None:
        return f"your organisation {manager.organisation} is not in the directory"
    if own.kind is OrgKind.COUNTRY and manager.desk is None:
        return (f"as organisational focal point in {own.name} you need a desk (your agency) in the directory, "
                "and you have none")
    mine = _place(directory, own.code, manager.desk)
    if target is None or target.code != own.code or (manager.desk is not None and desk != manager.desk):
        return f"you manage the people of {mine} only; {who} is of {_place(directory, organisation, desk)}"
    return None


def management_refusal(manager: Contact | None, directory: Directory, organisation: str | None, desk: str | None,
                       roles: Iterable[Role], who: str = "this person") -> str | None:
    """None when `manager` may add, change or remove a person at (organisation, desk) holding `roles`;
    otherwise a short reason. Admins may always; focal points within their own people and the roles
    they may give; anyone else (or no one known) never."""
    if manager is None:
        return "Only admins and focal points manage the people in the directory."
    if manager.has(Role.ADMIN):
        return None
    wanted = frozenset(roles)
    reasons: list[str] = []
    for role in (Role.NATIONAL_FOCAL_POINT, Role.ORGANISATIONAL_FOCAL_POINT):
        if not manager.has(role):
            continue
        outside = _outside(manager, role, directory, organisation, desk, who)
        beyond = wanted - GRANTABLE[role]
        if outside is None and not beyond:
            return None
        if outside is not None:
            reasons.append(outside)
        elif beyond:
            reasons.append(f"a {role.value.replace('-', ' ')} may give or take away only the roles "
                           f"{', '.join(sorted(r.value for r in GRANTABLE[role]))}, not "
                           f"{', '.join(sorted(r.value for r in beyond))}")
    if not reasons:
        return "Only admins and focal points manage the people in the directory."
    return f"Not allowed: {reasons[0]}. Ask an admin."
