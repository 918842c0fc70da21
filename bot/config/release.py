"""The [release] section: which items wait for a second person's approval before anything is sent.

    [release]
    required = ["red"]        # a TLP ("red"), or a TLP and a priority ("amber/urgent"); [] for none
    expires_after = "24h"     # a held item nobody decided on by then is dropped; the originator is told
    remind_every = "2h"       # the approvers are reminded at this pace while it waits

Who may approve is the directory's (alerts/release.py): an `approver` of the originator's own
organisation, else a coordinator; never the originator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from alerts.errors import InvalidValue
from alerts.release import DEFAULT_RULES, ReleasePolicy, ReleaseRule
from bot.config.reader import Check, Items, Refused, settings
from bot.config.values import Between


def _rule(text: str) -> ReleaseRule:
    try:
        return ReleaseRule.parse(text)
    except InvalidValue:
        raise Refused("") from None


@settings
class ReleaseSettings:
    required: Annotated[tuple[ReleaseRule, ...], Items(Check(
        _rule, 'a TLP like "red", or a TLP and a priority like "amber/urgent"', text=True), once="rule")] = DEFAULT_RULES
    expires_after: Annotated[timedelta, Between(timedelta(minutes=10), timedelta(days=14))] = timedelta(hours=24)
    remind_every: Annotated[timedelta, Between(timedelta(minutes=5), timedelta(days=7))] = timedelta(hours=2)

    def policy(self) -> ReleasePolicy:
        return ReleasePolicy(tuple(self.required), self.expires_after, self.remind_every)
