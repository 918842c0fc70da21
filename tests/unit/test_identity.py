from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from alerts.errors import InvalidValue
from alerts.identity import ChatRef, Platform, UserRef


@pytest.mark.parametrize(
    "text", ["matrix:@alice:example.org", "telegram:user:42", "console:th-npoc"]
)
def test_user_refs_round_trip(text: str) -> None:
    assert str(UserRef.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    ["matrix:!abc:example.org", "matrix:!Jfn8vHuu1oclwTznDoqMv0VNrqyvoboQA2H-XifGFSk",  # room versions 11 and 12
     "telegram:-100123", "telegram:42", "console:#network", "console:@alice"],
)
def test_chat_refs_round_trip(text: str) -> None:
    assert str(ChatRef.parse(text)) == text


@pytest.mark.parametrize(
    "text", ["alice", "slack:@a", "matrix:alice", "telegram:42", "telegram:user:x", "console:", "console:a b"]
)
def test_bad_user_refs_say_what_is_accepted(text: str) -> None:
    with pytest.raises(InvalidValue) as error:
        UserRef.parse(text)
    assert "Example" in str(error.value)


def test_direct_chats() -> None:
    assert UserRef.parse("telegram:user:42").direct_chat() == ChatRef(Platform.TELEGRAM, "42")
    assert UserRef.parse("console:alice").direct_chat() == ChatRef(Platform.CONSOLE, "@alice")
    assert UserRef.parse("matrix:@a:b.org").direct_chat() is None
    assert ChatRef.parse("telegram:-100123").is_direct is False
    assert ChatRef.parse("console:@alice").is_direct is True


@given(st.integers(min_value=1, max_value=2**52))
def test_telegram_ids_round_trip(number: int) -> None:
    user = UserRef.parse(f"telegram:user:{number}")
    assert user.telegram_id == number
    assert ChatRef.parse(f"telegram:-{number}") == ChatRef(Platform.TELEGRAM, f"-{number}")
