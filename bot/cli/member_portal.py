"""The networks' portal member list, read by `liaison-bot member import`.

The portal exports its members as CSV with one role each. Its header (any order, any case; spaces,
hyphens and `_id` endings do not matter, `organization` is `organisation`):

    name,email,country,organisation,role,matrix,telegram,accounts,timezone

- name: required. email: optional; a new person's contact id is made from it (`somchai.k`), the bot
  keeps no email address. timezone: optional, IANA (a new person without one reads times on the
  network's default_timezone; an existing person keeps theirs).
- country and organisation say where the person sits: an organisation of the network that is no
  country (`IOM`) in `organisation`; or a member country in `country` (code or name), with
  `organisation` empty, the country itself, or one of its desks (`immigration`: the agency).
- role: `National Focal Point` (of a country), `Organisational Focal Point` (of an organisation, or
  in a country of a desk) or `User`. Each is also an officer: NFP -> national-focal-point + officer,
  OFP -> organisational-focal-point + officer, User -> officer. Roles the portal does not know
  (contact, coordinator, admin, auditor) that an existing person holds are kept.
- matrix (`@alice:example.org`), telegram (the numeric user id) and accounts (any, `;`-separated:
  `console:alice;matrix:@alice:example.org`): at least one account, since the bot reaches people
  only there. A row whose account is already someone's updates that person, unless the
  configuration file names that person (it sets them again at every start: change them there).

Every row is checked against the directory and the other rows, and every error is listed with its
line; any error refuses the whole file (nothing is changed), as for the bot's own format.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Iterable

from alerts.countries import country_code
from alerts.directory import Contact, Directory, Organisation, OrgKind
from alerts.errors import InvalidValue
from alerts.focal import FOCAL_POINTS
from alerts.identity import Platform, UserRef
from alerts.membership import contact_id_for
from alerts.roles import Role
from alerts.zones import canonical_zone
from bot.cli.member_rows import RowError, unreached
from handlers.values import parse_user

COLUMNS = ("name", "email", "country", "organisation", "role", "matrix", "telegram", "accounts", "timezone")
PORTAL_ROLES = {
    "national-focal-point": frozenset({Role.NATIONAL_FOCAL_POINT, Role.OFFICER}),
    "organisational-focal-point": frozenset({Role.ORGANISATIONAL_FOCAL_POINT, Role.OFFICER}),
    "user": frozenset({Role.OFFICER}),
}
ROLE_NAMES = '"National Focal Point", "Organisational Focal Point" or "User"'
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_PART = re.compile(r"[^a-z0-9._-]+")


def _column(header: str) -> str:
    key = re.sub(r"[\s\-]+", "_", header.strip().lower())
    key = key.removesuffix("_id") if key not in ("id",) else key
    return {"organization": "organisation", "org": "organisation", "e_mail": "email", "email_address": "email",
            "time_zone": "timezone", "full_name": "name"}.get(key, key)


def is_portal_header(header: Iterable[str]) -> bool:
    """The portal's list has one `role` a row; the bot's own CSV has `roles` and `id`."""
    columns = {_column(h) for h in header if h}
    return "role" in columns and "roles" not in columns


@dataclass(frozen=True)
class PortalRow:
    line: int
    cells: dict[str, str]


def read_portal(text: str) -> tuple[list[PortalRow], list[str]]:
    """The rows with their line numbers, and the header's unknown columns (which refuse the file)."""
    reader = csv.reader(io.StringIO(text))
    header = [_column(h) for h in next(reader, [])]
    unknown = [h for h in header if h and h not in COLUMNS]
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue  # a blank line is no member
        rows.append(PortalRow(reader.line_num, {k: (v or "").strip() for k, v in zip(header, cells) if k}))
    return rows, unknown


def _place(cells: dict[str, str], directory: Directory, role: frozenset[Role] | None,
           problems: list[str]) -> tuple[Organisation | None, str | None]:
    country_text, org_text = cells.get("country", ""), cells.get("organisation", "")
    org = directory.organisation(org_text) if org_text else None
    if org is not None and org.kind is not OrgKind.COUNTRY:
        if country_text and country_code(country_text) is None and directory.organisation(country_text) is None:
            problems.append(f"country: {country_text!r} is not a country (ISO code or name)")
        if role is not None and Role.NATIONAL_FOCAL_POINT in role:
            problems.append(f"role: a National Focal Point is of a country, and {org.name} is none")
        return org, None
    country = directory.organisation(country_text) if country_text else None
    if country is None or country.kind is not OrgKind.COUNTRY:
        what = f"{country_text!r} is not a country of the network" if country_text else "expected a country"
        extra = f" and organisation {org_text!r} is no organisation of the network" if org_text else ""
        problems.append(f"country: {what}{extra}")
        return None, None
    desk: str | None = None
    if org_text and (org is None or org.code != country.code):
        wanted = org_text.lower()
        desk = next((d for d in country.desks if d == wanted), None)
        if desk is None:
            has = f" (its desks: {', '.join(country.desks)})" if country.desks else " (it has no desks)"
            problems.append(f"organisation: {org_text!r} is neither an organisation of the network nor a desk "
                            f"of {country.name}{has}")
            return None, None
    if role is not None and Role.ORGANISATIONAL_FOCAL_POINT in role and desk is None:
        problems.append(f"role: an Organisational Focal Point in {country.name} stands for one of its desks; "
                        f"name it in organisation ({', '.join(country.desks) or 'it has none'})")
    return country, desk


def _accounts(cells: dict[str, str], problems: list[str]) -> list[UserRef]:
    raw: list[tuple[str, str]] = []
    if cells.get("matrix"):
        text = cells["matrix"]
        raw.append(("matrix", text if text.lower().startswith("matrix:") else f"matrix:{text}"))
    if cells.get("telegram"):
        text = cells["telegram"]
        raw.append(("telegram", text if text.lower().startswith("telegram:") else f"telegram:user:{text}"))
    raw += [("accounts", part.strip()) for part in re.split(r"[;\s]+", cells.get("accounts", "")) if part.strip()]
    found: list[UserRef] = []
    for column, text in raw:
        try:
            identity = UserRef.parse(parse_user(text))
        except (InvalidValue, ValueError):
            problems.append(f"{column}: {text!r} is not an account like @alice:example.org, 42 (a Telegram user "
                            "id, not a username) or console:alice")
            continue
        if identity not in found:
            found.append(identity)
    if not raw:
        problems.append("accounts: expected at least one account (matrix, telegram or accounts): the bot reaches "
                        "people only there")
    return found


def check_portal_rows(rows: list[PortalRow], directory: Directory, configured: frozenset[str] = frozenset(),
                      platforms: AbstractSet[Platform] | None = None) -> tuple[list[Contact], list[RowError]]:
    """Each row to the contact it adds or updates; all errors, not the first. `configured`: the ids
    the configuration file names, which it sets again at every start: updating one here would not last.
    `platforms`: those the bot runs (None: every one)."""
    contacts: list[Contact] = []
    errors: list[RowError] = []
    claimed: dict[UserRef, int] = {}
    emails: dict[str, int] = {}
    updated: dict[str, int] = {}
    taken = set(directory.contacts)
    for row in rows:
        cells, problems = row.cells, []
        name = cells.get("name", "")
        if not name:
            problems.append("name: expected a name")
        email = cells.get("email", "").lower()
        if email and not _EMAIL.match(email):
            problems.append(f"email: {email!r} is not an email address")
        elif email and email in emails:
            problems.append(f"email: {email} is on row {emails[email]} too")
        elif email:
            emails[email] = row.line
        role_text = "-".join(cells.get("role", "").lower().replace("_", " ").replace("organizational",
                                                                                       "organisational").split())
        roles = PORTAL_ROLES.get(role_text)
        if roles is None:
            problems.append(f"role: expected {ROLE_NAMES}, got {cells.get('role', '')!r}")
        org, desk = _place(cells, directory, roles, problems)
        accounts = _accounts(cells, problems)
        owners = {c.id for a in accounts if (c := directory.contact_for(a)) is not None}
        for account in accounts:
            if claimed.get(account, row.line) != row.line:
                problems.append(f"accounts: {account} is on row {claimed[account]} too")
            claimed.setdefault(account, row.line)
        if len(owners) > 1:
            problems.append(f"accounts: they belong to different people ({', '.join(sorted(owners))})")
        existing = directory.contacts.get(next(iter(owners))) if len(owners) == 1 else None
        if existing is not None and existing.id in configured:
            problems.append(f"accounts: they are {existing.id}'s, whom the configuration file names and sets again "
                            "at every start: change them there")
        if existing is not None and existing.id in updated:
            problems.append(f"accounts: {existing.id} is on row {updated[existing.id]} too")
        unrun = unreached("accounts", [*accounts, *(existing.identities if existing is not None else ())], platforms)
        if unrun is not None:
            problems.append(unrun)
        timezone = cells.get("timezone", "")
        if timezone:
            zone = canonical_zone(timezone)  # the rule of /member add's tz: (alerts.zones)
            if zone is None:
                problems.append(f"timezone: {timezone!r} is not an IANA time zone like Asia/Bangkok")
            timezone = zone or timezone
        who = existing.id if existing is not None else (email or name)
        errors += [RowError(row.line, who, p) for p in problems]
        if problems or org is None or roles is None:
            continue
        if existing is not None:
            updated[existing.id] = row.line
            kept = existing.roles - FOCAL_POINTS - {Role.OFFICER}
            contacts.append(replace(existing, name=name, organisation=org.code, desk=desk, roles=kept | roles,
                                    identities=(*existing.identities,
                                                *(a for a in accounts if a not in existing.identities)),
                                    timezone=timezone or existing.timezone))
            continue
        cid = _new_id(email, accounts[0], taken)
        taken.add(cid)
        contacts.append(Contact(cid, name, org.code, roles, tuple(accounts), desk, timezone))
    return contacts, errors


def _new_id(email: str, first: UserRef, taken: set[str]) -> str:
    local = _ID_PART.sub("-", email.partition("@")[0]).strip("._-")[:60] if email else ""
    if not local or not local[0].isalnum():
        return contact_id_for(first, taken)
    if local not in taken:
        return local
    n = 2
    while f"{local}-{n}" in taken:
        n += 1
    return f"{local}-{n}"
