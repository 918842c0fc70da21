"""From an inbound message to its effects: parse, check the sender and role, run the command, each
as the command's declaration in the registry (handlers/command_list.py) says.

Everything a command does is written through the unit of work it is given; the caller commits it
together with marking the inbox row done, so a command runs exactly once.
"""

from __future__ import annotations

import logging
from typing import Callable

from alerts.audit import AuditAction
from alerts.messages import InboundMessage
from handlers.command_list import COMMANDS
from handlers.commands import Command, ParseError
from handlers.context import CommandContext
from handlers.ports import DirectorySource, UnitOfWork
from handlers.post_item import PostingPolicy
from handlers.registry import Registry
from handlers.vocabulary import Vocabulary

log = logging.getLogger(__name__)

CARRY_ATTACHMENTS = frozenset({"alert", "request", "reply"})  # the commands a photo or file may come with

UNKNOWN_SENDER = (
    "You are not in this network's directory, so I cannot take commands from you. "
    "Ask an admin to add you (/member add)."
)


class Dispatcher:
    def __init__(
        self,
        directory: DirectorySource,
        policy: PostingPolicy,
        vocabulary: Callable[[], Vocabulary],
        new_key: Callable[[], str],
        commands: Registry = COMMANDS,
    ) -> None:
        self._commands = commands
        self._directory = directory
        self._policy = policy
        self._vocabulary = vocabulary
        self._new_key = new_key

    def handle(self, uow: UnitOfWork, message: InboundMessage) -> None:
        parsed = self._commands.parse(message.text, self._vocabulary())
        if parsed is None:
            return  # ordinary conversation: not ours to answer
        directory = self._directory.current()
        ctx = CommandContext(
            uow=uow,
            message=message,
            sender=directory.contact_for(message.sender),
            directory=directory,
            now=message.received_at,
            new_key=self._new_key,
            platforms=self._policy.platforms,
            encrypted_only=self._policy.encrypted_only,
        )
        name = parsed.command if isinstance(parsed, ParseError) else parsed.name
        if ctx.sender is None:
            ctx.audit(AuditAction.REFUSAL, detail={"command": name or "", "reason": "unknown sender"})
            ctx.answer(UNKNOWN_SENDER)
            return
        if isinstance(parsed, ParseError):
            ctx.answer(str(parsed))
            return
        ctx.audit(AuditAction.COMMAND, detail={"command": parsed.name, "event": message.event_id})
        denied = self._commands.refusal(parsed.name, ctx.sender)
        if denied:
            ctx.audit(AuditAction.REFUSAL, detail={"command": parsed.name, "reason": denied})
            ctx.answer(denied)
            return
        if message.attachments and parsed.name not in CARRY_ATTACHMENTS:
            # Fail closed: a file is never dropped silently, nor run with a command that cannot carry it.
            ctx.audit(AuditAction.REFUSAL, detail={"command": parsed.name, "reason": "attachment with a command "
                                                   "that takes none"})
            ctx.answer(f"Not done: /{parsed.name} takes no attachment. Photos and files go with /alert, "
                       "/request or /reply (the command in the caption), for example a photo captioned "
                       "/alert to:TH tlp:amber topic:document-fraud Altered passport, page 2.")
            return
        # /alert and /request check them in post_item (which also plans a RED message's removal).
        refused = self._policy.attachments.refusal(message.attachments) \
            if message.attachments and parsed.name not in ("alert", "request") else None
        if refused is not None:  # fail closed: the whole command, not its text without the files
            ctx.audit(AuditAction.REFUSAL, detail={"command": parsed.name, "reason": "attachments: " + refused})
            ctx.answer(refused)
            return
        self._run(ctx, parsed)

    def _run(self, ctx: CommandContext, command: Command) -> None:
        spec = self._commands.spec_for(command.name)
        assert spec is not None  # whatever the registry parsed, it declared
        spec.run(ctx, command, self._policy)
