"""Metric values from a run: lines of its output matched by metric definitions, and the metrics
file it writes (``SYNTH_METRICS_FILE``).

The file is either one JSON object of final values (``{"train_error": 2.1, "val_error": 4.0}``,
with optional ``unit`` and ``model``) or JSON Lines, one object per line; an object with a
``step`` gives intermediate values at that step, and each metric's last value is its final one.
Values are numbers as the command reports them (no unit is assumed); non-numeric fields other than
``unit`` and ``model`` are ignored, as are values that are not finite.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.runs.spec import MetricDef

_STEP = re.compile(r"\b(?:step|epoch|iter|iteration|round|trial)\s*[=:#]?\s*(\d+)\b", re.I)


@dataclass(frozen=True)
class Observation:
    """One value of a metric: ``step`` is None for a value with no step on its line."""

    name: str
    value: float
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "step": self.step, "value": self.value}


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip().rstrip("%,;"))
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None


class OutputMetrics:
    """Reads metric values from output lines, one line at a time."""

    def __init__(self, definitions: list[MetricDef]) -> None:
        self._defs = [(d.name, d.pattern) for d in definitions]

    def feed(self, line: str) -> list[Observation]:
        found = []
        for name, pattern in self._defs:
            for match in pattern.finditer(line):
                group = "value" if "value" in pattern.groupindex else 1
                value = _number(match.group(group))
                if value is None:
                    continue
                step: int | None = None
                if "step" in pattern.groupindex and match.group("step") is not None:
                    step = int(match.group("step")) if match.group("step").isdigit() else None
                else:
                    rest = line[: match.start()] + " " + line[match.end() :]
                    if m := _STEP.search(rest):
                        step = int(m.group(1))
                found.append(Observation(name, value, step))
        return found


class MetricsFileError(ValueError):
    """The metrics file is not JSON or JSON Lines of objects; the message says where."""


@dataclass
class FileMetrics:
    finals: dict[str, float]
    steps: list[Observation]
    unit: str | None = None
    model: str | None = None


def _object(obj: dict[str, Any], out: FileMetrics, where: str) -> None:
    step = obj.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise MetricsFileError(f"{where}: step={json.dumps(step)}: expected a whole number >= 0")
    for key, raw in obj.items():
        if key in ("unit", "model"):
            if isinstance(raw, str):
                setattr(out, key, raw)
            continue
        if key == "step":
            continue
        value = _number(raw) if not isinstance(raw, str) else None
        if value is None:
            continue
        out.finals[key] = value
        if step is not None:
            out.steps.append(Observation(key, value, step))


def parse_metrics_text(text: str, source: str) -> FileMetrics:
    """The values of a metrics file's ``text`` (a JSON object, or JSON Lines of objects)."""
    out = FileMetrics({}, [])
    if not text.strip():
        return out
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    else:
        if not isinstance(whole, dict):
            raise MetricsFileError(f"{source}: expected a JSON object, got {type(whole).__name__}")
        _object(whole, out, source)
        return out
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise MetricsFileError(f"{source}: line {n} is not JSON ({err.msg})") from None
        if not isinstance(obj, dict):
            raise MetricsFileError(f"{source}: line {n}: expected a JSON object")
        _object(obj, out, f"{source}: line {n}")
    return out


class MetricsFileTail:
    """Follows a metrics file while the command runs: each new complete line that is a JSON
    object with a ``step`` gives intermediate values as soon as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def poll(self) -> list[Observation]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        found: list[Observation] = []
        for raw in chunk[:end].splitlines():
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a pretty-printed object, read whole at the end
            if isinstance(obj, dict) and isinstance(obj.get("step"), int):
                part = FileMetrics({}, [])
                try:
                    _object(obj, part, str(self.path))
                except MetricsFileError:
                    continue
                found += part.steps
        return found
