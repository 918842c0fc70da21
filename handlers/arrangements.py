"""/arrangement add, /arrangement end, /arrangement list, and the reminder of an arrangement near its end.

Arrangements are the basis to share (alerts.arrangements); coordinators record them in chat, the
configuration may seed them, and routing reads them from the directory snapshot, against the
command's time. Each change is audited; the snapshot is replaced once the change commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta, timezone

from alerts.arrangements import Arrangement
from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.directory import Directory, OrgKind, Standing
from alerts.identity import Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.roles import Role
from alerts.routing import Destination
from handlers.commands import ArrangementAddCommand, ArrangementEndCommand
from handlers.context import CommandContext
from handlers.ports import UnitOfWork


def _detail(arrangement: Arrangement) -> dict[str, str]:
    return {"number": str(arrangement.number or ""), "document": arrangement.kind,
            "parties": ", ".join(sorted(arrangement.parties)), "topics": arrangement.scope(),
            "starts": arrangement.starts.isoformat() if arrangement.starts else "",
            "ends": arrangement.ends.isoformat() if arrangement.ends else "",
            "direction": f"from {arrangement.giver}" if arrangement.giver else "both ways"}


def status(arrangement: Arrangement, now: datetime) -> str:
    lapse = arrangement.lapse(now)
    if lapse is not None:
        return lapse
    if arrangement.ends is not None:
        left = (arrangement.ends - now.astimezone(timezone.utc).date()).days
        return f"in force, last day {arrangement.ends.isoformat()}" + (f" (in {left} days)" if left else " (today)")
    return "in force"


def arrangement_add(ctx: CommandContext, command: ArrangementAddCommand, membership: bool = True) -> None:
    """`membership`: whether members share with members without an arrangement (the routing policy's)."""
    directory = ctx.directory
    found = {code: directory.organisation(code) for code in command.parties}
    unknown = [code for code, org in found.items() if org is None]
    if unknown:
        ctx.answer(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not in the network. "
                   "/contacts lists who is.")
        return
    parties = tuple(dict.fromkeys(org.code for org in found.values() if org is not None))
    today = ctx.now.astimezone(timezone.utc).date()
    if command.ends is not None and command.ends < today:
        ctx.answer(f"until:{command.ends.isoformat()} is past: that arrangement has ended, and an ended one "
                   "authorises nothing. Give the day it ends, today or later.")
        return
    try:
        stored = ctx.uow.arrangements.add(Arrangement(command.document, frozenset(parties), frozenset(command.topics),
                                                      command.starts, command.ends, command.giver))
    except ValueError as error:
        ctx.answer(f"Not recorded: {error}. /arrangement list shows them; end the old one first, or name the "
                   "new document.")
        return
    ctx.audit(AuditAction.ADMIN, detail={"command": "arrangement add", **_detail(stored)})
    note = ""
    orgs = [directory.organisations[code] for code in parties]
    if membership and all(o.standing is Standing.MEMBER and o.kind is not OrgKind.COORDINATOR for o in orgs):
        note = (" Note: they are all members, who share on every topic by being members, so it changes no route "
                "unless [routing] membership_arrangement is turned off.")
    lapse = stored.lapse(ctx.now)  # "starts on ...": a verb of its own, not after "it is"
    state = f"it {lapse}" if lapse is not None else f"it is {status(stored, ctx.now)}"
    ctx.answer(f"Recorded arrangement {stored.describe()}; {state}. "
               f"Routing honours it from now on; /arrangement end {stored.number} REASON ends it.{note}")


def _find(directory: Directory, which: str) -> tuple[Arrangement | None, str]:
    """The arrangement `which` names (its number, or its document), or None and why not."""
    if which.isdigit():
        found = [a for a in directory.arrangements if a.number == int(which)]
    else:
        found = [a for a in directory.arrangements if a.kind.casefold() == which.casefold()]
        if len(found) > 1:
            open_ = [a for a in found if a.ended_at is None]
            found = open_ if len(open_) == 1 else found
    if not found:
        return None, f"No arrangement {'#' + which if which.isdigit() else repr(which)}. /arrangement list shows them."
    if len(found) > 1:
        return None, (f"{len(found)} arrangements have the document {which!r}: "
                      f"{', '.join('#' + str(a.number) for a in found)}. Say which by number.")
    return found[0], ""


def arrangement_end(ctx: CommandContext, command: ArrangementEndCommand) -> None:
    arrangement, why = _find(ctx.directory, command.which)
    if arrangement is None or arrangement.number is None:
        ctx.answer(why or "That arrangement has no number yet; try again in a moment.")
        return
    if arrangement.ended_at is not None or not ctx.uow.arrangements.end(arrangement.number, ctx.now, command.reason):
        ctx.answer(f"Arrangement #{arrangement.number} {arrangement.lapse(ctx.now) or 'was ended already'}; "
                   "nothing to end.")
        return
    ctx.audit(AuditAction.ADMIN, detail={"command": "arrangement end", "reason": command.reason,
                                         **_detail(arrangement)})
    ctx.answer(f"Ended arrangement {arrangement.describe()} ({command.reason}). From now on it authorises "
               "nothing: items it carried are refused with this reason.")


def arrangement_list(ctx: CommandContext) -> None:
    arrangements = sorted(ctx.directory.arrangements, key=lambda a: (a.number is None, a.number or 0, a.key))
    if not arrangements:
        ctx.answer("No sharing arrangements are recorded. Members share with members by being members; "
                   "record one with " + "/arrangement add between:MY,CA doc:\"…\".")
        return
    lines = ["Sharing arrangements:"]
    lines += [f"  {a.describe()}{', one way' if a.giver else ''} — {status(a, ctx.now)}" for a in arrangements]
    ctx.answer("\n".join(lines))


def remind_ending(uow: UnitOfWork, directory: Directory, now: datetime, notice: timedelta,
                  platforms: AbstractSet[Platform] | None = None) -> int:
    """Tell the coordinators, once per arrangement and end day, of each arrangement in force whose last
    day is at most `notice` away. The run's key makes it once-only however often the round runs; a
    changed end day is a new reminder. How many arrangements were told of."""
    told = 0
    coordinators = directory.with_role(Role.COORDINATOR)
    for arrangement in directory.arrangements:
        if not arrangement.ending_within(now, notice) or arrangement.ends is None:
            continue
        # Keys are short (outbox and run keys hold 100 characters): the number, else a digest of the key.
        ident = str(arrangement.number) if arrangement.number is not None else \
            hashlib.sha256(arrangement.key.encode()).hexdigest()[:16]
        key = f"arrangement-ending:{ident}:{arrangement.ends.isoformat()}"
        if not uow.reminders.claim(key, now):
            continue
        left = (arrangement.ends - now.astimezone(timezone.utc).date()).days
        text = (f"Sharing arrangement {arrangement.describe()} ends "
                f"{'today' if left == 0 else f'in {left} day' + ('s' if left != 1 else '')}: from "
                f"{(arrangement.ends + timedelta(days=1)).isoformat()} items it carries are refused. Renew it with "
                "/arrangement add (a new document), or let it end.")
        sent_to = []
        for n, contact in enumerate(coordinators):
            identity = next((i for i in contact.identities if platforms is None or i.platform in platforms), None)
            if identity is None:
                continue
            uow.outbox.enqueue(OutboundMessage(key=f"{key}:{n}", kind=MessageKind.NOTICE,
                                               destination=Destination.direct(identity), text=text,
                                               contact=contact.id))
            sent_to.append(contact.id)
        uow.audit.record(AuditEvent(action=AuditAction.REMINDER, at=now, actor=BOT_ACTOR, recipients=tuple(sent_to),
                                    channel="scheduler", detail={"kind": "arrangement ending", **_detail(arrangement)}))
        told += 1
    return told
