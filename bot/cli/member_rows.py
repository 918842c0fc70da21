"""Rows of people for `liaison-bot member import` and `export`: reading CSV or TOML, checking every
row against the directory and the other rows (all errors, not the first), and rendering an export."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.directory import Contact, Directory
from alerts.errors import InvalidValue
from alerts.identity import Platform, UserRef
from alerts.reachability import ACCOUNT_EXAMPLES, example_platform, not_run, running_text
from alerts.roles import ACCEPTED as ROLES_ACCEPTED
from alerts.roles import Role
from alerts.zones import canonical_zone
from handlers.values import parse_user

FIELDS = ("id", "name", "organisation", "roles", "desk", "identities", "timezone", "backup")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,199}$")

# --- reading and checking rows ---------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    row: int
    who: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}{f' ({self.who})' if self.who else ''}: {self.message}"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The file's rows as dicts of FIELDS; roles and identities as lists."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        data = tomllib.loads(text)
        rows = data.get("contacts", data.get("network", {}).get("contacts", []))
        return [dict(r) for r in rows]
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        for many in ("roles", "identities"):
            row[many] = [part.strip() for part in re.split(r"[;\s]+", row.get(many, "")) if part.strip()]
        rows.append(row)
    return rows


def unreached(column: str, accounts: Iterable[UserRef], platforms: AbstractSet[Platform] | None) -> str | None:
    """The problem of a row none of whose accounts is on a platform the bot runs (nothing could ever
    reach that person), or None."""
    accounts = list(accounts)
    if not accounts or any(not_run(a.platform, platforms) is None for a in accounts):
        return None
    assert platforms is not None  # not_run found a platform outside them
    return (f"{column}: none of {', '.join(str(a) for a in accounts)} is on a platform this bot runs (it runs "
            f"{running_text(platforms)}): nothing could reach them; give an account such as "
            f"{ACCOUNT_EXAMPLES[example_platform(platforms)]}")


def check_rows(rows: list[dict[str, Any]], directory: Directory, first: int = 1,
               platforms: AbstractSet[Platform] | None = None) -> tuple[list[Contact], list[RowError]]:
    """Every row checked against the directory and the other rows; all errors, not the first.
    Rows are numbered from `first` (2 for CSV: the header is line 1). `platforms`: those the bot
    runs (None: every one)."""
    contacts: list[Contact] = []
    errors: list[RowError] = []
    claimed: dict[UserRef, str] = {}
    ids = {str(r.get("id", "")).strip().lower() for r in rows}
    seen_ids: set[str] = set()
    for number, row in enumerate(rows, start=first):
        cid = str(row.get("id", "")).strip().lower()
        problems: list[str] = []
        unknown = sorted(set(row) - set(FIELDS))
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}")
        if not _ID.match(cid):
            problems.append("id: expected lower-case letters, digits, '.', '_' or '-', like th-immigration")
        elif cid in seen_ids:
            problems.append(f"id: {cid} is given twice in the file")
        seen_ids.add(cid)
        name = str(row.get("name", "")).strip()
        if not name:
            problems.append("name: expected a name")
        org = directory.organisation(str(row.get("organisation", "")))
        if org is None:
            problems.append(f"organisation: {row.get('organisation', '')!r} is not in the network")
        roles: set[Role] = set()
        for raw in row.get("roles") or []:
            try:
                roles.add(Role.parse(str(raw)))
            except InvalidValue:
                problems.append(f"roles: {raw!r} is not one of {ROLES_ACCEPTED}")
        if not row.get("roles"):
            problems.append("roles: expected at least one role")
        desk = str(row.get("desk") or "").strip().lower() or None
        if desk and org is not None and desk not in org.desks:
            problems.append(f"desk: {org.name} has no desk {desk!r}" + (f" (it has {', '.join(org.desks)})"
                                                                      if org.desks else ""))
        identities: list[UserRef] = []
        for raw in row.get("identities") or []:
            try:
                identity = UserRef.parse(parse_user(str(raw)))
            except InvalidValue:
                problems.append(f"identities: {raw!r} is not an account like console:alice, telegram:user:42 or "
                                "matrix:@alice:example.org")
                continue
            owner = directory.contact_for(identity)
            if owner is not None and owner.id != cid:
                problems.append(f"identities: {identity} belongs to {owner.id}")
            elif claimed.get(identity, cid) != cid:
                problems.append(f"identities: {identity} is given to {claimed[identity]} too")
            claimed.setdefault(identity, cid)
            identities.append(identity)
        if not row.get("identities"):
            problems.append("identities: expected at least one account")
        unrun = unreached("identities", identities, platforms)
        if unrun is not None:
            problems.append(unrun)
        # Empty: none of their own (the network's default_timezone), as `member export` writes it.
        timezone = str(row.get("timezone") or "").strip()
        if timezone:
            zone = canonical_zone(timezone)  # the rule of /member add's tz: (alerts.zones)
            if zone is None:
                problems.append(f"timezone: {timezone!r} is not an IANA time zone like Asia/Bangkok")
            timezone = zone or timezone
        backup = str(row.get("backup") or "").strip().lower() or None
        if backup and backup not in directory.contacts and backup not in ids:
            problems.append(f"backup: {backup} is neither in the directory nor in the file")
        if backup == cid and cid:
            problems.append("backup: someone cannot be their own backup")
        errors += [RowError(number, cid, p) for p in problems]
        if not problems and org is not None:
            contacts.append(Contact(cid, name, org.code, frozenset(roles), tuple(identities), desk, timezone, backup))
    return contacts, errors


def export_rows(directory: Directory) -> list[dict[str, Any]]:
    return [{"id": c.id, "name": c.name, "organisation": c.organisation,
             "roles": sorted(r.value for r in c.roles), "desk": c.desk or "",
             "identities": [str(i) for i in c.identities], "timezone": c.timezone, "backup": c.backup or ""}
            for c in directory.contacts.values()]


def render_export(directory: Directory, form: str) -> str:
    rows = export_rows(directory)
    if form == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "roles": ";".join(row["roles"]), "identities": ";".join(row["identities"])})
        return out.getvalue()
    blocks = []
    for row in rows:
        lines = ["[[contacts]]"]
        for key in FIELDS:
            value = row[key]
            if value in ("", []):
                continue
            lines.append(f"{key} = {_toml_value(value)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
