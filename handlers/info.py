"""/whoami and /contacts: what the directory says. /contacts is answered in the chat it was asked in;
/whoami, which lists the person's accounts on each platform, only in their direct chat with the bot."""

from __future__ import annotations

from alerts.caveat_rules import shared_chat
from alerts.directory import Contact, Directory, Organisation, Standing
from alerts.items import Selector, SelectorKind
from handlers.answer_place import answer_in_direct_chat
from alerts.times import zone_line
from handlers.context import CommandContext


def whoami(ctx: CommandContext) -> None:
    contact = ctx.sender
    assert contact is not None
    org = ctx.directory.organisations.get(contact.organisation)
    lines = [
        f"You are {contact.name} ({contact.id}).",
        f"Organisation: {org.name if org else contact.organisation}" + (f", {contact.desk} desk" if contact.desk else ""),
        f"Roles: {', '.join(sorted(r.value for r in contact.roles))}",
        f"Accounts: {', '.join(str(i) for i in contact.identities)}",
        f"Time zone: {zone_line(ctx.directory, contact)}",
    ]
    backup = ctx.directory.backup_for(contact)
    if backup:
        lines.append(f"Backup: {backup.title(ctx.directory)}")
    text = "\n".join(lines)
    if shared_chat(ctx.message.chat, ctx.message.direct):  # the others in the room need not learn them
        answer_in_direct_chat(ctx, text, "your accounts on each platform")
        return
    ctx.answer(text)


def _contact_line(contact: Contact) -> str:
    where = f"{contact.desk} desk" if contact.desk else "national point of contact"
    return f"  {where}: {contact.name} (@{contact.id})"


def _organisation_block(directory: Directory, org: Organisation, desk: str | None) -> list[str]:
    standing = " (observer)" if org.standing is Standing.OBSERVER else ""
    lines = [f"{org.code} {org.name}{standing}"]
    points = [
        c for c in directory.contacts.values()
        if c.organisation == org.code and c.is_point_of_contact and (desk is None or c.desk in (None, desk))
    ]
    points.sort(key=lambda c: (c.desk is not None, c.desk or ""))
    lines += [_contact_line(c) for c in points] or ["  no point of contact yet"]
    return lines


def contacts(ctx: CommandContext, scope: Selector | None) -> None:
    directory = ctx.directory
    if scope is None or scope.kind is SelectorKind.ALL:
        lines = [f"{o.code} {o.name}" + (" (observer)" if o.standing is Standing.OBSERVER else "")
                 for o in sorted(directory.organisations.values(), key=lambda o: o.code)]
        ctx.answer("The network:\n" + "\n".join(lines) + "\nDetails: /contacts TH")
        return
    if scope.kind is SelectorKind.PERSON:
        person = directory.contact(scope.person or "")
        ctx.answer(person.title(directory) + f" (@{person.id})" if person else f"Nobody called @{scope.person}.")
        return
    org = directory.organisation(scope.organisation or "")
    if org is None:
        ctx.answer(f"{scope.organisation} is not in the network. See /contacts for the list.")
        return
    ctx.answer("\n".join(_organisation_block(directory, org, scope.desk)))
