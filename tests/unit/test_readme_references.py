"""What the README names outside the chat must be there: every file and folder of the repository it
names, every `[section] key` of the configuration, each TOML snippet it shows (loaded into the
sample configuration as a user would paste it), and in "Performance" every benchmark, option and
environment variable its `make bench` lines name, each benchmark printing its goal line."""

from __future__ import annotations

import re
import shlex
import tomllib
import typing
from pathlib import Path

import pytest

from bot.config.settings import Settings, settings_from_data

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TOP = ("alerts/", "handlers/", "storage/", "bot/", "tests/", "bench/", "docs/", ".ci/", "deploy/")


def _text() -> str:
    return README.read_text(encoding="utf-8")


def _section(heading: str) -> str:
    text = _text()
    start = text.index(f"\n## {heading}\n")
    return text[start:text.index("\n## ", start + 1)]


def test_every_repository_path_the_readme_names_exists() -> None:
    spans = {s for s in re.findall(r"`([^`\s]+)`", _text()) if s.startswith(TOP)}
    links = set(re.findall(r"\]\(((?:docs|bench|tests)/[^)#\s]+)", _text()))
    assert len(spans) > 10 and links
    assert sorted(p for p in spans | links if not (ROOT / p).exists()) == []


def test_the_operations_sections_it_links_to_exist() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", operations, re.M)}
    linked = re.findall(r"\]\(docs/operations\.md#([^)]+)\)", _text())
    assert linked and sorted(set(linked) - anchors) == []


def _fields(cls: object) -> set[str]:
    return set(getattr(cls, "__dataclass_fields__", None) or getattr(cls, "model_fields", {}))


def test_every_configuration_key_the_readme_names_is_a_setting() -> None:
    named = set(re.findall(r"`\[([a-z_]+)\] ([a-z_]+)(?: = [^`]*)?`", _text()))
    assert len(named) >= 8
    sections = typing.get_type_hints(Settings)
    unknown = [f"[{s}] {k}" for s, k in sorted(named) if s not in sections or k not in _fields(sections[s])]
    assert unknown == []


def _merged(base: dict[str, typing.Any], snippet: dict[str, typing.Any]) -> dict[str, typing.Any]:
    merged = dict(base)
    for key, value in snippet.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


@pytest.mark.parametrize("snippet", re.findall(r"^```toml\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M))
def test_each_toml_snippet_of_the_readme_loads_into_the_sample_configuration(snippet: str) -> None:
    example = ROOT / "config.example.toml"
    base = tomllib.loads(example.read_text(encoding="utf-8"))
    settings_from_data(_merged(base, tomllib.loads(snippet)), example)  # raises with every problem


def test_the_performance_table_names_real_benchmarks_with_their_options_and_goal_lines() -> None:
    text = _section("Performance")
    named = set(re.findall(r"`(\w+_bench\.py)((?: --[\w-]+(?: [\w.]+)?)*)`", text))
    benchmarks = {name for name, _ in named}
    on_disk = {p.name for p in (ROOT / "bench").glob("*_bench.py")}
    assert benchmarks == on_disk  # every benchmark has a row, and every row a benchmark
    for name, options in named:
        source = (ROOT / "bench" / name).read_text(encoding="utf-8")
        assert re.search(r"print\(f?\"(?:\\n)?goal ", source), name  # `make bench` gathers these lines
        for option, value in re.findall(r"(--[\w-]+)(?: ([\w.]+))?", options):
            declared = re.search(rf"add_argument\(\"{option}\"[^\n]*", source)
            assert declared, (name, option)
            if value and "choices" in declared.group(0):
                assert f'"{value}"' in declared.group(0), (name, option, value)
    synapse = [p for p in on_disk if "LIAISON_BENCH_NO_SYNAPSE" in (ROOT / "bench" / p).read_text(encoding="utf-8")]
    assert "LIAISON_BENCH_NO_SYNAPSE=1" in text and synapse
    for option in set(re.findall(r"`(--[\w-]+)`", text)):  # named without a benchmark: some benchmark takes it
        assert any(f'"{option}"' in (ROOT / "bench" / p).read_text(encoding="utf-8") for p in on_disk), option
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "bench/*_bench.py" in makefile and "grep '^goal '" in makefile


# An option named in prose (the CSV the portal writes is "as `liaison-bot audit export --reference` writes it").
NAMES_AN_OPTION = {"liaison-bot audit export --reference"}


def _command_lines(text: str) -> set[str]:
    """`liaison-bot …` as shown: in a code span, or a line of a code block (its comment left out)."""
    found = set(re.findall(r"`(liaison-bot [^`]+)`", text))
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M):
        found |= {line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("liaison-bot ")}
    # A shell redirection is not the command's; a placeholder (`…`, `/ keys rotate`) is no example.
    return {re.sub(r"\s*<\s*\S+$", "", f) for f in found if "…" not in f and " / " not in f and "REF" not in f
            and "PATH" not in f and "FILE" not in f and "COMMAND" not in f and f not in NAMES_AN_OPTION}


@pytest.mark.parametrize("document", ["README.md", "docs/operations.md"])
def test_every_command_line_shown_is_one_the_command_line_takes(document: str) -> None:
    from bot.cli.main import build_parser

    lines = _command_lines((ROOT / document).read_text(encoding="utf-8"))
    assert len(lines) >= 5
    refused = []
    for line in sorted(lines):
        try:
            build_parser().parse_args(shlex.split(line)[1:])
        except SystemExit as stop:
            if stop.code != 0:  # --version and --help stop with 0
                refused.append(line)
    assert refused == []
