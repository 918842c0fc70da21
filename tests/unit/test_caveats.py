from __future__ import annotations

import pytest

from alerts.caveats import Caveat, Handling, Tlp
from alerts.errors import InvalidValue
from alerts.grading import Grading
from alerts.priority import Priority


@pytest.mark.parametrize(
    "text, tlp",
    [("amber", Tlp.AMBER), ("TLP:AMBER+STRICT", Tlp.AMBER_STRICT), ("amber_strict", Tlp.AMBER_STRICT),
     ("white", Tlp.CLEAR), ("Red", Tlp.RED), ("green", Tlp.GREEN), ("clear", Tlp.CLEAR)],
)
def test_tlp_parses_any_case_and_the_old_white(text: str, tlp: Tlp) -> None:
    assert Tlp.parse(text) is tlp


def test_tlp_error_lists_accepted_values() -> None:
    with pytest.raises(InvalidValue, match="amber\\+strict"):
        Tlp.parse("orange")


def test_tlp_order_runs_from_clear_to_red() -> None:
    assert [t.rank for t in (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)] == [0, 1, 2, 3, 4]


def test_h2_and_h3_imply_originator_control() -> None:
    assert Caveat(Tlp.GREEN, Handling.H2).originator_controlled
    assert Caveat(Tlp.GREEN, Handling.H3).originator_controlled
    assert not Caveat(Tlp.GREEN, Handling.H1).originator_controlled
    assert Caveat(Tlp.GREEN, Handling.H0, orcon=True).label() == "TLP:GREEN H0 ORCON"


@pytest.mark.parametrize(
    "caveat, protected",
    [(Caveat(Tlp.CLEAR), False), (Caveat(Tlp.GREEN), False), (Caveat(Tlp.AMBER), True),
     (Caveat(Tlp.RED), True), (Caveat(Tlp.GREEN, orcon=True), True)],
)
def test_protect_content_for_amber_and_above_and_orcon(caveat: Caveat, protected: bool) -> None:
    assert caveat.protect_content is protected


@pytest.mark.parametrize("text", ["B2", "b2", "b/2", "B-2", " A1 "])
def test_grading_forms(text: str) -> None:
    assert Grading.parse(text).code in ("B2", "A1")


@pytest.mark.parametrize("text", ["G2", "B7", "B", "BB2", ""])
def test_grading_errors(text: str) -> None:
    with pytest.raises(InvalidValue, match="grade:B2"):
        Grading.parse(text)


def test_grading_describes_both_scales() -> None:
    assert Grading.parse("B2").describe() == "B2 (source usually reliable; information probably true)"


@pytest.mark.parametrize("text, priority", [("flash", Priority.URGENT), ("ROUTINE", Priority.ROUTINE), ("high", Priority.PRIORITY)])
def test_priority_aliases(text: str, priority: Priority) -> None:
    assert Priority.parse(text) is priority


def test_handling_accepts_bare_digits() -> None:
    assert Handling.parse("2") is Handling.H2
    with pytest.raises(InvalidValue):
        Handling.parse("H4")
