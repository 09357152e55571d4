"""What a config file may change when a dataset is expanded: where its inputs are, nothing else.

An expansion's new samples sit beside its parent's under the parent's spec, so a value that
changes what is drawn or rendered (a range, a preset field, the format, a seed-like setting)
would make one dataset of two. Where an input folder or file lies is no part of what is drawn:
moved with the same contents, it gives the same samples. So a config file may point an
expansion at its inputs' new locations, and every input found there must be the parent's, by
role, name and content (``check_relocated_inputs``). The ``[run]`` table (how to run, never part
of the spec) is the command line's and is taken off before this module sees a config.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from synth.engine.plan import INTERNAL_DIR
from synth.errors import ConfigError, SynthError

RELOCATABLE: dict[str, tuple[str, ...]] = {
    "ocr": ("text.path", "fonts.dir", "backgrounds.dir"),
    "speech": ("clean", "noise_dir"),
}
"""Per kind, the spec keys that name where an input is: the only ones an expansion may change."""

# A location taken from a catalog dataset's record is that dataset's folder, not the user's.
_FROM_DATASET = {"text.path": "text.dataset_id", "clean": "clean_dataset_id"}

# Which location key each input role is read from, to name it in an error.
_ROLE_KEY = {
    "font": "fonts.dir",
    "background": "backgrounds.dir",
    "texts": "text.path",
    "clean_speech": "clean",
    "clean_transcript": "clean",
    "transcripts": "clean",
    "babble_speech": "clean",
    "noise": "noise_dir",
}


def path_keys(kind: str) -> tuple[str, ...]:
    """The location keys of ``kind`` (none for a kind without any)."""
    return RELOCATABLE.get(kind, ())


def _lookup(tree: dict[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _assign(tree: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        tree = tree[part]
    tree[last] = value


def _leaves(config: dict[str, Any], parent: dict[str, Any], prefix: str = "") -> list[tuple]:
    """``(dotted key, value)`` of ``config``, descending where the parent holds a table too."""
    out = []
    for name, value in config.items():
        key = f"{prefix}{name}"
        found, current = _lookup(parent, key)
        if isinstance(value, dict) and found and isinstance(current, dict):
            out += _leaves(value, parent, f"{key}.")
        else:
            out.append((key, value))
    return out


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def expansion_spec(
    parent_spec: dict[str, Any], kind: str, config: dict[str, Any], source: str, parent_id: str
) -> dict[str, Any]:
    """The parent's spec with ``config``'s input locations in place of its own. Any other key of
    ``config`` must hold the parent's value: a different one is an error naming the key and both
    values, as is a key the parent's spec does not have."""
    movable = path_keys(kind)
    short = parent_id[:12]
    spec = copy.deepcopy(parent_spec)
    for key, value in _leaves(config, parent_spec):
        found, current = _lookup(parent_spec, key)
        if not found:
            raise ConfigError(f"{source}: unknown key '{key}' (not in the parent's {kind} spec)")
        if value == current:
            continue
        origin = _FROM_DATASET.get(key)
        if key in movable and origin and _lookup(parent_spec, origin)[1]:
            dataset = str(_lookup(parent_spec, origin)[1])[:12]
            raise ConfigError(
                f"{source}: {key} is the folder of dataset {dataset}, which the parent dataset "
                f"{short} read ({origin}), not a location to change"
            )
        if key in movable:
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{source}: {key}={_show(value)}: expected a path")
            _assign(spec, key, value)
            continue
        raise ConfigError(
            f"{source}: {key}={_show(value)} differs from the parent dataset {short}'s "
            f"{_show(current)}: an expansion keeps its parent's spec (only where its inputs are, "
            f"{', '.join(movable) or 'nothing here'}, and the [run] table may change)"
        )
    return spec


def planned_inputs(parent_path: str | Path) -> list[dict[str, Any]] | None:
    """Every input the parent's build could draw from, as its ``plan.json`` holds them (its
    ``dataset.json`` keeps only the clips and fonts the samples used), or None without one."""
    try:
        plan = json.loads((Path(parent_path) / INTERNAL_DIR / "plan.json").read_text("utf-8"))
        return list(plan["inputs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_relocated_inputs(
    parent_info: dict[str, Any],
    inputs: list[dict[str, Any]],
    planned: list[dict[str, Any]] | None = None,
) -> None:
    """Inputs read from new locations must be the parent's, by role, name and content: a moved
    folder with one clip edited, missing or added would draw other samples under the parent's
    spec. ``planned`` is the parent's whole input pool (``planned_inputs``); without it only the
    inputs its samples used are checked, and an added one cannot be told. The error names the
    location key, the input and both hashes."""
    short = str(parent_info.get("id", ""))[:12]
    pool = planned if planned is not None else parent_info.get("inputs", [])
    recorded = {(i["role"], i["name"]): i for i in pool}
    now = {(i["role"], i["name"]): i for i in inputs}
    for ident, item in now.items():
        key = _ROLE_KEY.get(ident[0], ident[0])
        old = recorded.get(ident)
        if old is None and planned is None:
            continue
        if old is None:
            raise SynthError(
                f"{key}: {item['uri']} ({ident[0]} '{ident[1]}') is not among the "
                f"parent dataset {short}'s inputs: a moved input must hold the same files"
            )
        if old.get("sha256") != item.get("sha256"):
            raise SynthError(
                f"{key}: {item['uri']} ({ident[0]} '{ident[1]}') differs from the "
                f"parent dataset {short}'s (sha256 {str(item.get('sha256'))[:12]}, recorded "
                f"{str(old.get('sha256'))[:12]}): a moved input must hold the same files"
            )
    for ident, old in recorded.items():
        if ident not in now:
            key = _ROLE_KEY.get(ident[0], ident[0])
            raise SynthError(
                f"{key}: {ident[0]} '{ident[1]}' of the parent dataset {short} "
                f"({old.get('uri')}) is not at the new location: a moved input must hold the "
                "same files"
            )
