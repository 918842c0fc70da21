"""Inline buttons and their callback data, which Telegram limits to 64 bytes.

Callback data is short and opaque: an action letter, a colon, a value.

    a:A-2026-0042          Acknowledge       ->  "/ack A-2026-0042" from whoever pressed it
    r:A-2026-0042          Reply             ->  a prompt the person answers by replying to it
    s:A-2026-0042          Snooze…           ->  the buttons become the durations (SNOOZE_FOR)
    s:A-2026-0042:4h       a duration        ->  the buttons become the reasons (REASONS)
    s:A-2026-0042:4h:1     a reason          ->  "/snooze A-2026-0042 4h checking records"
    s:A-2026-0042:4h:o     other — type it   ->  a prompt; the reply to it is the reason
    s:A-2026-0042:x        Back              ->  the delivery's buttons again
    d:a:A-2026-0042        ✓ Acknowledged 14:02, a button already used: pressing it only says so
    p:A-2026-0042          Approve           ->  "/approve A-2026-0042" (under a request to release a held item)
    g:tlp:AMBER            a choice in the guided /alert or /request form (g:STEP:VALUE)
    g:topic:3              topics go by index into the configured list: a slug may be 64 characters

A pressed Acknowledge, and a finished snooze, turn into their outcome once the command is done: the
command plans it (alerts.pressed.ButtonState, an outbox row of kind BUTTONS) and the sender edits the
message's buttons (delivery_keyboard with the state). A used button cannot send its command again.

A reference is at most a dozen characters (A-2026-0042, growing a digit per tenfold), so every
button fits with room to spare; callback() refuses anything longer than 64 bytes rather than
letting Telegram refuse the whole message.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from typing import Any, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from alerts.pressed import ButtonState
from alerts.reminder_policy import first_instant_at_or_after, zone_of

ACK = "a"
SNOOZE = "s"
REPLY = "r"
APPROVE = "p"
GUIDED = "g"
DONE = "d"
MAX_BYTES = 64
# The durations offered, as /snooze takes them; "t" is tomorrow 09:00 on the person's clock.
SNOOZE_FOR = (("1 hour", "1h"), ("4 hours", "4h"), ("Tomorrow 09:00", "t"))
TOMORROW = "t"
REASONS = ("waiting on another agency", "checking records", "need more details")
OTHER = "o"
BACK = "x"


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
    if action not in (ACK, SNOOZE, REPLY, GUIDED, DONE, APPROVE) or not value:
        return None
    return action, value


def delivery_keyboard(reference: str, state: ButtonState | None = None) -> InlineKeyboardMarkup:
    """Acknowledge on a row of its own (a thumb finds it), then Reply and Snooze; a used one shows its outcome."""
    return InlineKeyboardMarkup([_ack_row(reference, state), [
        InlineKeyboardButton("Reply", callback_data=callback(REPLY, reference)),
        _snooze_button(reference, state),
    ]])


def approval_keyboard(reference: str) -> InlineKeyboardMarkup:
    """Approve only: declining needs a reason, typed as /decline REF reason."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"Approve {reference}", callback_data=callback(APPROVE, reference))]])


def _ack_row(reference: str, state: ButtonState | None) -> list[InlineKeyboardButton]:
    if state is not None and state.acknowledged:
        return [InlineKeyboardButton(acknowledged_label(state.acknowledged),
                                     callback_data=callback(DONE, f"{ACK}:{reference}"))]
    return [InlineKeyboardButton("Acknowledge", callback_data=callback(ACK, reference))]


def _snooze_button(reference: str, state: ButtonState | None) -> InlineKeyboardButton:
    if state is not None and state.held_until:
        return InlineKeyboardButton(snoozed_label(state.held_until), callback_data=callback(DONE, f"{SNOOZE}:{reference}"))
    return InlineKeyboardButton("Snooze…", callback_data=callback(SNOOZE, reference))


def acknowledged_label(when: str) -> str:
    return f"✓ Acknowledged {when}"


def snoozed_label(when: str) -> str:
    return f"💤 Held until {when}"


def durations_keyboard(reference: str, ack_row: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """Snooze, step 1: how long. The Acknowledge row stays as it was."""
    choices = [InlineKeyboardButton(label, callback_data=callback(SNOOZE, f"{reference}:{value}"))
               for label, value in SNOOZE_FOR]
    return InlineKeyboardMarkup([ack_row, choices[:2], choices[2:],
                                 [InlineKeyboardButton("« Back", callback_data=callback(SNOOZE, f"{reference}:{BACK}"))]])


def reasons_keyboard(reference: str, duration: str, ack_row: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """Snooze, step 2: why (it is recorded and told to the originator)."""
    rows = [[InlineKeyboardButton(reason.capitalize(), callback_data=callback(SNOOZE, f"{reference}:{duration}:{n}"))]
            for n, reason in enumerate(REASONS)]
    rows.append([InlineKeyboardButton("Other — type it", callback_data=callback(SNOOZE, f"{reference}:{duration}:{OTHER}"))])
    rows.append([InlineKeyboardButton("« Back", callback_data=callback(SNOOZE, f"{reference}:{BACK}"))])
    return InlineKeyboardMarkup([ack_row, *rows])


def duration_label(value: str) -> str | None:
    return next((label for label, known in SNOOZE_FOR if known == value), None)


def snooze_span(value: str, now: datetime, zone: str) -> str | None:
    """A duration button as /snooze takes it ("4h", or minutes until tomorrow 09:00 in `zone`); None if unknown."""
    if value == TOMORROW:
        tz = zone_of(zone)
        # Found on tomorrow's wall clock and measured in UTC: across a daylight-saving change in the
        # night, wall-clock arithmetic would give 08:00 or 10:00.
        nine = first_instant_at_or_after(now.astimezone(tz).date() + timedelta(days=1), time(9), tz)
        return f"{max(1, math.ceil((nine - now).total_seconds() / 60))}m"  # up: 09:00, never 08:59
    return value if duration_label(value) is not None else None


def buttons_of(markup: Any) -> list[list[tuple[str, str]]]:
    """(label, callback data) by row, of an inline keyboard as a callback query carries it."""
    rows = getattr(markup, "inline_keyboard", None) or ()
    return [[(b.text, b.callback_data or "") for b in row] for row in rows]


def choice_keyboard(step: str, choices: Sequence[tuple[str, str]], columns: int) -> InlineKeyboardMarkup:
    """One button per (label, value), `columns` to a row; pressing sends g:STEP:VALUE."""
    buttons = [InlineKeyboardButton(label, callback_data=callback(GUIDED, f"{step}:{value}"))
               for label, value in choices]
    rows = [buttons[i:i + max(1, columns)] for i in range(0, len(buttons), max(1, columns))]
    return InlineKeyboardMarkup(rows)


def with_buttons_footer(text: str, reference: str) -> str:
    """A delivery's text for a message that carries the buttons: its closing lines of command hints
    about this item (Acknowledge: /ack …, Feedback: /reply …), which the buttons do, give way to
    the one thing buttons cannot do."""
    lines = text.rstrip("\n").split("\n")
    hints = (f"/ack {reference}", f"/reply {reference}", f"/snooze {reference}")
    end = len(lines)
    while end > 1 and (any(hint in lines[end - 1] for hint in hints) or not lines[end - 1].strip()):
        end -= 1
    if end == len(lines):
        return text  # laid out differently: nothing is taken away
    what = "your answer" if reference.startswith("R-") else "your feedback"
    return "\n".join([*lines[:end], f"↩️ Reply to this message with {what}."])
