"""Error references: short codes a user can quote, logged beside the traceback they stand for."""

from __future__ import annotations

import secrets

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud over a phone


def new_error_ref() -> str:
    return "E-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def user_message(error_ref: str) -> str:
    return (
        f"Something went wrong on our side (reference {error_ref}). Your message was kept and nothing "
        "was sent from it. Quote the reference to an admin."
    )
