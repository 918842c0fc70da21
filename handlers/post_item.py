"""/alert and /request: route the draft, number it, and queue every delivery in one transaction."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from alerts.attachments import AttachmentPolicy, size_text
from alerts.audit import AuditAction
from alerts.caveat_rules import ENCRYPTED_ONLY, shared_chat
from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.errors import InvalidValue, ReferenceUnavailable, RouteRefused
from alerts.incident import COUNT_MINIMUM
from alerts.items import Item, ItemDraft, Selector
from alerts.identity import Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.reachability import reachable, why_unreachable
from alerts.removal import Removal, removal_message
from alerts.render import render_delivery, render_places, render_receipt
from alerts.times import UTC, contact_zone, local_or_none
from alerts.times import zone_at
from alerts.release import NO_RELEASE, HeldRelease, ReleasePolicy, approvers
from alerts.routing import Destination, Route, RouteNeedsConfirmation, Router, RoutingPolicy
from alerts.routing_types import Notice
from handlers.answer_place import answer_zone, attention_of, messages_about, placed_answer
from handlers.away import divert_delivery
from handlers.context import CommandContext
from handlers.portal import PortalPolicy
from handlers.values import check_due


# Numbers an item may skip because their cases were erased before they were issued (a mistyped
# `audit erase`); more than this in a row is not a typo, and the command fails with an error reference.
_NUMBERS_TRIED = 20


@dataclass(frozen=True)
class PostingPolicy:
    """Due times, and how to route: `routing` (rules, arrangements) when given, else the topic defaults alone.
    `platforms` are those the bot runs connectors for, a live view (None: every platform counts as running)."""

    due: DuePolicy
    topic_defaults: Mapping[str, tuple[Selector, ...]] = field(default_factory=dict)
    routing: RoutingPolicy | None = None
    platforms: AbstractSet[Platform] | None = None
    release: ReleasePolicy = NO_RELEASE  # which items wait for a second person's approval
    attachments: AttachmentPolicy = field(default_factory=AttachmentPolicy)
    count_minimum: int = COUNT_MINIMUM  # the smallest count of a harmonised field /stats shows
    portal: PortalPolicy | None = None  # None: the web portal is not served, /portal says so

    @property
    def membership_arrangement(self) -> bool:
        """Whether members share with members without an arrangement (alerts.arrangements)."""
        return self.routing.membership_arrangement if self.routing is not None else True

    @property
    def encrypted_only(self) -> frozenset[Tlp]:
        return self.routing.encrypted_only if self.routing is not None else ENCRYPTED_ONLY

    def router(self, directory: Directory, at: datetime | None = None) -> Router:
        """`at`: the time sharing arrangements' dates are checked against (the command's)."""
        return Router(directory, self.routing if self.routing is not None else self.topic_defaults,
                      platforms=self.platforms, at=at)


def refusal_answer(refused: RouteRefused) -> str:
    if isinstance(refused, RouteNeedsConfirmation):
        names = ", ".join(m.recipient for m in refused.missing)
        return (f"Not sent: {'; '.join(str(m) for m in refused.missing)}. To send anyway, repeat the command "
                f"with confirm:yes (it is recorded); or leave {names} out, or ask a coordinator to record the "
                "arrangement.")
    return f"Not sent: {refused}"


def post_item(ctx: CommandContext, draft: ItemDraft, policy: PostingPolicy, confirmed: bool = False) -> Item | None:
    """Accept the draft or refuse it with the reason; a refusal routes nothing and is audited. An item
    that needs two-person release is numbered and held, unsent (handlers/release.py)."""
    assert ctx.sender is not None, "senders are checked before commands run"
    try:
        check_due(draft.due, ctx.now)  # here, where the clock is: the parser has none
    except InvalidValue as error:
        ctx.answer(str(error))
        return None
    attachments = ctx.message.attachments
    refused_files = policy.attachments.refusal(attachments) if attachments else None
    if refused_files is not None:  # fail closed: the whole command, not the text without its files
        ctx.audit(AuditAction.REFUSAL, caveat=draft.caveat.label(), purpose=draft.purpose,
                  recipients=tuple(str(s) for s in draft.recipients),
                  detail={"command": draft.kind.noun.lower(), "reason": "attachments: " + refused_files,
                          **plan_removal(ctx, draft, None)})
        ctx.uow.outbox.enqueue_many(placed_answer(ctx, refused_files, {draft.caveat.tlp}))
        return None
    try:
        route = policy.router(ctx.directory, ctx.now).route(draft, ctx.sender, confirmed=confirmed)
    except RouteRefused as refused:
        removal = plan_removal(ctx, draft, None)
        ctx.audit(
            AuditAction.REFUSAL,
            caveat=draft.caveat.label(),
            purpose=draft.purpose,
            recipients=tuple(str(s) for s in draft.recipients),
            detail={"command": draft.kind.noun.lower(), "reason": str(refused), **removal},
        )
        ctx.uow.outbox.enqueue_many(placed_answer(ctx, refusal_answer(refused), {draft.caveat.tlp}))
        return None
    reach = reach_of(ctx, route, policy)
    if reach.nobody:
        _refuse_unreachable(ctx, draft, reach)
        return None
    if policy.release.needs_release(draft):
        return _hold(ctx, draft, policy, confirmed)

    ack_due, feedback_due = policy.due.due_times(draft, ctx.now)
    keys = {delivery.contact: ctx.new_key() for delivery in route.deliveries}
    item, files = number_item(ctx, draft, ack_due, feedback_due, route, keys)
    ref = str(item.reference)
    queued, detail = queue_deliveries(ctx, item, route, reach, keys, files)
    detail.update(plan_removal(ctx, draft, ref))
    ctx.audit(
        AuditAction.ITEM_CREATED,
        recipients=route.recipients,  # with those reached by a room post made for another recipient
        reference=ref,
        caveat=draft.caveat.label(),
        purpose=draft.purpose,
        detail=detail,
    )
    names = reach.names(ctx, route)
    receipt = render_receipt(item, names, reach.cannot, zone=answer_zone(ctx, {draft.caveat.tlp}),
                             places=render_places(route, ctx.directory, frozenset(reach.cut_off)))
    if "away" in detail:  # copies that went to a delegate, and TLP:RED ones waiting for someone away
        receipt += " " + detail["away"]
    queued += placed_answer(ctx, receipt, {draft.caveat.tlp}, kind=MessageKind.RECEIPT, reference=ref)
    # The deliveries and the receipt in one statement: one round trip on PostgreSQL, not two.
    ctx.uow.outbox.enqueue_many(queued)
    return item


@dataclass(frozen=True)
class Reach:
    """Who on a route no running connector can carry a copy to, and why."""

    unreachable: dict[str, str]  # contact of a delivery -> why
    cut_off: dict[str, str]  # every contact that delivery was for -> why
    cannot: list[tuple[str, str]]  # (title, why), for the receipt
    everyone: bool  # nobody on the route can be reached

    @property
    def nobody(self) -> bool:
        return self.everyone

    def names(self, ctx: CommandContext, route: Route) -> list[str]:
        return [ctx.directory.contacts[c].title(ctx.directory) for c in route.recipients if c not in self.cut_off]


def reach_of(ctx: CommandContext, route: Route, policy: PostingPolicy) -> Reach:
    # A copy no running connector can carry is not queued to wait forever: it is recorded as failed
    # and the receipt says at once who cannot be reached; with nobody reachable, nothing is sent.
    unreachable = {d.contact: why_unreachable(d.destination) for d in route.deliveries
                   if not reachable(d.destination, policy.platforms)}
    cut_off = {c: unreachable[d.contact] for d in route.deliveries if d.contact in unreachable
               for c in (d.contact, *d.also)}
    cannot = [(ctx.directory.contacts[c].title(ctx.directory), why) for c, why in cut_off.items()]
    return Reach(unreachable, cut_off, cannot, len(unreachable) == len(route.deliveries))


def _refuse_unreachable(ctx: CommandContext, draft: ItemDraft, reach: Reach) -> None:
    reason = "; ".join(f"{name} — {why}" for name, why in reach.cannot)
    ctx.audit(AuditAction.REFUSAL, caveat=draft.caveat.label(), purpose=draft.purpose,
              recipients=tuple(reach.cut_off), detail={"command": draft.kind.noun.lower(), "reason": f"unreachable: {reason}"})
    ctx.uow.outbox.enqueue_many(placed_answer(
        ctx, f"Not sent: nobody it is for can be reached. Cannot reach: {reason}.", {draft.caveat.tlp}))


def number_item(ctx: CommandContext, draft: ItemDraft, ack_due: datetime | None, feedback_due: datetime | None,
                route: Route, keys: dict[str, str]) -> tuple[Item, tuple[str, ...]]:
    """Number the item and store it with `route` (empty for an item held for release), its message's
    photos and files filed with it; the item, and the ids of those files."""
    assert ctx.sender is not None
    for _ in range(_NUMBERS_TRIED):
        item = Item(
            reference=ctx.uow.items.next_reference(draft.kind, ctx.now.year),
            draft=draft,
            originator=ctx.sender.id,
            origin_chat=ctx.message.chat,
            created_at=ctx.now,
            ack_due=ack_due,
            feedback_due=feedback_due,
        )
        try:
            ctx.uow.items.add(item, route, keys)
            files = ctx.uow.items.file_message(item.reference, ctx.message, origin=True)  # text and files, under its key
            return item, files
        except ReferenceUnavailable:
            continue  # erased before it was issued: that number stays unused
    raise RuntimeError(f"{_NUMBERS_TRIED} numbers in a row were erased before they were issued")


def queue_deliveries(ctx: CommandContext, item: Item, route: Route, reach: Reach, keys: dict[str, str],
                     files: tuple[str, ...]) -> tuple[list[OutboundMessage], dict[str, str]]:
    """The item's copies (and content-free notices) as outbox rows, not yet queued; copies nobody can
    carry are marked failed. With the audit detail that says where each went. `files`: the item's own
    photos and files, filed with it under its case key (ItemRepository.attachment_ids)."""
    draft = item.draft
    ref = str(item.reference)
    for contact in reach.unreachable:
        ctx.uow.items.mark_delivery(keys[contact], "failed", ctx.now)
    queued = [
        OutboundMessage(
            key=keys[delivery.contact],
            kind=MessageKind.DELIVERY,
            destination=delivery.destination,
            text=render_delivery(item, ctx.directory, zone=zone_at(ctx.directory, delivery.contact,
                                                                   delivery.destination)),
            reference=ref,
            contact=delivery.contact,
            protect_content=draft.caveat.protect_content,
            attachments=files,  # with the content, under the same caveat; a content-free notice has none
            attention=attention_of(ctx.directory, delivery.contact),
        )
        for delivery in route.deliveries
        if delivery.contact not in reach.unreachable
    ]
    away_notes = _divert_for_absences(ctx, item, route.recipients, queued)
    detail = {
        "kind": draft.kind.noun.lower(),
        "body": draft.body,
        "topic": draft.topic or "",
        "priority": draft.priority.value,
        "grade": draft.grading.code if draft.grading else "",
        "route": "; ".join(f"{d.contact} via {d.destination} ({d.reason})" for d in route.deliveries),
    }
    sent = [a for a, ident in zip(ctx.message.attachments, ctx.message.attachment_ids())
            if ident in files]  # this command's, when it is the origin
    if sent:
        detail["attachments"] = "; ".join(f"{a.name} ({a.mime}, {size_text(a.size)})" for a in sent)
    elif files:
        detail["attachments"] = f"{len(files)} file(s) filed with the item"
    if reach.unreachable:
        detail["unreachable"] = "; ".join(f"{c}: {why}" for c, why in reach.cut_off.items())
    if route.confirmed_without_arrangement:
        detail["confirmed_without_arrangement"] = ", ".join(route.confirmed_without_arrangement)
    if away_notes:
        detail["away"] = " ".join(away_notes)
    if route.notices:
        detail["notices"] = "; ".join(f"{n.contact} via {n.destination} (to read at {n.read_at})" for n in route.notices)
        queued += [_notice(ctx, item, notice) for notice in route.notices]
    return queued, detail


# --- two-person release: held until a second person approves (handlers/release.py) ------------

def _hold(ctx: CommandContext, draft: ItemDraft, policy: PostingPolicy, confirmed: bool) -> Item | None:
    """Number and store the item with no deliveries; tell the originator who may approve it, and ask them.
    Routed again at approval, so that what goes out follows the directory as it is then."""
    assert ctx.sender is not None
    noun = draft.kind.noun
    who = approvers(ctx.directory, ctx.sender.id, ctx.sender.organisation)
    if not who:
        removal = plan_removal(ctx, draft, None)
        ctx.audit(AuditAction.REFUSAL, caveat=draft.caveat.label(), purpose=draft.purpose,
                  recipients=tuple(str(s) for s in draft.recipients),
                  detail={"command": noun.lower(), "reason": "release: nobody may approve", **removal})
        ctx.uow.outbox.enqueue_many(placed_answer(
            ctx, f"Not sent: a {draft.caveat.tlp.label} {noun.lower()} needs a second person's approval, and nobody "
                 "else in the directory may give it (an approver of your organisation, or a coordinator). Ask an "
                 "admin to give someone the approver role.", {draft.caveat.tlp}))
        return None
    item, _ = number_item(ctx, draft, None, None, Route(()), {})  # due times count from the approval
    ref = str(item.reference)
    expires = ctx.now + policy.release.expires_after
    ctx.uow.releases.hold(HeldRelease(ref, ctx.sender.id, ctx.sender.organisation, confirmed, ctx.now, expires))
    detail = {"kind": noun.lower(), "body": draft.body, "topic": draft.topic or "", "priority": draft.priority.value,
              "grade": draft.grading.code if draft.grading else "", "release": "held for approval"}
    detail.update(plan_removal(ctx, draft, ref))
    ctx.audit(AuditAction.ITEM_CREATED, reference=ref, caveat=draft.caveat.label(), purpose=draft.purpose,
              detail=detail)
    ctx.audit(AuditAction.RELEASE, reference=ref, caveat=draft.caveat.label(), recipients=tuple(c.id for c in who),
              detail={"event": "held", "expires_at": expires.isoformat(),
                      "approvers": ", ".join(c.id for c in who)})
    names = ", ".join(c.title(ctx.directory) for c in who)
    receipt = (f"{noun} {ref} is held ({draft.caveat.label()}): nothing is sent until a second person approves it. "
               f"Waiting for approval by {names}. If nobody decides by {local_or_none(expires, answer_zone(ctx, {draft.caveat.tlp}))}, it expires unsent.")
    queued = placed_answer(ctx, receipt, {draft.caveat.tlp}, kind=MessageKind.RECEIPT, reference=ref)
    for approver in who:
        queued += messages_about(ctx.directory, approver.id, draft.caveat, ref, approval_request(ctx.directory, item, zone=contact_zone(ctx.directory, approver.id)),
                                 ctx.new_key, kind=MessageKind.APPROVAL, encrypted_only=ctx.encrypted_only, platforms=ctx.platforms,
                                 protect_content=draft.caveat.protect_content)
    ctx.uow.outbox.enqueue_many(queued)
    return item


def approval_hint(reference: str) -> str:
    """How to answer an approval request; a connector that offers another way (a button, a reaction)
    puts its own words in place of exactly this."""
    return f"Approve: /approve {reference} · Decline: /decline {reference} your reason"


def approval_request(directory: Directory, item: Item, reminder: bool = False, *, zone: str = UTC) -> str:
    """What an approver reads: who asks, how to answer, and the item as its recipients would see it."""
    originator = directory.contacts.get(item.originator)
    who = originator.title(directory) if originator else item.originator
    ref = item.reference
    first = "Reminder: still waiting. " if reminder else ""
    corrects = (f"It corrects {item.reference} as sent before: its earlier copies stay as they are until then. "
                if item.revision > 1 else "")
    return (f"{first}{who} asks you to approve the release of {item.kind.noun.lower()} {item.label} "
            f"({item.caveat.label()}) to {', '.join(str(s) for s in item.draft.recipients) or 'its default recipients'}. "
            f"{corrects}Nothing is sent until someone does. {approval_hint(str(ref))}\n\n"
            # on the approver's clock (their direct chat); a held item's due times start at its release
            + render_delivery(item, directory, zone=zone, due="Feedback due: counted from its release"))


def _divert_for_absences(ctx: CommandContext, item: Item, recipients: tuple[str, ...],
                         queued: list[OutboundMessage]) -> list[str]:
    """Copies for people away go to their delegates where the caveat lets them (handlers/away.py),
    in place in `queued`; what the receipt and the audit entry say of each."""
    assert ctx.sender is not None
    audience = frozenset(ctx.directory.contacts[c].organisation for c in recipients
                         if c in ctx.directory.contacts) | {ctx.sender.organisation}
    notes = []
    # One look for all of them: most items go to nobody away.
    away = ctx.uow.absences.away({m.contact for m in queued if m.contact is not None}, ctx.now)
    for n, message in enumerate(queued):
        if message.contact not in away:
            continue  # divert_delivery would leave it as it is
        queued[n], note = divert_delivery(ctx, item, message, audience)
        if note is not None:
            notes.append(note)
    return notes


# --- where caveats keep content and facts out of shared chats -----------------------------------

_PLATFORM_NAMES = {Platform.MATRIX: "Matrix", Platform.CONSOLE: "the console", Platform.TELEGRAM: "Telegram"}


def _notice(ctx: CommandContext, item: Item, notice: Notice) -> OutboundMessage:
    """Content-free: the item's caveat, kind, number and origin, and where to read it."""
    tlp = item.caveat.tlp.label
    originator = ctx.directory.contacts.get(item.originator)
    sender = ctx.directory.organisations.get(originator.organisation) if originator else None
    origin = sender.name if sender else item.originator
    where = _PLATFORM_NAMES[notice.read_at.platform]
    return OutboundMessage(
        key=ctx.new_key(), kind=MessageKind.NOTICE, destination=notice.destination, reference=str(item.reference),
        contact=notice.contact,
        text=f"A {tlp} {item.kind.noun.lower()} {item.reference} from {origin} awaits you on {where}, in your "
             f"direct chat with the bot there. {tlp} is sent only over end-to-end encrypted channels, so not here.")


def plan_removal(ctx: CommandContext, draft: ItemDraft, reference: str | None) -> dict[str, str]:
    """A TLP:RED item typed in a shared chat: plan its removal from there (an outbox row, in this
    transaction), whatever became of the item. What the audit entry notes about it."""
    chat = ctx.message.chat
    if draft.caveat.tlp is not Tlp.RED or not shared_chat(chat, ctx.message.direct):
        return {}
    assert ctx.sender is not None
    room = ctx.directory.room(chat)
    removal = Removal(chat, ctx.message.message_id or "", room.name if room else str(chat), ctx.sender.id,
                      ctx.message.sender, ctx.sender.title(ctx.directory), draft.caveat.tlp.label,
                      draft.kind.noun.lower(), reference)
    if ctx.message.message_id is None:  # nothing to remove it by: both are asked to, at once
        why = "the platform did not say which message it was"
        ctx.uow.outbox.enqueue_many([
            ctx.answer_message(removal.kept_chat_text(why), MessageKind.NOTICE, reference),
            OutboundMessage(key=ctx.new_key(), kind=MessageKind.NOTICE, destination=Destination.direct(
                ctx.message.sender), text=removal.kept_officer_text(why), reference=reference, contact=ctx.sender.id)])
        return {"removal": "not possible: no message id; the chat and the officer were asked to delete it"}
    ctx.uow.outbox.enqueue(removal_message(removal))
    return {"removal": f"planned from {chat}"}
