"""A strict reader of the Prometheus text exposition format (0.0.4), to check what /metrics renders.

It refuses what Prometheus would refuse or misread: bad metric or label names, a sample before its
family's HELP and TYPE, TYPE twice, an unknown type, a bad escape in a label value, a duplicate
series or label, a value that is not a float, a counter without _total or going negative, and a
histogram without +Inf, _sum and _count or with buckets that are not cumulative.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class ExpositionError(ValueError):
    pass


@dataclass
class Family:
    name: str
    help: str | None = None
    type: str | None = None
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)


def _labels(text: str, line: str) -> tuple[tuple[str, str], ...]:
    pairs, i = [], 0
    while i < len(text):
        m = LABEL.match(text, i)
        if not m or text[m.end():m.end() + 2] != '="':
            raise ExpositionError(f"bad label at {text[i:]!r} in {line!r}")
        name, i, value = m.group(), m.end() + 2, []
        while True:
            if i >= len(text):
                raise ExpositionError(f"unterminated label value in {line!r}")
            ch = text[i]
            if ch == "\\":
                escaped = text[i + 1:i + 2]
                if escaped not in ("\\", '"', "n"):
                    raise ExpositionError(f"bad escape \\{escaped} in {line!r}")
                value.append("\n" if escaped == "n" else escaped)
                i += 2
            elif ch == '"':
                i += 1
                break
            elif ch == "\n":
                raise ExpositionError(f"raw newline in a label value in {line!r}")
            else:
                value.append(ch)
                i += 1
        pairs.append((name, "".join(value)))
        if i < len(text):
            if text[i] != ",":
                raise ExpositionError(f"expected , between labels in {line!r}")
            i += 1
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise ExpositionError(f"a label given twice in {line!r}")
    return tuple(sorted(pairs))


def _unescape_help(text: str, line: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            escaped = text[i + 1:i + 2]
            if escaped not in ("\\", "n"):
                raise ExpositionError(f"bad escape in HELP {line!r}")
            out.append("\n" if escaped == "n" else "\\")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _value(text: str, line: str) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    try:
        return float(text)
    except ValueError:
        raise ExpositionError(f"bad value {text!r} in {line!r}") from None


def _family_of(sample: str, families: dict[str, Family]) -> Family:
    if sample in families:
        return families[sample]
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample.removesuffix(suffix)
        if base != sample and base in families and families[base].type == "histogram":
            return families[base]
    raise ExpositionError(f"sample {sample} has no HELP/TYPE before it")


def parse(text: str) -> dict[str, Family]:
    if not text.endswith("\n"):
        raise ExpositionError("the exposition must end with a newline")
    families: dict[str, Family] = {}
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, rest = line.split(" ", 2)
            name, _, value = rest.partition(" ")
            if not NAME.fullmatch(name):
                raise ExpositionError(f"bad metric name in {line!r}")
            family = families.setdefault(name, Family(name))
            if family.samples:
                raise ExpositionError(f"{kind} of {name} after its samples")
            if kind == "HELP":
                if family.help is not None:
                    raise ExpositionError(f"HELP twice in {line!r}")
                family.help = _unescape_help(value, line)
            else:
                if family.type is not None or value not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise ExpositionError(f"TYPE twice or unknown in {line!r}")
                family.type = value
            continue
        if not line or line.startswith("#"):
            raise ExpositionError(f"unexpected line {line!r}")
        m = NAME.match(line)
        if not m:
            raise ExpositionError(f"bad sample line {line!r}")
        sample, rest = m.group(), line[m.end():]
        labels: tuple[tuple[str, str], ...] = ()
        if rest.startswith("{"):
            close = _closing_brace(rest, line)
            labels, rest = _labels(rest[1:close], line), rest[close + 1:]
        if not rest.startswith(" ") or len(rest.split()) != 1:
            raise ExpositionError(f"expected one value after the sample in {line!r}")
        family = _family_of(sample, families)
        if family.help is None or family.type is None:
            raise ExpositionError(f"{family.name} lacks HELP or TYPE before {line!r}")
        key = (sample, labels)
        if key in family.samples:
            raise ExpositionError(f"duplicate series {line!r}")
        family.samples[key] = _value(rest.strip(), line)
    for family in families.values():
        _check_family(family)
    return families


def _closing_brace(rest: str, line: str) -> int:
    in_value, i = False, 1
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and in_value:
            i += 2
            continue
        if ch == '"':
            in_value = not in_value
        elif ch == "}" and not in_value:
            return i
        i += 1
    raise ExpositionError(f"unclosed labels in {line!r}")


def _check_family(family: Family) -> None:
    if family.type == "counter":
        if not family.name.endswith("_total"):
            raise ExpositionError(f"counter {family.name} does not end in _total")
        if any(v < 0 or math.isnan(v) for v in family.samples.values()):
            raise ExpositionError(f"counter {family.name} has a negative value")
    if family.type != "histogram":
        return
    series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for (sample, labels), value in family.samples.items():
        if sample == family.name + "_bucket":
            le = dict(labels).get("le")
            if le is None:
                raise ExpositionError(f"{family.name}_bucket without le")
            rest = tuple(p for p in labels if p[0] != "le")
            series.setdefault(rest, []).append((_value(le, le), value))
    for rest, buckets in series.items():
        buckets.sort()
        counts = [c for _, c in buckets]
        if buckets[-1][0] != math.inf or counts != sorted(counts):
            raise ExpositionError(f"{family.name}{rest}: buckets not cumulative or no +Inf")
        total = family.samples.get((family.name + "_count", rest))
        if total != counts[-1] or (family.name + "_sum", rest) not in family.samples:
            raise ExpositionError(f"{family.name}{rest}: _count differs from +Inf or _sum missing")


def value(families: dict[str, Family], sample: str, **labels: str) -> float:
    family = _family_of(sample, families)
    return family.samples[(sample, tuple(sorted(labels.items())))]
