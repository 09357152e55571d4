"""What a run is asked to do: the command, its datasets, the metrics to read and its trigger."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synth.errors import ConfigError

ERROR_METRICS = ("train_error", "val_error", "test_error")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")
_HP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class MetricDef:
    """A metric read from the command's output, as SageMaker reads metrics from logs: every line
    ``pattern`` matches gives a value (its ``value`` group, else its first group); the last match
    is the metric's final value. A ``step`` group, or ``step N``/``epoch N``/``iteration N`` on
    the same line, makes the value an intermediate one at that step."""

    name: str
    regex: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.name, self.regex)

    @classmethod
    def parse(cls, text: str, label: str = "--metric") -> MetricDef:
        """``NAME=REGEX`` as ``--metric`` takes it; a bad definition is a one-line error."""
        name, sep, regex = text.partition("=")
        name = name.strip()
        if not sep or not name or not regex:
            raise ConfigError(
                f"{label} '{text}': expected NAME=REGEX, e.g. val_error=val_err=(\\S+)"
            )
        definition = cls(name, regex)
        definition.check(label)
        return definition

    def check(self, label: str = "--metric") -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"{label} {self.name}: a metric name is letters, digits, '_', '.', '-' or '/'"
            )
        _compile(self.name, self.regex, label)

    @classmethod
    def default(cls, name: str) -> MetricDef:
        """``NAME=VALUE`` or ``NAME: VALUE`` anywhere on a line: what ``synth run`` reads when no
        ``--metric`` is given, for the three error metrics."""
        return cls(name, rf"(?<![A-Za-z0-9_]){re.escape(name)}\s*[=:]\s*({_NUMBER})")


def _compile(name: str, regex: str, label: str = "--metric") -> re.Pattern[str]:
    try:
        pattern = re.compile(regex)
    except re.error as err:
        raise ConfigError(f"{label} {name}: regex '{regex}' does not compile ({err})") from None
    if pattern.groups == 0:
        raise ConfigError(
            f"{label} {name}: regex '{regex}' has no group: put the value in parentheses, "
            f"e.g. {name}=(\\S+)"
        )
    return pattern


def default_metrics() -> list[MetricDef]:
    return [MetricDef.default(n) for n in ERROR_METRICS]


@dataclass
class RunRequest:
    """A run of ``command`` on dataset ``train`` (an id or prefix, or ``ID:SPLIT``), with
    optional validation and test datasets (an id, ``ID:SPLIT``, or a split name of ``train``).

    In ``command``'s arguments ``{path}``, ``{val_path}``, ``{test_path}``, ``{id}`` and
    ``{hp.NAME}`` are replaced; its environment gets ``SYNTH_DATASET_PATH``, ``SYNTH_DATASET_ID``,
    ``SYNTH_VAL_PATH``, ``SYNTH_TEST_PATH``, ``SYNTH_METRICS_FILE``, ``SYNTH_RUN_ID`` and
    ``SYNTH_HP_<NAME>``. ``required`` metrics must be found or the run fails naming them (the
    ``metrics`` definitions are required; with none given, at least one metric must be)."""

    train: str
    command: list[str]
    val: str | None = None
    test: str | None = None
    metrics: list[MetricDef] = field(default_factory=list)
    model: str | None = None
    trigger: dict[str, Any] = field(default_factory=lambda: {"type": "manual"})
    hp: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None  # stop the command (status "failed") after this many seconds
    cwd: str | None = None  # the command's working folder (default: the caller's)

    def check(self) -> None:
        if not self.command or not self.command[0]:
            raise ConfigError("command: give the training command after --")
        for d in self.metrics:
            d.check()
        names = [d.name for d in self.metrics]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ConfigError(f"--metric {dup}: defined twice")
        for name in self.hp:
            if not _HP_NAME.match(name):
                raise ConfigError(
                    f"hyperparameter '{name}': a name is letters, digits and '_' (it becomes "
                    f"SYNTH_HP_{name.upper()})"
                )
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ConfigError(f"timeout: {self.timeout_s}: expected a positive number of seconds")
