"""The guided form (handlers/guided.py) where the choices are a numbered list: on Matrix and the console.

Telegram shows the same questions with buttons (bot/connectors/telegram/guided_chat.py). Here each
question ends with its choices numbered; the person replies with the number, the choice's word, or
(where the question allows) what they would type anyway: `TH,MY`, `amber`, `B2`.
"""

from __future__ import annotations

from handlers.guided import Outcome, Question


def shown(outcome: Outcome, cancel: str) -> str:
    """What to say for an outcome: its note, then the question with its choices numbered."""
    question = outcome.question
    parts = [outcome.note, question.text if question is not None else None]
    if question is not None and question.choices:
        parts.append("\n".join(f"{number}. {label}" for number, (label, _) in enumerate(question.choices, 1)))
        parts.append(f"Reply with a number or a word, or {cancel} to stop.")
    elif question is not None:
        parts.append(f"Or {cancel} to stop.")
    return "\n\n".join(part for part in parts if part)


def chosen(question: Question, text: str) -> str:
    """The value an answer stands for: a choice's number or its label, else the text as typed."""
    typed = text.strip()
    choices = question.choices
    if typed.isdigit() and 1 <= int(typed) <= len(choices):
        return choices[int(typed) - 1][1]
    for label, value in choices:
        if typed.lower() == label.lower():
            return value
    return typed
