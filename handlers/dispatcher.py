"""From an inbound message to its effects: parse, check the sender and role, run the command, each
as the command's declaration in the registry (handlers/command_list.py) says.

Everything a command does is written through the unit of work it is given; the caller commits it
together with marking the inbox row done, so a command runs exactly once.
"""

from __future__ import annotations

import logging
from typing import Callable

from alerts.audit import AuditAction
from alerts.messages import InboundMessage, with_mentions
from handlers.command_list import COMMANDS
from handlers.commands import Command, ParseError
from handlers.answer_place import answer_placed
from handlers.context import CommandContext
from handlers.ports import DirectorySource, UnitOfWork
from handlers.post_item import PostingPolicy
from handlers.registry import Registry
from handlers.vocabulary import Vocabulary

log = logging.getLogger(__name__)

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
        # A person named by a mention (a Matrix pill shows only their display name in the plain text)
        # is read as their account.
        parsed = None if message.remark is not None else self._commands.parse(
            with_mentions(message.text, message.mentions), self._vocabulary())
        if parsed is None and message.remark is None:
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
        if parsed is None:  # a gesture that does nothing: say why, to a contact (a stranger's is left alone)
            if ctx.sender is not None and message.remark:
                answer_placed(ctx, message.remark, ())
            return
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
        self._run(ctx, parsed)

    def _run(self, ctx: CommandContext, command: Command) -> None:
        spec = self._commands.spec_for(command.name)
        assert spec is not None  # whatever the registry parsed, it declared
        spec.run(ctx, command, self._policy)
