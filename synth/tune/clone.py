"""A new job's config from an earlier job's, with changed values, the way users refine a search
(SageMaker's "clone a tuning job"): the clone is warm-started by its parent.

A key is dotted (``max_trials``, ``completion.target``, ``build.count``); a range is named by
its index or its target: ``ranges[0].high``, ``ranges[hp.lr].low``, ``ranges.1.scaling``. A
value is read as JSON (``0.4``, ``"text"``, ``[1, 2]``), else taken as text.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from synth.errors import ConfigError
from synth.tune.config import parse_config

_RANGE = re.compile(r"^ranges(?:\[([^\]]+)\]|\.(\d+))(?:\.(.+))?$")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _range_index(ranges: list[dict[str, Any]], ref: str, item: str) -> int:
    if ref.isdigit():
        if int(ref) >= len(ranges):
            raise ConfigError(
                f"--set {item}: the job has {len(ranges)} ranges (0 to {len(ranges) - 1})"
            )
        return int(ref)
    for i, r in enumerate(ranges):
        if r.get("target") == ref:
            return i
    targets = ", ".join(str(r.get("target")) for r in ranges)
    raise ConfigError(f"--set {item}: no range searches '{ref}' (targets: {targets})")


def set_key(data: dict[str, Any], key: str, value: Any, item: str) -> None:
    """Set dotted ``key`` of ``data`` to ``value``."""
    m = _RANGE.match(key)
    if m:
        ranges = data["ranges"]
        i = _range_index(ranges, m.group(1) or m.group(2), item)
        if m.group(3) is None:
            if not isinstance(value, dict):
                raise ConfigError(f"--set {item}: a whole range is a JSON object")
            ranges[i] = value
            return
        node, parts = ranges[i], m.group(3).split(".")
    else:
        node, parts = data, key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def clone_config(job: str, data: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """Job ``job``'s config (``data``) with ``sets`` (``KEY=VALUE``) applied, named
    ``JOB-clone`` unless a ``name`` is set, warm-started by ``job``; checked as a job's config."""
    new = copy.deepcopy(data)
    new["name"] = f"{job}-clone"
    new["warm_start"] = [job]
    for item in sets:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set '{item}': expected KEY=VALUE, e.g. max_trials=20")
        set_key(new, key, _value(text), item)
    parse_config(new, f"tuning job '{new['name']}' (cloned from '{job}')")
    return new
