"""docs/architecture.md names the code a newcomer reads: every file and folder it names in backticks
exists, every module, class and function it names by a dotted path imports, and every other name of
code it gives (`build_runtime`, `SqlUnitOfWork`) is defined somewhere in the code. A file named
alone (`items.py` in the alerts/ table) is looked for in the folders named in its section, its line
or its table row, or in the folder it is said to be in."""

from __future__ import annotations

import importlib
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

from alerts.roles import Role
from handlers import command_list
from handlers.command_text import Bare
from handlers.context import CommandContext
from handlers.registry import CommandSpec, Registry
from handlers.vocabulary import Vocabulary
from tests.unit.test_registry import Bot

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("alerts", "handlers", "storage", "bot")
PATH = re.compile(r"^[\w./-]+(?:\.py|\.css|/)$|^[\w.-]+/[\w./-]+$")
DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.\w+)+$")
# Names of code: with an underscore, or CamelCase (`snake_case`, `CamelCase`), as a whole span.
CODE_NAME = re.compile(r"^(?:[a-z]\w*_\w*|[A-Z][a-z]+[A-Z]\w*|[A-Z][a-z]{2,}\w*)$")
# Spans of the doc that look like code names but are not meant as one.
NOT_CODE = {"Client", "AsyncClient", "Protocol"}  # matrix-nio's and typing's
# Objects the doc names by a variable (`runtime.room_actions.add`): their class.
OBJECTS = {"runtime": "bot.runtime.app.Runtime"}


def _sources() -> str:
    files = [p for folder in (*PACKAGES, "tests") for p in (ROOT / folder).rglob("*.py")]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


SOURCES = _sources()


def _spans() -> list[tuple[str, list[Path]]]:
    """Each backticked span with the folders it may be relative to: the section's package, the folders
    named in its line, and (in a table) the folder its row is about."""
    found = []
    section: list[Path] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^###? `?(\w+)/", line)
        if heading and (ROOT / heading.group(1)).is_dir():
            section = [ROOT / heading.group(1)]
        spans = re.findall(r"`([^`\n]+)`", line)
        folders = [ROOT / s for s in spans if s.endswith("/") and (ROOT / s).is_dir()]
        folders += [(ROOT / s).parent for s in spans if "/" in s and s.endswith(".py") and (ROOT / s).is_file()]
        bases = [ROOT, *section, *folders, *(f.parent for f in folders)]
        found += [(span, bases) for span in spans]
    return found


def _resolves(path: str, bases: list[Path]) -> bool:
    return any((base / path).exists() for base in bases)


def _module_in(name: str, bases: list[Path]) -> str | None:
    for base in bases:
        if (base / f"{name}.py").is_file() or (base / name / "__init__.py").is_file():
            parts = (base / name).relative_to(ROOT).parts
            return ".".join(parts)
    return None


def _defined(name: str) -> bool:
    name = re.escape(name)
    return re.search(rf"^\s*(?:class|def|async def)\s+{name}\b|^\s*(?:self\.)?{name}\s*[:=]", SOURCES, re.M) is not None


def _has(owner: object, attribute: str) -> bool:
    fields = getattr(owner, "__dataclass_fields__", {})
    return hasattr(owner, attribute) or attribute in fields or attribute in getattr(owner, "__annotations__", {})


def _dotted_holds(span: str, bases: list[Path]) -> bool:
    first, *rest = span.split(".")
    if first in OBJECTS:
        module, _, cls = OBJECTS[first].rpartition(".")
        owner: object = getattr(importlib.import_module(module), cls)
        attributes = rest[:1]  # what the object holds is checked on its class; further, not here
    elif first in PACKAGES:
        module_name, attributes = span, []
        while True:  # the longest importable prefix, then attributes
            try:
                owner = importlib.import_module(module_name)
                break
            except ModuleNotFoundError:
                module_name, _, last = module_name.rpartition(".")
                attributes.insert(0, last)
                if not module_name:
                    return False
    elif (relative := _module_in(first, bases)) is not None:
        owner, attributes = importlib.import_module(relative), rest
    elif first[0].isupper() and _defined(first):  # Class.attribute: the class, wherever it is defined
        return any(_has(getattr(importlib.import_module(m), first), rest[0]) for m in _modules_defining(first))
    else:
        return True  # an attribute of a running object (`runtime.room_actions.add`): not checked here
    for attribute in attributes:
        if not _has(owner, attribute):
            return False
        owner = getattr(owner, attribute, None)
    return True


def _modules_defining(name: str) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if re.search(rf"^class {re.escape(name)}\b", path.read_text(encoding="utf-8"), re.M):
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    return found


def test_every_file_and_folder_the_architecture_names_exists() -> None:
    spans = [(s, b) for s, b in _spans() if PATH.match(s) and not s.startswith("/")]
    assert len(spans) > 150  # the tables were read
    assert [s for s, bases in spans if not _resolves(s, bases)] == []


def test_every_dotted_name_the_architecture_gives_imports() -> None:
    spans = [(s, b) for s, b in _spans() if DOTTED.match(s) and not PATH.match(s)]
    assert len(spans) > 20
    assert [s for s, bases in spans if not _dotted_holds(s, bases)] == []


def _adding_a_command() -> list[str]:
    """The code blocks of "How to add a command", in order."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## How to add a command"):text.index("## How to add a connector")]
    return [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)^\s*```", section, re.S | re.M)]


def test_every_name_of_code_the_architecture_gives_is_defined() -> None:
    new = {n for block in _adding_a_command() for n in re.findall(r"(?:class|def) (\w+)", block)}  # what it adds
    names = {s for s, _ in _spans() if CODE_NAME.match(s) and s not in NOT_CODE | new}
    assert len(names) > 20
    assert sorted(n for n in names if not _defined(n)) == []


def test_adding_a_command_as_the_architecture_shows_works() -> None:
    command, handler, declaration = _adding_a_command()
    c = SimpleNamespace()
    exec(command, {"dataclass": dataclass, "ClassVar": ClassVar, "Bare": Bare}, vars(c))
    info = SimpleNamespace()
    exec(handler, {"CommandContext": CommandContext}, vars(info))
    registry = Registry()
    exec(declaration, {**vars(command_list), "_declare": registry.declare, "CommandSpec": CommandSpec, "c": c,
                       "info": info})

    spec = registry.spec_for("ping")
    assert spec is not None and spec.roles == frozenset({Role.ADMIN})
    assert registry.help_text("ping") == "/ping — see whether the bot is there (also /p)\nThe bot answers pong.\nExample: /ping"
    parsed = registry.parse("/ping", Vocabulary())
    assert parsed == c.PingCommand() and parsed.render() == "/ping"  # type: ignore[union-attr]
    bot = Bot(registry)
    assert bot.says("admin", "/ping") == ["pong"]
    assert bot.says("admin", "/p") == ["pong"]
    assert bot.says("my-officer", "/ping") == ["/ping needs one of these roles: admin. Yours: officer."]
