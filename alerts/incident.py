"""Harmonised incident fields: what the networks count across countries, on an alert or a request.

All optional: the number of persons, their nationalities, the route (origin, transit, destination),
the method (air, sea, land), the type of document and its issuing country. Countries are ISO 3166
alpha-2 codes (alerts.countries accepts either code form). They travel with the item's content and
are sealed with it. Counts across items (/stats, the monthly bulletin) show a value only when at
least `minimum` items carry it, so that no small group can be picked out.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from alerts.countries import country_code

MAX_PERSONS = 100_000
MAX_COUNTRIES = 12  # nationalities, or countries on a route: more is a typo, not an incident
COUNT_MINIMUM = 5  # the smallest count shown, unless the configuration says


class Method(enum.Enum):
    AIR = "air"
    SEA = "sea"
    LAND = "land"


class DocumentType(enum.Enum):
    PASSPORT = "passport"
    VISA = "visa"
    ID_CARD = "id-card"
    RESIDENCE_PERMIT = "residence-permit"
    OTHER = "other"


def _countries(codes: Iterable[str]) -> tuple[str, ...]:
    found = []
    for code in codes:
        alpha2 = country_code(code)
        if alpha2 is None:
            raise ValueError(f"{code!r} is not an ISO 3166 country code")
        found.append(alpha2)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Incident:
    """The harmonised fields of one item; every one may be left out."""

    persons: int | None = None
    nationalities: tuple[str, ...] = ()  # alpha-2, each once
    route: tuple[str, ...] = ()  # origin, any transit countries, destination (at least two, or none)
    method: Method | None = None
    document: DocumentType | None = None
    issuer: str | None = None  # the document's issuing country, alpha-2

    def __post_init__(self) -> None:
        if self.persons is not None and not 1 <= self.persons <= MAX_PERSONS:
            raise ValueError(f"persons must be from 1 to {MAX_PERSONS}")
        object.__setattr__(self, "nationalities", _countries(self.nationalities))
        object.__setattr__(self, "route", _countries(self.route))
        if len(set(self.nationalities)) != len(self.nationalities) or len(self.nationalities) > MAX_COUNTRIES:
            raise ValueError(f"nationalities are up to {MAX_COUNTRIES} countries, each once")
        if self.route and not 2 <= len(self.route) <= MAX_COUNTRIES:
            raise ValueError(f"a route runs from an origin to a destination: 2 to {MAX_COUNTRIES} countries")
        if self.issuer is not None:
            object.__setattr__(self, "issuer", _countries([self.issuer])[0])

    @property
    def empty(self) -> bool:
        return self == Incident()

    @property
    def origin(self) -> str | None:
        return self.route[0] if self.route else None

    @property
    def destination(self) -> str | None:
        return self.route[-1] if self.route else None

    @property
    def transit(self) -> tuple[str, ...]:
        return self.route[1:-1]

    def compact(self) -> str:
        """One line for a delivery: "4 persons · MM, BD · sea · route MM→TH→MY · passport (TH)"."""
        parts = []
        if self.persons is not None:
            parts.append(f"{self.persons} person{'s' if self.persons != 1 else ''}")
        if self.nationalities:
            parts.append("nationalities " + ", ".join(self.nationalities))
        if self.method is not None:
            parts.append(self.method.value)
        if self.route:
            parts.append("route " + "→".join(self.route))
        if self.document is not None or self.issuer is not None:
            document = self.document.value if self.document is not None else "document"
            parts.append(document + (f" issued by {self.issuer}" if self.issuer else ""))
        return " · ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"persons": self.persons, "nationalities": list(self.nationalities), "route": list(self.route),
                "method": self.method.value if self.method else None,
                "document": self.document.value if self.document else None, "issuer": self.issuer}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Incident:
        """What to_json wrote; None (an item stored before these fields) is no fields."""
        if not data:
            return cls()
        return cls(data.get("persons"), tuple(data.get("nationalities") or ()), tuple(data.get("route") or ()),
                   Method(data["method"]) if data.get("method") else None,
                   DocumentType(data["document"]) if data.get("document") else None, data.get("issuer"))


def harmonised_counts(incidents: Iterable[Incident], minimum: int = COUNT_MINIMUM) -> list[str]:
    """Lines counting items by each field; a value carried by fewer than `minimum` items is not shown,
    nor is the total of persons when under `minimum`. Nothing when no item has a field."""
    given = [i for i in incidents if not i.empty]
    if not given:
        return []
    counters: dict[str, Counter[str]] = {name: Counter() for name in (
        "nationality", "method", "document", "issuing country", "origin", "transit", "destination")}
    persons = 0
    for incident in given:
        persons += incident.persons or 0
        counters["nationality"].update(incident.nationalities)
        counters["method"].update([incident.method.value] if incident.method else [])
        counters["document"].update([incident.document.value] if incident.document else [])
        counters["issuing country"].update([incident.issuer] if incident.issuer else [])
        counters["origin"].update([incident.origin] if incident.origin else [])
        counters["transit"].update(set(incident.transit))
        counters["destination"].update([incident.destination] if incident.destination else [])
    lines = [f"Harmonised fields ({len(given)} item{'s' if len(given) != 1 else ''} with them; "
             f"counts under {minimum} are not shown):"]
    if any(i.persons is not None for i in given):
        lines.append(f"  Persons reported: {persons if persons >= minimum else f'fewer than {minimum}'}")
    for name, counter in counters.items():
        shown = sorted(((value, n) for value, n in counter.items() if n >= minimum), key=lambda vn: (-vn[1], vn[0]))
        if shown:
            lines.append(f"  By {name}: " + ", ".join(f"{value} {n}" for value, n in shown))
    return lines
