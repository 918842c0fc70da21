"""What each revision of an item said, as the audit log keeps it: the creation entry holds revision 1,
each /correct entry the revision it made (body, priority and topic in its sealed detail, the caveat
in its meta). The item's own row holds only its current revision; the earlier ones live in the log.

`changes` says in one line how an earlier revision differs from the current one. It compares with
the current revision (which whoever reads the item sees) and never with a neighbour, so that a
reader is told nothing of a revision that was not sent to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RevisionText:
    """One revision's words and the fields a reader notices change: as recorded when it was made."""

    revision: int
    made_at: datetime
    body: str
    caveat: str  # its label, as the entry recorded it (Caveat.label())
    priority: str
    topic: str  # "" when none


def revision_text_of(created: bool, at: datetime, caveat: object, detail: Mapping[str, object] | None
                     ) -> RevisionText | None:
    """The RevisionText a creation (`created`) or correction audit entry records; None when its detail is
    not one (or is gone)."""
    if not detail or not isinstance(detail.get("body"), str):
        return None
    if created:
        revision = 1
    else:
        number = detail.get("revision")
        if not isinstance(number, str) or not number.isdigit() or int(number) < 2:
            return None
        revision = int(number)
    priority, topic = detail.get("priority"), detail.get("topic")
    return RevisionText(revision, at, str(detail["body"]), caveat if isinstance(caveat, str) else "",
                        priority if isinstance(priority, str) else "", topic if isinstance(topic, str) else "")


def changes(earlier: RevisionText, current: RevisionText) -> str:
    """`TLP:AMBER CLEAR-H0 → TLP:RED CLEAR-H0 · priority routine → urgent · the text`: what differs
    between an earlier revision and the current one, the earlier value first."""
    found = [f"{before or 'none'} → {after or 'none'}" if name == "caveat" else
             f"{name} {before or 'none'} → {after or 'none'}"
             for name, before, after in (("caveat", earlier.caveat, current.caveat),
                                         ("priority", earlier.priority, current.priority),
                                         ("topic", earlier.topic, current.topic))
             if before != after]
    if earlier.body != current.body:
        found.append("the text")
    if not found:
        return f"Same caveat, priority, topic and text as the current rev {current.revision}."
    return f"Changed since, to the current rev {current.revision}: " + " · ".join(found) + "."
