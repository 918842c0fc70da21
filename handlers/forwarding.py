"""/forward and /consent: passing an item on, under its caveat and with its originator's consent.

- Only the originator and current recipients may forward, and closed items are not forwarded.
- Every forward is routed by the Router, which refuses what the TLP forbids (TLP:RED to anyone
  but named people), and goes only to people who do not hold the item yet.
- On their own a recipient may share only as far as the caveat lets them: TLP:AMBER within the
  organisations that hold the item, TLP:AMBER+STRICT and H1 within their own organisation. Wider
  is refused; the originator, whose information it is, may forward it wider themselves.
- A recipient's forward of an originator-controlled item (ORCON, H2, H3) or of a TLP:RED item
  (TLP 2.0: not to be passed on without the source's permission) waits for the originator's
  /consent. Consent covers exactly the people named in the prompt, so they are routed by name
  when it comes, never re-resolved to whoever a country's point of contact is by then.
- A recipient's forward stays within the originator's sharing arrangements as well as their own
  (on the day of the forward): the originator's organisation must have a basis to share with each
  new recipient's, or nothing is sent and the answer names what is missing.
- A forward adds deliveries to the same item (same reference), each with its reason, and each
  to the new recipient's direct chat, whatever rooms the router would post an item in: the one
  routing would choose (alerts.routing_places.direct_place), with the same content-free notice
  where their usual chat may not carry the item.
"""

from __future__ import annotations

from dataclasses import replace

from alerts.audit import AuditAction
from alerts.caveats import Handling, Tlp
from alerts.arrangements import MissingArrangement
from alerts.directory import Contact, missing_arrangement
from alerts.errors import RouteRefused
from alerts.items import ItemState, Selector, SelectorKind
from alerts.lifecycle import ForwardRequest, forward_step
from alerts.messages import Disclosure, MessageKind, OutboundMessage
from alerts.render import render_consent_prompt, render_decision, render_delivery
from alerts.times import local_or_none, zone_at
from alerts.routing import Delivery, Route, RouteNeedsConfirmation
from alerts.routing_places import direct_place
from alerts.routing_types import Notice
from handlers.answer_place import answer_zone, attention_of, content_free_notice
from handlers.commands import ConsentCommand, ForwardCommand
from handlers.context import CommandContext
from handlers.followup import find_item, notify, refuse, sender_of, title
from handlers.ports import ItemRecord
from handlers.post_item import PostingPolicy


def forward(ctx: CommandContext, command: ForwardCommand, policy: PostingPolicy) -> None:
    reference = command.reference
    record = find_item(ctx, reference, "forward")
    if record is None:
        return
    asker, item = sender_of(ctx), record.item
    by_originator = asker.id == item.originator
    if not by_originator and record.delivery_to(asker.id) is None:
        refuse(ctx, record, "forward", f"Only the originator and recipients of {reference} can forward it.")
        return
    if record.closure is not None or item.state is ItemState.CLOSED:
        refuse(ctx, record, "forward", f"{reference} is closed, and closed items are not forwarded. "
                                       "If it still matters, post it again.")
        return
    if not by_originator and not command.purpose:
        ctx.answer(f'Say why you forward it, with purpose:. Example: /forward {reference} to:TH purpose:"joint investigation"')
        return
    try:
        route = _route_onward(ctx, record, command.recipients, asker, policy)
    except RouteNeedsConfirmation as refused:
        refuse(ctx, record, "forward", f"Not forwarded: {'; '.join(str(m) for m in refused.missing)}. "
                                       "Leave them out, or ask a coordinator to record the arrangement.")
        return
    except RouteRefused as refused:
        refuse(ctx, record, "forward", f"Not forwarded: {refused}")
        return
    if not route.deliveries:
        ctx.answer(f"Everyone you named already has {reference}.")
        return
    if not by_originator and _needs_consent(record):
        _ask_consent(ctx, record, command, route)
        return
    names = _send(ctx, record, route, asker.id, command.purpose or "", consented_by=None)
    ctx.answer(f"Forwarded {reference} to {', '.join(names)}.")
    if not by_originator:
        notify(ctx, item.originator, MessageKind.NOTICE, record,
               f"{reference}: {title(ctx, asker.id)} forwarded your {item.kind.noun.lower()} to {', '.join(names)}. "
               f"Purpose: {command.purpose}", protect_content=item.caveat.protect_content)


def consent(ctx: CommandContext, command: ConsentCommand, policy: PostingPolicy) -> None:
    reference = command.reference
    record = find_item(ctx, reference, "consent")
    if record is None:
        return
    item, me = record.item, sender_of(ctx).id
    if me != item.originator:
        refuse(ctx, record, "consent", f"Only the originator of {reference}, {title(ctx, item.originator)}, "
                                       "can consent to forwarding it.")
        return
    requests = ctx.uow.items.forwards(reference)
    pending = [r for r in requests if r.pending]
    if not pending:
        ctx.answer(_nothing_to_decide(ctx, record, requests))
        return
    request = pending[0]  # oldest first; the prompt for the next follows the answer
    state = forward_step(request.state, command.granted)
    if state is None or not ctx.uow.items.decide_forward(request.id, state, me, ctx.now, command.reason):
        ctx.answer(f"That forward of {reference} was decided already. See /status {reference}.")
        return
    decided = replace(request, state=state, decided_by=me, decided_at=ctx.now, reason=command.reason)
    ctx.audit(AuditAction.CONSENT, recipients=request.contacts, reference=str(reference), caveat=item.caveat.label(),
              purpose=request.purpose, detail={"request": request.id, "asker": request.asker,
                                               "decision": state.value, "reason": command.reason})
    names = [title(ctx, c) for c in request.contacts]
    sent, outcome = _send_consented(ctx, record, decided, policy) if command.granted else (False, "")
    decision = render_decision(item, decided, title(ctx, me), names)
    notify(ctx, request.asker, MessageKind.NOTICE, record, decision if sent else f"{decision} {outcome}".strip())
    answer = f"Consent recorded. {outcome}" if command.granted else f"Refusal recorded; {title(ctx, request.asker)} is told."
    if len(pending) > 1:  # /consent answers the oldest, so name the one the next answer is about
        following = pending[1]
        answer += (f" Next of {len(pending) - 1} waiting: {title(ctx, following.asker)} asks to forward it to "
                   f"{', '.join(title(ctx, c) for c in following.contacts)}; /consent {reference} yes|no")
    ctx.answer(answer)


def _needs_consent(record: ItemRecord) -> bool:
    caveat = record.item.caveat
    return caveat.originator_controlled or caveat.tlp is Tlp.RED


def _route_onward(ctx: CommandContext, record: ItemRecord, selectors: tuple[Selector, ...], asker: Contact,
                  policy: PostingPolicy) -> Route:
    """The route to people who do not hold the item yet; RouteRefused when the caveat forbids it."""
    item = record.item
    # A forward goes to direct chats whatever the item's hub: the hub's rooms are not asked for again.
    draft = replace(item.draft, recipients=selectors, hub=None)
    routed = policy.router(ctx.directory, ctx.now).route(draft, asker)
    holders = {d.contact for d in record.deliveries} | {item.originator}
    # The router decides who may have it; a forward then goes to each one's direct chat, which
    # every caveat allows: a room post would also reach people nobody asked, or consented, about.
    # Each chat as routing chooses an item's: a content-free notice where the usual one may not carry it.
    deliveries: list[Delivery] = []
    notices: list[Notice] = []
    for contact in (ctx.directory.contacts[c] for c in dict.fromkeys(routed.recipients)):
        place = direct_place(contact, item.caveat, ctx.directory, ctx.encrypted_only, ctx.platforms)
        if contact.id in holders or place.destination is None:
            continue
        deliveries.append(Delivery(contact.id, place.destination, "forward"))
        if place.notice is not None:
            notices.append(Notice(contact.id, place.notice, place.destination))
    route = Route(tuple(deliveries), notices=tuple(notices))
    if asker.id != item.originator:
        _check_originator_may_share(ctx, record, route, policy)
        _check_recipient_may_share(ctx, record, asker, route)
    return route


def _check_originator_may_share(ctx: CommandContext, record: ItemRecord, route: Route,
                                policy: PostingPolicy) -> None:
    """Onward sharing stays within the originator's arrangements: the information is theirs, so a
    recipient's own arrangements cannot carry it where the originator could not send it."""
    item, directory = record.item, ctx.directory
    originator = directory.contacts.get(item.originator)
    if originator is None:
        raise RouteRefused(f"the originator of {item.reference} is no longer in the directory, so their "
                           "sharing arrangements cannot be checked.")
    membership = policy.membership_arrangement
    gaps: dict[str, MissingArrangement] = {}
    for contact_id in route.contacts:
        organisation = _organisation_of(ctx, contact_id)
        if organisation is None or organisation in gaps:
            continue
        missing = missing_arrangement(directory, originator.organisation, organisation, item.draft.topic,
                                      membership=membership, at=ctx.now)
        if missing is not None:
            gaps[organisation] = missing
    if gaps:
        raise RouteRefused(
            "; ".join(str(m) for m in gaps.values())
            + f", and an item goes on only where its originator, {title(ctx, item.originator)}, could send it. "
            "Ask the originator, or a coordinator to record the arrangement.")


def _check_recipient_may_share(ctx: CommandContext, record: ItemRecord, asker: Contact, route: Route) -> None:
    item, directory = record.item, ctx.directory
    caveat = item.caveat
    if caveat.tlp is Tlp.AMBER_STRICT or caveat.handling is Handling.H1:
        allowed: set[str | None] = {asker.organisation}
        org = directory.organisations.get(asker.organisation)
        scope = f"it stays within {org.name if org else asker.organisation}"
    elif caveat.tlp is Tlp.AMBER:
        allowed = {_organisation_of(ctx, c) for c in [d.contact for d in record.deliveries] + [item.originator]}
        scope = "it stays within the organisations that received it"
    else:
        return
    outside = [title(ctx, c) for c in route.contacts if _organisation_of(ctx, c) not in allowed]
    if outside:
        raise RouteRefused(
            f"{item.reference} is {caveat.label()}, so {scope}; {', '.join(outside)} "
            f"{'is' if len(outside) == 1 else 'are'} outside. "
            f"The originator, {title(ctx, item.originator)}, can forward it wider."
        )


def _organisation_of(ctx: CommandContext, contact_id: str) -> str | None:
    contact = ctx.directory.contacts.get(contact_id)
    return contact.organisation if contact else None


def _ask_consent(ctx: CommandContext, record: ItemRecord, command: ForwardCommand, route: Route) -> None:
    item, asker = record.item, sender_of(ctx)
    names = [title(ctx, c) for c in route.contacts]
    prompt = render_consent_prompt(item, title(ctx, asker.id), names, command.purpose or "")
    if not notify(ctx, item.originator, MessageKind.NOTICE, record, prompt,
                  protect_content=item.caveat.protect_content):
        refuse(ctx, record, "forward", f"The originator of {item.reference} is no longer in the directory, "
                                       "so nobody can consent to forwarding it.")
        return
    request = ForwardRequest(
        id=ctx.new_key(), reference=str(item.reference), asker=asker.id,
        recipients=tuple(str(s) for s in command.recipients), contacts=route.contacts,
        purpose=command.purpose or "", requested_at=ctx.now,
    )
    ctx.uow.items.add_forward(request)
    ctx.audit(AuditAction.FORWARD, recipients=route.contacts, reference=str(item.reference),
              caveat=item.caveat.label(), purpose=request.purpose,
              detail={"stage": "consent asked", "request": request.id, "originator": item.originator})
    ctx.answer(f"{item.reference} is {item.caveat.label()}, so I asked {title(ctx, item.originator)} for consent "
               f"to forward it to {', '.join(names)}. Nothing is sent until they answer; I will tell you.")


def _send_consented(ctx: CommandContext, record: ItemRecord, request: ForwardRequest,
                    policy: PostingPolicy) -> tuple[bool, str]:
    """Send a granted forward to the people consented to: whether it went, and one sentence on it."""
    asker = ctx.directory.contacts.get(request.asker)
    named = tuple(Selector(SelectorKind.PERSON, person=c) for c in request.contacts)
    try:
        if asker is None:
            raise RouteRefused(f"{request.asker}, who asked, is no longer in the directory.")
        route = _route_onward(ctx, record, named, asker, policy)
    except RouteRefused as refused:
        ctx.audit(AuditAction.REFUSAL, recipients=request.contacts, reference=request.reference,
                  caveat=record.item.caveat.label(), purpose=request.purpose,
                  detail={"command": "consent", "request": request.id, "reason": str(refused)})
        return False, f"Nothing was sent: {refused}"
    # Urgent items route to coordinators too: consent covers only the people it named.
    route = Route(tuple(d for d in route.deliveries if d.contact in request.contacts),
                  notices=tuple(n for n in route.notices if n.contact in request.contacts))
    if not route.deliveries:
        return False, "Nothing was sent: everyone named has it already."
    names = _send(ctx, record, route, request.asker, request.purpose, consented_by=ctx.actor)
    return True, f"It went to {', '.join(names)}."


def _send(ctx: CommandContext, record: ItemRecord, route: Route, asker: str, purpose: str,
          consented_by: str | None) -> list[str]:
    """Queue the forward as more deliveries of the same item; the names it went to."""
    item = record.item
    reason = f"forward by {asker}" + (f", consented by {consented_by}" if consented_by else "")
    route = Route(tuple(replace(d, reason=reason) for d in route.deliveries), notices=route.notices)
    keys = {d.contact: ctx.new_key() for d in route.deliveries}
    ctx.uow.items.add_deliveries(item.reference, route, keys)
    note = f"Forwarded by {title(ctx, asker)}" + (", with the originator's consent" if consented_by else "")
    files = ctx.uow.items.attachment_ids(item.reference)  # the item's own photos and files go with it
    for delivery in route.deliveries:
        text = render_delivery(item, ctx.directory, forwarded=note,
                               zone=zone_at(ctx.directory, delivery.contact, delivery.destination))
        ctx.uow.outbox.enqueue(OutboundMessage(
            key=keys[delivery.contact], kind=MessageKind.DELIVERY, destination=delivery.destination, text=text,
            reference=str(item.reference), contact=delivery.contact, protect_content=item.caveat.protect_content,
            attention=attention_of(ctx.directory, delivery.contact),
            attachments=files, disclosure=Disclosure.FORWARD,
        ))
    ctx.uow.outbox.enqueue_many([OutboundMessage(
        key=ctx.new_key(), kind=MessageKind.NOTICE, destination=notice.destination, reference=str(item.reference),
        contact=notice.contact, text=content_free_notice(item.caveat.tlp, str(item.reference), notice.read_at))
        for notice in route.notices])
    ctx.audit(AuditAction.FORWARD, recipients=route.contacts, reference=str(item.reference),
              caveat=item.caveat.label(), purpose=purpose,
              detail={"stage": "sent", "asker": asker, "consented_by": consented_by or "",
                      "route": "; ".join(f"{d.contact} via {d.destination}" for d in route.deliveries)})
    return [title(ctx, c) for c in route.contacts]


def _nothing_to_decide(ctx: CommandContext, record: ItemRecord, requests: list[ForwardRequest]) -> str:
    reference = record.item.reference
    decided = [r for r in requests if not r.pending]
    if not decided:
        return f"Nobody has asked to forward {reference}, so there is nothing to consent to."
    last = decided[-1]
    names = ", ".join(title(ctx, c) for c in last.contacts)
    when = local_or_none(last.decided_at, answer_zone(ctx))
    return (f"Already decided: the forward of {reference} by {title(ctx, last.asker)} to {names} "
            f"was {last.state.value} on {when}.")
