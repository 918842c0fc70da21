"""/correct REF [fields] [text]: the next revision of an item (`A-2026-0042 rev 2`).

By its originator, on an open item. The fields given and/or the new text replace the current
revision's; the result is routed afresh, as /alert routes a draft, and in the command's transaction:
- the new revision goes to the new route, each copy queued anew with due times from now, so every
  recipient acknowledges again (their copy changed: its revision, and whatever was corrected);
- the earlier revision's copies not yet sent, and its pending reminders and escalations, are
  cancelled (code `superseded`); a copy whose send was in flight and lands after all, or fails after
  part of it (a photo) reached its reader, is treated by the delivery worker as below, when it records
  it (late_copy); each delivered copy (one part of
  which went before it failed, a Telegram copy's photo, too: it is known by its first message) is edited in place to say it is superseded (an
  outbox row of kind SUPERSEDE, alerts.supersede, carried out by bot/actions/supersede.py: a Matrix
  edit, a Telegram editMessageText or editMessageCaption), and where it cannot be edited it is
  followed by a one-line notice in the same chat instead; a delivered copy of a recipient
  the new route leaves out gets the withdrawal treatment (handlers.withdrawal.withdrawn_copy): its
  removal where the platform allows, and one line saying the item now goes elsewhere;
- the earlier revision's deliveries are kept apart (ItemRepository.revise), and the audit log
  records the correction with the new revision's route;
- a TLP:RED correction typed in a shared chat is planned for removal from it, as post_item does.

A correction whose next revision needs two-person release (alerts.release: say AMBER made RED) is
held instead, as a new item would be: nothing of the above happens yet, the earlier copies stay as
they are, and the approvers are asked. Approving it (handlers/release.py) does all of the above
then, through `send_revision`; declining it or letting it expire leaves the item as it was. While a
release of the item waits, it is not corrected again (a held item would otherwise leave unapproved).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from alerts.audit import AuditAction
from alerts.caveats import Tlp
from alerts.directory import Directory
from alerts.errors import InvalidValue, RouteRefused
from alerts.items import Item, ItemDraft
from alerts.lifecycle import Withdrawal
from alerts.messages import MessageKind, OutboundMessage
from alerts.reachability import reachable, why_unreachable
from alerts.release import HeldRelease, ReleaseState, approvers
from alerts.render import render_delivery, render_superseded_copy, render_superseded_notice, superseded_mark
from alerts.supersede import Supersession, supersede_message, unknown_copy_line_key
from alerts.times import contact_zone, local_or_none, zone_at
from alerts.routing import Destination, Route
from handlers.answer_place import answer_zone, attention_of, messages_about, placed_answer
from handlers.commands import CorrectCommand
from handlers.context import CommandContext
from handlers.followup import find_item, refuse, sender_of
from handlers.ports import DeliveryRecord, ItemRecord
from handlers.post_item import (PostingPolicy, _divert_for_absences, _notice, approval_request, plan_removal,
                                refusal_answer)
from handlers.values import check_due
from handlers.withdrawal import CANCELLED_KINDS, delivered, originator_place, withdrawn_copy

# The error code of the messages a correction cancels before they were sent.
SUPERSEDED = "superseded"


def correct(ctx: CommandContext, command: CorrectCommand, policy: PostingPolicy) -> None:
    reference = command.reference
    # Locked: a send the worker records meanwhile would otherwise be planned for by neither side.
    record = find_item(ctx, reference, "correct", for_update=True)
    if record is None:
        return
    item, sender = record.item, sender_of(ctx)
    if sender.id != item.originator:
        refuse(ctx, record, "correct", f"Only the originator of {reference} can correct it. "
                                       f"A coordinator can take it back: /withdraw {reference} reason")
        return
    if record.closure is not None:
        refuse(ctx, record, "correct", f"{reference} is closed, so nobody acts on it any more. To take its copies "
                                       f"back: /withdraw {reference} reason")
        return
    held = ctx.uow.releases.get(str(reference))
    if held is not None and held.state is ReleaseState.PENDING:
        refuse(ctx, record, "correct", f"{held.label} is waiting for a second person's approval, so {reference} cannot "
                                       "be corrected until they decide. To change it, ask an approver to decline it "
                                       f"(/decline {reference} reason), then correct or send it again.")
        return
    draft = command.correction.apply(item.draft)
    tlps = {item.caveat.tlp, draft.caveat.tlp}
    try:
        check_due(draft.due, ctx.now)
        route = policy.router(ctx.directory).route(draft, sender, confirmed=command.confirmed)
    except InvalidValue as error:
        ctx.answer(str(error))
        return
    except RouteRefused as refused:
        ctx.audit(AuditAction.REFUSAL, reference=str(reference), caveat=draft.caveat.label(), purpose=draft.purpose,
                  detail={"command": "correct", "reason": str(refused)})
        ctx.uow.outbox.enqueue_many(placed_answer(ctx, f"{refusal_answer(refused)} {reference} stays as it was.",
                                                  tlps))
        return
    unreachable = unreachable_in(route, policy)
    if len(unreachable) == len(route.deliveries):
        ctx.uow.outbox.enqueue_many(placed_answer(
            ctx, f"Not corrected: nobody the corrected {item.kind.noun.lower()} is for can be reached. "
                 f"{reference} stays as it was.", tlps))
        return
    # A TLP:RED correction typed in a shared chat leaves it, as a TLP:RED alert typed there does.
    removal = plan_removal(ctx, draft, str(reference))
    if policy.release.needs_release(draft):
        _hold(ctx, record, draft, command.confirmed, policy, tlps, removal)
        return
    sent = send_revision(ctx, record, draft, route, unreachable, policy, sender.id, removal)
    answer = (f"{sent.revised.label} accepted ({draft.caveat.label()}). Sending to {', '.join(sent.names) or 'nobody'}. "
              f"{sent.earlier} Track it with /status {reference}.{sent.away}")
    ctx.uow.outbox.enqueue_many(placed_answer(ctx, answer, tlps, kind=MessageKind.RECEIPT, reference=str(reference)))


def unreachable_in(route: Route, policy: PostingPolicy) -> dict[str, str]:
    """The contacts of `route` whose copy no running connector can carry, and why."""
    return {d.contact: why_unreachable(d.destination) for d in route.deliveries
            if not reachable(d.destination, policy.platforms)}


@dataclass(frozen=True, slots=True)
class SentRevision:
    revised: Item
    names: list[str]  # who it goes to, as people read them
    earlier: str  # what became of the earlier copies, as a sentence
    away: str = ""  # who is away and who stands in for them (each sentence after a space), or nothing


def send_revision(ctx: CommandContext, record: ItemRecord, draft: ItemDraft, route: Route,
                  unreachable: dict[str, str], policy: PostingPolicy, originator: str,
                  audit_detail: dict[str, str]) -> SentRevision:
    """Make `draft` the item's next revision and send it along `route` (in this transaction): the
    earlier revision's unsent copies cancelled, its delivered ones marked superseded (or taken back
    from whom the new route leaves out), the correction audited. By /correct, or by the approval of a
    held correction (then ctx.sender is the approver; `originator` corrected it)."""
    item = record.item
    ack_due, feedback_due = policy.due.due_times(draft, ctx.now)
    revised = replace(item, draft=draft, ack_due=ack_due, feedback_due=feedback_due, revision=item.revision + 1,
                      revised_at=ctx.now)
    ref = str(item.reference)
    stopped = ctx.uow.outbox.cancel(ref, CANCELLED_KINDS, SUPERSEDED)
    cancelled = set(stopped.keys)
    staying = set(route.recipients)
    dropped = replace(record, withdrawal=Withdrawal(
        ctx.now, originator, f"corrected as {revised.label}, which no longer goes to you"))
    place = originator_place(ctx, originator, record)
    rows: list[OutboundMessage] = []
    marked = taken_back = 0
    for delivery in record.deliveries:
        reached = stopped.reached.get(delivery.outbox_key)
        if reached is not None:  # part of it went between two attempts (a photo): marked or taken back
            ctx.uow.items.mark_delivery(delivery.outbox_key, "failed", ctx.now, reached)  # kept with revise
            delivery = replace(delivery, state="failed", platform_message_id=reached)
        elif delivery.outbox_key in cancelled or not delivered(delivery):
            continue
        if delivery.contact in staying:
            rows.append(_marked(revised, item.revision, delivery, render_superseded_copy(item, revised, ctx.directory),
                                draft.caveat.protect_content or item.caveat.protect_content))
            marked += 1
        else:
            rows += withdrawn_copy(dropped, delivery, ctx.directory, ctx.now, place,
                                   dropped_at=revised.revision)
            taken_back += 1
    rows = list({m.key: m for m in rows}.values())  # recipients sharing a chat: one edit or line there
    keys = {delivery.contact: ctx.new_key() for delivery in route.deliveries}
    ctx.uow.items.revise(revised, route, keys, ctx.now)
    for contact in unreachable:
        ctx.uow.items.mark_delivery(keys[contact], "failed", ctx.now)
    files = ctx.uow.items.attachment_ids(item.reference)  # the item's photos and files go with each revision
    copies = [OutboundMessage(key=keys[d.contact], kind=MessageKind.DELIVERY, destination=d.destination,
                              text=render_delivery(revised, ctx.directory,
                                                   zone=zone_at(ctx.directory, d.contact, d.destination)),
                              reference=ref, contact=d.contact, protect_content=draft.caveat.protect_content,
                              attention=attention_of(ctx.directory, d.contact), attachments=files)
              for d in route.deliveries if d.contact not in unreachable]
    # as a first revision: someone away gets it through their delegate (never TLP:RED), where the copy
    # of the revision before went too
    away_notes = _divert_for_absences(ctx, revised, route.recipients, copies)
    rows += copies
    rows += [_notice(ctx, revised, notice) for notice in route.notices]
    ctx.audit(AuditAction.CORRECTION, recipients=route.recipients, reference=ref, caveat=draft.caveat.label(),
              purpose=draft.purpose,
              detail={"revision": str(revised.revision), "body": draft.body, "topic": draft.topic or "",
                      "priority": draft.priority.value, "grade": draft.grading.code if draft.grading else "",
                      "route": "; ".join(f"{d.contact} via {d.destination} ({d.reason})" for d in route.deliveries),
                      "earlier_marked": str(marked), "earlier_taken_back": str(taken_back),
                      # not sent, and now never sent; one in flight may land, and is then marked or taken back
                      "cancelled": str(len(cancelled - stopped.in_flight)), "in_flight": str(len(stopped.in_flight)),
                      **audit_detail,
                      **({"away": " ".join(away_notes)} if away_notes else {})})
    ctx.uow.outbox.enqueue_many(rows)
    names = [ctx.directory.contacts[c].title(ctx.directory) for c in route.recipients
             if c in ctx.directory.contacts and c not in unreachable]
    # A copy in flight may land after all: it is then marked or taken back (late_copy), so not "cancelled".
    flying = [d for d in record.deliveries if d.outbox_key in stopped.in_flight]
    unsent = sum(d.outbox_key in cancelled for d in record.deliveries) - len(flying) - len(stopped.reached)
    earlier = f"Earlier copies: {marked} marked superseded, {taken_back} taken back, {unsent} unsent cancelled"
    if flying:
        fates = [fate for fate, stays in (("marked superseded", True), ("taken back", False))
                 if any((d.contact in staying) is stays for d in flying)]
        lands = "it lands" if len(flying) == 1 else "they land"
        earlier += f", {len(flying)} being sent: {' or '.join(fates)} if {lands}"
    earlier += "."
    return SentRevision(revised, names, earlier, "".join(f" {note}" for note in away_notes))


def _marked(revised: Item, earlier: int, delivery: DeliveryRecord, text: str, protect: bool) -> OutboundMessage:
    """The row that marks a delivered copy of revision `earlier` superseded by `revised`: its edit to
    `text` (alerts.supersede), or the line after it where its message is unknown. Keyed by the copy and
    the revision, so planning it again (the correction, then the worker meeting a late send) plans it once."""
    ref, destination = str(revised.reference), Destination.parse(delivery.place)  # a delegate's chat if they held it
    notice = render_superseded_notice(revised, earlier)
    if delivery.platform_message_id is not None:  # edited in place where the platform allows
        return supersede_message(Supersession(delivery.platform_message_id, ref, revised.revision, text, notice,
                                              delivery.holder, protect), destination)
    # sent, but its message unknown: the line after it is all that can be done
    return OutboundMessage(key=unknown_copy_line_key(ref, earlier, destination), kind=MessageKind.NOTICE, destination=destination, text=notice,
                           reference=ref, contact=delivery.holder, protect_content=protect)


def late_copy(record: ItemRecord, earlier: int, delivery: DeliveryRecord, banner: str | None, protect: bool,
              directory: Directory, now: datetime) -> list[OutboundMessage]:
    """The rows for a copy of revision `earlier` whose send was in flight when the item was corrected
    (send_revision cancelled it, so planned nothing for it) and landed after all, or failed after part
    of it reached its reader (a photo; `delivery` is then known by it): what send_revision plans for a
    delivered copy. Marked superseded by the current revision (`record.item`) if its reader still
    receives the item, else taken back; taken back too if the item was withdrawn since. `banner` is the
    first line the copy was sent with (None: unknown, and the mark is the line a reader is told where
    an edit cannot be made); `protect`, whether it was sent protected. The delivery worker plans these
    in the transaction that records the send (or its failure), so a restart cannot lose them."""
    revised = record.item
    if record.withdrawal is not None:
        return withdrawn_copy(record, delivery, directory, now)
    if delivery.contact in {d.contact for d in record.deliveries}:
        mark = superseded_mark(banner, revised) if banner else render_superseded_notice(revised, earlier)
        return [_marked(revised, earlier, delivery, mark, protect or revised.caveat.protect_content)]
    dropped = replace(record, withdrawal=Withdrawal(
        revised.revised_at or now, revised.originator, f"corrected as {revised.label}, which no longer goes to you"))
    return withdrawn_copy(dropped, delivery, directory, now, dropped_at=revised.revision)


def _hold(ctx: CommandContext, record: ItemRecord, draft: ItemDraft, confirmed: bool, policy: PostingPolicy,
          tlps: set[Tlp], removal: dict[str, str]) -> None:
    """Hold the next revision for two-person release, as post_item holds a new item: nothing is sent
    and nothing of the earlier copies changes until a second person approves it."""
    sender = sender_of(ctx)
    item, ref = record.item, str(record.item.reference)
    revised = replace(item, draft=draft, revision=item.revision + 1, revised_at=ctx.now)
    who = approvers(ctx.directory, sender.id, sender.organisation)
    if not who:
        ctx.audit(AuditAction.REFUSAL, reference=ref, caveat=draft.caveat.label(), purpose=draft.purpose,
                  detail={"command": "correct", "reason": "release: nobody may approve", **removal})
        ctx.uow.outbox.enqueue_many(placed_answer(
            ctx, f"Not corrected: {revised.label} would be {draft.caveat.label()}, which needs a second person's "
                 "approval, and nobody else in the directory may give it (an approver of your organisation, or a "
                 f"coordinator). {ref} stays as it was. Ask an admin to give someone the approver role.", tlps))
        return
    expires = ctx.now + policy.release.expires_after
    ctx.uow.releases.hold(HeldRelease(ref, sender.id, sender.organisation, confirmed, ctx.now, expires,
                                      correction=draft, revision=revised.revision))
    ctx.audit(AuditAction.RELEASE, reference=ref, caveat=draft.caveat.label(), purpose=draft.purpose,
              recipients=tuple(c.id for c in who),
              detail={"event": "held", "revision": str(revised.revision), "body": draft.body,
                      "topic": draft.topic or "", "priority": draft.priority.value,
                      "expires_at": expires.isoformat(), "approvers": ", ".join(c.id for c in who), **removal})
    names = ", ".join(c.title(ctx.directory) for c in who)
    receipt = (f"{revised.label} is held ({draft.caveat.label()}): nothing is sent, and the earlier copies stay as "
               f"they are, until a second person approves it. Waiting for approval by {names}. If nobody decides by "
               f"{local_or_none(expires, answer_zone(ctx, tlps))}, it expires unsent and {item.label} stays as it was.")
    queued = placed_answer(ctx, receipt, tlps, kind=MessageKind.RECEIPT, reference=ref)
    for approver in who:
        queued += messages_about(ctx.directory, approver.id, draft.caveat, ref,
                                 approval_request(ctx.directory, revised, zone=contact_zone(ctx.directory, approver.id)),
                                 ctx.new_key, kind=MessageKind.APPROVAL, encrypted_only=ctx.encrypted_only,
                                 platforms=ctx.platforms, protect_content=draft.caveat.protect_content)
    ctx.uow.outbox.enqueue_many(queued)
