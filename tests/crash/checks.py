"""What the crash test proves, from the database (driver.py verify) and the sink's receipt file.

`check` returns the problems found (empty when all is well) and the counts it saw:
- lost: an event without an item, an item delivery or receipt that never reached the platform,
  an inbox event not handled, an outbox row not sent, a sent delivery without its disclosure audit
  entry, an item without its item.created entry, an audit log that no longer verifies;
- duplicated: an event with two items, a recipient who got one item under two keys (what the
  platform cannot de-duplicate), a reference used twice;
- misrouted: a delivery that no `to:` of the script asked for, a target organisation reached by
  no one, coordinators missing on an urgent alert, a key the platform saw that no committed row has.
Raw repeats of one key (a resend after a crash or an expired lease, which the platform drops) are
allowed and counted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.directory import Directory
from alerts.roles import Role
from tests.crash.driver import ScriptEvent, marker


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, problem: str) -> None:
        if len(self.problems) < 40:  # enough to see what broke, not a wall of text
            self.problems.append(problem)
        self.counts["problems"] = self.counts.get("problems", 0) + 1


def read_receipts(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The lines the sink wrote; a torn last line (killed inside write) is dropped and counted."""
    lines = path.read_text().splitlines() if path.exists() else []
    receipts, torn = [], 0
    for line in lines:
        try:
            receipts.append(json.loads(line))
        except json.JSONDecodeError:
            torn += 1
    return receipts, torn


def check(events: list[ScriptEvent], state: dict[str, Any], receipts: list[dict[str, Any]],
          directory: Directory) -> Findings:
    f = Findings()
    items = state["items"]
    coordinators = {c.id for c in directory.with_role(Role.COORDINATOR)}

    # The audit log still verifies (chain, Merkle tree, checkpoints, witness) after the kills.
    if not state["audit_verify"]["ok"]:
        f.add(state["audit_verify"]["summary"])

    # Inbox and outbox: everything recorded was handled, everything queued was sent.
    inbox = state["inbox"]
    if set(inbox) - {"done"}:
        f.add(f"inbox rows not done: {inbox}")
    outbox_states = Counter(row["state"] for row in state["outbox"])
    if set(outbox_states) - {"sent"}:
        f.add(f"outbox rows not sent: {dict(outbox_states)}")

    # One item per script event, matched by the marker in its body; references unique.
    references = Counter(item["reference"] for item in items)
    for reference, n in references.items():
        if n > 1:
            f.add(f"reference {reference} used by {n} items")
    by_event: dict[int, list[dict[str, Any]]] = defaultdict(list)
    markers = {marker(e.index): e.index for e in events}
    for item in items:
        found = [i for m, i in markers.items() if m in item["body"]]
        if len(found) != 1:
            f.add(f"{item['reference']} carries no script event marker")
            continue
        by_event[found[0]].append(item)
    for event in events:
        made = by_event.get(event.index, [])
        if not made:
            f.add(f"event {event.index} lost: no item")
        elif len(made) > 1:
            f.add(f"event {event.index} produced {len(made)} items: {[i['reference'] for i in made]}")

    # What the platform saw.
    seen_keys = Counter(r["key"] for r in receipts)
    first_seen = {}
    for r in receipts:
        first_seen.setdefault(r["key"], r)
    keys_per_pair: dict[tuple[str, str | None, str | None], set[str]] = defaultdict(set)
    for r in receipts:
        if r["reference"] is not None:
            keys_per_pair[(r["kind"], r["reference"], r["contact"])].add(r["key"])
    duplicates = {pair: keys for pair, keys in keys_per_pair.items() if len(keys) > 1}
    for (kind, reference, contact), keys in sorted(duplicates.items())[:20]:
        f.add(f"duplicate {kind}: {contact} got {reference} under {len(keys)} keys")
    committed = {row["key"]: row for row in state["outbox"]}
    for key in seen_keys:
        if key not in committed:
            f.add(f"the platform got key {key}, which no committed outbox row has")
        elif any(first_seen[key][k] != committed[key][k] for k in ("reference", "contact", "destination")):
            f.add(f"key {key} reached the platform with other fields than its row")

    # Every routed delivery of every item reached the platform, under its own key, and is recorded.
    deliveries = 0
    for event in events:
        for item in by_event.get(event.index, []):
            contacts = [d["contact"] for d in item["deliveries"]]
            if not contacts or len(set(contacts)) != len(contacts):
                f.add(f"{item['reference']} has deliveries {contacts}")
            organisations = {directory.contacts[c].organisation for c in contacts if c in directory.contacts}
            for target in event.to:
                if target.split("/")[0] not in organisations:
                    f.add(f"{item['reference']}: nobody of {target} among {contacts}")
            extra = [c for c in contacts if c not in coordinators
                     and directory.contacts[c].organisation not in {t.split("/")[0] for t in event.to}]
            if extra:
                f.add(f"{item['reference']}: delivered to {extra}, which `to:` did not ask for")
            if event.urgent and not coordinators <= set(contacts):
                f.add(f"{item['reference']} is urgent but coordinators are missing: {contacts}")
            for d in item["deliveries"]:
                deliveries += 1
                if d["key"] not in seen_keys:
                    f.add(f"delivery of {item['reference']} to {d['contact']} lost (key never reached the platform)")
                if d["state"] != "sent" or d["platform_message_id"] != f"sink-{d['key']}":
                    f.add(f"delivery of {item['reference']} to {d['contact']} recorded as {d['state']}, "
                          f"id {d['platform_message_id']}")
            audited = state["audit"].get(item["reference"], {})
            if audited.get("item.created") != 1:
                f.add(f"{item['reference']}: {audited.get('item.created', 0)} item.created audit entries")
            if audited.get("delivery", 0) < len(item["deliveries"]):
                f.add(f"{item['reference']}: {audited.get('delivery', 0)} delivery audit entries "
                      f"for {len(item['deliveries'])} deliveries")
            item_receipts = [r for r in state["outbox"] if r["kind"] == "receipt" and r["reference"] == item["reference"]]
            if len(item_receipts) != 1 or item_receipts[0]["key"] not in seen_keys:
                f.add(f"{item['reference']}: the originator's receipt is missing or repeated")

    f.counts.update(
        events=len(events),
        items=len(items),
        deliveries=deliveries,
        sends=len(receipts),
        distinct_keys=len(seen_keys),
        raw_repeats=sum(n - 1 for n in seen_keys.values()),
        duplicate_pairs=len(duplicates),
    )
    return f
