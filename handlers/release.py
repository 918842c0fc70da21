"""/approve and /decline: the second person's decision on an item held for two-person release, and
the round that reminds the approvers of waiting items and expires the ones left too long.

An item is held by handlers/post_item.py (numbered and stored, with no deliveries). Approving routes
it again against the directory as it is at approval: what no longer routes, or reaches nobody, is
not sent (it fails closed, and both people are told why). Declining, expiry and such a failure close
the item with the reason, so it leaves /mine. Every step is in the audit log.

A held correction (handlers/correction.py) is decided the same way: approving it sends the next
revision as /correct does (correction.send_revision); declining it, its expiry or a failure leave the
item open, at the revision its recipients have.
"""

from __future__ import annotations

import logging
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime

from alerts.audit import BOT_ACTOR, AuditAction, AuditEvent
from alerts.caveat_rules import ENCRYPTED_ONLY
from alerts.caveats import Caveat, Tlp
from alerts.directory import Contact, Directory
from alerts.errors import InvalidValue, RouteRefused
from alerts.identity import Platform
from alerts.items import Item, Reference
from alerts.lifecycle import Closure
from alerts.messages import MessageKind, OutboundMessage
from alerts.release import (HeldRelease, ReleasePolicy, ReleaseState, approvers, refusal_to_decide,
                            reminder_round)
from alerts.render import receipt_names, render_erased, render_places, render_receipt
from alerts.times import contact_zone, local_or_none
from handlers.answer_place import answer_placed, answer_zone, messages_about
from handlers.context import CommandContext
from handlers.correction import send_revision, unreachable_in
from handlers.errorref import new_error_ref
from handlers.ports import ItemRecord, UnitOfWork
from handlers.post_item import PostingPolicy, reach_of, approval_request, queue_deliveries
from handlers.values import check_due

log = logging.getLogger(__name__)

_WAS = {ReleaseState.APPROVED: "approved", ReleaseState.DECLINED: "declined", ReleaseState.EXPIRED: "expired",
        ReleaseState.FAILED: "not sent (it no longer routed)"}


def approve(ctx: CommandContext, reference: Reference, policy: PostingPolicy) -> None:
    found = _decidable(ctx, reference, "approve")
    if found is None:
        return
    record, held = found
    assert ctx.sender is not None
    item, ref = record.item, str(reference)
    originator = ctx.directory.contacts.get(held.originator)
    if originator is None:
        _fail(ctx, record, held, "its originator is no longer in the directory")
        return
    if held.correction is not None:
        _approve_correction(ctx, record, held, originator, policy)
        return
    try:
        route = policy.router(ctx.directory, ctx.now).route(item.draft, originator, confirmed=held.confirmed)
    except RouteRefused as refused:
        _fail(ctx, record, held, f"it no longer routes: {refused}")
        return
    reach = reach_of(ctx, route, policy)
    if reach.nobody:
        _fail(ctx, record, held, "nobody it is for can be reached: "
              + "; ".join(f"{name} — {why}" for name, why in reach.cannot))
        return
    if not ctx.uow.releases.decide(ref, ReleaseState.APPROVED, ctx.sender.id, ctx.now, ""):
        _answer(ctx, held, f"{ref} was decided already.")  # a decision racing this one won
        return
    ack_due, feedback_due = policy.due.due_times(item.draft, ctx.now)
    ctx.uow.items.set_due(reference, ack_due, feedback_due)
    item = replace(item, ack_due=ack_due, feedback_due=feedback_due)
    keys = {delivery.contact: ctx.new_key() for delivery in route.deliveries}
    ctx.uow.items.add_deliveries(reference, route, keys)
    files = ctx.uow.items.attachment_ids(reference)  # filed with it when it was held
    queued, detail = queue_deliveries(ctx, item, route, reach, keys, files)
    detail.update({"event": "approved", "originator": held.originator})
    ctx.audit(AuditAction.RELEASE, recipients=route.recipients, reference=ref, caveat=item.caveat.label(),
              purpose=item.draft.purpose, detail=detail)
    names = reach.names(ctx, route)
    queued += _to_originator(ctx, held,
                             f"{ctx.sender.title(ctx.directory)} approved {ref}. "
                             + render_receipt(item, names, reach.cannot, zone=contact_zone(ctx.directory, held.originator),
                                              places=render_places(route, ctx.directory, frozenset(reach.cut_off)))
                             + (" " + detail["away"] if "away" in detail else ""),
                             MessageKind.RECEIPT)
    ctx.uow.outbox.enqueue_many(queued)
    _answer(ctx, held, f"Approved: {ref} is on its way to {receipt_names(names)}. "
                       f"{originator.title(ctx.directory)} is told.")


def _approve_correction(ctx: CommandContext, record: ItemRecord, held: HeldRelease, originator: Contact,
                        policy: PostingPolicy) -> None:
    """The held next revision goes out as /correct would have sent it, routed again now."""
    assert ctx.sender is not None and held.correction is not None
    draft, item = held.correction, record.item
    if item.revision + 1 != held.revision:  # /correct refuses while this waits: only a damaged row gets here
        _fail(ctx, record, held, f"{held.reference} is at rev {item.revision} now")
        return
    try:
        check_due(draft.due, ctx.now)
        route = policy.router(ctx.directory, ctx.now).route(draft, originator, confirmed=held.confirmed)
    except (InvalidValue, RouteRefused) as refused:
        _fail(ctx, record, held, f"it no longer routes: {refused}")
        return
    unreachable = unreachable_in(route, policy)
    if len(unreachable) == len(route.deliveries):
        _fail(ctx, record, held, "nobody it is for can be reached: "
              + "; ".join(f"{name} — {why}" for name, why in unreachable.items()))
        return
    if not ctx.uow.releases.decide(held.reference, ReleaseState.APPROVED, ctx.sender.id, ctx.now, ""):
        _answer(ctx, held, f"{held.label} was decided already.")
        return
    sent = send_revision(ctx, record, draft, route, unreachable, policy, held.originator,
                         {"release": f"approved by {ctx.sender.id}"})
    ctx.audit(AuditAction.RELEASE, recipients=route.recipients, reference=held.reference, caveat=draft.caveat.label(),
              purpose=draft.purpose, detail={"event": "approved", "revision": str(held.revision),
                                             "originator": held.originator})
    names = ", ".join(sent.names) or "nobody"
    ctx.uow.outbox.enqueue_many(_to_originator(
        ctx, held,
        f"{ctx.sender.title(ctx.directory)} approved {held.label}: sending to {names}. {sent.earlier} "
        f"Track it with /status {held.reference}.{sent.away}", MessageKind.RECEIPT))
    _answer(ctx, held, f"Approved: {held.label} is on its way to {names}; the earlier copies are marked superseded. "
                       f"{originator.title(ctx.directory)} is told.")


def proposed(held: HeldRelease, item: Item) -> Item:
    """What approving releases: the item, or the next revision a held correction makes of it."""
    if held.correction is None:
        return item
    return replace(item, draft=held.correction, revision=held.revision)


def decline(ctx: CommandContext, reference: Reference, reason: str) -> None:
    found = _decidable(ctx, reference, "decline")
    if found is None:
        return
    record, held = found
    assert ctx.sender is not None
    ref = str(reference)
    if not ctx.uow.releases.decide(ref, ReleaseState.DECLINED, ctx.sender.id, ctx.now, reason):
        _answer(ctx, held, f"{ref} was decided already.")
        return
    correction = held.correction is not None
    if not correction:
        ctx.uow.items.close(reference, Closure(ctx.sender.id, ctx.now, f"declined for release: {reason}"))
    ctx.audit(AuditAction.RELEASE, reference=ref, caveat=proposed(held, record.item).caveat.label(),
              detail={"event": "declined", "reason": reason, "originator": held.originator,
                      **({"revision": str(held.revision)} if correction else {})})
    after = (f"Nothing was sent: {record.item.label} stays as it was." if correction
             else "Nothing was sent, and it is closed.")
    ctx.uow.outbox.enqueue_many(_to_originator(
        ctx, held,
        f"{ctx.sender.title(ctx.directory)} declined {held.label}: {reason}. {after}"))
    originator = ctx.directory.contacts.get(held.originator)
    state = f"{record.item.label} stays as it was" if correction else "is closed"
    _answer(ctx, held, f"Declined: {held.label} stays unsent{';' if correction else ' and'} {state}. "
                       f"{originator.title(ctx.directory) if originator else held.originator} is told.")


def _decidable(ctx: CommandContext, reference: Reference, verb: str) -> tuple[ItemRecord, HeldRelease] | None:
    """The held item, when the sender may decide on it now; else None, answered (and a refusal audited)."""
    assert ctx.sender is not None
    ref = str(reference)
    held = ctx.uow.releases.get(ref)
    # Approving a held correction changes the item's copies (send_revision): locked, as /correct does.
    record = ctx.uow.items.get(reference, for_update=verb == "approve")
    if held is None or record is None:
        ctx.answer(f"{ref} is not waiting for approval: only items held for two-person release are approved "
                   f"or declined. Example: /{verb} {ref}")
        return None
    refusal = refusal_to_decide(ctx.directory, held, ctx.sender)
    if refusal is not None:
        ctx.audit(AuditAction.REFUSAL, reference=ref, caveat=record.item.caveat.label(),
                  detail={"command": verb, "reason": refusal})
        _answer(ctx, held, refusal)
        return None
    if record.erasure is not None:
        ctx.answer(render_erased(reference, record.erasure))
        return None
    if held.state is ReleaseState.FAILED and record.withdrawal is not None:  # ended by /withdraw
        by = ctx.directory.contacts.get(record.withdrawal.withdrawn_by)
        who = by.title(ctx.directory) if by is not None else record.withdrawal.withdrawn_by
        _answer(ctx, held, f"{ref} was withdrawn by {who} before it was released; nothing to decide.")
        return None
    if held.state is not ReleaseState.PENDING:
        by = ctx.directory.contacts.get(held.decided_by or "")
        who = f" by {by.title(ctx.directory)}" if by is not None and held.state is not ReleaseState.EXPIRED else ""
        _answer(ctx, held, f"{ref} was {_WAS[held.state]}{who} on {local_or_none(held.decided_at, answer_zone(ctx, {record.item.caveat.tlp}))}; "
                           "nothing more to decide.")
        return None
    if ctx.now >= held.expires_at:  # the round has not got to it yet: it expires now
        expire(ctx.uow, ctx.directory, held, record, ctx.now, ctx.encrypted_only, ctx.platforms)
        _answer(ctx, held, f"{ref} expired unsent on {local_or_none(held.expires_at, answer_zone(ctx, {record.item.caveat.tlp}))}; nothing more to decide. "
                           "Its originator is told.")
        return None
    if record.withdrawal is not None:  # "closed" would hide that it was taken back, and by whom
        by = ctx.directory.contacts.get(record.withdrawal.withdrawn_by)
        who = by.title(ctx.directory) if by is not None else record.withdrawal.withdrawn_by
        _fail(ctx, record, held, f"{who} withdrew it before it was released")
        return None
    if record.closure is not None:
        _fail(ctx, record, held, "its originator closed it before it was released")
        return None
    return record, held


def _fail(ctx: CommandContext, record: ItemRecord, held: HeldRelease, why: str) -> None:
    """Approved, but not sendable: nothing goes out, the item is closed, and both people are told."""
    assert ctx.sender is not None
    ref = held.reference
    if not ctx.uow.releases.decide(ref, ReleaseState.FAILED, ctx.sender.id, ctx.now, why):
        _answer(ctx, held, f"{ref} was decided already.")
        return
    correction = held.correction is not None
    if record.closure is None and not correction:  # a correction's item stays as its recipients have it
        ctx.uow.items.close(record.item.reference, Closure(ctx.sender.id, ctx.now, f"not released: {why}"))
    ctx.audit(AuditAction.RELEASE, reference=ref, caveat=record.item.caveat.label(),
              detail={"event": "failed", "reason": why, "originator": held.originator})
    again = (f"{record.item.label} stays as it was; correct it again if still needed." if correction
             else "Send it again if it is still needed.")
    ctx.uow.outbox.enqueue_many(_to_originator(
        ctx, held,
        f"{held.label} was approved by {ctx.sender.title(ctx.directory)} but not sent: {why}. {again}"))
    _answer(ctx, held, f"Not sent: {held.label} was approved, but {why}. Its originator is told.")


def _caveat_of(held: HeldRelease, item: Item) -> Caveat:
    """Where a message about what waits may go: under the held correction's caveat where it has one
    (it names the next revision), else the item's."""
    return held.correction.caveat if held.correction is not None else item.caveat


def _answer(ctx: CommandContext, held: HeldRelease, text: str) -> None:
    record = ctx.uow.items.get(Reference.parse(held.reference))
    tlps = {record.item.caveat.tlp} if record is not None else set()
    if held.correction is not None:
        tlps.add(held.correction.caveat.tlp)
    answer_placed(ctx, text, tlps, reference=held.reference)


def _to_originator(ctx: CommandContext, held: HeldRelease, text: str,
                   kind: MessageKind = MessageKind.NOTICE) -> list[OutboundMessage]:
    record = ctx.uow.items.get(Reference.parse(held.reference))
    assert record is not None
    return messages_about(ctx.directory, held.originator, _caveat_of(held, record.item), held.reference, text, ctx.new_key,
                          kind=kind, encrypted_only=ctx.encrypted_only, platforms=ctx.platforms)


# --- the round: remind the approvers, expire what waited too long -------------------------------

def expire(uow: UnitOfWork, directory: Directory, held: HeldRelease, record: ItemRecord, now: datetime,
           encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY, platforms: AbstractSet[Platform] | None = None) -> bool:
    """Expire a pending release past its time: closed unsent, the originator told; False when it was
    decided meanwhile."""
    ref = held.reference
    if not uow.releases.decide(ref, ReleaseState.EXPIRED, BOT_ACTOR, now, "nobody approved it in time"):
        return False
    correction = held.correction is not None
    if record.closure is None and not correction:
        uow.items.close(record.item.reference, Closure(BOT_ACTOR, now, "release expired: nobody approved it"))
    uow.audit.record(AuditEvent(action=AuditAction.RELEASE, at=now, actor=BOT_ACTOR, reference=ref,
                                caveat=record.item.caveat.label(),
                                detail={"event": "expired", "originator": held.originator}))
    after = (f"Nothing was sent: {record.item.label} stays as it was. Correct it again if it is still needed."
             if correction else "Nothing was sent, and it is closed. Send it again if it is still needed.")
    key = f"release:{ref}:expired" + (f":rev{held.revision}" if correction else "")
    uow.outbox.enqueue_many(messages_about(
        directory, held.originator, _caveat_of(held, record.item), ref,
        f"{held.label} expired unsent: nobody approved it by "
        f"{local_or_none(held.expires_at, contact_zone(directory, held.originator))}. {after}", lambda: key,
        key=key, encrypted_only=encrypted_only, platforms=platforms))
    return True


def release_round(uow: UnitOfWork, directory: Directory, policy: ReleasePolicy, now: datetime,
                  encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY,
                  platforms: AbstractSet[Platform] | None = None) -> int:
    """Expire the pending releases past their time and remind the approvers of the others, once per
    `policy.remind_every` (a key per reminder: a round run twice reminds once). One release that
    cannot be handled is logged with an error reference and left for the next round; the others go on.
    How many messages were queued or releases expired."""
    done = 0
    for held in uow.releases.pending():
        try:
            with uow.savepoint():
                done += _one(uow, directory, policy, held, now, encrypted_only, platforms)
        except Exception:
            log.exception("release round: %s left for the next round (error %s)", held.reference, new_error_ref())
    return done


def _one(uow: UnitOfWork, directory: Directory, policy: ReleasePolicy, held: HeldRelease, now: datetime,
         encrypted_only: frozenset[Tlp], platforms: AbstractSet[Platform] | None) -> int:
    record = uow.items.get(Reference.parse(held.reference))
    if record is None:
        return 0
    if now >= held.expires_at:
        return int(expire(uow, directory, held, record, now, encrypted_only, platforms))
    number = reminder_round(held, now, policy.remind_every)
    # A held correction's reminders have keys of their own: the item's own release may have had some.
    base = f"release:{held.reference}" + (f":rev{held.revision}" if held.correction is not None else "")
    if number == 0 or not uow.reminders.claim(f"{base}:remind:{number}", now):
        return 0
    who = approvers(directory, held.originator, held.organisation)
    waiting = proposed(held, record.item)
    queued: list[OutboundMessage] = []
    for approver in who:
        text = approval_request(directory, waiting, reminder=True, zone=contact_zone(directory, approver.id))
        key = f"{base}:remind:{number}:{approver.id}"
        queued += messages_about(directory, approver.id, waiting.caveat, held.reference, text, lambda: key,
                                 key=key, kind=MessageKind.APPROVAL, encrypted_only=encrypted_only, platforms=platforms,
                                 protect_content=waiting.caveat.protect_content)
    uow.outbox.enqueue_many(queued)
    uow.audit.record(AuditEvent(action=AuditAction.RELEASE, at=now, actor=BOT_ACTOR, reference=held.reference,
                                caveat=record.item.caveat.label(), recipients=tuple(c.id for c in who),
                                detail={"event": "reminded", "round": str(number)}))
    return len(queued)
