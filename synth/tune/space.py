"""The search space: a job's ranges as Optuna distributions, a trial's values as a build config
and hyperparameters, and the check that every spec field a range names exists in the build's
spec and takes the range's ends.

An Optuna parameter is named by its range's target (``effects.blur_prob``, ``hp.lr``), but for
a reverse-logarithmic range, searched as ``1 - x`` on a log scale and named ``1-TARGET``; a
categorical value that is a list (``fonts.styles``) is held as its JSON text, since Optuna's
choices are scalars.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from typing import Any

from synth.config import deep_merge
from synth.errors import ConfigError, SynthError
from synth.tune.config import MAX_GRID, Range, TuneConfig


def param_name(r: Range) -> str:
    """The Optuna parameter of range ``r``."""
    return f"1-{r.target}" if r.scale == "reverse_logarithmic" else r.target


def _choice(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list) else value


def _unchoice(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def distribution(r: Range) -> Any:
    """The Optuna distribution of range ``r``."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if r.type == "categorical":
        return CategoricalDistribution([_choice(v) for v in r.values or []])
    low, high = float(r.low), float(r.high)  # type: ignore[arg-type]
    log = r.scale == "logarithmic"
    if r.type == "integer":
        return IntDistribution(int(low), int(high), log=log)
    if r.scale == "reverse_logarithmic":
        return FloatDistribution(1.0 - high, 1.0 - low, log=True)
    return FloatDistribution(low, high, log=log)


def distributions(cfg: TuneConfig) -> dict[str, Any]:
    return {param_name(r): distribution(r) for r in cfg.ranges}


def grid(cfg: TuneConfig) -> dict[str, list[Any]]:
    """Grid search's points per parameter: every whole number of an integer range, every value
    of a categorical one."""
    out: dict[str, list[Any]] = {}
    size = 1
    for i, r in enumerate(cfg.ranges):
        if r.type == "categorical":
            points = [_choice(v) for v in r.values or []]
        else:
            points = list(range(int(r.low), int(r.high) + 1))  # type: ignore[arg-type]
        size *= len(points)
        if size > MAX_GRID:
            raise ConfigError(
                f"ranges[{i}] ({r.target}): the grid has more than {MAX_GRID} points; "
                "narrow the ranges or use random or bayesian search"
            )
        out[param_name(r)] = points
    return out


def grid_size(cfg: TuneConfig) -> int:
    return math.prod(len(v) for v in grid(cfg).values())


def values(cfg: TuneConfig, params: dict[str, Any]) -> dict[str, Any]:
    """Each range's value (by target) from a trial's Optuna parameters."""
    out: dict[str, Any] = {}
    for r in cfg.ranges:
        name = param_name(r)
        if name not in params:
            continue
        raw = params[name]
        if r.scale == "reverse_logarithmic":
            out[r.target] = 1.0 - float(raw)
        elif r.type == "categorical":
            out[r.target] = _unchoice(raw)
        elif r.type == "integer":
            out[r.target] = int(raw)
        else:
            out[r.target] = float(raw)
    return out


def inside(r: Range, raw: Any) -> bool:
    """Whether Optuna value ``raw`` of a parameter named as ``r``'s lies in ``r``."""
    dist = distribution(r)
    try:
        internal = dist.to_internal_repr(raw)
    except (ValueError, TypeError):
        return False
    return bool(dist._contains(internal))


# -- the build config and hyperparameters of a trial ---------------------------------------------
def _path(target: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in target.split(".")]


def _lookup(spec: Any, parts: list[str | int]) -> Any:
    node = spec
    for part in parts:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise KeyError(part)
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                raise KeyError(part)
            node = node[part]
    return node


def _set(config: dict[str, Any], spec: dict[str, Any], target: str, value: Any) -> None:
    """Set ``target`` to ``value`` in ``config``; a pair's item is set by giving the whole pair
    (the other item from ``config``, else from the base ``spec``)."""
    parts = _path(target)
    idx = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
    if idx is not None:
        head = parts[:idx]
        try:
            current = list(_lookup(config, head))  # type: ignore[arg-type]
        except (KeyError, TypeError):
            current = list(_lookup(spec, head))  # type: ignore[arg-type]
        current = copy.deepcopy(current)
        node: Any = current
        for part in parts[idx:-1]:
            node = node[part]
        node[parts[-1]] = value
        parts, value = head, current
    node = config
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def build_config(
    cfg: TuneConfig, trial_values: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    """The build config of a trial: the job's base config with its spec-field values set."""
    base = cfg.build.config if isinstance(cfg.build.config, dict) else {}
    out = copy.deepcopy(base)
    for r in cfg.ranges:
        if r.hp is None and r.target in trial_values:
            _set(out, spec, r.target, trial_values[r.target])
    return out


def hyperparameters(cfg: TuneConfig, trial_values: dict[str, Any]) -> dict[str, str]:
    """The hyperparameters of a trial as the command gets them (text)."""
    out = {}
    for r in cfg.ranges:
        if r.hp is not None and r.target in trial_values:
            v = trial_values[r.target]
            out[r.hp] = json.dumps(v) if isinstance(v, list) else f"{v}"
    return out


def base_spec(cfg: TuneConfig, config: dict[str, Any] | None = None, source: str = "") -> dict:
    """The build's spec (``config`` on the base preset; default the job's base config)."""
    if config is None:
        config = cfg.build.config if isinstance(cfg.build.config, dict) else {}
    if cfg.build.kind == "ocr":
        from synth.ocr.spec import build_spec

        return build_spec(cfg.build.preset, config, source=source or "build").model_dump(
            mode="json"
        )
    from synth.speech.spec import build_spec as speech_spec

    return speech_spec(config, source or "build").model_dump(mode="json")


def check_fields(cfg: TuneConfig, source: str) -> dict[str, Any]:
    """Every spec field a range names exists in the build's spec and takes the range's ends
    (and each categorical value); one line naming the range otherwise. Returns the base spec."""
    spec = base_spec(cfg, source=f"{source}: build.config")
    for i, r in enumerate(cfg.ranges):
        if r.hp is not None:
            continue
        where = f"{source}: ranges[{i}] ({r.target})"
        try:
            _lookup(spec, _path(r.target))  # type: ignore[arg-type]
        except KeyError:
            raise ConfigError(
                f"{where}: no such field in the {cfg.build.kind} spec"
                + _near(spec, _path(r.target))
            ) from None
        ends: list[tuple[str, Any]]
        if r.type == "categorical":
            ends = [(f"values[{j}]", v) for j, v in enumerate(r.values or [])]
        elif r.type == "integer":
            ends = [("low", int(r.low)), ("high", int(r.high))]  # type: ignore[arg-type]
        else:
            ends = [("low", float(r.low)), ("high", float(r.high))]  # type: ignore[arg-type]
        for key, value in ends:
            config = build_config(cfg, {}, spec)
            _set(config, spec, r.target, value)
            try:
                base_spec(cfg, config, source="spec")
            except SynthError as err:
                problem = str(err).removeprefix("spec: ")
                raise ConfigError(f"{where}.{key}={json.dumps(value)}: {problem}") from None
    return spec


def _near(spec: dict[str, Any], parts: list[str | int]) -> str:
    node: Any = spec
    for part in parts[:-1]:
        has = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        )
        if has:
            node = node[part]
        else:
            break
    if isinstance(node, dict):
        return f" (known here: {', '.join(sorted(node))})"
    if isinstance(node, list):
        return f" (a list of {len(node)} items: index 0 to {len(node) - 1})"
    return ""


def grid_points(cfg: TuneConfig) -> list[dict[str, Any]]:
    """Every point of the grid, as Optuna parameters (for counting and tests)."""
    g = grid(cfg)
    names = list(g)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*g.values())]


def merge_config(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    return deep_merge(base, override)
