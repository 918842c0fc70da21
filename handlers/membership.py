"""/member add, /member remove, /rooms and /room sync: the directory and the rooms kept in step.

Each command changes the directory and plans its room actions in the one transaction it runs in,
with the audit entries; nothing reaches a platform before that commits. The actions are carried
out afterwards, each once (bot/actions/membership.py), which tells the admin's chat how it went.
/room sync is a dry run unless --apply is given. The ports come with the unit of work
(uow.directory_writer, uow.membership).
"""

from __future__ import annotations

from dataclasses import replace

from alerts.audit import AuditAction
from alerts.caveat_rules import PRIVATE_FACTS, private_answer
from alerts.caveats import Tlp
from alerts.directory import Contact, Directory
from alerts.errors import InvalidValue, RouteRefused
from alerts.focal import management_refusal
from alerts.identity import ChatRef, Platform, UserRef
from alerts.membership import (Drift, Plan, PlannedAction, Run, contact_id_for, drift, offboarding_plan,
                               onboarding_plan, sync_plan)
from alerts.messages import MessageKind, OutboundMessage
from alerts.reachability import ACCOUNT_EXAMPLES, example_platform, not_run
from alerts.removal import LEAVE_DIRECT, OFFBOARDED, Removal, removal_message
from alerts.routing_types import DestinationKind
from alerts.items import Selector, SelectorKind
from alerts.lifecycle import DeliveryState
from alerts.render import render_delivery, render_erased
from alerts.times import zone_at, zone_line
from alerts.routing import Delivery, Destination, Route
from alerts.routing_places import direct_place
from handlers.answer_place import answer_placed, content_free_notice, messages_about
from handlers.commands_admin import ZONE_DEFAULT
from handlers.commands import MemberAddCommand, MemberBackupCommand, MemberRemoveCommand, ReassignCommand
from handlers.context import CommandContext
from handlers.followup import sender_of
from handlers.parse_admin import MEMBER_ADD_FULL_EXAMPLE
from handlers.ports import ItemRecord, MembershipGateway
from handlers.post_item import PostingPolicy
from handlers.values import parse_user
from handlers.withdrawal import delivered, originator_place, removable

SHOWN_PER_ROOM = 8  # names listed per room and kind before "and N more"
TELEGRAM_NOTE = ("Telegram cannot list a group's members: there the bot counts whom it invited, removed "
                 "or checked one by one.")


def _run(ctx: CommandContext) -> Run:
    # Progress notices go to the chat the command came from, where someone reads it.
    return Run(op=ctx.new_key(), requested_by=ctx.actor, reply_chat=ctx.channel if ctx.in_chat else None)


def _with_contacts(directory: Directory, contacts: list[Contact]) -> Directory:
    return Directory.build(directory.organisations.values(), contacts, directory.rooms, directory.arrangements,
                           default_zone=directory.default_zone)


def _on_platforms_run(ctx: CommandContext, plan: Plan) -> tuple[Plan, dict[ChatRef, list[PlannedAction]]]:
    """The plan's actions in rooms on a platform the bot runs, renumbered, and those it leaves out by room:
    planned there, an action would wait in the outbox for ever while the admin waits to hear it was done."""
    kept = [a for a in plan.actions if not_run(a.room.platform, ctx.platforms) is None]
    left: dict[ChatRef, list[PlannedAction]] = {}
    for action in plan.actions:
        if not_run(action.room.platform, ctx.platforms) is not None:
            left.setdefault(action.room, []).append(action)
    return Plan(tuple(replace(a, total=len(kept)) for a in kept), plan.unplaceable), left


def _left_out_lines(ctx: CommandContext, left: dict[ChatRef, list[PlannedAction]], removing: bool) -> list[str]:
    lines = []
    for room, actions in left.items():
        where = f"{actions[0].room_name} ({room})"
        unrun = f"{room.platform.value}, {not_run(room.platform, ctx.platforms)}"
        if removing:
            accounts = " or ".join(dict.fromkeys(str(a.identity) for a in actions))
            lines.append(f"Not removed from {where}: it is on {unrun}; if {accounts} is in it, remove them there "
                         "by hand.")
        else:
            lines.append(f"Left out: {where} is on {unrun}: they are not invited there.")
    return lines


def _plan_actions(ctx: CommandContext, gateway: MembershipGateway, plan: Plan, why: str) -> int:
    planned = gateway.plan(plan.actions)
    if plan.actions:
        ctx.audit(AuditAction.MEMBERSHIP, recipients=tuple(sorted({a.contact for a in plan.actions if a.contact})),
                  detail={"stage": "planned", "why": why, "op": plan.actions[0].op, "count": str(len(plan.actions)),
                          "actions": "; ".join(a.describe() for a in plan.actions)})
    return planned


def _rooms(plan: Plan) -> str:
    """The rooms a plan's actions are in, counted as rooms (not as actions), as the answer says it."""
    return f"{plan.rooms} room{'s' if plan.rooms != 1 else ''}"


def _action_lines(actions: tuple[PlannedAction, ...], limit: int = 20) -> list[str]:
    lines = [f"  {a.describe()}" for a in actions[:limit]]
    if len(actions) > limit:
        lines.append(f"  … and {len(actions) - limit} more")
    return lines


_WHEN_DONE = "I will say here when it is done."
# The command line has no chat to say it in; the running bot carries out the planned actions.
_WHEN_DONE_ELSEWHERE = "The running bot carries these out; its log and the audit log record each."


def _refuse(ctx: CommandContext, command: str, reason: str) -> None:
    """A focal point outside their own people: answered and recorded; nothing changes."""
    ctx.audit(AuditAction.REFUSAL, detail={"command": command, "reason": reason})
    ctx.answer(reason)


# --- /member add ----------------------------------------------------------------------------------

def _account_not_run(ctx: CommandContext, command: MemberAddCommand, platform: Platform,
                     existing: Contact | None) -> str | None:
    """The refusal of an account on a platform the bot does not run, unless the contact it belongs
    to has another account the bot reaches; None when it may be added."""
    unrun = not_run(platform, ctx.platforms)
    if unrun is None or (existing is not None and any(not_run(i.platform, ctx.platforms) is None
                                                      for i in existing.identities)):
        return None
    example = replace(command, user=ACCOUNT_EXAMPLES[example_platform(ctx.platforms)], backup=None).render()
    return f"Not added: {command.user} is on {platform.value}, {unrun}: nothing could reach them. Example: {example}"


def member_add(ctx: CommandContext, command: MemberAddCommand) -> None:
    writer, gateway = ctx.uow.directory_writer, ctx.uow.membership
    if command.user.startswith("@"):
        unrun = _account_not_run(ctx, command, Platform.TELEGRAM, None)
        if unrun is not None:
            ctx.answer(unrun)
            return
        ctx.answer(f"{command.user} is a Telegram username, and Telegram gives the bot no way to look one up. "
                   "Ask them to write to the bot, then use their number: /member add telegram:user:123456789 …")
        return
    try:
        identity = UserRef.parse(command.user)
    except InvalidValue as error:
        ctx.answer(str(error))
        return
    directory = ctx.directory
    existing = directory.contact_for(identity)
    unrun = _account_not_run(ctx, command, identity.platform, existing)
    if unrun is not None:
        ctx.answer(unrun)
        return
    org = directory.organisation(command.organisation)
    if org is None:
        ctx.answer(f"{command.organisation} is not in the network. See /contacts for the list.")
        return
    if command.desk is not None and command.desk not in org.desks:
        # The chat's parser checks this against the vocabulary; the command line builds the command itself.
        has = f"its desks: {', '.join(org.desks)}" if org.desks else "it has no desks: leave desk out"
        example = replace(command, desk=org.desks[0] if org.desks else None, backup=None).render()
        ctx.answer(f"{org.name} has no desk '{command.desk}' ({has}). Example: {example}")
        return
    refused = management_refusal(ctx.sender, directory, org.code, command.desk, {command.role})
    if refused is None and existing is not None:
        refused = management_refusal(ctx.sender, directory, existing.organisation, existing.desk, existing.roles)
    if refused is not None:
        _refuse(ctx, "member add", refused)
        return
    backup: Contact | None = None
    if command.backup is not None:
        backup = _backup_named(directory, command.backup)
        if backup is None or (existing is not None and backup.id == existing.id) or identity in backup.identities:
            ctx.answer(f"Backup {command.backup} is not someone else in the directory: name a contact by id or "
                       f"account (see /contacts), or add them first. Example: {MEMBER_ADD_FULL_EXAMPLE}")
            return
    if existing is not None and existing.organisation != org.code:
        ctx.answer(f"{identity} is already {existing.title(directory)} (@{existing.id}). "
                   f"Remove them first (/member remove {existing.id}) to move them to {org.name}.")
        return
    # "" is none of their own: the network's default (tz:default, or someone new given no tz:).
    zone = "" if command.timezone == ZONE_DEFAULT else command.timezone
    if existing is not None:
        contact = replace(existing, roles=existing.roles | {command.role}, desk=command.desk or existing.desk,
                          name=command.display_name or existing.name,
                          timezone=existing.timezone if zone is None else zone,
                          backup=backup.id if backup is not None else existing.backup)
        writer.update_contact(contact)
        verb = "Updated"
    else:
        name = identity.user_id.removeprefix("@").split(":")[0] if identity.platform is not Platform.TELEGRAM \
            else f"Telegram user {identity.telegram_id}"
        contact = Contact(id=contact_id_for(identity, directory.contacts), name=command.display_name or name,
                          organisation=org.code, roles=frozenset({command.role}), identities=(identity,),
                          desk=command.desk, timezone=zone or "",
                          backup=backup.id if backup is not None else None)
        writer.add_contact(contact)
        verb = "Added"
    after = _with_contacts(directory, [contact if c.id == contact.id else c for c in directory.contacts.values()]
                           + ([] if existing else [contact]))
    present = {room.chat: tuple(gateway.present(room.chat) or ()) for room in after.rooms}
    plan, left = _on_platforms_run(ctx, onboarding_plan(contact, after, _run(ctx), present))
    ctx.audit(AuditAction.ADMIN, recipients=(contact.id,),
              detail={"command": "member add", "contact": contact.id, "identity": str(identity),
                      "organisation": org.code, "role": command.role.value, "desk": command.desk or "",
                      "name": contact.name, "backup": contact.backup or "", "timezone": contact.timezone,
                      "change": verb.lower(), **({"left_out": ", ".join(map(str, left))} if left else {})})
    _plan_actions(ctx, gateway, plan, "onboarding")
    where = org.name + (f", {contact.desk} desk" if contact.desk else "")
    chosen = after.backup_for(contact)
    lines = [f"{verb} {contact.name} (@{contact.id}, {where}) with roles "
             f"{', '.join(sorted(r.value for r in contact.roles))}; time zone {zone_line(after, contact)}; "
             + (f"backup {chosen.title(after)}." if chosen is not None
                else "no backup (their open items would stay with nobody if they left: add one with backup:).")]
    if plan.actions:
        lines.append(f"Bringing them into {_rooms(plan)}:")
        lines += _action_lines(plan.actions)
        lines.append(_WHEN_DONE if ctx.in_chat else _WHEN_DONE_ELSEWHERE)
    elif not left:
        lines.append("No room to bring them into: they are in every room they belong in, as far as I know.")
    lines += _left_out_lines(ctx, left, removing=False)
    for room in plan.unplaceable:
        lines.append(f"Not placed in {room.name}: they have no {room.chat.platform.value} account in the directory.")
    other = directory.point_of_contact(org.code, contact.desk)
    if existing is None and contact.is_point_of_contact and other is not None and \
            (other.desk == contact.desk) and other.id != contact.id:
        selector = org.code + (f"/{contact.desk}" if contact.desk else "")
        lines.append(f"Note: {other.title(directory)} is already the point of contact there and stays first: "
                     f"{contact.name} receives nothing sent to:{selector} while they are, and joining rooms brings "
                     "them nothing under the default routing. What would reach them: naming them "
                     f"(to:@{contact.id}), a desk of their own (desk:…, with the desk in the config), or a "
                     "[[routing.rules]] entry that sends to them.")
    ctx.answer("\n".join(lines))


def _backup_named(directory: Directory, text: str) -> Contact | None:
    """A contact by id or account, as a person types either (`th-imm2`, `@th-imm2:example.org`)."""
    found = directory.contact(text)
    if found is not None:
        return found
    try:
        return directory.contact(parse_user(text))
    except InvalidValue:
        return None


# --- /member remove --------------------------------------------------------------------------------

def member_remove(ctx: CommandContext, command: MemberRemoveCommand) -> None:
    writer, gateway = ctx.uow.directory_writer, ctx.uow.membership
    directory = ctx.directory
    contact = directory.contact(command.user)
    if contact is None:
        ctx.answer(f"Nobody in the directory is {command.user}. See /contacts.")
        return
    refused = management_refusal(ctx.sender, directory, contact.organisation, contact.desk, contact.roles)
    if refused is not None:
        _refuse(ctx, "member remove", refused)
        return
    present = {room.chat: gateway.present(room.chat) for room in directory.rooms}
    plan, left = _on_platforms_run(ctx, offboarding_plan(contact, directory, _run(ctx), present,
                                                         note=command.reason or ""))
    handed, kept, without_backup, tlps = _hand_over(ctx, contact)
    taken_back, too_old, unrun = _take_back(ctx, contact)
    writer.remove_contact(contact.id)
    # Their web portal sessions end with this transaction: someone who left reads nothing more.
    ctx.uow.portal.end_sessions(contact.id, ctx.now)
    ctx.audit(AuditAction.ADMIN, recipients=(contact.id,),
              detail={"command": "member remove", "contact": contact.id, "reason": command.reason or "",
                      "accounts": ", ".join(str(i) for i in contact.identities),
                      "handed_over": ", ".join(handed), "not_handed_over": ", ".join(without_backup),
                      "copies_taken_back": str(taken_back), "copies_too_old": str(too_old),
                      **({"left_out": ", ".join(map(str, left))} if left else {}),
                      **({"copies_not_run": str(sum(unrun.values()))} if unrun else {})})
    _plan_actions(ctx, gateway, plan, "offboarding")
    lines = [f"Removed {contact.title(directory)} (@{contact.id}) from the directory"
             + (f" ({command.reason})." if command.reason else ".")]
    if plan.actions:
        lines.append(f"Removing them from {_rooms(plan)}:")
        lines += _action_lines(plan.actions)
        lines.append(_WHEN_DONE if ctx.in_chat else _WHEN_DONE_ELSEWHERE)
    lines += _left_out_lines(ctx, left, removing=True)
    backup = directory.backup_for(contact)
    item_lines: list[str] = []
    if handed:
        item_lines.append(f"Handed {len(handed)} open item{'s' if len(handed) != 1 else ''} to "
                          f"{backup.title(directory) if backup else 'their backup'}: {', '.join(handed)}; "
                          "their originators are told.")
    if without_backup:
        item_lines.append(f"No backup to hand over to: {', '.join(without_backup)} stay with nobody; "
                          "give them to someone with /reassign REF to:PERSON.")
    if kept:
        item_lines.append(f"Items they sent stay open under their name: {', '.join(kept)}.")
    if item_lines and private_answer(ctx.message.chat, tlps, ctx.message.direct):
        # Who now holds an AMBER+STRICT or RED item is a fact of it: not for a shared chat.
        strictest = max(tlps & PRIVATE_FACTS, key=lambda t: t.rank)
        ctx.uow.outbox.enqueue(replace(ctx.answer_message("\n".join(item_lines)),
                                       destination=Destination.direct(ctx.message.sender), reply_to=None))
        item_lines = [f"Their open items: answered in your direct chat with the bot, because they include "
                      f"{strictest.label} items, whose details stay out of shared chats."]
    lines += item_lines
    orphans = [c.id for c in directory.contacts.values() if c.backup == contact.id and c.id != contact.id]
    if orphans:
        lines.append(f"They were the backup of {', '.join(orphans)}: give them a new one.")
    lines += _take_back_lines(ctx, contact, taken_back, too_old, unrun)
    ctx.answer("\n".join(lines))


def _revision_tlps(ctx: CommandContext, record: ItemRecord) -> dict[int, Tlp]:
    """The TLP each revision of the item was sent under: the current one's, and the earlier ones' as
    the audit log recorded them (a revision not found there is left out: its copies count as RED)."""
    found = {record.item.revision: record.item.caveat.tlp}
    if record.item.revision > 1:
        for text in ctx.uow.audit.revisions(record.item.reference):
            try:
                found.setdefault(text.revision, Tlp.parse(text.caveat.split()[0]))
            except (InvalidValue, IndexError):
                continue
    return found


def _take_back(ctx: CommandContext, leaving: Contact) -> tuple[int, int, dict[Platform, int]]:
    """Plan the removal of the bot's copies of TLP:AMBER and above in the leaving person's direct
    chats (open and closed items alike; a copy of an earlier revision by the TLP it was sent under, and
    one they held for someone away too), then, on Matrix, the bot leaving each of those chats: REMOVAL
    outbox rows, in this transaction, queued behind whatever else goes to that chat. Copies of GREEN
    and CLEAR items stay, and so do those on a platform the bot does not run now (a row planned there
    would wait for ever). Returns (copies to be taken back, Telegram copies too old to delete, copies
    left on each platform not run)."""
    planned: list[OutboundMessage] = []
    too_old = 0
    unrun: dict[Platform, int] = {}
    admin = sender_of(ctx)
    name = f"the direct chat of {leaving.title(ctx.directory)}"
    for record in ctx.uow.items.get_many(ctx.uow.items.find(leaving.id)):
        item = record.item
        if record.withdrawal is not None:
            continue  # a withdrawn item's copies were taken back when it was withdrawn
        copies = [(item.revision, d) for d in record.deliveries]
        if item.revision > 1:  # an earlier copy stays in their chat: edited to say so, or as sent
            copies += ctx.uow.items.earlier_deliveries(item.reference)
        tlps: dict[int, Tlp] | None = None
        for revision, delivery in copies:
            # Where the copy is: a copy they held for someone away is in their chat; one held for them
            # by their delegate is in the delegate's, who stays.
            destination = Destination.parse(delivery.place)
            if (delivery.holder != leaving.id or destination.kind is not DestinationKind.DIRECT
                    or not isinstance(destination.address, UserRef) or not delivered(delivery)):
                continue
            if tlps is None:
                tlps = _revision_tlps(ctx, record)
            if tlps.get(revision, Tlp.RED).rank < Tlp.AMBER.rank:  # unknown: taken back, failing closed
                continue
            if not_run(destination.platform, ctx.platforms) is not None:
                unrun[destination.platform] = unrun.get(destination.platform, 0) + 1
                continue
            if not removable(destination, delivery, ctx.now):
                too_old += destination.platform is Platform.TELEGRAM and delivery.platform_message_id is not None
                continue
            assert delivery.platform_message_id is not None
            planned.append(removal_message(Removal(
                chat=None, message_id=delivery.platform_message_id, chat_name=name, officer=admin.id,
                officer_account=originator_place(ctx, admin.id, record), officer_name=admin.title(ctx.directory),
                tlp=tlps.get(revision, item.caveat.tlp).label, noun=item.kind.noun.lower(),
                # An erased case's key is gone: the row is not tied to it (it names no content anyway).
                reference=str(item.reference) if record.erasure is None else None,
                purpose=OFFBOARDED, direct_with=destination.address)))
    leaves = [removal_message(Removal(
        chat=None, message_id="leave", chat_name=name, officer=admin.id,
        officer_account=None, officer_name=admin.title(ctx.directory),  # the audit log records how it went
        tlp="", noun="", reference=None, purpose=LEAVE_DIRECT, direct_with=identity))
        for identity in leaving.identities
        if identity.platform is Platform.MATRIX and not_run(Platform.MATRIX, ctx.platforms) is None]
    ctx.uow.outbox.enqueue_many(planned + leaves)  # in this order: each chat's removals before its leave
    return len(planned), too_old, unrun


def _take_back_lines(ctx: CommandContext, leaving: Contact, taken_back: int, too_old: int,
                     unrun: dict[Platform, int]) -> list[str]:
    """What the removal report says of the copies in their direct chats, and what cannot be taken back."""
    lines: list[str] = []
    if taken_back:
        lines.append(f"Taking back {taken_back} cop{'y' if taken_back == 1 else 'ies'} of TLP:AMBER and above "
                     "from their direct chats with the bot; copies of TLP:GREEN and TLP:CLEAR items stay.")
    if too_old:
        one = too_old == 1
        lines.append(f"{too_old} Telegram cop{'y is' if one else 'ies are'} older than 48 hours: Telegram no longer "
                     f"lets the bot delete {'it' if one else 'them'}, so {'it stays' if one else 'they stay'} "
                     "with them.")
    for platform, count in unrun.items():
        one = count == 1
        lines.append(f"{count} cop{'y' if one else 'ies'} of TLP:AMBER and above in their {platform.value.capitalize()} "
                     f"direct chat {'stays' if one else 'stay'}: {'it is' if one else 'they are'} on {platform.value}, "
                     f"{not_run(platform, ctx.platforms)}.")
    if taken_back or too_old or unrun:
        lines.append("Nothing can take back what they already forwarded, copied or screenshotted.")
    platforms = {identity.platform for identity in leaving.identities
                 if not_run(identity.platform, ctx.platforms) is None}
    if Platform.MATRIX in platforms:
        lines.append("The bot leaves their Matrix direct chat after that.")
    if Platform.TELEGRAM in platforms:
        lines.append("Telegram does not let a bot leave a private chat: the bot simply sends nothing more there.")
    return lines


# --- /member backup --------------------------------------------------------------------------------

def member_backup(ctx: CommandContext, command: MemberBackupCommand) -> None:
    """Name who takes over someone's open items when they leave (handed over by /member remove)."""
    directory = ctx.directory
    contact = directory.contact(command.user)
    if contact is None:
        ctx.answer(f"Nobody in the directory is {command.user}. See /contacts.")
        return
    backup = directory.contact(command.backup) if command.backup is not None else None
    if command.backup is not None and backup is None:
        ctx.answer(f"Nobody in the directory is {command.backup}, to be the backup. See /contacts.")
        return
    if backup is not None and backup.id == contact.id:
        ctx.answer(f"{contact.title(directory)} cannot be their own backup: name someone else, or none.")
        return
    refused = management_refusal(ctx.sender, directory, contact.organisation, contact.desk, contact.roles)
    if refused is None and backup is not None:
        # Naming a backup gives them the person's items at removal: they must be one's own people too.
        refused = management_refusal(ctx.sender, directory, backup.organisation, backup.desk, (), who="the backup")
    if refused is not None:
        _refuse(ctx, "member backup", refused)
        return
    ctx.uow.directory_writer.update_contact(replace(contact, backup=backup.id if backup else None))
    ctx.audit(AuditAction.ADMIN, recipients=(contact.id,),
              detail={"command": "member backup", "contact": contact.id, "backup": backup.id if backup else "",
                      "previous": contact.backup or ""})
    if backup is None:
        ctx.answer(f"{contact.title(directory)} (@{contact.id}) has no backup now: at removal their open items "
                   "would stay with nobody.")
        return
    ctx.answer(f"{backup.title(directory)} (@{backup.id}) is now the backup of {contact.title(directory)} "
               f"(@{contact.id}): they take over {contact.name}'s open items at removal.")


def _hand_over(ctx: CommandContext, leaving: Contact) -> tuple[list[str], list[str], list[str], set[Tlp]]:
    """The leaving person's open received items go to their backup as new deliveries of the same
    items; each originator is told. Returns (handed over, sent by them, not handed over, and the
    TLPs of all of those)."""
    directory = ctx.directory
    backup = directory.backup_for(leaving)
    if backup is not None and (backup.id == leaving.id or not backup.identities):
        backup = None
    handed: list[str] = []
    kept: list[str] = []
    without: list[str] = []
    tlps: set[Tlp] = set()
    for record in ctx.uow.items.for_contact(leaving.id):
        reference = str(record.item.reference)
        if record.erasure is not None:
            continue  # nothing left to hand over: its content is gone, and it is closed
        tlps.add(record.item.caveat.tlp)
        if record.delivery_to(leaving.id) is None:
            kept.append(reference)
            continue
        if backup is None:
            without.append(reference)
            _tell_originator(ctx, record, f"{leaving.title(directory)} has left the network; their copy of "
                                          f"{reference} has no backup to go to. Coordinators can reassign it "
                                          f"(/reassign {reference} to:PERSON).")
            continue
        handed.append(reference)
        if record.delivery_to(backup.id) is not None:
            continue  # the backup has it already
        reason = f"handover from {leaving.id}"
        place = direct_place(backup, record.item.caveat, directory, ctx.encrypted_only, ctx.platforms)
        if place.destination is None:  # no chat of the backup's may carry this item: as if there were none
            handed.remove(reference)
            without.append(reference)
            _tell_originator(ctx, record, f"{leaving.title(directory)} has left the network; their copy of "
                                          f"{reference} cannot go to their backup, {backup.title(directory)}, who "
                                          f"has no chat that may carry {record.item.caveat.tlp.label}. "
                                          f"Coordinators can reassign it (/reassign {reference} to:PERSON).")
            continue
        key = ctx.new_key()
        route = Route((Delivery(backup.id, place.destination, reason),))
        ctx.uow.items.add_deliveries(record.item.reference, route, {backup.id: key})
        item = record.item
        text = render_delivery(item, directory, forwarded=f"Handed over to you from {leaving.title(directory)}, "
                                                         "who has left the network",
                               zone=zone_at(directory, backup.id, route.deliveries[0].destination))
        ctx.uow.outbox.enqueue(OutboundMessage(
            key=key, kind=MessageKind.DELIVERY, destination=route.deliveries[0].destination, text=text,
            reference=reference, contact=backup.id, protect_content=item.caveat.protect_content,
            attention=backup.identities,
            attachments=ctx.uow.items.attachment_ids(item.reference)))  # the item's own files go with it
        if place.notice is not None:
            ctx.uow.outbox.enqueue(OutboundMessage(
                key=ctx.new_key(), kind=MessageKind.NOTICE, destination=place.notice, reference=reference,
                contact=backup.id, text=content_free_notice(item.caveat.tlp, reference, place.destination)))
        ctx.audit(AuditAction.ADMIN, recipients=(backup.id,), reference=reference, caveat=item.caveat.label(),
                  detail={"handover_from": leaving.id, "to": backup.id})
        _tell_originator(ctx, record, f"{leaving.title(directory)} has left the network; their copy of {reference} "
                                      f"was handed over to {backup.title(directory)}.")
    return handed, kept, without, tlps


def _tell_originator(ctx: CommandContext, record: ItemRecord, text: str) -> None:
    """Where the item's caveat lets a message about it go; for an originator who has left, the chat
    the item came from, unless its facts must stay out of shared chats."""
    item = record.item
    found = messages_about(ctx.directory, item.originator, item.caveat, str(item.reference), text, ctx.new_key,
                           encrypted_only=ctx.encrypted_only, platforms=ctx.platforms)
    if not found and not private_answer(item.origin_chat, {item.caveat.tlp}):
        found = [OutboundMessage(key=ctx.new_key(), kind=MessageKind.NOTICE, destination=Destination.chat(
            item.origin_chat), text=text, reference=str(item.reference), contact=item.originator)]
    ctx.uow.outbox.enqueue_many(found)


# --- /reassign ------------------------------------------------------------------------------------

def reassign(ctx: CommandContext, command: ReassignCommand, policy: PostingPolicy) -> None:
    """The open copies of an item whose recipients have left go to someone of the same organisation,
    as new deliveries of the item (as a handover to a backup does); they and the originator are told."""
    directory, ref = ctx.directory, str(command.reference)
    record = ctx.uow.items.get(command.reference)
    if record is None:
        ctx.answer(f"No item {ref}.")
        return
    if record.erasure is not None:
        ctx.answer(render_erased(ref, record.erasure))
        return
    tlps = {record.item.caveat.tlp}
    person = _backup_named(directory, command.to)
    if person is None:
        answer_placed(ctx, f"{command.to} is not in the directory: name a contact by id or account (see /contacts). "
                           f"Example: /reassign {ref} to:@th-imm2:example.org", tlps)
        return
    left = [d for d in record.deliveries
            if d.contact not in directory.contacts and d.state != DeliveryState.ANSWERED.value]
    if record.closure is not None or not left:
        answer_placed(ctx, f"{ref} has no open copy left with someone who has left the network: nothing to reassign."
                      + (" It is closed." if record.closure is not None else ""), tlps)
        return
    if record.delivery_to(person.id) is not None:
        answer_placed(ctx, f"{person.title(directory)} has {ref} already: nothing to reassign.", tlps)
        return
    # It goes to them only as it would have if its originator had named them: caveat, arrangements and
    # channels checked as for any item (fail closed).
    originator = directory.contacts.get(record.item.originator)
    why = "its originator has left the network" if originator is None else None
    found: Delivery | None = None
    if originator is not None:
        named = replace(record.item.draft, recipients=(Selector(SelectorKind.PERSON, person=person.id),))
        try:
            route = policy.router(directory, ctx.now).route(named, originator)
            found = next((d for d in route.deliveries if d.contact == person.id), None)
            why = None if found is not None else "no copy of it could go to them"
        except RouteRefused as refused:
            why = str(refused)
    place = direct_place(person, record.item.caveat, directory, ctx.encrypted_only, ctx.platforms)
    if found is None or why is not None or place.destination is None:
        why = why or f"they have no chat that may carry {record.item.caveat.tlp.label}"
        ctx.audit(AuditAction.REFUSAL, reference=ref, caveat=record.item.caveat.label(),
                  detail={"command": "reassign", "to": person.id, "reason": why})
        answer_placed(ctx, f"Not reassigned to {person.title(directory)}: {why.rstrip('.')}.", tlps)
        return
    who = ", ".join(d.contact for d in left)
    key = ctx.new_key()
    route = Route((Delivery(person.id, found.destination, f"reassigned from {who} by {ctx.actor}"),))
    ctx.uow.items.add_deliveries(command.reference, route, {person.id: key})
    item = record.item
    assert ctx.sender is not None
    text = render_delivery(item, directory, forwarded=f"Reassigned to you by {ctx.sender.title(directory)}, in "
                                                     f"place of {who}, who has left the network",
                           zone=zone_at(directory, person.id, found.destination))
    ctx.uow.outbox.enqueue(OutboundMessage(key=key, kind=MessageKind.DELIVERY, destination=found.destination,
                                           text=text, reference=ref, contact=person.id,
                                           protect_content=item.caveat.protect_content))
    ctx.audit(AuditAction.ADMIN, recipients=(person.id,), reference=ref, caveat=item.caveat.label(),
              detail={"command": "reassign", "from": who, "to": person.id})
    _tell_originator(ctx, record, f"{ctx.sender.title(directory)} reassigned {ref}: the copy of {who}, who has left "
                                  f"the network, went to {person.title(directory)}.")
    answer_placed(ctx, f"Reassigned {ref} to {person.title(directory)} in place of {who}; they and the originator "
                       "are told.", tlps)


# --- /rooms and /room sync ---------------------------------------------------------------------------

def _drifts(ctx: CommandContext, gateway: MembershipGateway) -> list[Drift]:
    found = []
    for room in ctx.directory.rooms:
        present = gateway.present(room.chat)
        found.append(drift(room, ctx.directory, present.keys() if present is not None else None))
    return found


def rooms(ctx: CommandContext) -> None:
    drifts = _drifts(ctx, ctx.uow.membership)
    if not drifts:
        ctx.answer("No rooms are registered. Admins register them with /room register, or in the configuration "
                   "([[network.rooms]]).")
        return
    lines = [f"{len(drifts)} registered room{'s' if len(drifts) != 1 else ''}:"]
    for d in drifts:
        members = f"{d.present} member{'s' if d.present != 1 else ''}" if d.known else "members not seen yet"
        state = "in step" if d.clean and d.known else \
            f"drift: {len(d.missing)} missing, {len(d.unexpected)} should not be there"
        serves = "".join(f" · {what} {', '.join(sorted(values))}"
                         for what, values in (("hubs", d.room.hubs), ("topics", d.room.topics)) if values)
        lines.append(f"• {d.room.name} · {d.room.purpose.value} · {d.room.chat.platform.value}{serves} · {members} "
                     f"(expected {d.expected}) · {state}")
    if any(d.room.chat.platform is Platform.TELEGRAM for d in drifts):
        lines.append(TELEGRAM_NOTE)
    lines.append("Details: /room sync (a dry run); /room sync --apply to fix.")
    ctx.audit(AuditAction.CONSULTATION, detail={"command": "rooms"})
    ctx.answer("\n".join(lines))


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN_PER_ROOM])
    return shown + (f" and {len(items) - SHOWN_PER_ROOM} more" if len(items) > SHOWN_PER_ROOM else "")


def _left_out(ctx: CommandContext, drifts: list[Drift]) -> tuple[list[Drift], list[str]]:
    """The rooms /room sync keeps in step, and a line for each room on a platform the bot does not run:
    an action planned there would only wait in the outbox, or fail."""
    kept, lines = [], []
    for d in drifts:
        unrun = not_run(d.room.chat.platform, ctx.platforms)
        if unrun is None:
            kept.append(d)
        else:
            lines.append(f"Left out: {d.room.name} ({d.room.chat}) is on {d.room.chat.platform.value}, {unrun}: "
                         "nothing is planned for it.")
    return kept, lines


def room_sync(ctx: CommandContext, apply: bool) -> None:
    gateway = ctx.uow.membership
    drifts, left_out = _left_out(ctx, _drifts(ctx, gateway))
    plan = sync_plan(drifts, ctx.directory, _run(ctx))
    lines = []
    for d in drifts:
        if d.clean:
            continue
        lines.append(f"{d.room.name} ({d.room.chat}):")
        if d.missing:
            lines.append(f"  missing: {_names([c for _, c in d.missing])}")
        if d.unexpected:
            lines.append(f"  should not be there: {_names([str(u) for u in d.unexpected])}")
    if not plan.actions:
        ctx.audit(AuditAction.ADMIN, detail={"command": "room sync", "apply": str(apply).lower(), "actions": "0",
                                             "left_out": str(len(left_out))})
        ctx.answer("\n".join([("Every room on a platform this bot runs is in step with the directory, as far as I "
                               "know." if left_out else "Every room is in step with the directory, as far as I know."),
                              *([TELEGRAM_NOTE] if any(d.room.chat.platform is Platform.TELEGRAM for d in drifts)
                                else []), *left_out]))
        return
    ctx.audit(AuditAction.ADMIN, detail={"command": "room sync", "apply": str(apply).lower(),
                                         "actions": str(len(plan.actions)), "left_out": str(len(left_out))})
    if not apply:
        ctx.answer("\n".join([f"Dry run, nothing changed. {len(plan.actions)} action"
                              f"{'s' if len(plan.actions) != 1 else ''} would be taken:", *lines,
                              *_action_lines(plan.actions), *left_out, "To do it: /room sync --apply"]))
        return
    _plan_actions(ctx, gateway, plan, "room sync")
    ctx.answer("\n".join([f"Applying {len(plan.actions)} action{'s' if len(plan.actions) != 1 else ''}:", *lines,
                          *_action_lines(plan.actions), *left_out, "Progress will follow here."]))
