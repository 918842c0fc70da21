"""The console platform: every member of the directory is reachable in one terminal.

What each recipient receives is printed under a header naming them and the chat, so a newcomer
can watch an alert travel with no account anywhere.
"""

from __future__ import annotations

import itertools
from typing import TextIO

from alerts.attachments import size_text
from alerts.identity import ChatRef, Platform, UserRef
from alerts.routing import Destination, DestinationKind
from bot.connectors.base import Outgoing
from handlers.ports import DirectorySource


class ConsoleConnector:
    platform = Platform.CONSOLE

    def __init__(self, directory: DirectorySource, out: TextIO) -> None:
        self._directory = directory
        self._out = out
        self._ids = itertools.count(1)

    def _where(self, destination: Destination) -> str:
        directory = self._directory.current()
        address = destination.address
        if destination.kind is DestinationKind.DIRECT:
            assert isinstance(address, UserRef)
            contact = directory.contact_for(address)
            who = contact.title(directory) if contact else address.user_id
            return f"to {who}, direct chat"
        assert isinstance(address, ChatRef)
        room = directory.room(address)
        if room is not None:
            return f"in {room.name} ({address.chat_id})"
        if address.chat_id.startswith("@"):
            contact = directory.contact_for(UserRef(Platform.CONSOLE, address.chat_id[1:]))
            return f"to {contact.title(directory) if contact else address.chat_id[1:]}, direct chat"
        return f"in {address.chat_id}"

    async def send(self, message: Outgoing) -> str:
        message_id = f"console-{next(self._ids)}"
        lines = message.text.splitlines() or [""]
        protected = " · protected" if message.protect_content else ""
        self._out.write(f"┌─ {self._where(message.destination)} · {message.kind.value}{protected}\n")
        for line in lines:
            self._out.write(f"│ {line}\n")
        for attachment in message.attachments:  # a terminal shows no photo: its name and size
            self._out.write(f"│ [attachment: {attachment.name}, {attachment.mime}, {size_text(attachment.size)}]\n")
        self._out.write("└─\n")
        self._out.flush()
        return message_id

    async def edit_message(self, destination: Destination, message_id: str, text: str, key: str) -> None:
        """bot.actions.supersede.MessageEditor: a terminal cannot change what it printed, so the edit is
        printed as what that message now reads."""
        self._out.write(f"┌─ {self._where(destination)} · edit of {message_id}\n")
        for line in text.splitlines() or [""]:
            self._out.write(f"│ {line}\n")
        self._out.write("└─\n")
        self._out.flush()

