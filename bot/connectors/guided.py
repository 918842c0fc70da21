"""The guided form's one definition lives in handlers/guided.py (the dispatcher runs it on Matrix and
the console); Telegram's connector renders the same form with buttons (telegram/guided_chat.py)."""

from handlers.guided import BY_TOPIC, CANCEL, KINDS, NONE, SEND, Draft, GuidedForm, Outcome, Question

__all__ = ["BY_TOPIC", "CANCEL", "KINDS", "NONE", "SEND", "Draft", "GuidedForm", "Outcome", "Question"]
