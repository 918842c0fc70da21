"""From an inbound message to its effects: parse, check the sender and role, run the command.

Everything a command does is written through the unit of work it is given; the caller commits it
together with marking the inbox row done, so a command runs exactly once.
"""

from __future__ import annotations

import logging
from typing import Callable

from alerts.audit import AuditAction
from alerts.messages import InboundMessage
from handlers import commands as cmd
from handlers import coordination, devices, followup, forwarding, membership
from handlers.context import CommandContext
from handlers.help import help_text
from handlers.info import contacts, whoami
from handlers.parser import ParseError, parse
from handlers.permissions import refusal
from handlers.ports import DirectorySource, UnitOfWork
from handlers.post_item import PostingPolicy, post_item
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
    ) -> None:
        self._directory = directory
        self._policy = policy
        self._vocabulary = vocabulary
        self._new_key = new_key

    def handle(self, uow: UnitOfWork, message: InboundMessage) -> None:
        parsed = parse(message.text, self._vocabulary())
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
        denied = refusal(parsed.name, ctx.sender)
        if denied:
            ctx.audit(AuditAction.REFUSAL, detail={"command": parsed.name, "reason": denied})
            ctx.answer(denied)
            return
        self._run(ctx, parsed)

    def _run(self, ctx: CommandContext, command: cmd.Command) -> None:
        match command:
            case cmd.AlertCommand(draft=draft, confirmed=confirmed) | cmd.RequestCommand(draft=draft, confirmed=confirmed):
                post_item(ctx, draft, self._policy, confirmed)
            case cmd.HelpCommand(topic=topic):
                ctx.answer(help_text(topic))
            case cmd.WhoamiCommand():
                whoami(ctx)
            case cmd.ContactsCommand(scope=scope):
                contacts(ctx, scope)
            case cmd.AckCommand(reference=reference):
                followup.acknowledge(ctx, reference)
            case cmd.ReplyCommand(reference=reference, text=text):
                followup.reply(ctx, reference, text)
            case cmd.CloseCommand(reference=reference, outcome=outcome):
                followup.close(ctx, reference, outcome)
            case cmd.StatusCommand(reference=reference):
                followup.status(ctx, reference, self._policy.platforms)
            case cmd.MineCommand():
                followup.mine(ctx)
            case cmd.ForwardCommand():
                forwarding.forward(ctx, command, self._policy)
            case cmd.ConsentCommand():
                forwarding.consent(ctx, command, self._policy)
            case cmd.OverdueCommand(scope=scope):
                coordination.overdue_command(ctx, scope)
            case cmd.StatsCommand(period=period):
                coordination.stats_command(ctx, period)
            case cmd.SnoozeCommand(reference=reference, duration=duration, reason=reason):
                coordination.snooze(ctx, reference, duration, reason)
            case cmd.RemindCommand(reference=reference):
                coordination.remind(ctx, reference)
            case cmd.EscalateCommand(reference=reference):
                coordination.escalate(ctx, reference)
            case cmd.MemberAddCommand():
                membership.member_add(ctx, command)
            case cmd.MemberRemoveCommand():
                membership.member_remove(ctx, command)
            case cmd.RoomsCommand():
                membership.rooms(ctx)
            case cmd.RoomSyncCommand(apply=apply):
                membership.room_sync(ctx, apply)
            case cmd.DeviceCommand():
                devices.device(ctx, command)
            case _:
                ctx.answer(
                    f"/{command.name} is understood but not available in this version yet. "
                    "Available now: /alert, /request, /ack, /reply, /close, /status, /mine, /forward, "
                    "/consent, /overdue, /stats, /snooze, /remind, /escalate, /member, /rooms, /room, /device, "
                    "/contacts, /whoami, /help."
                )
