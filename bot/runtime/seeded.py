"""Rooms and contacts the configuration names on a platform the bot does not run: an operator's slip
that must not stop the start. Each one is set aside (kept in the directory, so admins see and fix
it, but routing posts nothing there and /room sync plans nothing for it: alerts.reachability), named
by check-config as a warning, logged once at each start with an error reference and no content, and
told to the admins once, in one line."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from alerts.messages import MessageKind, OutboundMessage
from alerts.reachability import (ACCOUNT_EXAMPLES, ROOM_EXAMPLES, NO_ACCOUNT, SetAside, example_platform,
                                 not_run, running_text, set_aside, unreachable_contacts)
from bot.config.settings import Settings
from bot.ops.logs import item_fields
from handlers.errorref import new_error_ref

if TYPE_CHECKING:
    from bot.runtime.app import Runtime

log = logging.getLogger(__name__)


def key_path(aside: SetAside) -> str:
    return f"network.{aside.kind}s[{aside.position}]"


def seeded_aside(settings: Settings) -> list[SetAside]:
    """What the file names that no platform it enables reaches, in the file's order."""
    return set_aside(settings.network.rooms, settings.network.contacts, settings.enabled_platforms())


def warning_lines(settings: Settings) -> list[str]:
    """check-config's warning for each room and contact set aside: its key path, what is wrong, what
    is accepted (and, for a contact, what routes to them)."""
    platforms = settings.enabled_platforms()
    example = example_platform(platforms)
    directory = settings.directory()
    routes = {found.contact.id: found for found in
              unreachable_contacts(directory, settings.routing_policy(), platforms)}
    lines = []
    for aside in seeded_aside(settings):
        if aside.kind == "room":
            platform = aside.platforms[0]
            lines.append(f'{settings.given}: {key_path(aside)}.chat: "{aside.name}" is on {platform.value}, '
                         f"{not_run(platform, platforms)}: set aside, nothing is posted there nor synced; expected a "
                         f'room on a platform it runs, such as "{ROOM_EXAMPLES[example]}", or enable '
                         f"[{platform.value}]")
            continue
        contact = directory.contacts[aside.name]
        accounts = ", ".join(str(i) for i in contact.identities) or "none"
        found = routes.get(aside.name)
        routed = f"; routed to by: {', '.join(found.routes)}" if found is not None else ""
        lines.append(f"{settings.given}: {key_path(aside)}.identities: contact {contact.id} "
                     f"({contact.title(directory)}) has {NO_ACCOUNT} (accounts: {accounts}): set aside, nothing "
                     f"reaches them; expected an account on a platform this bot runs ({running_text(platforms)}), "
                     f'such as "{ACCOUNT_EXAMPLES[example]}"{routed}')
    return lines


def set_aside_at_start(runtime: Runtime) -> list[SetAside]:
    """Log each room and contact set aside, once, under one error reference and with no content (its
    key path and platforms only); tell the admins once in one line. A restart with the same file logs
    again but does not tell again: the notice's key is made of what is set aside."""
    settings = runtime.settings
    found = seeded_aside(settings)
    if not found:
        return found
    platforms = settings.enabled_platforms()
    error_ref = new_error_ref()
    for aside in found:
        log.error("%s set aside at start: a %s on %s, which this bot does not run (it runs %s) [%s]",
                  key_path(aside), aside.kind, "/".join(p.value for p in aside.platforms) or "no platform",
                  running_text(platforms), error_ref, extra=item_fields(error_ref=error_ref))
    rooms = sum(1 for a in found if a.kind == "room")
    contacts = len(found) - rooms
    counted = " and ".join(f"{n} {noun}{'s' if n != 1 else ''}" for n, noun in ((rooms, "room"), (contacts, "contact"))
                           if n)
    text = (f"⚠ Set aside at start (reference {error_ref}): {counted} in the configuration "
            f"{'is' if len(found) == 1 else 'are'} on a platform this bot does not run (it runs "
            f"{running_text(platforms)}): {', '.join(key_path(a) for a in found)}. Nothing is posted to them nor "
            "synced; liaison-bot check-config names each.")
    told = hashlib.sha256("|".join([*sorted(p.value for p in platforms),
                                    *(f"{a.kind}:{a.name}" for a in found)]).encode()).hexdigest()[:32]
    from bot.runtime.admins import admin_destinations

    places = admin_destinations(runtime)
    if not places:
        log.warning("no admin can be told what is set aside at start [%s] (no management room or admin chat on a "
                    "connected platform)", error_ref, extra=item_fields(error_ref=error_ref))
        return found
    with runtime.uow_factory() as uow:
        uow.outbox.enqueue_many([OutboundMessage(key=f"set-aside-at-start:{told}:{n}", kind=MessageKind.NOTICE,
                                                 destination=destination, text=text, contact=contact)
                                 for n, (destination, contact) in enumerate(places)])
        uow.commit()
    return found

