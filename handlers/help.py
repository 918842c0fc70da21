"""Help texts: /help lists the commands one line each; /help COMMAND (or a field) explains one."""

from __future__ import annotations

from alerts.caveats import Tlp
from alerts.grading import CREDIBILITY, RELIABILITY
from alerts.roles import Role
from handlers.commands import ALIASES, COMMAND_NAMES
from handlers.lexer import shorten

# One line per command, in COMMAND_NAMES order.
SUMMARIES: dict[str, str] = {
    "alert": "/alert to:TH topic:… TEXT — send an alert",
    "request": '/request to:TH purpose:"…" TEXT — ask for information (also /req, /rfi)',
    "ack": "/ack REF — acknowledge an item (also /acknowledge)",
    "reply": "/reply REF TEXT — give feedback or an answer",
    "close": "/close REF [outcome] — close an item you sent (coordinators too)",
    "status": "/status REF — who has it, who acknowledged, what is due",
    "overdue": "/overdue [TH or TH/desk] — items past their due time",
    "mine": "/mine — your open items",
    "contacts": "/contacts [TH] — points of contact (also /directory)",
    "whoami": "/whoami — who the bot takes you for (also /me)",
    "help": "/help [command] — this list, or one command in detail (also /start)",
    "forward": '/forward REF to:VN purpose:"…" — pass an item on (also /fwd)',
    "consent": "/consent REF yes|no [reason] — answer a request to forward your item",
    "snooze": "/snooze REF 4h [reason] — hold reminders for a while",
    "remind": "/remind REF — remind the recipients now",
    "escalate": "/escalate REF — tell the coordinators",
    "stats": "/stats [30d|4w|3m|2026-10|2026] — exchange statistics",
    "member": "/member add|remove USER … — onboard or offboard someone (admins)",
    "rooms": "/rooms — the registered rooms",
    "room": "/room sync [--apply] — put room membership right (admins)",
    "device": "/device list|verify|blacklist USER [DEVICE] — trust of Matrix devices (admins)",
    "cancel": "/cancel — stop a command you started",
}

_ITEM_STYLES = (
    "Fields come first, as key:value; the text follows (after them, or on the next line). "
    "Or write the command alone, then one 'Key: value' per line, then the text. "
    "A word with a colon before the text must be a field; to begin the text with one (Note:), put an empty "
    "line before the text. /help fields lists them."
)

DETAILS: dict[str, str] = {
    "alert": "Send an alert to countries, organisations, desks or people. " + _ITEM_STYLES
    + "\nExample: /alert to:TH,MY topic:document-fraud tlp:amber grade:B2 priority:urgent feedback:24h Two travellers…",
    "request": "Ask for information. Needs purpose:, the reason the audit records. " + _ITEM_STYLES
    + '\nExample: /request to:TH due:48h purpose:"identity check" Please confirm passport N1234567',
    "ack": "Acknowledge that you have an item. It stops the acknowledgement reminders.\nExample: /ack A-2026-0042",
    "reply": "Send feedback on an alert or the answer to a request to its sender.\n"
    "Example: /reply A-2026-0042 Confirmed, stolen 2026-10-02",
    "close": "Close an item you sent (coordinators may close any), with an optional outcome. Late feedback is still "
    "relayed.\nExample: /close R-2026-0017 answered",
    "status": "Where an item has got: deliveries, acknowledgements, due times.\nExample: /status A-2026-0042",
    "overdue": "Items past their acknowledgement or feedback time, for everyone or one country, desk or person.\n"
    "Example: /overdue TH/immigration",
    "mine": "The items you sent or hold that are still open.\nExample: /mine",
    "contacts": "The points of contact, for everyone or one country or desk.\nExample: /contacts TH",
    "whoami": "Your contact entry, organisation, desk and roles as the bot has them.\nExample: /whoami",
    "help": "The list of commands, or one command or field in detail.\nExample: /help alert",
    "forward": "Pass an item on to more recipients, with a purpose. Items under ORCON, H2/H3 or TLP:RED need the "
    "originator's consent, which the bot asks for; AMBER stays within the organisations that hold it.\n"
    'Example: /forward A-2026-0042 to:VN purpose:"joint investigation"',
    "consent": "As originator, allow or refuse a forward of your item.\nExample: /consent A-2026-0042 no source at risk",
    "snooze": "Hold the reminders on an item for a while (90m, 4h, 2d, 1w; at most 30 days).\n"
    "Example: /snooze A-2026-0042 4h waiting for records",
    "remind": "Send a reminder to recipients who have not acknowledged or answered.\nExample: /remind A-2026-0042",
    "escalate": "Bring an item to the coordinators now.\nExample: /escalate A-2026-0042",
    "stats": "Exchange statistics for the last days (30d), weeks (4w) or months (3m — m means months here), "
    "or a calendar month (2026-10) or year (2026).\nExample: /stats 2026-10",
    "member": "Onboard someone into every room they belong in, on every platform, or offboard them from all. "
    "USER is @alice:example.org (Matrix), @username or telegram:user:42 (Telegram). "
    f"Roles: {', '.join(role.value for role in Role)}.\n"
    "Example: /member add @alice:example.org country:TH role:contact desk:immigration\n"
    'Example: /member remove @alice:example.org reason:"left the service"',
    "rooms": "The registered rooms and whose members they hold.\nExample: /rooms",
    "room": "Compare room membership with the directory; --apply makes the changes.\nExample: /room sync --apply",
    "device": "See a Matrix user's devices with their keys, then verify one (after checking its key with its owner) "
    "or blacklist it. Where only verified devices may receive, deliveries wait until an admin decides.\n"
    "Example: /device list @alice:example.org\nExample: /device verify @alice:example.org ABCDEFGHIJ",
    "cancel": "Stop a command that is waiting for more from you.\nExample: /cancel",
}

FIELDS: dict[str, str] = {
    "to": "to: whom to send to: all, a country (TH or THA), an organisation (IOM), a desk (TH/immigration) "
    "or a person (@th-npoc); comma-separated. Example: to:TH,MY",
    "topic": "topic: what it is about; its usual recipients get it if you give no to:. Example: topic:document-fraud",
    "tlp": f"tlp: who may see it: {', '.join(t.value.lower() for t in Tlp)}; amber if not given. Example: tlp:amber",
    "handling": "handling: what recipients may do with it: H0 to H3 (H2: no onward sharing without consent). "
    "Example: handling:H2",
    "orcon": "orcon: originator control, no onward sharing without your consent. Example: orcon (or orcon:no)",
    "grade": f"grade: source reliability {min(RELIABILITY)}-{max(RELIABILITY)} and information "
    f"credibility {min(CREDIBILITY)}-{max(CREDIBILITY)} (also grading:, source:). Example: grade:B2",
    "priority": "priority: routine, priority or urgent (flash and immediate mean urgent; also prio:). "
    "Example: priority:urgent",
    "feedback": "feedback: when feedback is due (also due:): 90m, 24h, 2d, 1w, or a UTC date or time, at most "
    "366 days ahead; a date means the end of that day UTC. "
    "Example: feedback:2026-11-30 or feedback:\"2026-11-30 14:00\"",
    "purpose": 'purpose: why, for the audit; required for requests (also why:, reason:). Example: purpose:"identity check"',
    "ref": "ref: your own reference number for the case. Example: ref:OP-1234",
    "confirm": "confirm:yes sends to recipients without a sharing arrangement where the network allows it after "
    "confirmation; the confirmation is recorded. Example: confirm:yes",
}

_FIELD_ALIASES = {
    "recipients": "to", "recipient": "to", "grading": "grade", "source": "grade", "prio": "priority",
    "due": "feedback", "why": "purpose", "reason": "purpose",
}


def help_topic(word: str) -> str:
    """The canonical help topic for what was typed: `/rfi` -> request, `due` -> feedback."""
    key = word.strip().lstrip("/!").rstrip(":").lower()
    return ALIASES.get(key) or _FIELD_ALIASES.get(key) or key


def help_text(topic: str | None = None) -> str:
    if topic is None or not topic.strip():
        lines = [SUMMARIES[name] for name in COMMAND_NAMES]
        return "\n".join(["Commands (REF is a reference such as A-2026-0042):", *lines,
                          "Send /help COMMAND for details, /help fields for the fields of /alert and /request."])
    key = help_topic(topic)
    if key in DETAILS:
        return f"{SUMMARIES[key]}\n{DETAILS[key]}"
    if key == "fields":
        return "\n".join(["Fields of /alert and /request:", *FIELDS.values()])
    if key in FIELDS:
        return FIELDS[key]
    names = ", ".join("/" + name for name in COMMAND_NAMES)
    return f"No help on '{shorten(topic, 20)}'. Commands: {names}. Send /help for what each does."
