"""Structured logs, as text or JSON lines, that never carry content nor secrets.

    configure_logging(settings.logging, secret_values(settings))   # once, at start
    log.warning("delivery %s failed for good", key, extra=item_fields(reference="A-2026-0042"))
    with log_context(reference="A-2026-0042"):                     # every record inside carries it
        ...

Every record gets the fields `reference` (an item's reference number) and `error_ref` (the code a
user was told, handlers.errorref) when it has them: given with `extra=`, bound with log_context, or
found in the message itself (callers write ids into messages: "failed [E-7KQ2MX]"), so the line
an officer's "reference E-7KQ2MX" points to can be found with a plain search or a JSON query.

What keeps content and secrets out, since a log line outlives the case it was about:
- the bot's code logs ids, codes and counts, never a text a person wrote (tests/ops checks it);
- an exception's message is kept only for types that describe infrastructure (database, network,
  the bot's platform errors, which carry codes); for any other type only its name and the stack
  are logged, because such messages often quote their input (a parser's, a handler's);
- the secret values the configuration names are replaced by [redacted] wherever they appear, and
  so are shapes of secrets a library may print (Telegram's bot<token> URLs, access tokens, URL
  passwords, bearer headers);
- libraries that log message bodies or request URLs at debug or info level (matrix-nio, httpx,
  python-telegram-bot, SQLAlchemy's echo) stay at warning whatever the configured level.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, TextIO

from bot.config.ops import LogFormat, LoggingSettings

FIELDS = ("reference", "error_ref", "event_id", "key", "platform", "attempt")
REFERENCE = re.compile(r"\b[AR]-\d{4}-\d{4,}\b")
ERROR_REF = re.compile(r"\bE-[A-HJ-NP-Z2-9]{6}\b")
SECRET_SHAPES = (
    (re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{20,}"), "bot[redacted]"),                     # Telegram token in URLs
    (re.compile(r"(?i)(access_token|token|password|secret)=([^&\s\"']+)"), r"\1=[redacted]"),
    (re.compile(r"(?i)(authorization:\s*bearer\s+)\S+"), r"\1[redacted]"),
    (re.compile(r"(\w+://[^/:@\s]+:)[^@/\s]+@"), r"\1[redacted]@"),                      # user:password@host
)
# Loggers whose debug or info output carries message bodies, request URLs with tokens, or SQL parameters.
CHATTY_LIBRARIES = ("nio", "httpx", "httpcore", "telegram", "aiohttp.access", "sqlalchemy.engine",
                    "sqlalchemy.pool", "apscheduler", "urllib3", "peewee", "synapse",
                    "alembic.runtime.plugins")  # the last only for noise: a line per plugin at every start
MIGRATION_LOGGER = "alembic.runtime.migration"
MIGRATION_PREAMBLE = ("Context impl ", "Will assume ")
# Exceptions whose messages describe infrastructure, not what a person wrote.
SAFE_MESSAGE_MODULES = ("sqlalchemy", "psycopg", "alembic", "asyncio", "concurrent", "ssl", "socket", "aiohttp",
                        "httpx", "httpcore", "nio", "telegram", "apscheduler", "bot.connectors.errors", "storage.keyring",
                        "storage.audit")
SAFE_BUILTINS = (OSError, TimeoutError, MemoryError, RecursionError)  # ConnectionError is an OSError
WITHHELD = "(message withheld: it may quote content)"

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("liaison_log_context", default={})


def item_fields(reference: str | None = None, error_ref: str | None = None, **ids: object) -> dict[str, Any]:
    """`extra=` for a log call about an item: its reference, an error reference, other ids."""
    fields = {"reference": reference, "error_ref": error_ref, **ids}
    return {f"liaison_{k}": str(v) for k, v in fields.items() if v is not None}


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would redact ordinary words; real tokens and passwords are longer.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        for pattern, replacement in SECRET_SHAPES:
            text = pattern.sub(replacement, text)
        return text


def _safe_message(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    if module == "builtins":
        return isinstance(exc, SAFE_BUILTINS)
    return any(module == m or module.startswith(m + ".") for m in SAFE_MESSAGE_MODULES)


def exception_chain(exc: BaseException, redact: Redactor) -> list[dict[str, Any]]:
    """Each exception of the chain, innermost cause first: type, message (when safe), stack."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    out = []
    for item in reversed(chain):
        frames = traceback.extract_tb(item.__traceback__)
        name = f"{type(item).__module__}.{type(item).__qualname__}".removeprefix("builtins.")
        out.append({"type": name, "message": redact(str(item)) if _safe_message(item) else WITHHELD,
                    "stack": [f"{f.filename}:{f.lineno} in {f.name}" for f in frames]})
    return out


class StructuredFilter(logging.Filter):
    """Puts the fields on each record, from `extra=`, the context, or the message; redacts it."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redact(record.getMessage())
        fields = dict(_context.get())
        for name in FIELDS:
            value = getattr(record, f"liaison_{name}", None)
            if value is not None:
                fields[name] = value
        for name, pattern in (("reference", REFERENCE), ("error_ref", ERROR_REF)):
            if name not in fields and (found := pattern.findall(message)):
                fields[name] = found[0] if len(set(found)) == 1 else ",".join(dict.fromkeys(found))
        record.liaison_message = message
        record.liaison_fields = {k: self.redact(v) for k, v in fields.items()}
        record.liaison_exception = exception_chain(record.exc_info[1], self.redact) \
            if record.exc_info and record.exc_info[1] is not None else None
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "liaison_fields", {})
        tail = (" [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]") if fields else ""
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {getattr(record, 'liaison_message', '')}{tail}"
        for exc in getattr(record, "liaison_exception", None) or []:
            line += "\n  " + "\n  ".join(exc["stack"]) + f"\n{exc['type']}: {exc['message']}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name,
                                "message": getattr(record, "liaison_message", "")}
        body.update(getattr(record, "liaison_fields", {}))
        exception = getattr(record, "liaison_exception", None)
        if exception:
            body["exception"] = exception
        return json.dumps(body, ensure_ascii=False)


def secret_values(settings: Any) -> list[str]:
    """The values of the secrets the configuration names, to be redacted wherever they show up."""
    values = []
    for _key, ref in settings.secrets_in_use():
        try:
            values.append(ref.read())
        except Exception:  # a missing secret is check-config's business, not the logger's
            continue
    return values


def configure_logging(settings: LoggingSettings, secrets: Iterable[str] = (), stream: TextIO | None = None
                      ) -> logging.Handler:
    """Replace the root logger's handlers by one structured handler; returns it (tests capture it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(StructuredFilter(Redactor(secrets)))
    handler.setFormatter(JsonFormatter() if settings.format is LogFormat.JSON else TextFormatter())
    level = getattr(logging, settings.level.value.upper())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    migration = logging.getLogger(MIGRATION_LOGGER)
    if not any(isinstance(f, MigrationPreamble) for f in migration.filters):
        migration.addFilter(MigrationPreamble())
    return handler


class MigrationPreamble(logging.Filter):
    """Drops the two lines alembic logs every time it looks at the schema (on every operator command);
    the lines of a migration that runs ("Running upgrade …") stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(MIGRATION_PREAMBLE)
