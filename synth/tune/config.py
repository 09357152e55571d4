"""A tuning job's config: what to build, the training command, the ranges to search, the
objective, the strategy and when to stop. Strict like every synth config: an unknown key, a
range whose low exceeds its high, log scaling over values <= 0 or grid search over a continuous
range is a one-line error naming the key.

    name = "blur"                      # the job (default: the config file's name)
    strategy = "bayesian"              # random | bayesian | grid | hyperband
    max_trials = 12
    max_parallel = 2
    early_stopping = "auto"            # off | auto (the median rule)
    [build]
    kind = "ocr"                       # ocr | speech
    preset = "clean"                   # ocr only
    config = "base.toml"               # a base config file (or an inline table), optional
    count = 200
    seed = 0
    [training]
    command = ["python", "train.py", "{path}", "--lr", "{hp.lr}"]
    metrics = { val_error = 'val_error=(\\S+)' }
    [objective]
    metric = "val_error"
    direction = "minimize"
    [[ranges]]
    target = "effects.blur_prob"       # a spec field (a pair's item: snr_db_range.0) or hp.NAME
    type = "continuous"                # integer | continuous | categorical
    low = 0.0
    high = 0.6
    [completion]
    target = 1.5                       # stop once the objective reaches this
    no_improvement_trials = 5          # stop when the best has not improved for this many

Scaling follows SageMaker's rules: ``logarithmic`` needs values > 0; ``reverse_logarithmic``
needs 0 <= low <= high < 1 and is not for integers; ``auto`` is logarithmic for a range of
positive values spanning two decades or more (high / low >= 100), else linear.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from synth.config import StrictModel, read_config_file, resolve_paths, validate
from synth.errors import ConfigError

MAX_PARENTS = 5  # warm start: at most this many parent jobs, as SageMaker allows
MAX_GRID = 10_000  # points of a grid at most
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_HP = re.compile(r"^hp\.([A-Za-z_][A-Za-z0-9_]*)$")
_PLACEHOLDER = re.compile(r"\{(path|val_path|test_path|id|run_id|hp\.[A-Za-z_][A-Za-z0-9_]*)\}")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*$")
Scalar = bool | int | float | str
ChoiceValue = Scalar | list[Scalar] | None


class BuildSection(StrictModel):
    """The dataset each trial builds: the kind, its base config, count and seed."""

    kind: Literal["ocr", "speech"]
    config: str | dict[str, Any] | None = None  # a config file (relative to the job's) or a table
    preset: str = "default"  # ocr only
    count: int = Field(ge=1)
    seed: int = Field(0, ge=0, lt=2**63)
    name: str | None = None  # the datasets' name (default: tune-JOB)


class TrainingSection(StrictModel):
    """The training command as ``synth run`` takes it; ``metrics`` maps a name to a regex."""

    command: list[str] = Field(min_length=1)
    metrics: dict[str, str] = Field(default_factory=dict)
    val: str | None = None
    test: str | None = None
    model: str | None = None
    timeout_s: float | None = Field(None, gt=0)
    cwd: str | None = None  # the command's folder, relative to the job's config file


class Range(StrictModel):
    """One parameter to search: a spec field (dotted path) or a hyperparameter ``hp.NAME``."""

    target: str
    type: Literal["integer", "continuous", "categorical"]
    low: float | None = None
    high: float | None = None
    values: list[ChoiceValue] | None = None
    scaling: Literal["auto", "linear", "logarithmic", "reverse_logarithmic"] = "auto"

    @property
    def hp(self) -> str | None:
        """The hyperparameter's name, or None for a spec field."""
        m = _HP.match(self.target)
        return m.group(1) if m else None

    @property
    def scale(self) -> str:
        """The scaling used: ``auto`` resolved (linear or logarithmic), else as given."""
        if self.scaling != "auto":
            return self.scaling
        if self.type == "categorical" or self.low is None or self.high is None:
            return "linear"
        return "logarithmic" if self.low > 0 and self.high / self.low >= 100 else "linear"


class Objective(StrictModel):
    metric: str
    direction: Literal["minimize", "maximize"] = "minimize"


class Completion(StrictModel):
    """When to stop before ``max_trials``: a target objective value reached, or the best not
    improved for ``no_improvement_trials`` finished trials."""

    target: float | None = None
    no_improvement_trials: int | None = Field(None, ge=1)


class TuneConfig(StrictModel):
    name: str | None = None
    build: BuildSection
    training: TrainingSection
    ranges: list[Range] = Field(min_length=1)
    objective: Objective
    strategy: Literal["random", "bayesian", "grid", "hyperband"] = "bayesian"
    max_trials: int | None = Field(None, ge=1)  # default: 10, or the grid's size
    max_parallel: int = Field(1, ge=1, le=64)
    max_runtime_s: float | None = Field(None, gt=0)
    early_stopping: Literal["off", "auto"] = "off"
    completion: Completion = Completion()
    seed: int = Field(0, ge=0, lt=2**32)  # the sampler's seed
    warm_start: list[str] = Field([], max_length=MAX_PARENTS)


def _where(i: int, r: Range) -> str:
    return f"ranges[{i}] ({r.target})"


def _check_range(i: int, r: Range, strategy: str, source: str) -> None:
    where = f"{source}: {_where(i, r)}"
    if r.hp is None and not _FIELD.match(r.target):
        raise ConfigError(
            f"{where}: target: expected a spec field path (effects.blur_prob, snr_db_range.0) "
            "or hp.NAME (a hyperparameter: letters, digits and '_')"
        )
    if r.type == "categorical":
        for key in ("low", "high"):
            if getattr(r, key) is not None:
                raise ConfigError(f"{where}.{key}: a categorical range takes values, not {key}")
        if not r.values:
            raise ConfigError(f"{where}.values: a categorical range needs at least one value")
        if r.scaling not in ("auto", "linear"):
            raise ConfigError(f"{where}.scaling: a categorical range is not scaled")
        if len({repr(v) for v in r.values}) != len(r.values):
            raise ConfigError(f"{where}.values: a value is given twice")
        return
    if r.values is not None:
        raise ConfigError(f"{where}.values: only a categorical range takes values")
    for key in ("low", "high"):
        if getattr(r, key) is None:
            raise ConfigError(f"{where}.{key}: required for an {r.type} range")
    low, high = float(r.low), float(r.high)  # type: ignore[arg-type]
    if r.type == "integer":
        for key, value in (("low", low), ("high", high)):
            if not value.is_integer():
                raise ConfigError(f"{where}.{key}={value:g}: an integer range takes whole numbers")
    if low > high:
        raise ConfigError(f"{where}: low={low:g} > high={high:g}")
    if r.scaling == "logarithmic" and low <= 0:
        raise ConfigError(f"{where}.low={low:g}: logarithmic scaling needs values > 0")
    if r.scaling == "reverse_logarithmic":
        if r.type == "integer":
            raise ConfigError(f"{where}.scaling: reverse_logarithmic is not for integer ranges")
        if low < 0 or high >= 1:
            raise ConfigError(
                f"{where}: reverse_logarithmic scaling needs 0 <= low <= high < 1 "
                f"(got low={low:g}, high={high:g})"
            )
    if strategy == "grid" and r.type == "continuous":
        raise ConfigError(
            f"{where}.type: grid search takes integer and categorical ranges, not continuous "
            "(list the points as a categorical range)"
        )


def check(cfg: TuneConfig, source: str) -> TuneConfig:
    """The checks across keys, each a one-line error naming its key."""
    if cfg.name is not None and not _JOB_NAME.match(cfg.name):
        raise ConfigError(
            f"{source}: name='{cfg.name}': a job name is letters, digits, '_', '.' and '-'"
        )
    seen: dict[str, int] = {}
    for i, r in enumerate(cfg.ranges):
        _check_range(i, r, cfg.strategy, source)
        if r.target in seen:
            raise ConfigError(
                f"{source}: {_where(i, r)}: target also searched by ranges[{seen[r.target]}]"
            )
        seen[r.target] = i
    if cfg.build.kind != "ocr" and cfg.build.preset != "default":
        raise ConfigError(f"{source}: build.preset: only an ocr build takes a preset")
    if cfg.strategy == "hyperband" and cfg.early_stopping != "off":
        raise ConfigError(
            f"{source}: early_stopping='{cfg.early_stopping}': hyperband stops trials itself; "
            "set early_stopping = 'off'"
        )
    for name in cfg.warm_start:
        if not _JOB_NAME.match(name):
            raise ConfigError(f"{source}: warm_start: '{name}' is not a job name")
    hps = {r.hp for r in cfg.ranges if r.hp is not None}
    for arg in cfg.training.command:
        for key in _PLACEHOLDER.findall(arg):
            if key.startswith("hp.") and key[3:] not in hps:
                raise ConfigError(
                    f"{source}: training.command: {{{key}}} but no range targets {key}"
                )
            need = {"val_path": "val", "test_path": "test"}.get(key)
            if need and getattr(cfg.training, need) is None:
                raise ConfigError(
                    f"{source}: training.command: {{{key}}} but no training.{need} is given"
                )
    names = {n for n in cfg.training.metrics}
    if cfg.training.metrics and cfg.objective.metric not in names:
        raise ConfigError(
            f"{source}: objective.metric='{cfg.objective.metric}': not one of training.metrics "
            f"({', '.join(sorted(names))})"
        )
    return cfg


def parse_config(data: dict[str, Any], source: str) -> TuneConfig:
    """Validate ``data`` as a tuning job's config (structure and cross-key rules; the spec field
    paths are checked against the build's spec by ``synth.tune.space.check_fields``)."""
    return check(validate(TuneConfig, data, source), source)


def base_path_keys(kind: str) -> tuple[str, ...]:
    """A build config's keys that are paths (relative ones are read from the config's folder)."""
    return (
        ("text.path", "fonts.dir", "backgrounds.dir") if kind == "ocr" else ("clean", "noise_dir")
    )


def load_config(path: str | Path) -> tuple[TuneConfig, dict[str, Any]]:
    """The job's config from a TOML, JSON or YAML file, with its relative paths (the base
    config, the command's folder, the base config's inputs) made absolute; and its JSON form,
    as the job keeps it. The job's name defaults to the file's name without its suffix."""
    p = Path(path)
    data = read_config_file(p)
    source = str(p)
    cfg = parse_config(data, source)
    folder = p.resolve().parent
    data = dict(data)
    data.setdefault("name", p.stem if _JOB_NAME.match(p.stem) else "job")
    build = dict(data["build"])
    base = build.get("config")
    if isinstance(base, str):
        base_file = (folder / base).expanduser()
        base_cfg = read_config_file(base_file)
        build["config"] = resolve_paths(base_cfg, base_path_keys(cfg.build.kind), base_file.parent)
    elif isinstance(base, dict):
        build["config"] = resolve_paths(base, base_path_keys(cfg.build.kind), folder)
    data["build"] = build
    training = dict(data["training"])
    training["cwd"] = str((folder / training["cwd"]).resolve()) if training.get("cwd") else None
    if training["cwd"] is None:
        training["cwd"] = str(folder)
    data["training"] = training
    cfg = parse_config(data, source)
    return cfg, cfg.model_dump(mode="json")
