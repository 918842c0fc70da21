"""Inline buttons and their callback data, which Telegram limits to 64 bytes.

Callback data is short and opaque: an action letter, a colon, a value.

    a:A-2026-0042          Acknowledge    ->  "/ack A-2026-0042" from whoever pressed it
    s:A-2026-0042          Snooze 4h      ->  "/snooze A-2026-0042 4h"
    r:A-2026-0042          Reply          ->  a prompt the person answers by replying to it
    p:A-2026-0042          Approve        ->  "/approve A-2026-0042" (under a request to release a held item)
    g:tlp:AMBER            a choice in the guided /alert or /request form (g:STEP:VALUE)
    g:topic:3              topics go by index into the configured list: a slug may be 64 characters

A reference is at most a dozen characters (A-2026-0042, growing a digit per tenfold), so every
button fits with room to spare; callback() refuses anything longer than 64 bytes rather than
letting Telegram refuse the whole message.
"""

from __future__ import annotations

from typing import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

ACK = "a"
SNOOZE = "s"
REPLY = "r"
APPROVE = "p"
GUIDED = "g"
MAX_BYTES = 64
SNOOZE_FOR = "4h"


def callback(action: str, value: str) -> str:
    data = f"{action}:{value}"
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes ({len(data.encode('utf-8'))})")
    return data


def parse_callback(data: str | None) -> tuple[str, str] | None:
    """(action, value) from callback data, or None for data this bot never made."""
    if not data or ":" not in data:
        return None
    action, _, value = data.partition(":")
    if action not in (ACK, SNOOZE, REPLY, GUIDED, APPROVE) or not value:
        return None
    return action, value


def delivery_keyboard(reference: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Acknowledge", callback_data=callback(ACK, reference)),
        InlineKeyboardButton("Reply", callback_data=callback(REPLY, reference)),
        InlineKeyboardButton(f"Snooze {SNOOZE_FOR}", callback_data=callback(SNOOZE, reference)),
    ]])


def approval_keyboard(reference: str) -> InlineKeyboardMarkup:
    """Approve only: declining needs a reason, typed as /decline REF reason."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"Approve {reference}", callback_data=callback(APPROVE, reference))]])


def choice_keyboard(step: str, choices: Sequence[tuple[str, str]], columns: int) -> InlineKeyboardMarkup:
    """One button per (label, value), `columns` to a row; pressing sends g:STEP:VALUE."""
    buttons = [InlineKeyboardButton(label, callback_data=callback(GUIDED, f"{step}:{value}"))
               for label, value in choices]
    rows = [buttons[i:i + max(1, columns)] for i in range(0, len(buttons), max(1, columns))]
    return InlineKeyboardMarkup(rows)
