"""Help on the fields of /alert and /request: /help fields, /help tlp. The commands' help is declared
with each command (handlers/command_list.py) and laid out by handlers/registry.py."""

from __future__ import annotations

from alerts.caveats import Tlp
from alerts.grading import CREDIBILITY, RELIABILITY
from alerts.incident import DocumentType, Method
from handlers.parse_items import ITEM_FIELDS

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
    "persons": "persons: how many persons the incident concerns, 1 to 100000 (also pax:). Example: persons:4",
    "nationalities": "nationalities: their nationalities, ISO 3166 codes, comma-separated (also nationality:). "
    "Example: nationalities:MM,BD",
    "route": "route: origin, any transit countries, destination, ISO 3166 codes joined by >. Example: route:MM>TH>MY",
    "method": f"method: how they travelled: {', '.join(m.value for m in Method)}. Example: method:sea",
    "document": f"document: the document type: {', '.join(d.value for d in DocumentType)}. Example: document:passport",
    "issuer": "issuer: the document's issuing country, an ISO 3166 code. Example: issuer:TH",
    "hub": "hub: the airport, seaport, border crossing or sea area it concerns; it is posted in that hub's room where "
    "its TLP allows (/rooms lists the hubs). Example: hub:KUL",
}

# Other words for a field, as the parser reads them: `due` -> feedback.
FIELD_ALIASES = {alias: key for alias, key in ITEM_FIELDS.keys.items() if alias != key}
