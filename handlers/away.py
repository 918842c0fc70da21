"""/away and /back: a person away names a delegate, who receives their new items and reminders and
may acknowledge and reply for them; the person is told what arrived when they are back.

    /away until:2026-12-24 backup:@th-immigration on leave   (the person)
    /away @th-npoc until:2026-12-24 backup:@th-immigration   (a coordinator, for someone)
    /away                                                     what is set
    /away off, /back                                          back early

What never passes to a delegate (alerts/away.py): TLP:RED (named people only), copies posted in a
room, and an item the delegate may not read under its caveat. Those go to the person as usual and
wait for them; the originator's receipt says so.

A delegate who goes away later themselves passes the person's items on: the chain is followed to
the first person who is here (alerts.away.follow, bounded), and anyone named along it may act for
the person. /away refuses a backup whose chain comes back to the person (a circle), and a backup who
is away. The summary when back says when the delegate was away too.

A contact's backup (the directory's `backup`) is given the item itself when escalation reaches
them (handlers/followup_reminders.py), and may then acknowledge and reply for the contact too. A
backup away then is stood in for along their chain (alerts.reminders): the first person here on it
is given it instead and may act as the backup would while on that chain.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import date, datetime

from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.away import (EXAMPLE, MAX_HOPS, Absence, AwayRefused, Chain, away_too_text, chain_text, check_absence,
                         follow, for_line, may_pass, summary_due, until_text)
from alerts.caveat_rules import ENCRYPTED_ONLY, check
from alerts.caveats import Caveat, Tlp
from alerts.directory import Contact, Directory
from alerts.identity import Platform
from alerts.items import Item
from alerts.messages import MessageKind, OutboundMessage
from alerts.reminder_policy import QuietHours
from alerts.reminders import Stage, Track, chased, reminder_key
from alerts.times import clock_time, contact_zone, zone_name
from alerts.roles import Role
from alerts.routing import Destination, DestinationKind
from alerts.routing_places import direct_place
from handlers.commands import AwayCommand, BackCommand
from handlers.answer_place import messages_about
from handlers.context import CommandContext
from handlers.lexer import CommandSyntaxError, shorten, take_word
from handlers.ports import ItemRecord, UnitOfWork
from handlers.vocabulary import Vocabulary


def parse_away(rest: str, vocabulary: Vocabulary) -> AwayCommand:
    person: str | None = None
    word, after = take_word(rest)
    if word.startswith("@"):
        person, (word, after) = word[1:], take_word(after)
    if word.lower() == "off":
        if after.strip():
            raise CommandSyntaxError(f"Unexpected '{shorten(after.strip(), 30)}': /away off takes nothing more.")
        return AwayCommand(person, off=True)
    until: date | None = None
    backup: str | None = None
    while word:
        key, colon, value = word.partition(":")
        if not colon:
            break
        if key.lower() == "until":
            try:
                until = date.fromisoformat(value)
            except ValueError:
                raise CommandSyntaxError(f"until:{shorten(value, 20)} is not a date. Give YYYY-MM-DD, your time. "
                                         f"Example: {EXAMPLE}") from None
        elif key.lower() in ("backup", "delegate"):
            backup = value.removeprefix("@")
            if not backup:
                raise CommandSyntaxError(f"Say who stands in for you after backup:. Example: {EXAMPLE}")
        else:
            raise CommandSyntaxError(f"/away takes until: and backup:, not {shorten(key, 20)}:. Example: {EXAMPLE}")
        word, after = take_word(after)
    note = " ".join(part for part in (word, after.strip()) if part)
    if until is None and backup is None and not note:
        return AwayCommand(person)
    if until is None or backup is None:
        raise CommandSyntaxError(f"/away needs both until: (your last day away) and backup: (who stands in). "
                                 f"Example: {EXAMPLE}. To end it: /away off")
    if len(note) > 200:
        raise CommandSyntaxError("The note is too long: at most 200 characters.")
    return AwayCommand(person, until=until, backup=backup, note=note)


def parse_back(rest: str, vocabulary: Vocabulary) -> BackCommand:
    if rest.strip():
        first = rest.split()[0]
        other = (f" To end someone else's absence (coordinators): /away {shorten(first, 30)} off."
                 if first.startswith("@") else "")
        raise CommandSyntaxError(f"Unexpected '{shorten(rest.strip(), 30)}': /back takes nothing. Example: /back."
                                 + other)
    return BackCommand()


# --- the command ---------------------------------------------------------------------------------


def away(ctx: CommandContext, cmd: AwayCommand) -> None:
    me = ctx.sender
    assert me is not None, "senders are checked before commands run"
    person: Contact | None = me
    if cmd.person is not None:
        person = ctx.directory.contact(cmd.person)
        if person is None:
            ctx.answer(f"No contact '{cmd.person}' in the directory (see /contacts). Example: /away @th-npoc")
            return
        if person.id != me.id and not (me.has(Role.COORDINATOR) or me.has(Role.ADMIN)):
            _refuse(ctx, f"Only coordinators set someone else away; you may set yourself. Example: {EXAMPLE}")
            return
    assert person is not None
    yours = person.id == me.id
    whose = "You are" if yours else f"{person.title(ctx.directory)} is"
    if cmd.off:
        ended = ctx.uow.absences.end(person.id, ctx.now, me.id)
        if ended is None:
            # Back by the date, before their morning's summary: they asked for it, so it comes now.
            waiting = [a for a in ctx.uow.absences.returned(ctx.now) if a.person == person.id]
            told = sum(summarise(ctx.uow, ctx.directory, a, ctx.now, platforms=ctx.platforms,
                                 encrypted_only=ctx.encrypted_only) for a in waiting)
            ctx.answer(f"Welcome back: {'your' if yours else 'their'} absence ended by its date; what arrived "
                       f"meanwhile is sent {'to you ' if yours else ''}now." if told
                       else f"{whose} not set away. To set it: {EXAMPLE}")
            return
        ctx.audit(AuditAction.AWAY, recipients=(person.id, ended.delegate),
                  detail={"event": "ended", "person": person.id, "delegate": ended.delegate, "absence": ended.id})
        _tell_delegate(ctx, ended, f"{person.title(ctx.directory)} is back: you no longer stand in for them.")
        summarise(ctx.uow, ctx.directory, ended, ctx.now, platforms=ctx.platforms, encrypted_only=ctx.encrypted_only)
        ctx.answer(f"Welcome back{'' if yours else ', noted for ' + person.name}: new items go to "
                   f"{'you' if yours else 'them'} again.")
        return
    if cmd.until is None or cmd.backup is None:
        current = ctx.uow.absences.current(person.id, ctx.now)
        if current is None:
            ctx.answer(f"{whose} not set away. To set it: {EXAMPLE}")
        else:
            ctx.answer(_describe(current, ctx.directory, whose, yours))
        return
    delegate = ctx.directory.contact(cmd.backup)
    try:
        until = check_absence(person, delegate, cmd.backup, cmd.until, ctx.now, ctx.directory)
    except AwayRefused as error:
        _refuse(ctx, str(error))
        return
    assert delegate is not None
    ahead = chain_of(ctx.uow, delegate.id, ctx.now)
    if person.id in ahead.delegates:  # their items would come back round to the person, away
        _refuse(ctx, _circle(ctx, person, delegate, ahead, yours))
        return
    theirs = ahead.away
    if theirs is not None:  # their copies would wait with someone away too
        _refuse(ctx, f"{delegate.title(ctx.directory)} is away themselves until {until_text(theirs, ctx.directory)}: "
                     f"name someone who is here to stand in. Example: {EXAMPLE}")
        return
    absence = Absence(ctx.new_key(), person.id, delegate.id, until, cmd.note, me.id, ctx.now)
    ctx.uow.absences.add(absence)
    ctx.audit(AuditAction.AWAY, recipients=(person.id, delegate.id),
              detail={"event": "set", "person": person.id, "delegate": delegate.id, "until": until.isoformat(),
                      "note": cmd.note, "absence": absence.id})
    # Those the person stood in for, away themselves: their items now go on to the delegate too.
    behind = stood_in_for(ctx.uow, person.id, ctx.now)
    through = (f" Through them you also stand in for {_names(ctx.directory, [a.person for a in behind])}, "
               f"who {'is' if len(behind) == 1 else 'are'} away too." if behind else "")
    _tell_delegate(ctx, absence, f"You stand in for {person.title(ctx.directory)}, who is away until "
                                 f"{until_text(absence, ctx.directory)}: their new items and reminders come to you, "
                                 f"and you may /ack and /reply for them. TLP:RED items still go to them alone."
                                 + through)
    if not yours:
        _tell(ctx, person, f"{me.title(ctx.directory)} set you away until {until_text(absence, ctx.directory)}; "
                           f"{delegate.title(ctx.directory)} stands in. Back early: /back")
    passed_on = (f" Items for {_names(ctx.directory, [a.person for a in behind])}, whom "
                 f"{'you' if yours else 'they'} stand in for, go on to {delegate.title(ctx.directory)} meanwhile."
                 if behind else "")
    ctx.answer(_describe(absence, ctx.directory, whose, yours) + passed_on)


def back(ctx: CommandContext) -> None:
    away(ctx, AwayCommand(off=True))


def _describe(absence: Absence, directory: Directory, whose: str, yours: bool) -> str:
    delegate = directory.contacts.get(absence.delegate)
    name = delegate.title(directory) if delegate else absence.delegate
    note = f" Note: {absence.note}." if absence.note else ""
    end = "/away off" if yours else f"/away @{absence.person} off"
    return (f"{whose} away until {until_text(absence, directory)} (inclusive); {name} receives new items and "
            f"reminders and may acknowledge and reply for {'you' if yours else 'them'}. TLP:RED items are not "
            f"passed on: they wait.{note} End it: {end}")


def _circle(ctx: CommandContext, person: Contact, delegate: Contact, ahead: Chain, yours: bool) -> str:
    """The refusal of a backup whose chain of stand-ins comes back to the person: the circle named."""
    names = [person.id, delegate.id]
    for named in ahead.delegates:
        names.append(named)
        if named == person.id:
            break
    circle = " → ".join(_name(ctx.directory, c) for c in names)
    return (f"backup:@{delegate.id} would close a circle: {circle}, so {'your' if yours else 'their'} items "
            f"would reach nobody who is here. Name a backup who is here (not away). Example: {EXAMPLE}")


def _name(directory: Directory, contact_id: str) -> str:
    contact = directory.contacts.get(contact_id)
    return contact.name if contact else contact_id


def _names(directory: Directory, contact_ids: list[str]) -> str:
    return ", ".join(_title(directory, c) for c in contact_ids)


def _refuse(ctx: CommandContext, text: str) -> None:
    ctx.audit(AuditAction.REFUSAL, detail={"command": "away", "reason": text})
    ctx.answer(text)


def _tell(ctx: CommandContext, contact: Contact, text: str) -> None:
    place = direct_place(contact, Caveat(Tlp.GREEN), ctx.directory, ctx.encrypted_only, ctx.platforms).destination
    if place is not None:
        ctx.uow.outbox.enqueue(OutboundMessage(key=ctx.new_key(), kind=MessageKind.NOTICE, destination=place,
                                               text=text, contact=contact.id))


def _tell_delegate(ctx: CommandContext, absence: Absence, text: str) -> None:
    delegate = ctx.directory.contacts.get(absence.delegate)
    if delegate is not None and (ctx.sender is None or delegate.id != ctx.sender.id):
        _tell(ctx, delegate, text)


# --- deliveries and reminders for someone away -------------------------------------------------


def chain_of(uow: UnitOfWork, person_id: str, now: datetime) -> Chain:
    """Who stands in for the person at `now`: their delegates followed while each is away too."""
    return follow(person_id, lambda contact: uow.absences.current(contact, now))


def stood_in_for(uow: UnitOfWork, contact: str, now: datetime) -> list[Absence]:
    """The running absences whose chain of delegates passes through `contact` (those they may act
    for), nearest first: the people who named them, then those who named those, and so on. Bounded
    as alerts.away.follow is: each person once, MAX_HOPS deep."""
    found: list[Absence] = []
    seen, frontier = {contact}, [contact]
    for _ in range(MAX_HOPS):
        nearer: list[str] = []
        for named in frontier:
            for absence in uow.absences.standing_in_for(named, now):
                # Only the absence that counts for them (two running at once is never set, but
                # whatever is stored, this walk and chain_of must agree).
                if absence.person not in seen and uow.absences.current(absence.person, now) == absence:
                    seen.add(absence.person)
                    found.append(absence)
                    nearer.append(absence.person)
        if not nearer:
            break
        frontier = nearer
    return found


def stand_in_place(uow: UnitOfWork, directory: Directory, person_id: str, caveat: Caveat, audience: frozenset[str],
                   now: datetime, *, encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY,
                   platforms: AbstractSet[Platform] | None = None
                   ) -> tuple[Chain | None, Contact | None, Destination | None]:
    """The chain of stand-ins of a person away, and, when the item may pass to the first of them
    who is here, that person and the direct chat it goes to there (the same placement as any
    delivery). (None, None, None) when the person is not away. Nobody is given it when the chain
    reaches nobody who is here (a circle, or too long): the person's copy goes to them, to wait and
    be escalated as any copy not acknowledged."""
    chain = chain_of(uow, person_id, now)
    if chain.away is None:
        return None, None, None
    delegate = directory.contacts.get(chain.reached) if chain.reached is not None else None
    if delegate is None or not may_pass(caveat):
        return chain, None, None
    place = direct_place(delegate, caveat, directory, encrypted_only, platforms).destination
    if place is None or check(caveat, place, directory, audience) is not None:
        return chain, None, None
    return chain, delegate, place


def divert_delivery(ctx: CommandContext, item: Item, message: OutboundMessage, audience: frozenset[str]
                    ) -> tuple[OutboundMessage, str | None]:
    """A delivery (or an update, a closure) to someone away goes to their delegate, headed "For X, who
    is away until …", where it may; what the audit and the receipt say of it (None: not away)."""
    person = ctx.directory.contacts.get(message.contact or "")
    if person is None or message.destination.kind is not DestinationKind.DIRECT:
        return message, None
    chain, delegate, place = stand_in_place(ctx.uow, ctx.directory, person.id, item.caveat, audience, ctx.now,
                                            encrypted_only=ctx.encrypted_only, platforms=ctx.platforms)
    if chain is None or chain.away is None:
        return message, None
    absence = chain.away
    if delegate is not None and delegate.id == item.originator:  # they sent it: nothing to pass on
        return message, None
    if delegate is None or place is None:
        if not may_pass(item.caveat):
            why = "TLP:RED is for named people only"
        elif chain.reached is None:  # a circle, or too long: escalated from their own copy as any other
            why = f"nobody standing in for them is here ({chain_text(chain, ctx.directory)})"
        else:
            why = "their delegate may not receive it"
        return message, (f"{person.title(ctx.directory)} is away until {until_text(absence, ctx.directory)}; "
                         f"{why}, so it waits for them.")
    diverted = replace(message, destination=place, contact=delegate.id,
                       attention=delegate.identities if message.attention else (),
                       text=f"{for_line(person, absence, ctx.directory, chain)}\n{message.text}")
    passed = f" ({away_too_text(chain, ctx.directory)})" if chain.away_too else ""
    return diverted, (f"{person.title(ctx.directory)} is away until {until_text(absence, ctx.directory)}; "
                      f"it goes to {delegate.title(ctx.directory)}, who stands in{passed}.")


# --- acting for someone ----------------------------------------------------------------------------


def acting_for(ctx: CommandContext, record: ItemRecord) -> tuple[str, str] | None:
    """(contact, "delegate" or "backup") whose copy the sender may act on: a recipient away with the
    sender as delegate, or a recipient whose escalation reached the sender as their backup (or as one
    standing in for their backup, away). Never for TLP:RED. Copies not yet acknowledged come first."""
    me = ctx.sender
    if me is None or not may_pass(record.item.caveat):
        return None
    reference = str(record.item.reference)
    follow_up = next(iter(ctx.uow.reminders.follow_ups([reference])), None)
    done = follow_up.done if follow_up is not None else frozenset()
    for delivery in sorted(record.deliveries, key=lambda d: (d.progress.state.answered, d.progress.state.acknowledged)):
        # Anyone named along the chain: the delegate, and whom they named while away too.
        if me.id in chain_of(ctx.uow, delivery.contact, ctx.now).delegates:
            return delivery.contact, "delegate"
        person = ctx.directory.contacts.get(delivery.contact)
        backup = person.backup if person is not None else None
        # The backup, or, while they are away, anyone standing in for them (escalation went on to
        # the first of them who was here; its key stays the backup's).
        if person is not None and backup is not None and any(
                reminder_key(reference, person.id, track, Stage.BACKUP, 0, backup) in done for track in Track) and (
                me.id == backup or me.id in chain_of(ctx.uow, backup, ctx.now).delegates):
            return delivery.contact, "backup"
    return None


def note_act(ctx: CommandContext, person: str, act: str) -> None:
    """Note, for the person's summary when back, what their delegate did for them (naming who did
    it when someone further along the chain did)."""
    chain = chain_of(ctx.uow, person, ctx.now)
    absence, me = chain.away, ctx.sender
    if absence is not None and me is not None and me.id in chain.delegates:
        by = "" if absence.delegate == me.id else f"{BY}{me.title(ctx.directory)})"
        ctx.uow.absences.note_act(absence.id, act + by)


def kept_back(ctx: CommandContext, record: ItemRecord) -> str | None:
    """Why the sender, standing in for a recipient, may not act on this item (TLP:RED); None otherwise."""
    me = ctx.sender
    if me is None or may_pass(record.item.caveat):
        return None
    for delivery in record.deliveries:
        if me.id in chain_of(ctx.uow, delivery.contact, ctx.now).delegates:
            return (f"{record.item.reference} is TLP:RED: it is for named people only, so it waits for "
                    f"{_title(ctx.directory, delivery.contact)}; you cannot act on it for them.")
    return None


# --- back: what arrived meanwhile ---------------------------------------------------------------------


BY = " (by "  # an act noted as done by someone further along the chain than the delegate


def summary_key(absence: Absence) -> str:
    return f"away-back:{absence.id}"


def summarise(uow: UnitOfWork, directory: Directory, absence: Absence, now: datetime, *,
              platforms: AbstractSet[Platform] | None = None,
              encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY) -> bool:
    """Tell the person what arrived while they were away and how far each got; once (the absence is
    marked, and the outbox key is the absence's). False when it was told before."""
    if not uow.absences.mark_summarised(absence.id, now):
        return False
    delegate = directory.contacts.get(absence.delegate)
    came_back = absence.back_at()
    arrived = [r for r in uow.items.for_contact(absence.person)
               if absence.set_at <= r.item.created_at < came_back and r.delivery_to(absence.person) is not None
               and r.erasure is None]
    name = delegate.title(directory) if delegate else absence.delegate
    zone = contact_zone(directory, absence.person)  # the summary goes to their direct chat
    lines = [f"Welcome back. While you were away ({clock_time(absence.set_at, zone)} to {clock_time(came_back, zone)} "
             f"{zone_name(zone)}), "
             f"{name} stood in for you."]
    # Their delegate away too meanwhile: whom their items went on to then.
    for theirs in uow.absences.overlapping(absence.delegate, absence.set_at, came_back):
        start, end = max(theirs.set_at, absence.set_at), min(theirs.back_at(), came_back)
        lines.append(f"{name} was away too from {clock_time(start, zone)} to {clock_time(end, zone)}; "
                     f"{_title(directory, theirs.delegate)} stood in for you both then.")
    for record in arrived:
        delivery = record.delivery_to(absence.person)
        assert delivery is not None
        item = record.item
        head = f"{item.reference} [{item.caveat.tlp.label}] from {_title(directory, item.originator)}"
        if not may_pass(item.caveat):
            state = "waiting for you (TLP:RED is not passed on)"
        elif delivery.answered_at is not None:
            state = f"answered {clock_time(delivery.answered_at, zone)}"
        elif delivery.acknowledged_at is not None:
            state = f"acknowledged {clock_time(delivery.acknowledged_at, zone)}, not yet answered"
        else:
            state = "not yet acknowledged"
        held = (f" (given to {_title(directory, delivery.held_by)})"
                if delivery.held_by is not None and delivery.held_by != absence.delegate else "")
        lines.append(f"• {head}: {state}{held}")
    if not arrived:
        lines.append("Nothing arrived for you meanwhile.")
    # What they had before going away and still owe: not answered, the item open (alerts.reminders
    # reminds them of it again from now on, by the usual stages).
    before = [r for r in uow.items.for_contact(absence.person) if chased(directory, absence.person)
              and r.item.created_at < absence.set_at and r.closure is None and r.erasure is None
              and (d := r.delivery_to(absence.person)) is not None and d.sent_at is not None
              and d.answered_at is None
              and (r.item.feedback_due is not None or (r.item.ack_due is not None and d.acknowledged_at is None))]
    if before:
        lines.append("Still waiting for you from before:")
    for record in before:
        delivery = record.delivery_to(absence.person)
        assert delivery is not None
        item = record.item
        state = ("acknowledged, not yet answered" if delivery.acknowledged_at is not None
                 else "not yet acknowledged")
        lines.append(f"• {item.reference} [{item.caveat.tlp.label}] from {_title(directory, item.originator)}: "
                     f"{state}")
    # Their reminders go on now they are back: the round plans these items again at once.
    uow.reminders.set_plans({str(r.item.reference): now for r in before + arrived if r.closure is None}, now)
    if absence.acts:
        done_by = "Done for you" if any(BY in act for act in absence.acts) else f"What {name} did for you"
        lines.append(f"{done_by}: {'; '.join(absence.acts)}.")
    if arrived or before:
        lines.append("Details: /status REF · open items: /mine")
    strictest = max((r.item.caveat.tlp for r in arrived + before), key=lambda t: t.rank, default=Tlp.GREEN)
    found = messages_about(directory, absence.person, Caveat(strictest), "what arrived while you were away", "\n".join(lines),
                           lambda: summary_key(absence), key=summary_key(absence), kind=MessageKind.NOTICE,
                           encrypted_only=encrypted_only, platforms=platforms)
    found = [replace(m, reference=None) for m in found]
    uow.outbox.enqueue_many(found)
    uow.audit.record(AuditEvent(action=AuditAction.AWAY, at=now, actor=BOT_ACTOR, recipients=(absence.person,),
                                channel=str(found[0].destination) if found else "scheduler",
                                detail={"event": "summary", "person": absence.person, "absence": absence.id,
                                        "items": ", ".join(str(r.item.reference) for r in arrived),
                                        "owed": ", ".join(str(r.item.reference) for r in before)}))
    return True


def summarise_returns(uow: UnitOfWork, directory: Directory, now: datetime, *,
                      platforms: AbstractSet[Platform] | None = None,
                      encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY, quiet: QuietHours | None = None) -> int:
    """The scheduler's part: every absence over (its date passed, or ended) whose person was not told,
    once its summary is due (alerts.away.summary_due: their morning, when it ran out by its date)."""
    told = 0
    for absence in uow.absences.returned(now):
        if summary_due(absence, contact_zone(directory, absence.person), quiet) > now:
            continue
        told += summarise(uow, directory, absence, now, platforms=platforms, encrypted_only=encrypted_only)
    return told


def _title(directory: Directory, contact_id: str) -> str:
    contact = directory.contacts.get(contact_id)
    return contact.title(directory) if contact else contact_id

