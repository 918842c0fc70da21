"""The exchange state machine: deliveries, items and forward requests only move forward."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.items import ItemState
from alerts.lifecycle import DeliveryState, ForwardState, close_step, delivery_step, forward_step

Q, F, S, A, N = (DeliveryState.QUEUED, DeliveryState.FAILED, DeliveryState.SENT,
                 DeliveryState.ACKNOWLEDGED, DeliveryState.ANSWERED)


def test_a_delivery_goes_queued_sent_acknowledged_answered() -> None:
    assert delivery_step(Q, S) is S
    assert delivery_step(S, A) is A
    assert delivery_step(A, N) is N


def test_a_recipient_may_acknowledge_or_answer_before_the_sent_mark_arrives() -> None:
    assert delivery_step(Q, A) is A
    assert delivery_step(F, N) is N


def test_nothing_moves_back_and_repeats_are_no_ops() -> None:
    assert delivery_step(A, S) is None  # the worker's late "sent" after an /ack
    assert delivery_step(N, A) is None  # an /ack after an answer
    assert delivery_step(A, A) is None  # a second /ack
    assert delivery_step(S, F) is None  # a failed retry after a success


def test_answered_implies_acknowledged() -> None:
    assert N.acknowledged and A.acknowledged and not S.acknowledged
    assert N.answered and not A.answered


def test_an_item_closes_once_and_never_reopens() -> None:
    assert close_step(ItemState.OPEN) is ItemState.CLOSED
    assert close_step(ItemState.CLOSED) is None


def test_a_forward_request_is_decided_once() -> None:
    assert forward_step(ForwardState.PENDING, True) is ForwardState.GRANTED
    assert forward_step(ForwardState.PENDING, False) is ForwardState.REFUSED
    assert forward_step(ForwardState.GRANTED, False) is None
    assert forward_step(ForwardState.REFUSED, True) is None


@given(st.lists(st.sampled_from(list(DeliveryState)), max_size=12))
def test_any_sequence_of_marks_only_climbs_and_ends_at_the_highest(marks: list[DeliveryState]) -> None:
    state = Q
    for mark in marks:
        before = state
        state = delivery_step(state, mark) or state
        assert state.rank >= before.rank
    assert state.rank == max([Q.rank, *(m.rank for m in marks)])
