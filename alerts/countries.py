"""Country codes: ISO 3166-1 alpha-2 and alpha-3 both accepted, alpha-2 kept."""

from __future__ import annotations

from alerts.iso3166 import COUNTRIES

_BY_ALPHA2 = {a2: (a2, a3, name) for a2, a3, name in COUNTRIES}
_BY_ALPHA3 = {a3: (a2, a3, name) for a2, a3, name in COUNTRIES}


def country_code(text: str) -> str | None:
    """The alpha-2 code for an alpha-2 or alpha-3 code in any case, or None if it is not one."""
    key = text.strip().upper()
    if key in _BY_ALPHA2:
        return key
    if key in _BY_ALPHA3:
        return _BY_ALPHA3[key][0]
    return None


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalpha())


_BY_NAME = {_letters(name): a2 for a2, _, name in COUNTRIES}


def country_by_name(text: str) -> str | None:
    """The alpha-2 code of the country a person named in words (`Thailand`, `viet nam`), or None.
    Only to point them to the code: a name is never taken as a recipient."""
    key = _letters(text)
    if len(key) < 4:
        return None
    if key in _BY_NAME:
        return _BY_NAME[key]
    starting = {a2 for name, a2 in _BY_NAME.items() if name.startswith(key)}
    return starting.pop() if len(starting) == 1 else None


def country_name(alpha2: str) -> str:
    return _BY_ALPHA2[alpha2.upper()][2]


def alpha3(alpha2: str) -> str:
    return _BY_ALPHA2[alpha2.upper()][1]
