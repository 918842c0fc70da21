"""Reading the log for people: `audit export` for an auditor, `audit show REF` for one item's trail.

Both decrypt, so both are themselves recorded: an export as an EXPORT entry with its filter, a
show as a CONSULTATION of the item, committed before anything is printed (a reader that stops
early, like `| head`, has still been recorded). These are the only places that print decrypted
content, and what anyone wrote is shown with its control characters escaped (escape_controls):
a body cannot clear the terminal, move the cursor or print a line that looks like an entry.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, select

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import Clock
from storage.audit.encoding import from_micros, loads, part_aad, to_micros
from storage.audit.log import SqlAuditLog
from storage.audit.tables import audit_entries
from storage.db import READ_ONLY
from storage.keyring import Keyring
from storage.sealing import CaseKeySealer, ContentErased, SealError

# C0 and C1 controls and DEL (terminal escapes, \r, \n, \t), the line and paragraph separators,
# and the bidirectional controls that reorder what a terminal shows.
_CONTROL_CHARS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[{_CONTROL_CHARS}]")
_CONTROLS_OR_BACKSLASH = re.compile(f"[{_CONTROL_CHARS}\\\\]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` on one line with its control characters shown as escapes (and backslashes doubled,
    so an escape seen is one that was there)."""
    return _CONTROLS_OR_BACKSLASH.sub(_escape, text)


def _json_text(data: Any) -> str:
    """JSON on one line; json escapes C0 controls itself, the rest are escaped as \\uXXXX here (the
    same data to a JSON reader, inert in a terminal)."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False, sort_keys=True))


FIELDS = ("seq", "recorded_at", "action", "reference", "actor", "recipients", "channel", "caveat", "purpose",
          "at", "content", "detail")


@dataclass
class TrailEntry:
    seq: int
    recorded_at: datetime
    action: str
    reference: str | None
    actor: str | None
    recipients: list[str]
    channel: str | None
    caveat: str | None
    purpose: str | None
    at: str | None
    content: str               # present, none, erased, or unreadable
    detail: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["recorded_at"] = self.recorded_at.isoformat()
        return data


def read_entries(connection: Connection, keyring: Keyring, *, since: datetime | None = None,
                 until: datetime | None = None, reference: str | None = None,
                 upto: int | None = None) -> Iterator[TrailEntry]:
    """Entries in seq order, decrypted; what cannot be opened is marked, not raised. `upto`: none after
    that seq (those a verification covered: entries appended since are left out)."""
    query = select(audit_entries).order_by(audit_entries.c.seq)
    if upto is not None:
        query = query.where(audit_entries.c.seq <= upto)
    if since is not None:
        query = query.where(audit_entries.c.recorded_at_us >= to_micros(since))
    if until is not None:
        query = query.where(audit_entries.c.recorded_at_us < to_micros(until))
    if reference is not None:
        query = query.where(audit_entries.c.reference == reference)
    sealer = CaseKeySealer(connection, keyring)
    for row in connection.execute(query.execution_options(yield_per=1000)):
        yield _open(row, sealer)


def _open(row: Any, sealer: CaseKeySealer) -> TrailEntry:
    try:
        meta = loads(sealer.open(row.sealed_meta, aad=part_aad(row.seq, row.key_id, row.schema_version, "meta")))
    except (SealError, ValueError):
        meta = {}
    content, detail = ("none", None)
    if not meta:
        content = "unreadable"
    elif row.sealed_detail is not None:
        try:
            detail = loads(sealer.open(row.sealed_detail, aad=part_aad(row.seq, row.key_id, row.schema_version,
                                                                       "detail"), case=row.case_ref))
            content = "present"
        except ContentErased:
            content = "erased"
        except (SealError, ValueError):
            content = "unreadable"
    elif row.case_ref is not None or meta.get("detail_dropped"):
        content = "erased"
    return TrailEntry(row.seq, from_micros(row.recorded_at_us), row.action, row.reference, meta.get("actor"),
                      list(meta.get("recipients") or []), meta.get("channel"), meta.get("caveat"),
                      meta.get("purpose"), meta.get("at"), content, detail)


def _matches(entry: TrailEntry, country: str | None, recipient: str | None,
             organisation_of: Callable[[str], str | None] | None) -> bool:
    if recipient is not None and not any(recipient.lower() in r.lower() for r in entry.recipients):
        return False
    if country is not None:
        code = country.upper()
        orgs = {r.upper().split("/")[0] for r in entry.recipients}  # selectors: "TH", "TH/immigration"
        if organisation_of is not None:
            orgs |= {(organisation_of(r) or "").upper() for r in entry.recipients}
        for key in ("country", "countries", "to"):
            value = (entry.detail or {}).get(key)
            if isinstance(value, str):
                orgs |= {part.strip().upper().split("/")[0] for part in value.replace(";", ",").split(",")}
        if code not in orgs:
            return False
    return True


def _csv_cell(value: Any) -> str:
    if isinstance(value, list):
        value = "; ".join(value)
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = escape_controls(value)
    else:  # the detail: JSON escapes what it holds, and _json_text what JSON leaves raw
        text = _json_text(value)
    # Chat text ends up in a spreadsheet: keep a leading =, +, - or @ from being run as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def export(engine: Engine, keyring: Keyring, out: TextIO, fmt: str = "jsonl", *, since: datetime | None = None,
           until: datetime | None = None, reference: str | None = None, country: str | None = None,
           recipient: str | None = None, actor: str, purpose: str | None = None, clock: Clock | None = None,
           organisation_of: Callable[[str], str | None] | None = None, channel: str = "cli",
           upto: int | None = None, verified: bool | None = None) -> int:
    """Write the matching entries, decrypted, as JSON lines or CSV; records the export (made by way of
    `channel`: the command line, or the web portal). Returns the count. `upto` (read_entries) and
    `verified`: what a verification of the log found just before, recorded with the export."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError("format must be jsonl or csv")
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(FIELDS)
    count = 0
    completed = False
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**READ_ONLY)
            with connection.begin():
                for entry in read_entries(connection, keyring, since=since, until=until, reference=reference,
                                          upto=upto):
                    if not _matches(entry, country, recipient, organisation_of):
                        continue
                    data = entry.to_dict()
                    if writer is not None:
                        writer.writerow([_csv_cell(data[name]) for name in FIELDS])
                    else:
                        out.write(_json_text(data) + "\n")
                    count += 1
        out.flush()
        completed = True
    finally:
        # Recorded even when writing failed half-way: some content may have left already.
        filters = {"format": fmt, "since": since.isoformat() if since else None,
                   "until": until.isoformat() if until else None,
                   "reference": reference, "country": country, "recipient": recipient}
        detail = {k: v for k, v in filters.items() if v is not None}
        detail.update(entries=str(count), completed="yes" if completed else "no", **_verified(verified))
        _record(engine, keyring, clock, AuditAction.EXPORT, actor, reference, purpose, detail, channel)
    return count


def show(engine: Engine, keyring: Keyring, reference: str, out: TextIO, *, actor: str,
         purpose: str | None = None, clock: Clock | None = None, upto: int | None = None,
         verified: bool | None = None) -> list[TrailEntry]:
    """Print the trail of one item: who received what, when, by which channel, and why. The
    consultation is recorded (committed) before the first line is written. `upto`, `verified`: as
    for export."""
    with engine.connect() as connection:
        connection = connection.execution_options(**READ_ONLY)
        with connection.begin():
            entries = list(read_entries(connection, keyring, reference=reference, upto=upto))
    _record(engine, keyring, clock, AuditAction.CONSULTATION, actor, reference, purpose,
            {"via": "audit show", "entries": str(len(entries)), **_verified(verified)})
    x = escape_controls
    out.write(f"Trail of {x(reference)}: {len(entries)} entries\n")
    for e in entries:
        line = f"{e.recorded_at:%Y-%m-%d %H:%M:%SZ}  #{e.seq}  {x(e.action)}  by {x(e.actor or '?')}"
        if e.recipients:
            line += f"  to {', '.join(x(r) for r in e.recipients)}"
        if e.channel:
            line += f"  via {x(e.channel)}"
        if e.caveat:
            line += f"  [{x(e.caveat)}]"
        if e.purpose:
            line += f"  why: {x(e.purpose)}"
        out.write(line + "\n")
        for key, value in sorted((e.detail or {}).items()):
            out.write(f"    {x(str(key))}: {x(str(value))}\n")
        if e.content in ("erased", "unreadable"):
            out.write(f"    [content {e.content}]\n")
    out.flush()
    return entries


def _verified(verified: bool | None) -> dict[str, str]:
    return {} if verified is None else {"verified": "yes" if verified else "no"}


def _record(engine: Engine, keyring: Keyring, clock: Clock | None, action: AuditAction, actor: str,
            reference: str | None, purpose: str | None, detail: dict[str, str], channel: str = "cli") -> None:
    now = clock.now() if clock else datetime.now(timezone.utc)
    with engine.begin() as connection:
        SqlAuditLog(connection, keyring, clock).record(
            AuditEvent(action=action, at=now, actor=actor, channel=channel, reference=reference,
                       purpose=purpose, detail=detail)
        )
