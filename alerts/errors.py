"""Domain errors: each carries a message fit to show a person, never a traceback."""


class DomainError(ValueError):
    """A value or an action the domain refuses; the message says why, for the user."""


class InvalidValue(DomainError):
    """A value that does not parse: names what was wrong, what is accepted, and an example."""

    def __init__(self, what: str, got: str, accepted: str, example: str) -> None:
        self.what = what
        self.got = got
        self.accepted = accepted
        self.example = example
        super().__init__(f"{what} {got!r} is not valid. Accepted: {accepted}. Example: {example}")


class RouteRefused(DomainError):
    """A route that would break a caveat or a rule; the reason is audited and shown."""


class ReferenceUnavailable(Exception):
    """A number just handed out whose case was erased before it was issued (a mistyped erasure leaves
    such a tombstone): nothing may be stored under it, so the item takes the next number."""
