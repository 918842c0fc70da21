"""/overdue, /stats, /snooze, /remind and /escalate: the coordinators' views, and follow-up by hand.

Who may do what (the dispatcher checks roles first; anyone refused here is told why, and audited):
  /overdue   coordinators and admins see everyone; officers and contacts see what they owe or sent
  /stats     coordinators, admins and auditors
  /snooze    a recipient holds their own reminders; the originator or a coordinator, the whole item's
  /remind    the originator or a coordinator: every recipient who still owes something, at once
  /escalate  the originator, a recipient or a coordinator: every coordinator is told at once

Answers and messages carry references, TLP labels and names, never an item's content; a person's
words about an item (a snooze reason relayed) open with the item's banner line.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from alerts.audit import AuditAction
from alerts.digest import render_overdue
from alerts.incident import COUNT_MINIMUM, Incident, harmonised_counts
from alerts.items import Reference, Selector, SelectorKind
from alerts.messages import MessageKind
from alerts.render import banner_line
from alerts.reminder_render import render_escalation, render_nudge, title, when_for
from alerts.reminders import FollowUp, Owed, Snooze, Track, chased, distinct_recipients, open_tracks, overdue
from alerts.roles import Role
from alerts.stats import group_stats, period_bounds, render_stats
from alerts.times import contact_zone, local_time
from handlers.context import CommandContext
from handlers.followup import drop_waiting_reminders, find_item, notify, refuse, sender_of
from handlers.answer_place import answer_zone, messages_about
from handlers.pressed import plan_buttons
from handlers.ports import ItemRecord, ItemSummary, ReminderRepository, UnitOfWork
from handlers.visibility import overdue_for, overdue_shown

def in_direct_chat(ctx: CommandContext) -> bool:
    """Whether the command came from a direct chat. Where the platform cannot tell (Matrix), a chat
    that is not a registered room is taken as direct: registered rooms are where groups meet."""
    chat = ctx.message.chat
    return chat.is_direct is True or (chat.is_direct is None and ctx.directory.room(chat) is None)


def _in_scope(ctx: CommandContext, contact_id: str, scope: Selector | None) -> bool:
    if scope is None or scope.kind is SelectorKind.ALL:
        return True
    if scope.kind is SelectorKind.PERSON:
        person = ctx.directory.contact(scope.person or "")
        return person is not None and person.id == contact_id
    contact = ctx.directory.contacts.get(contact_id)
    org = ctx.directory.organisation(scope.organisation or "")
    if contact is None or org is None or contact.organisation != org.code:
        return False
    return scope.kind is SelectorKind.ORGANISATION or (contact.desk or "") == (scope.desk or "").lower()


def _follow_up(store: ReminderRepository, reference: Reference) -> FollowUp:
    [found] = store.follow_ups([str(reference)])  # the caller checked that the item is open
    return found


def _owed(ctx: CommandContext, item: FollowUp) -> list[tuple[str, Track, datetime]]:
    """What each recipient still owes on the item, overdue or not: (contact, track, due)."""
    owed = []
    for progress in distinct_recipients(item.recipients):
        tracks = open_tracks(item, progress) if chased(ctx.directory, progress.contact) else []
        if tracks:
            owed.append((progress.contact, *tracks[0]))
    return owed


def overdue_command(ctx: CommandContext, scope: Selector | None) -> None:
    store = ctx.uow.reminders
    me = sender_of(ctx)
    owed: list[Owed] = overdue(store.overdue(ctx.now), ctx.now, ctx.directory)
    owed = overdue_for(me, owed)
    owed = [o for o in owed if _in_scope(ctx, o.contact, scope)]
    in_room = not in_direct_chat(ctx)
    ctx.audit(AuditAction.CONSULTATION, detail={
        "command": "overdue", "scope": str(scope) if scope else "all", "view": "room" if in_room else "direct",
        "references": ", ".join(sorted({o.item.reference for o in owed})),
    })
    ctx.answer(render_overdue(owed, ctx.directory, ctx.now, in_room=in_room, zone=answer_zone(ctx),
                              scope=str(scope) if scope else None, shown=overdue_shown(me)))


def stats_command(ctx: CommandContext, period: str | None, count_minimum: int = COUNT_MINIMUM) -> None:
    store = ctx.uow.reminders
    since, until, label = period_bounds(period, ctx.now)
    groups = group_stats(store.exchange_times(since, until), ctx.directory, ctx.now)
    counts = harmonised_counts(incidents_of(ctx.uow, store.summaries(since, until)), count_minimum)
    ctx.answer("\n".join([render_stats(groups, label, since, until), *counts]))


def incidents_of(uow: UnitOfWork, summaries: Iterable[ItemSummary]) -> list[Incident]:
    """The harmonised fields of each item, opened from its sealed content; an erased item has none."""
    found = []
    for summary in summaries:
        record = uow.items.get(Reference.parse(summary.reference))
        if record is not None and record.erasure is None:
            found.append(record.item.draft.incident)
    return found


def _item_for(ctx: CommandContext, reference: Reference, command: str) -> ItemRecord | None:
    """The open item, or None after saying it is unknown or closed."""
    record = find_item(ctx, reference, command)
    if record is not None and record.closure is not None:
        ctx.answer(f"{reference} is closed: there are no reminders on it any more. See /status {reference}.")
        return None
    return record


def snooze(ctx: CommandContext, reference: Reference, duration: timedelta, reason: str) -> None:
    store = ctx.uow.reminders
    record = _item_for(ctx, reference, "snooze")
    if record is None:
        return
    me, item = sender_of(ctx), record.item
    if me.id == item.originator or me.has(Role.COORDINATOR):
        held, whose = None, "every recipient"
    elif record.delivery_to(me.id) is not None:
        held, whose = me.id, "you"
    else:
        refuse(ctx, record, "snooze", f"Only recipients of {reference}, its originator and coordinators can "
                                      "hold its reminders.")
        return
    until = ctx.now + duration
    store.add_snooze(str(reference), Snooze(held, until, me.id, ctx.now))
    # One queued already and still waiting on its platform would go during the snooze: not sent.
    # Its stage stays done; the round plans the next one from the snooze's end.
    drop_waiting_reminders(ctx, str(reference), held, set(Track), "snoozed")
    plan_buttons(ctx, record, held_until=until)
    ctx.audit(AuditAction.REMINDER, reference=str(reference), caveat=item.caveat.label(),
              detail={"snooze": until.isoformat(), "for": held or "every recipient", "reason": reason})
    if held is not None and item.originator != me.id:
        said = f" Reason: {reason}" if reason else ""
        notify(ctx, item.originator, MessageKind.NOTICE, record,
               f"{banner_line(item)}\n{ctx.directory.contacts[me.id].title(ctx.directory)} holds reminders on "
               f"{reference} until {when_for(until, ctx.directory, item.originator)}.{said}",
               protect_content=item.caveat.protect_content)
    ctx.answer(f"Reminders on {reference} for {whose} are held until {local_time(until, answer_zone(ctx))}."
               + (" The reason is recorded." if reason else " Add a reason next time: it is recorded."))


def remind(ctx: CommandContext, reference: Reference) -> None:
    store = ctx.uow.reminders
    record = _item_for(ctx, reference, "remind")
    if record is None:
        return
    me, item = sender_of(ctx), record.item
    if me.id != item.originator and not me.has(Role.COORDINATOR):
        refuse(ctx, record, "remind", f"Only the originator of {reference} or a coordinator can remind its recipients.")
        return
    follow = _follow_up(store, reference)
    told = []
    for contact_id, track, due in _owed(ctx, follow):
        text = render_nudge(follow, track, due, title(ctx.directory, me.id), ctx.directory, contact_id, ctx.now)
        # Keyed, so its content-free notice is `<key>:notice`: /close finds it with the reminder.
        found = messages_about(ctx.directory, contact_id, item.caveat, str(reference), text, ctx.new_key,
                               key=ctx.new_key(), kind=MessageKind.REMINDER, encrypted_only=ctx.encrypted_only, platforms=ctx.platforms,
                               protect_content=item.caveat.protect_content)
        if not found:
            continue
        ctx.uow.outbox.enqueue_many(found)
        ctx.audit(AuditAction.REMINDER, recipients=(contact_id,), reference=str(reference),
                  caveat=item.caveat.label(), detail={"stage": f"{track.value}-manual", "asked_by": me.id})
        zone = contact_zone(ctx.directory, contact_id)
        told.append(f"{title(ctx.directory, contact_id)} ({'acknowledgement' if track is Track.ACK else 'feedback'}; "
                    f"it is {local_time(ctx.now, zone)} there)")
    if not told:
        ctx.answer(f"Nobody who has received {reference} owes anything on it now: nothing to remind.")
        return
    ctx.answer(f"Reminded about {reference}: " + ", ".join(told) + ".")


def escalate(ctx: CommandContext, reference: Reference) -> None:
    store = ctx.uow.reminders
    record = _item_for(ctx, reference, "escalate")
    if record is None:
        return
    me, item = sender_of(ctx), record.item
    if me.id != item.originator and record.delivery_to(me.id) is None and not me.has(Role.COORDINATOR):
        refuse(ctx, record, "escalate", f"Only the originator, recipients and coordinators of {reference} can "
                                        "escalate it.")
        return
    coordinators = [c for c in ctx.directory.with_role(Role.COORDINATOR) if c.id != me.id and c.identities]
    if not coordinators:
        ctx.answer("There is no other coordinator in the directory to escalate to. Ask an admin to add one.")
        return
    follow = _follow_up(store, reference)
    owed = _owed(ctx, follow)
    for coordinator in coordinators:
        text = render_escalation(follow, owed, ctx.directory, ctx.now, target=coordinator.id,
                                 automatic=False, asked_by=title(ctx.directory, me.id))
        ctx.uow.outbox.enqueue_many(messages_about(
            ctx.directory, coordinator.id, item.caveat, str(reference), text, ctx.new_key, key=ctx.new_key(),
            kind=MessageKind.ESCALATION, encrypted_only=ctx.encrypted_only, platforms=ctx.platforms,
            protect_content=item.caveat.protect_content))
    ctx.audit(AuditAction.ESCALATION, recipients=tuple(c.id for c in coordinators), reference=str(reference),
              caveat=item.caveat.label(),
              detail={"asked_by": me.id, "owed": ", ".join(f"{c} {t.value}" for c, t, _ in owed) or "nothing"})
    names = ", ".join(c.title(ctx.directory) for c in coordinators)
    ctx.answer(f"{reference} is escalated to {names}.")
