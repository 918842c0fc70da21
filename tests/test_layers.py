"""The layer rule: imports point inward. alerts/ knows only itself (and cryptography where it must);
handlers/ knows alerts/; storage/ knows alerts/ and the handlers' ports; only bot/ knows platforms."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_LIBRARIES = {"nio", "telegram", "apscheduler", "sqlalchemy", "alembic", "aiohttp", "httpx", "psycopg"}
ALLOWED = {
    "alerts": {"alerts", "cryptography"},
    "handlers": {"alerts", "handlers"},
    "storage": {"alerts", "handlers", "storage", "sqlalchemy", "alembic", "cryptography", "psycopg"},
}


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _third_party_or_project(name: str) -> bool:
    import sys

    return name not in sys.stdlib_module_names and name != "__future__"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_point_inward(layer: str) -> None:
    offences = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for name in _imported_top_levels(path):
            if _third_party_or_project(name) and name not in ALLOWED[layer]:
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offences, "\n".join(offences)


def test_domain_and_command_language_know_no_platform() -> None:
    for layer in ("alerts", "handlers"):
        for path in (ROOT / layer).rglob("*.py"):
            assert not (_imported_top_levels(path) & PLATFORM_LIBRARIES), path


def test_the_rule_catches_an_offence(tmp_path: Path) -> None:
    offender = tmp_path / "bad.py"
    offender.write_text("from sqlalchemy import select\nimport bot.runtime.app\n")
    assert {"sqlalchemy", "bot"} <= _imported_top_levels(offender)
