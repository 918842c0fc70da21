"""`liaison-bot member`: the directory's people from the command line.

    liaison-bot member import FILE [--dry-run] [--as ADMIN]     # .csv or .toml; every row checked first
    liaison-bot member export [--format csv|toml] [--output PATH]
    liaison-bot member add USER --country TH --role contact [--desk D] [--as ADMIN]
    liaison-bot member remove USER [--reason TEXT] [--dry-run] [--as ADMIN]

Changes go through the same code as /member (handlers/membership.py), in one transaction with
their audit entries; the room actions they plan are outbox rows that the running bot carries out.
An import with any invalid row changes nothing and lists every error. `--as` names the admin
(a contact with the admin role) the audit records; by default the first admin in the directory.
The running bot sees changes made here at its next start, or at its next directory change.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import re
import sys
import tomllib
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.audit import AuditAction
from alerts.directory import Contact, Directory
from alerts.errors import InvalidValue
from alerts.identity import ChatRef, Platform, UserRef
from alerts.membership import PlannedAction, Run, onboarding_plan
from alerts.messages import InboundMessage, OutboundMessage
from alerts.roles import Role
from alerts.routing import Destination
from bot.config import Settings
from handlers.commands import MemberAddCommand, MemberRemoveCommand
from handlers.context import CommandContext
from handlers.values import parse_user

FIELDS = ("id", "name", "organisation", "roles", "desk", "identities", "timezone", "backup")
CLI_CHAT = ChatRef(Platform.CONSOLE, "@liaison-cli")  # answers to it are printed, never queued
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,199}$")


def register(subparsers: Any, settings_from_args: Callable[[argparse.Namespace], Settings],
             common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []
    member = subparsers.add_parser("member", help="add, remove, import and export the directory's people")
    actions = member.add_subparsers(dest="member_command", required=True, metavar="ACTION")

    def runs(fn: Callable[[argparse.Namespace, Settings], int]) -> Callable[[argparse.Namespace], int]:
        return lambda args: fn(args, settings_from_args(args))

    p = actions.add_parser("import", parents=parents, help="add or update contacts from a CSV or TOML file")
    p.add_argument("file", type=Path)
    p.add_argument("--dry-run", action="store_true", help="check and show what would change; change nothing")
    p.add_argument("--as", dest="admin", help="the admin the audit records (a contact id)")
    p.set_defaults(handler=runs(cmd_import))

    p = actions.add_parser("export", parents=parents, help="write the directory's contacts as CSV or TOML")
    p.add_argument("--format", choices=("csv", "toml"), default="csv")
    p.add_argument("--output", type=Path, help="a file (default: standard output)")
    p.set_defaults(handler=runs(cmd_export))

    p = actions.add_parser("add", parents=parents, help="as /member add: add a person and bring them into their rooms")
    p.add_argument("user", help="an account: console:alice, telegram:user:42, @alice:example.org")
    p.add_argument("--country", "--org", dest="organisation", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--desk")
    p.add_argument("--as", dest="admin")
    p.set_defaults(handler=runs(cmd_add))

    p = actions.add_parser("remove", parents=parents, help="as /member remove: offboard from every room, hand over items")
    p.add_argument("user", help="an account or a contact id")
    p.add_argument("--reason")
    p.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    p.add_argument("--as", dest="admin")
    p.set_defaults(handler=runs(cmd_remove))


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


def check_rows(rows: list[dict[str, Any]], directory: Directory, first: int = 1) -> tuple[list[Contact], list[RowError]]:
    """Every row checked against the directory and the other rows; all errors, not the first.
    Rows are numbered from `first` (2 for CSV: the header is line 1)."""
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
                problems.append(f"roles: {raw!r} is not officer, contact, coordinator, admin or auditor")
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
        timezone = str(row.get("timezone") or "UTC").strip()
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: {timezone!r} is not an IANA time zone like Asia/Bangkok")
        backup = str(row.get("backup") or "").strip().lower() or None
        if backup and backup not in directory.contacts and backup not in ids:
            problems.append(f"backup: {backup} is neither in the directory nor in the file")
        if backup == cid and cid:
            problems.append("backup: someone cannot be their own backup")
        errors += [RowError(number, cid, p) for p in problems]
        if not problems and org is not None:
            contacts.append(Contact(cid, name, org.code, frozenset(roles), tuple(identities), desk, timezone, backup))
    return contacts, errors


# --- the commands ------------------------------------------------------------------------------------

class _Session:
    """A runtime (migrated, seeded) for one CLI command; closed at the end."""

    def __init__(self, settings: Settings) -> None:
        from bot.app import build_runtime
        from bot.membership_gateway import MembershipUnitOfWorkFactory

        self.runtime = build_runtime(settings, out=io.StringIO(), notice=sys.stderr)
        self.uow_factory = MembershipUnitOfWorkFactory(self.runtime.uow_factory, self.runtime.directory)

    def close(self) -> None:
        self.runtime.db.close()
        self.runtime.engine.dispose()


def _admin(directory: Directory, wanted: str | None) -> Contact | None:
    if wanted:
        found = directory.contact(wanted)
        return found if found is not None and found.has(Role.ADMIN) else None
    return next(iter(directory.with_role(Role.ADMIN)), None)


def _no_admin(wanted: str | None) -> int:
    print(f"{wanted or 'No one'} is not an admin in the directory: pass --as ADMIN_ID.", file=sys.stderr)
    return 2


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        rows = read_rows(args.file)
    except (OSError, tomllib.TOMLDecodeError, csv.Error, UnicodeDecodeError) as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return 1
    session = _Session(settings)
    try:
        directory = session.runtime.directory.current()
        contacts, errors = check_rows(rows, directory, 1 if args.file.suffix.lower() == ".toml" else 2)
        if errors:
            print(f"{args.file}: {len(errors)} error{'s' if len(errors) != 1 else ''}; nothing was changed.",
                  file=sys.stderr)
            for error in errors:
                print(f"  {error}", file=sys.stderr)
            return 1
        admin = _admin(directory, args.admin)
        if admin is None:
            return _no_admin(args.admin)
        new = [c for c in contacts if c.id not in directory.contacts]
        changed = [c for c in contacts if c.id in directory.contacts and directory.contacts[c.id] != c]
        print(f"{args.file}: {len(rows)} rows valid; {len(new)} to add, {len(changed)} to update, "
              f"{len(contacts) - len(new) - len(changed)} unchanged.")
        for c in new:
            print(f"  add {c.id} ({c.organisation}{'/' + c.desk if c.desk else ''}, "
                  f"{', '.join(sorted(r.value for r in c.roles))})")
        for c in changed:
            print(f"  update {c.id}")
        if args.dry_run:
            print("Dry run: nothing was changed.")
            return 0
        _apply_import(session, directory, admin, new, changed, str(args.file))
        print(f"Imported: {len(new)} added, {len(changed)} updated; their room invitations are queued for the bot.")
        return 0
    finally:
        session.close()


def _apply_import(session: _Session, directory: Directory, admin: Contact, new: list[Contact],
                  changed: list[Contact], source: str) -> None:
    now = session.runtime.clock.now()
    op = uuid.uuid4().hex
    after = Directory.build(directory.organisations.values(),
                            [*(next((c for c in changed if c.id == d.id), d) for d in directory.contacts.values()),
                             *new], directory.rooms, directory.arrangements)
    ctx_message = InboundMessage(f"cli-{op}", admin.identities[0], CLI_CHAT, "member import", now)
    with session.uow_factory() as uow:
        ctx = CommandContext(uow=uow, message=ctx_message, sender=admin, directory=directory, now=now,
                             new_key=lambda: uuid.uuid4().hex)
        for contact in new:
            uow.directory_writer.add_contact(contact)
        for contact in changed:
            uow.directory_writer.update_contact(contact)
        actions: list[PlannedAction] = []
        for contact in [*new, *changed]:
            present = {room.chat: tuple(uow.membership.present(room.chat) or ()) for room in after.rooms}
            actions += onboarding_plan(contact, after, Run(op, admin.id, None), present).actions
            ctx.audit(AuditAction.ADMIN, recipients=(contact.id,),
                      detail={"command": "member import", "source": source, "contact": contact.id,
                              "change": "add" if contact in new else "update"})
        numbered = [replace(a, total=len(actions)) for a in actions]
        uow.membership.plan(numbered)
        if numbered:
            ctx.audit(AuditAction.MEMBERSHIP, recipients=tuple(sorted({a.contact for a in numbered if a.contact})),
                      detail={"stage": "planned", "why": "import", "op": op, "count": str(len(numbered)),
                              "actions": "; ".join(a.describe() for a in numbered)})
        uow.commit()


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


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    session = _Session(settings)
    try:
        text = render_export(session.runtime.directory.current(), args.format)
    finally:
        session.close()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"Wrote {args.output}.")
    else:
        sys.stdout.write(text)
    return 0


class _CliUnitOfWork:
    """The handlers' unit of work, with answers to CLI_CHAT printed instead of queued, and no
    progress notices planned (nobody is in a chat to read them)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.outbox = self
        self.membership = self

    def enqueue(self, message: OutboundMessage) -> None:
        if message.destination == Destination.chat(CLI_CHAT):
            return
        self._inner.outbox.enqueue(message)

    def enqueue_many(self, messages: Any) -> None:
        for message in messages:
            self.enqueue(message)

    def plan(self, actions: Any) -> int:
        return self._inner.membership.plan([replace(a, reply_chat=None) for a in actions])

    def present(self, room: ChatRef) -> Any:
        return self._inner.membership.present(room)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _run_handler(settings: Settings, admin_id: str | None, dry_run: bool,
                 run: Callable[[CommandContext], None]) -> int:
    session = _Session(settings)
    try:
        directory = session.runtime.directory.current()
        admin = _admin(directory, admin_id)
        if admin is None:
            return _no_admin(admin_id)
        now = session.runtime.clock.now()
        keys = (uuid.uuid4().hex for _ in itertools.count())
        message = InboundMessage(f"cli-{uuid.uuid4().hex}", admin.identities[0], CLI_CHAT, "", now)
        with session.uow_factory() as uow:
            ctx = CommandContext(uow=_CliUnitOfWork(uow), message=message, sender=admin, directory=directory,
                                 now=now, new_key=lambda: next(keys))
            run(ctx)
            for answer in ctx.answers:
                print(answer)
            if dry_run:
                print("Dry run: nothing was changed.")
                return 0
            uow.commit()
        return 0
    finally:
        session.close()


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.membership import member_add

    try:
        role = Role.parse(args.role)
        user = parse_user(args.user)
    except InvalidValue as error:
        print(error, file=sys.stderr)
        return 2
    organisation = args.organisation.strip().upper()
    command = MemberAddCommand(user, organisation, role, args.desk.lower() if args.desk else None)
    return _run_handler(settings, args.admin, False, lambda ctx: member_add(ctx, command))


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.membership import member_remove

    command = MemberRemoveCommand(args.user, args.reason)
    return _run_handler(settings, args.admin, args.dry_run, lambda ctx: member_remove(ctx, command))

