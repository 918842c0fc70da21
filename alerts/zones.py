"""Which time-zone names a person or the configuration may give, and the one spelling each is kept in.

    canonical_zone("asia/bangkok")   'Asia/Bangkok'
    canonical_zone("utc")            'UTC'
    canonical_zone("localtime")      None

The names are the places of the IANA tz database this machine holds (`zoneinfo.available_timezones()`),
matched regardless of ASCII case and kept as the database spells them. Its odd entries are not places,
though zoneinfo loads them: `localtime` is whatever this machine's clock is set to, `Factory` a
placeholder with no offset anyone lives by, `posixrules` and the `posix/` and `right/` trees copies or
variants of the zones. /member add's tz:, `liaison-bot member add --tz`, both files `member import`
reads and the configuration file all take a zone through `canonical_zone`; `zone_of` reads a stored
one by it too.
"""

from __future__ import annotations

import functools
from typing import Mapping
from zoneinfo import available_timezones

UTC = "UTC"
_NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})
_NOT_PLACE_TREES = ("posix/", "right/")


@functools.cache
def _by_lower_case() -> Mapping[str, str]:
    names = {name for name in available_timezones()
             if name not in _NOT_PLACES and not name.startswith(_NOT_PLACE_TREES)}
    # UTC is always known (datetime.timezone.utc), with or without a tz database on the machine.
    return {name.lower(): name for name in names | {UTC}}


def zone_names() -> frozenset[str]:
    """Every name `canonical_zone` accepts, in its one spelling."""
    return frozenset(_by_lower_case().values())


def canonical_zone(name: str) -> str | None:
    """The zone `name` gives, as the tz database spells it (any ASCII case, surrounding spaces dropped);
    None if it is not one. Only ASCII matches: `str.lower` makes a Kelvin sign a "k"."""
    text = name.strip()
    return _by_lower_case().get(text.lower()) if text.isascii() else None
