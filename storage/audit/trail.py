"""Reading the log for people: `audit export` for an auditor, `audit show REF` for one item's trail.

Both decrypt, so both are themselves recorded: an export as an EXPORT entry with its filter, a
show as a CONSULTATION of the item. These are the only places that print decrypted content.
"""

from __future__ import annotations

import csv
import json
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
                 until: datetime | None = None, reference: str | None = None) -> Iterator[TrailEntry]:
    """Entries in seq order, decrypted; what cannot be opened is marked, not raised."""
    query = select(audit_entries).order_by(audit_entries.c.seq)
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
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    # Chat text ends up in a spreadsheet: keep a leading =, +, - or @ from being run as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export(engine: Engine, keyring: Keyring, out: TextIO, fmt: str = "jsonl", *, since: datetime | None = None,
           until: datetime | None = None, reference: str | None = None, country: str | None = None,
           recipient: str | None = None, actor: str, purpose: str | None = None, clock: Clock | None = None,
           organisation_of: Callable[[str], str | None] | None = None) -> int:
    """Write the matching entries, decrypted, as JSON lines or CSV; records the export. Returns the count."""
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
                for entry in read_entries(connection, keyring, since=since, until=until, reference=reference):
                    if not _matches(entry, country, recipient, organisation_of):
                        continue
                    data = entry.to_dict()
                    if writer is not None:
                        writer.writerow([_csv_cell(data[name]) for name in FIELDS])
                    else:
                        out.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
                    count += 1
        out.flush()
        completed = True
    finally:
        # Recorded even when writing failed half-way: some content may have left already.
        filters = {"format": fmt, "since": since and since.isoformat(), "until": until and until.isoformat(),
                   "reference": reference, "country": country, "recipient": recipient}
        detail = {k: v for k, v in filters.items() if v is not None}
        detail.update(entries=str(count), completed="yes" if completed else "no")
        _record(engine, keyring, clock, AuditAction.EXPORT, actor, reference, purpose, detail)
    return count


def show(engine: Engine, keyring: Keyring, reference: str, out: TextIO, *, actor: str,
         purpose: str | None = None, clock: Clock | None = None) -> list[TrailEntry]:
    """Print the trail of one item: who received what, when, by which channel, and why."""
    with engine.connect() as connection:
        connection = connection.execution_options(**READ_ONLY)
        with connection.begin():
            entries = list(read_entries(connection, keyring, reference=reference))
    out.write(f"Trail of {reference}: {len(entries)} entries\n")
    for e in entries:
        line = f"{e.recorded_at:%Y-%m-%d %H:%M:%SZ}  #{e.seq}  {e.action}  by {e.actor or '?'}"
        if e.recipients:
            line += f"  to {', '.join(e.recipients)}"
        if e.channel:
            line += f"  via {e.channel}"
        if e.caveat:
            line += f"  [{e.caveat}]"
        if e.purpose:
            line += f"  why: {e.purpose}"
        out.write(line + "\n")
        for key, value in sorted((e.detail or {}).items()):
            out.write(f"    {key}: {value}\n")
        if e.content in ("erased", "unreadable"):
            out.write(f"    [content {e.content}]\n")
    out.flush()
    _record(engine, keyring, clock, AuditAction.CONSULTATION, actor, reference, purpose,
            {"via": "audit show", "entries": str(len(entries))})
    return entries


def _record(engine: Engine, keyring: Keyring, clock: Clock | None, action: AuditAction, actor: str,
            reference: str | None, purpose: str | None, detail: dict[str, str]) -> None:
    now = clock.now() if clock else datetime.now(timezone.utc)
    with engine.begin() as connection:
        SqlAuditLog(connection, keyring, clock).record(
            AuditEvent(action=action, at=now, actor=actor, channel="cli", reference=reference,
                       purpose=purpose, detail=detail)
        )
