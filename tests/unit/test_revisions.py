"""What an earlier revision said, read from its audit entry, and the one line of what differs from the
current revision (alerts.revisions)."""

from __future__ import annotations

from datetime import datetime, timezone

from alerts.revisions import RevisionText, changes, revision_text_of

AT = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _rev(number: int, body: str = "Words", caveat: str = "TLP:AMBER H0", priority: str = "routine",
         topic: str = "document-fraud") -> RevisionText:
    return RevisionText(number, AT, body, caveat, priority, topic)


def test_a_creation_entry_is_revision_one_and_a_correction_names_its_own() -> None:
    detail = {"body": "Words", "priority": "routine", "topic": "document-fraud", "kind": "alert"}
    assert revision_text_of(True, AT, "TLP:AMBER H0", detail) == _rev(1)
    assert revision_text_of(False, AT, "TLP:RED H0", {**detail, "revision": "3"}) == _rev(3, caveat="TLP:RED H0")


def test_an_entry_that_is_not_a_revision_is_none() -> None:
    assert revision_text_of(True, AT, "TLP:AMBER H0", {}) is None  # its detail dropped with an erased case
    assert revision_text_of(True, AT, "TLP:AMBER H0", None) is None
    for number in ("x", "1", "", "-2"):  # a correction makes rev 2 or later
        assert revision_text_of(False, AT, "TLP:AMBER H0", {"body": "Words", "revision": number}) is None
    assert revision_text_of(False, AT, "TLP:AMBER H0", {"body": "Words"}) is None


def test_changes_name_each_field_that_differs_earlier_value_first_then_the_text() -> None:
    current = _rev(3, "New words", "TLP:RED H0", "urgent", "")
    assert changes(_rev(1), current) == ("Changed since, to the current rev 3: TLP:AMBER H0 → TLP:RED H0 · "
                                         "priority routine → urgent · topic document-fraud → none · the text.")
    assert changes(_rev(1, body="New words"), _rev(2, body="New words", priority="urgent")) == (
        "Changed since, to the current rev 2: priority routine → urgent.")
    assert changes(_rev(1), _rev(2)) == "Same caveat, priority, topic and text as the current rev 2."
