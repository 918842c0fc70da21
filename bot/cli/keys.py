"""`liaison-bot keys generate|rotate`: the key file, and an audit entry (action KEY) for each change.

Registered by bot.cli.main like cli_audit (register(subparsers, load_context, common)); the context is
the same AuditContext. Key material is never printed: only key ids and the public signing key,
which whoever checks checkpoints outside the bot may need.
"""

from __future__ import annotations

import argparse
import base64
import sys
from datetime import datetime, timezone
from typing import Any

from alerts.audit import AuditAction, AuditEvent
from bot.cli.audit import AuditContext, LoadContext, keyring_of, runs
from bot.ops.leadership import instances_stopped
from storage import key_binding
from storage import keyring as keyfile
from storage.audit import SqlAuditLog
from storage.audit.log import AuditHeadCorrupt
from storage.keyring import Keyring, KeyringError
from storage.case_keys import CaseKeys


def register(subparsers: Any, load_context: LoadContext, common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []
    keys = subparsers.add_parser("keys", help="create or rotate the audit key file")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    p = actions.add_parser("generate", parents=parents, help="create the key file (mode 0600)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing key file: everything sealed under its keys becomes unreadable "
                        "(refused while an instance runs)")
    p.set_defaults(handler=runs(cmd_generate, load_context))

    p = actions.add_parser("rotate", parents=parents, help="add a new current master key; old ones stay, so "
                                                           "old entries stay readable")
    p.add_argument("--rewrap", action="store_true", help="also re-wrap every case key under the new master key")
    p.set_defaults(handler=runs(cmd_rotate, load_context))


def cmd_generate(args: argparse.Namespace, ctx: AuditContext) -> int:
    if not args.force:
        if not ctx.keyring_path.exists():
            # A database that holds content needs its own key file back, not a new one.
            key_binding.refuse_new_key_file(ctx.engine, ctx.keyring_path)
        keyring = keyfile.generate(ctx.keyring_path)
        belongs_to = None
    else:
        # A running bot keeps sealing under the keys it loaded: never pull the file from under it.
        with instances_stopped(ctx.engine, "replacing the key file"):
            belongs_to = key_binding.belongs_to(ctx.engine)
            keyring = keyfile.generate(ctx.keyring_path, force=True)
    print(f"Created the key file {ctx.keyring_path} (mode 0600): master key {keyring.current_id}, "
          f"signing key {keyring.signing_key_id}, fingerprint {keyring.fingerprint}.")
    if belongs_to is None:
        key_binding.bind(ctx.engine, keyring)
    print(f"Public signing key (for checking checkpoints): {base64.b64encode(keyring.public_key_bytes()).decode()}")
    print("Back it up apart from the database: without it the audit log can be neither read nor verified.")
    if belongs_to is not None:
        # The database stays bound to the old key file, and only that one can key the audit head.
        print(f"warning: the key file {ctx.keyring_path} is replaced, but the database belongs to {belongs_to}: "
              "the bot will not start, and the audit commands refuse, until that key file is put back from its "
              "backup (what the database holds is sealed under it); the replacement is not recorded in the audit "
              "log, whose head only that key file can sign", file=sys.stderr)
        return 1
    return _record(ctx, keyring, {"operation": "generate", "master_key": keyring.current_id,
                                  "signing_key": keyring.signing_key_id, "replaced": "yes" if args.force else "no"})


def cmd_rotate(args: argparse.Namespace, ctx: AuditContext) -> int:
    previous = keyring_of(ctx).current_id
    keyring = keyfile.rotate(ctx.keyring_path)
    print(f"Master key {keyring.current_id} is now current; {len(keyring.master_keys) - 1} older key(s) kept. "
          "Restart the bot so that it seals with the new key.")
    return _record(ctx, keyring, {"operation": "rotate", "master_key": keyring.current_id, "previous": previous},
                   rewrap=args.rewrap)


def _record(ctx: AuditContext, keyring: Keyring, detail: dict[str, str], *, rewrap: bool = False) -> int:
    """The KEY entry; the key file change stands even if the database cannot take it, so say so."""
    now = ctx.clock.now() if ctx.clock else datetime.now(timezone.utc)
    try:
        with ctx.engine.begin() as connection:
            if rewrap:
                detail["case_keys_rewrapped"] = str(CaseKeys(connection, keyring, ctx.clock).rewrap())
            SqlAuditLog(connection, keyring, ctx.clock).record(
                AuditEvent(action=AuditAction.KEY, at=now, actor=ctx.actor, channel="cli", detail=detail))
    except Exception as exc:  # the database failed or refused the entry: the key file is still changed
        why = str(exc) if isinstance(exc, (KeyringError, AuditHeadCorrupt)) else type(exc).__name__
        print(f"warning: the key file is changed, but the change could not be recorded in the audit log ({why}); "
              "check the database with `liaison-bot audit verify`", file=sys.stderr)
        return 1
    if rewrap:
        print(f"Re-wrapped {detail['case_keys_rewrapped']} case key(s) under {keyring.current_id}.")
    return 0
