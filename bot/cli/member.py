"""`liaison-bot member`: the directory's people from the command line.

    liaison-bot member import FILE [--dry-run] [--as ADMIN]     # .csv or .toml; every row checked first
                                                                # (a CSV with a `role` column: the portal's list)
    liaison-bot member export [--format csv|toml] [--output PATH]
    liaison-bot member add USER --country TH --role contact [--desk D] [--name N] [--backup B] [--tz Z] [--as ADMIN]
    liaison-bot member remove USER [--reason TEXT] [--dry-run] [--as ADMIN]   # USER: an account or a contact id

A refusal (someone not in the directory, a country or desk the network lacks, a backup who is not
someone else in it) changes nothing, is printed on standard error and exits 1; a value that is not
valid (a role, a time zone, a name: the rules of /member add, handlers/parse_admin.py) exits 2.

Changes go through the same code as /member (handlers/membership.py), in one transaction with
their audit entries; the room actions they plan are outbox rows that the running bot carries out.
An import with any invalid row changes nothing and lists every error. `--as` names the admin
(a contact with the admin role) the audit records; by default the first admin in the directory.
A running bot picks the changes up within a few seconds (bot/runtime/serve.py _follow_directory).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import sys
import tomllib
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from alerts.audit import AuditAction
from alerts.directory import Contact, Directory
from alerts.errors import InvalidValue
from alerts.identity import ChatRef, Platform
from alerts.membership import PlannedAction, Run, onboarding_plan
from alerts.messages import InboundMessage
from alerts.roles import ACCEPTED as ROLES_ACCEPTED
from alerts.roles import Role
from bot.config.settings import Settings
from bot.cli.context import new_private_file
from bot.cli.member_portal import COLUMNS as PORTAL_COLUMNS
from bot.cli.member_portal import check_portal_rows, is_portal_header, read_portal
from bot.cli.member_rows import RowError, check_rows, read_rows, render_export
from handlers.commands import MemberAddCommand, MemberRemoveCommand
from handlers.context import CommandContext
from handlers.parse_admin import member_name_problem, member_zone, member_zone_problem
from handlers.values import parse_user

CLI_ADD_EXAMPLE = ('liaison-bot member add @somchai:example.org --country TH --role contact --name "Somchai P." '
                   '--backup @kanya:example.org --tz Asia/Bangkok')
CLI_CHAT = ChatRef(Platform.CONSOLE, "@liaison-cli")  # answers to it are printed, never queued


def register(subparsers: Any, settings_from_args: Callable[[argparse.Namespace], Settings],
             common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []
    member = subparsers.add_parser("member", help="add, remove, import and export the directory's people")
    actions = member.add_subparsers(dest="member_command", required=True, metavar="ACTION")

    def runs(fn: Callable[[argparse.Namespace, Settings], int]) -> Callable[[argparse.Namespace], int]:
        return lambda args: fn(args, settings_from_args(args))

    p = actions.add_parser("import", parents=parents,
                           help="add or update contacts from a CSV or TOML file, or the portal's member list (CSV)")
    p.add_argument("file", type=Path)
    p.add_argument("--dry-run", action="store_true", help="check and show what would change; change nothing")
    p.add_argument("--as", dest="admin", help="the admin the audit records (a contact id)")
    p.set_defaults(handler=runs(cmd_import))

    p = actions.add_parser("export", parents=parents, help="write the directory's contacts as CSV or TOML")
    p.add_argument("--format", choices=("csv", "toml"), default="csv")
    p.add_argument("--output", type=Path, help="a new file, made 0600 (default: standard output)")
    p.set_defaults(handler=runs(cmd_export))

    p = actions.add_parser("add", parents=parents, help="as /member add: add a person and bring them into their rooms",
                           description="As /member add: add a person (or, for someone already in the directory, "
                                       "add the role and change only what is given) and bring them into their "
                                       f"rooms. Example: {CLI_ADD_EXAMPLE}")
    p.add_argument("user", help="an account: console:alice, telegram:user:42, @alice:example.org")
    p.add_argument("--country", "--org", dest="organisation", required=True,
                   help="the organisation's code in the network, as TH (as country: or org:)")
    p.add_argument("--role", required=True, help=f"what they do (as role:): {ROLES_ACCEPTED}")
    p.add_argument("--desk", help="a desk of their organisation, as immigration (as desk:)")
    p.add_argument("--name", help='how the bot names them, one line of up to 100 characters, as "Somchai P." '
                                  "(as name:; default: their account's name)")
    p.add_argument("--backup", help="who takes over their open items when they leave: a contact id or an account "
                                    "in the directory (as backup:)")
    p.add_argument("--tz", help="their time zone, an IANA zone such as Asia/Bangkok, or default: the network's "
                                "default_timezone (as tz:; without it, someone new follows that default and "
                                "someone known keeps theirs)")
    p.add_argument("--as", dest="admin", help="the admin the audit records (a contact id; default: the first admin)")
    p.set_defaults(handler=runs(cmd_add))

    p = actions.add_parser("remove", parents=parents, help="as /member remove: offboard from every room, hand over items")
    p.add_argument("user", help="an account or a contact id")
    p.add_argument("--reason", help="why they leave: recorded, and shown to them where the platform shows one")
    p.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    p.add_argument("--as", dest="admin", help="the admin the audit records (a contact id; default: the first admin)")
    p.set_defaults(handler=runs(cmd_remove))


# --- the commands ------------------------------------------------------------------------------------

class _Session:
    """A runtime (migrated, seeded) for one CLI command; closed at the end."""

    def __init__(self, settings: Settings) -> None:
        from bot.runtime.app import build_runtime
        self.runtime = build_runtime(settings, out=io.StringIO(), notice=sys.stderr)
        self.uow_factory = self.runtime.uow_factory

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
        text = args.file.read_text(encoding="utf-8")
        portal = args.file.suffix.lower() != ".toml" and is_portal_header(next(csv.reader(io.StringIO(text)), []))
        rows = [] if portal else read_rows(args.file)
        portal_rows, unknown = read_portal(text) if portal else ([], [])
    except OSError as error:
        print(f"error: {args.file}: {_unreadable(args.file, error)}; {IMPORT_ACCEPTS}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as error:
        print(f"error: {args.file}: not UTF-8 text (byte {error.start}); {IMPORT_ACCEPTS}", file=sys.stderr)
        return 1
    except (tomllib.TOMLDecodeError, csv.Error) as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 1
    session = _Session(settings)
    try:
        directory = session.runtime.directory.current()
        if portal:
            contacts, errors = check_portal_rows(portal_rows, directory, frozenset(settings.directory().contacts),
                                                 settings.enabled_platforms())
            if unknown:  # a column the bot would ignore could be a role or a country it must not miss
                errors.insert(0, RowError(1, "", f"unknown column(s) {', '.join(unknown)}; expected "
                                                 f"{', '.join(PORTAL_COLUMNS)}"))
            count = len(portal_rows)
        else:
            contacts, errors = check_rows(rows, directory, 1 if args.file.suffix.lower() == ".toml" else 2,
                                          settings.enabled_platforms())
            count = len(rows)
        if errors:
            print(f"{args.file}: {len(errors)} error{'s' if len(errors) != 1 else ''}; nothing was changed.",
                  file=sys.stderr)
            for problem in errors:
                print(f"  {problem}", file=sys.stderr)
            return 1
        admin = _admin(directory, args.admin)
        if admin is None:
            return _no_admin(args.admin)
        new = [c for c in contacts if c.id not in directory.contacts]
        changed = [c for c in contacts if c.id in directory.contacts and directory.contacts[c.id] != c]
        print(f"{args.file}: {count} rows valid{' (the portal member list)' if portal else ''}; {len(new)} to add, "
              f"{len(changed)} to update, {len(contacts) - len(new) - len(changed)} unchanged.")
        for c in new:
            print(f"  add {c.id} ({c.organisation}{'/' + c.desk if c.desk else ''}, "
                  f"{', '.join(sorted(r.value for r in c.roles))})")
        for c in changed:
            print(f"  update {c.id}: {_changes(directory.contacts[c.id], c)}")
        if args.dry_run:
            print("Dry run: nothing was changed.")
            return 0
        _apply_import(session, directory, admin, new, changed, str(args.file))
        print(f"Imported: {len(new)} added, {len(changed)} updated; their room invitations are queued for the bot.")
        return 0
    finally:
        session.close()


IMPORT_ACCEPTS = ("give a .csv or .toml file of members (as `member export` writes) or the portal's member list, "
                  "e.g. liaison-bot member import people.csv")


def _unreadable(path: Path, error: OSError) -> str:
    """Why the file cannot be read, in words (never Python's `[Errno 2] …`)."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError) or path.is_dir():
        return "a folder, not a file"
    return f"cannot be read ({error.strerror or type(error).__name__})"


def _changes(before: Contact, after: Contact) -> str:
    """What an update changes, field by field: `roles contact -> contact, officer`."""
    def shown(contact: Contact, field: str) -> str:
        value = getattr(contact, field)
        if field == "roles":
            return ", ".join(sorted(r.value for r in value))
        if field == "identities":
            return ", ".join(str(i) for i in value)
        return str(value) if value else "none"

    fields = ("name", "organisation", "desk", "roles", "identities", "timezone", "backup")
    return "; ".join(f"{f} {shown(before, f)} -> {shown(after, f)}" for f in fields
                     if getattr(before, f) != getattr(after, f))


def _apply_import(session: _Session, directory: Directory, admin: Contact, new: list[Contact],
                  changed: list[Contact], source: str) -> None:
    now = session.runtime.clock.now()
    op = uuid.uuid4().hex
    after = Directory.build(directory.organisations.values(),
                            [*(next((c for c in changed if c.id == d.id), d) for d in directory.contacts.values()),
                             *new], directory.rooms, directory.arrangements, default_zone=directory.default_zone)
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


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    session = _Session(settings)
    try:
        text = render_export(session.runtime.directory.current(), args.format)
    finally:
        session.close()
    if args.output:
        out = new_private_file(args.output, "people.csv")  # people's names and accounts
        if out is None:
            return 1
        with out:
            out.write(text)
        print(f"Wrote {args.output}.")
    else:
        sys.stdout.write(text)
    return 0


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
            # Answers are printed, not queued, and no progress notices are planned: nobody is in a chat.
            # The platforms `run` starts with this file: an account elsewhere could never be reached.
            ctx = CommandContext(uow=uow, message=message, sender=admin, directory=directory,
                                 now=now, new_key=lambda: next(keys), in_chat=False,
                                 platforms=settings.enabled_platforms())
            run(ctx)
            # A refusal changes nothing in the directory: its answer is an error a script must see.
            done = uow.directory_writer.changed
            if dry_run and done:
                # The handler answers as if done: framed first, and indented, as what would be.
                print("Dry run: nothing was changed. Without --dry-run, this would be done, and answered:")
                for answer in ctx.answers:
                    print("\n".join(f"  {line}" for line in answer.splitlines()))
            else:
                for answer in ctx.answers:
                    print(answer, file=sys.stdout if done else sys.stderr)
            if not dry_run:
                uow.commit()  # a refusal too: the audit log records it
        return 0 if done else 1
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
    zone = member_zone(args.tz)
    problem = member_zone_problem(zone) or member_name_problem(args.name)
    if problem is not None:
        print(f"{problem} Example: {CLI_ADD_EXAMPLE}", file=sys.stderr)
        return 2
    organisation = args.organisation.strip().upper()
    command = MemberAddCommand(user, organisation, role, args.desk.lower() if args.desk else None,
                               args.name, args.backup, zone)
    return _run_handler(settings, args.admin, False, lambda ctx: member_add(ctx, command))


def _account_or_id(text: str) -> str:
    """An account as /member add reads it (`@alice:example.org` is `matrix:@alice:example.org`), or else
    a contact id as typed."""
    try:
        return parse_user(text)
    except InvalidValue:
        return text.strip()


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.membership import member_remove

    command = MemberRemoveCommand(_account_or_id(args.user), args.reason)
    return _run_handler(settings, args.admin, args.dry_run, lambda ctx: member_remove(ctx, command))

