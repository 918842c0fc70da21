"""Rendering pieces the command classes share (handlers/commands.py, handlers/commands_admin.py).

Callers go through the module (`command_text.optional_text(...)`), so that a test that breaks one
piece breaks it for every command that uses it.
"""

from __future__ import annotations

from typing import ClassVar

from alerts.items import Reference
from handlers.lexer import quote


def joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def optional_text(key: str, value: str | None) -> str:
    """A value that may be given as key:value or as free text: free text after a blank line when
    it spans lines, which a quoted value cannot."""
    if not value:
        return ""
    return f"\n\n{value}" if "\n" in value else f" {key}:{quote(value)}"


class ReferenceOnly:
    """Render for commands that take only a reference: `/ack A-2026-0042`."""

    name: ClassVar[str]
    reference: Reference

    def render(self) -> str:
        return f"/{self.name} {self.reference}"


class Bare:
    """Render for commands that take nothing: `/mine`."""

    name: ClassVar[str]

    def render(self) -> str:
        return f"/{self.name}"
