"""`liaison-bot audit verify|export|show|erase`: the auditor's commands.

bot.cli.main hooks these in with register(subparsers, load_context, common). Each handler is set as
`handler` on its subparser, takes the parsed args and returns the exit code. load_context(args)
is called only when a command runs (so `--help` needs no configuration) and returns an object
with the attributes of AuditContext below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from alerts.clock import Clock
from alerts.errors import InvalidValue
from alerts.items import Reference
from bot.cli.context import new_private_file
from bot.ops.leadership import InstanceActive
from storage import key_binding
from storage.audit.log import AuditHeadCorrupt
from storage.keyring import Keyring, KeyringError
from storage.audit import erase, export, show, verify
from storage.audit.erasure import case_known


class AuditContext(Protocol):
    """What the audit and key commands need from the configuration.

    engine: the bot's database; keyring_path: the key file; witness_path: the checkpoint witness
    file, or None where none is configured; clock: UTC time; actor: who is running the command
    (recorded in the audit entries the commands write), e.g. "cli:alice" from the OS user.
    Optionally `organisation_of(contact_id) -> str | None` from the directory, which lets
    `export --country` match recipients named by contact id.
    """

    engine: Engine
    keyring_path: Path
    witness_path: Path | None
    clock: Clock
    actor: str


LoadContext = Callable[[argparse.Namespace], AuditContext]
Handler = Callable[[argparse.Namespace, AuditContext], int]


def runs(handler: Handler, load_context: LoadContext) -> Callable[[argparse.Namespace], int]:
    """The subparser's `handler`: loads the context, runs, and turns the expected failures (key
    file, output file) into a message on stderr and exit code 1."""
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args, load_context(args))
        except BrokenPipeError:
            # The reader stopped early (`| head`): what was consulted is recorded already.
            _quiet_stdout()
            return 1
        except (KeyringError, AuditHeadCorrupt, InstanceActive, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return run


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def keyring_of(ctx: AuditContext, *, records: bool = True) -> Keyring:
    """The key file, checked against the database it is used with (KeyFileMismatch names the right
    one, and so does a missing one); a command that records in the log binds the database to it on
    first use."""
    keyring = key_binding.load_for(ctx.engine, ctx.keyring_path)
    if records:
        key_binding.bind(ctx.engine, keyring)
    else:
        key_binding.check(ctx.engine, keyring)
    return keyring


def register(subparsers: Any, load_context: LoadContext, common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []
    audit = subparsers.add_parser("audit", help="verify, export, show and erase the audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    p = actions.add_parser("verify", parents=parents, help="check the chain, the checkpoints and the witness; "
                                                           "exit 1 naming the first bad entry")
    p.add_argument("--workers", type=int, default=None, help="processes to scan with (default: one per CPU "
                                                             "for large logs)")
    p.set_defaults(handler=runs(cmd_verify, load_context), existing_database=True)

    p = actions.add_parser("export", parents=parents, help="decrypt entries for an auditor (JSON lines or CSV); "
                                                           "the export is itself recorded")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--since", type=_when, help="from this UTC time or date (inclusive)")
    p.add_argument("--until", type=_when, help="up to this UTC time or date (exclusive)")
    p.add_argument("--reference", type=_reference, help="one item, e.g. A-2026-0042")
    p.add_argument("--country", help="entries whose recipients belong to this country or organisation")
    p.add_argument("--recipient", help="entries with a recipient containing this text")
    p.add_argument("--purpose", help="why you export (recorded with the export)")
    p.add_argument("--output", "-o", default="-", help="file to write (created 0600), or - for stdout")
    p.set_defaults(handler=runs(cmd_export, load_context), existing_database=True)

    p = actions.add_parser("show", parents=parents, help="the trail of one item: who received what, when, "
                                                         "how and why (recorded as a consultation)")
    p.add_argument("reference", type=_reference, help="an item, e.g. A-2026-0042")
    p.add_argument("--purpose", help="why you look (recorded)")
    p.set_defaults(handler=runs(cmd_show, load_context), existing_database=True)

    p = actions.add_parser("erase", parents=parents, help="destroy one case's key: its content becomes "
                                                          "unreadable everywhere; the log still verifies")
    p.add_argument("reference", type=_reference, help="an item, e.g. A-2026-0042")
    p.add_argument("--reason", required=True, type=_reason, help="why (recorded with the erasure)")
    p.set_defaults(handler=runs(cmd_erase, load_context), existing_database=True)


def cmd_verify(args: argparse.Namespace, ctx: AuditContext) -> int:
    if args.workers is not None and args.workers < 1:
        print(f"error: --workers {args.workers}: give a number of processes, 1 or more (or leave it out for one "
              "per CPU), e.g. --workers 4", file=sys.stderr)
        return 1
    report = verify(ctx.engine, keyring_of(ctx, records=False), ctx.witness_path, workers=args.workers)
    print("\n".join(report.lines()))  # one line per finding
    if ctx.witness_path is None:
        print("note: no witness file is configured, so truncation is only checked against the database",
              file=sys.stderr)
    return 0 if report.ok else 1


def cmd_export(args: argparse.Namespace, ctx: AuditContext) -> int:
    if args.since is not None and args.until is not None and args.since >= args.until:
        # It would export nothing and still record an export.
        print(f"error: --since {_shown(args.since)} is not before --until {_shown(args.until)}: the period holds "
              "nothing (--until is excluded); give --since earlier than --until, e.g. "
              "--since 2026-11-01 --until 2026-12-01", file=sys.stderr)
        return 1
    keyring = keyring_of(ctx)
    checked = _checked(ctx, keyring, "exported")
    options = dict(since=args.since, until=args.until, reference=args.reference, country=args.country,
                   recipient=args.recipient, actor=ctx.actor, purpose=args.purpose, clock=ctx.clock,
                   organisation_of=getattr(ctx, "organisation_of", None), **checked)
    if args.output == "-":
        count = export(ctx.engine, keyring, sys.stdout, args.format, **options)
    else:
        out = new_private_file(args.output, "nov.csv")  # decrypted content
        if out is None:
            return 1
        with out:
            count = export(ctx.engine, keyring, out, args.format, **options)
    print(f"exported {count} entries; the export is recorded in the audit log", file=sys.stderr)
    return 0 if checked["verified"] else 1


def cmd_show(args: argparse.Namespace, ctx: AuditContext) -> int:
    keyring = keyring_of(ctx)
    checked = _checked(ctx, keyring, "shown")
    entries = show(ctx.engine, keyring, args.reference, sys.stdout, actor=ctx.actor,
                   purpose=args.purpose, clock=ctx.clock, **checked)
    return 0 if entries and checked["verified"] else 1


def _checked(ctx: AuditContext, keyring: Keyring, done: str) -> dict[str, Any]:
    """The log verified as `audit verify` does, before anything of it is shown or exported: when it
    verifies, only what it covered is (`upto`: entries appended since wait for the next reading); when
    it does not, one `error:` line says so first, and everything is written as stored (what an auditor
    looking into it needs), the caller exiting 1. `verified` is recorded with the reading."""
    report = verify(ctx.engine, keyring, ctx.witness_path)
    if report.ok:
        return {"upto": report.entries, "verified": True}
    print(f"error: {report.summary()}; the entries {done} are as stored, and may have been altered: "
          "`liaison-bot audit verify` names every finding", file=sys.stderr)
    return {"upto": None, "verified": False}


def cmd_erase(args: argparse.Namespace, ctx: AuditContext) -> int:
    keyring = keyring_of(ctx)
    with ctx.engine.connect() as connection:
        known = case_known(connection, args.reference)
    if not known:
        # A typo must not be recorded as an erasure done while the case meant stays readable.
        print(f"error: {args.reference}: no item or case of that reference here; nothing was erased. Check the "
              "reference as the item's receipt gives it, e.g. A-2026-0042 or R-2026-0017", file=sys.stderr)
        return 1
    erased = erase(ctx.engine, keyring, args.reference, reason=args.reason,
                   actor=ctx.actor, clock=ctx.clock)
    if erased.key_destroyed:
        print(f"{args.reference}: its key is destroyed; its content can no longer be read. The erasure is recorded.")
    else:
        print(f"{args.reference}: no live key was left (already erased, or nothing was stored); recorded anyway.")
    if erased.item_closed:
        print(f"{args.reference}: the item is closed as erased; {erased.outbox_cancelled} unsent message(s) "
              "cancelled. Every command about it now says when and why it was erased.")
    return 0


def _reference(text: str) -> str:
    """An item reference as the chat reads it (any case, spaces around): stored upper case."""
    try:
        return str(Reference.parse(text))
    except InvalidValue:
        raise argparse.ArgumentTypeError(f"{text!r} is not an item reference: expected A-YYYY-NNNN or "
                                         "R-YYYY-NNNN, e.g. A-2026-0042") from None


def _reason(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the reason is recorded with the erasure: say why, e.g. "
                                         "--reason \"retention period over\"")
    return text.strip()


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time, e.g. 2026-11-23 or "
                                         "2026-11-23T09:00") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _shown(moment: datetime) -> str:
    """A moment as the operator would have typed it: a date alone at midnight UTC."""
    utc = moment.astimezone(timezone.utc)
    if utc.time() == datetime.min.time():
        return utc.date().isoformat()
    return utc.replace(tzinfo=None).isoformat(timespec="seconds" if utc.microsecond == 0 else "microseconds") + "Z"
