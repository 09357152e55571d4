"""Bias/variance diagnosis of a model from its error rates, and how much data high variance asks
for. Pure maths: no I/O, no Prefect.

From human-level error H (a proxy for Bayes error), training error T, validation error V and
optionally test error X, all in percent:

- avoidable bias = T - H: what a better fit of the training set could still gain;
- variance = V - T: how much worse the model does on data it did not train on;
- mismatch = X - V: how much worse the test set is than the validation set, which should come
  from the same distribution.

A gap is *high* when it is strictly above its threshold, in percentage points. The default of 2
points for each gap is about 2.7 standard errors of an error rate near 6 % measured on 1,000
validation samples (sqrt(0.06 * 0.94 / 1000) = 0.75 points), so a gap above it is unlikely to be
measurement noise, while a gap of 1 point often is. The reference cases come out so:
(1, 5, 6) high bias; (1, 2, 6) high variance; (1, 5, 10) both; (1, 5, 6, test 10) mismatch with
high bias.

Inputs given as fractions are converted to percent at the edge; everything here is in percent and
percentage points.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from synth.config import StrictModel, validate
from synth.errors import SynthError

FINDINGS = ("high_bias", "high_variance", "mismatch")
FINDING_TEXT = {
    "high_bias": "high bias",
    "high_variance": "high variance",
    "mismatch": "train/test distribution mismatch",
}
ERROR_FIELDS = ("human_error", "train_error", "val_error", "test_error")
Unit = Literal["percent", "fraction"]

# Decimal places kept after unit conversion and subtraction, so that 0.05 * 100 - 0.01 * 100 is
# exactly 4 and a gap equal to its threshold is never "high" by a rounding error.
_PLACES = 9


class DiagnosisError(SynthError):
    """An error rate or a diagnosis record is unusable; the message names the field."""


class Thresholds(StrictModel):
    """A gap is high when it is strictly above its threshold, in percentage points."""

    high_bias: float = Field(2.0, ge=0, le=100)
    high_variance: float = Field(2.0, ge=0, le=100)
    mismatch: float = Field(2.0, ge=0, le=100)


class ExpansionPolicy(StrictModel):
    """Bounds of the expansion size derived from a high-variance diagnosis (``expansion_count``).

    ``min_count`` wins over ``max_growth`` (a tiny dataset still grows by ``min_count``);
    ``max_count`` wins over both.
    """

    min_count: int = Field(100, ge=1)
    max_growth: float = Field(3.0, gt=0)  # new samples at most this times the dataset's size
    max_count: int = Field(1_000_000, ge=1)


class DiagnoseConfig(StrictModel):
    """The ``synth diagnose --config`` file: ``[thresholds]`` and ``[expansion]``."""

    thresholds: Thresholds = Thresholds()
    expansion: ExpansionPolicy = ExpansionPolicy()


def load_config(data: Mapping[str, Any] | None, source: str = "config") -> DiagnoseConfig:
    """A strict ``DiagnoseConfig``; an unknown key fails with its name."""
    return validate(DiagnoseConfig, dict(data or {}), source)


@dataclass(frozen=True)
class ErrorRates:
    """A model's error rates in percent (0-100); ``test_error`` is optional."""

    human_error: float
    train_error: float
    val_error: float
    test_error: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ERROR_FIELDS}


def parse_rate(label: str, value: Any, unit: Unit = "percent") -> float:
    """One error rate as percent. ``value`` may be a number or a string (from a command line or a
    file); ``label`` names it in errors (``--val-error``, ``metrics.json: val_error``)."""
    expected = "a fraction between 0 and 1" if unit == "fraction" else "a percentage from 0 to 100"
    if value is None:
        raise DiagnosisError(f"{label}: missing (expected {expected})")
    if isinstance(value, bool):
        raise DiagnosisError(f"{label}={json.dumps(value)}: expected {expected}")
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        try:
            number = float(text)
        except ValueError:
            raise DiagnosisError(f"{label}='{value}': not a number (expected {expected})") from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise DiagnosisError(f"{label}={json.dumps(value, default=str)}: expected {expected}")
    if not math.isfinite(number):
        raise DiagnosisError(f"{label}={value}: not a finite number (expected {expected})")
    if number < 0:
        raise DiagnosisError(f"{label}={value}: negative (expected {expected})")
    limit = 1.0 if unit == "fraction" else 100.0
    if number > limit:
        hint = (
            "for percent, drop --fraction" if unit == "fraction" else "a rate cannot exceed 100 %"
        )
        raise DiagnosisError(f"{label}={value}: above {limit:g}, expected {expected} ({hint})")
    return round(number * 100 if unit == "fraction" else number, _PLACES)


def error_rates(
    values: Mapping[str, Any], unit: Unit = "percent", labels: Mapping[str, str] | None = None
) -> ErrorRates:
    """``ErrorRates`` from raw values keyed by ``ERROR_FIELDS``; ``labels`` maps a field to the
    name the user knows it by (default: the field name)."""
    labels = labels or {}
    rates = {}
    for name in ERROR_FIELDS:
        value = values.get(name)
        if value is None and name == "test_error":
            rates[name] = None
            continue
        rates[name] = parse_rate(labels.get(name, name), value, unit)
    return ErrorRates(**rates)


def read_metrics(data: Any, source: str) -> tuple[dict[str, Any], Unit | None, str | None]:
    """The error rates, unit and model name of a metrics object a training run wrote.

    The object holds ``human_error``, ``train_error``, ``val_error`` and optionally
    ``test_error``, ``unit`` (``percent`` or ``fraction``) and ``model``; other keys (a training
    run writes many) are ignored. Missing keys fail with the closest key present."""
    if not isinstance(data, dict):
        raise DiagnosisError(f"{source}: expected a JSON object, got {type(data).__name__}")
    unit = data.get("unit")
    if unit is not None and unit not in ("percent", "fraction"):
        raise DiagnosisError(f"{source}: unit={json.dumps(unit)}: expected 'percent' or 'fraction'")
    for name in ERROR_FIELDS[:3]:
        if name not in data:
            close = difflib.get_close_matches(name, [str(k) for k in data], n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise DiagnosisError(
                f"{source}: missing '{name}' (expected human_error, train_error, val_error and "
                f"optionally test_error{hint})"
            )
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise DiagnosisError(f"{source}: model={json.dumps(model)}: expected a string")
    return {k: data.get(k) for k in ERROR_FIELDS}, unit, model


@dataclass(frozen=True)
class Action:
    id: str
    text: str
    findings: tuple[str, ...]  # the findings it addresses


ACTIONS = (
    Action("bigger_model", "use a bigger model (more layers or units)", ("high_bias",)),
    Action("train_longer", "train longer, or with a better optimiser", ("high_bias",)),
    Action(
        "more_data",
        "get more training data: synthesise it (synth diagnose --expand ID, synth expand ID)",
        ("high_variance",),
    ),
    Action(
        "regularisation",
        "add regularisation (weight decay, dropout, data augmentation)",
        ("high_variance",),
    ),
    Action(
        "early_stopping", "stop training early, at the best validation error", ("high_variance",)
    ),
    Action("new_architecture", "try a new model architecture", ("high_bias", "high_variance")),
    Action(
        "same_distribution",
        "make the validation and test sets come from the same distribution",
        ("mismatch",),
    ),
    Action(
        "synthesise_like_test",
        "synthesise training data that resembles the test distribution",
        ("mismatch",),
    ),
)


@dataclass(frozen=True)
class Diagnosis:
    """The gaps (percentage points), the findings and notes on gaps that cannot be judged."""

    rates: ErrorRates
    thresholds: Thresholds
    avoidable_bias: float
    variance: float
    mismatch: float | None
    findings: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def high_variance(self) -> bool:
        return "high_variance" in self.findings

    def actions(self) -> list[dict[str, Any]]:
        """The actions that fit the findings, each once, in the order of ``ACTIONS``."""
        out = []
        for action in ACTIONS:
            hit = [f for f in action.findings if f in self.findings]
            if hit:
                out.append({"id": action.id, "text": action.text, "findings": hit})
        return out

    def summary(self) -> str:
        if not self.findings:
            return "no high bias, high variance or mismatch at these thresholds"
        names = [FINDING_TEXT[f] for f in self.findings if f != "mismatch"]
        if "mismatch" in self.findings:
            head = FINDING_TEXT["mismatch"]
            return f"{head} (with {' and '.join(names)})" if names else head
        return " and ".join(names)

    def record(self) -> dict[str, Any]:
        """The compact form kept in a dataset's lineage and sent in events: inputs, gaps,
        thresholds and findings (the actions follow from the findings)."""
        return {
            "inputs": self.rates.to_json(),
            "unit": "percent",
            "avoidable_bias": self.avoidable_bias,
            "variance": self.variance,
            "mismatch": self.mismatch,
            "thresholds": self.thresholds.model_dump(),
            "findings": list(self.findings),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.record(),
            "summary": self.summary(),
            "actions": self.actions(),
            "notes": list(self.notes),
        }


def diagnose(rates: ErrorRates, thresholds: Thresholds | None = None) -> Diagnosis:
    """The diagnosis of ``rates`` (percent) against ``thresholds`` (percentage points)."""
    th = thresholds or Thresholds()
    bias = round(rates.train_error - rates.human_error, _PLACES)
    variance = round(rates.val_error - rates.train_error, _PLACES)
    mismatch = (
        None if rates.test_error is None else round(rates.test_error - rates.val_error, _PLACES)
    )
    findings = []
    if bias > th.high_bias:
        findings.append("high_bias")
    if variance > th.high_variance:
        findings.append("high_variance")
    if mismatch is not None and mismatch > th.mismatch:
        findings.append("mismatch")
    notes = []
    if bias < 0:
        notes.append(
            "training error is below human-level error: human-level is a weak proxy for Bayes "
            "error here (or the model memorises its training set), so bias cannot be judged"
        )
    if variance < 0:
        notes.append(
            "validation error is below training error: usual with dropout or augmentation at "
            "training time, or a validation set easier than the training set; check that both "
            "come from the same distribution"
        )
    if mismatch is not None and mismatch < 0:
        notes.append(
            "test error is below validation error: the test set may be easier, or the model "
            "was tuned on a validation set that differs from it"
        )
    return Diagnosis(rates, th, bias, variance, mismatch, tuple(findings), tuple(notes))


def from_record(record: Mapping[str, Any] | str, source: str = "diagnosis") -> Diagnosis:
    """A diagnosis rebuilt from its ``record()`` (a dict or its JSON text, as an event payload
    may bring it). The findings are recomputed from the inputs and thresholds and must agree with
    the recorded ones, so a payload cannot claim high variance its numbers do not show."""
    if isinstance(record, str):
        try:
            record = json.loads(record)
        except json.JSONDecodeError as err:
            raise DiagnosisError(f"{source}: not valid JSON ({err})") from None
    if not isinstance(record, Mapping):
        raise DiagnosisError(f"{source}: expected an object, got {type(record).__name__}")
    inputs = record.get("inputs")
    if not isinstance(inputs, Mapping):
        raise DiagnosisError(f"{source}: missing 'inputs' with the error rates")
    unknown = sorted(set(inputs) - set(ERROR_FIELDS))
    if unknown:
        raise DiagnosisError(f"{source}: unknown key 'inputs.{unknown[0]}'")
    labels = {name: f"{source}: inputs.{name}" for name in ERROR_FIELDS}
    rates = error_rates(inputs, "percent", labels)
    thresholds = validate(Thresholds, dict(record.get("thresholds") or {}), f"{source}.thresholds")
    diag = diagnose(rates, thresholds)
    claimed = record.get("findings")
    if claimed is not None and sorted(claimed) != sorted(diag.findings):
        raise DiagnosisError(
            f"{source}: findings {claimed} do not follow from its inputs and thresholds "
            f"(they give {list(diag.findings)})"
        )
    return diag


def expansion_count(
    diag: Diagnosis, dataset_count: int, policy: ExpansionPolicy | None = None
) -> int:
    """New samples to add to a dataset of ``dataset_count`` samples for a high-variance finding.

    Rule of thumb: the variance gap shrinks roughly like 1/sqrt(n) with n training samples (the
    usual learning-curve and generalisation-bound behaviour), so bringing a gap v down to the
    threshold t takes n * (v / t)^2 samples in all, that is n * ((v / t)^2 - 1) new ones. The
    result is bounded by ``policy``: at least ``min_count``, at most ``max_growth`` times the
    dataset's size (one trigger must not run away on one noisy metric; the loop retrain ->
    diagnose -> expand repeats if the gap stays high), and never above ``max_count``. With a
    threshold of 0 the growth bound applies directly.
    """
    if not diag.high_variance:
        raise DiagnosisError(
            f"no high variance (variance {diag.variance:g} points, threshold "
            f"{diag.thresholds.high_variance:g}): nothing to expand"
        )
    if dataset_count < 1:
        raise DiagnosisError(f"dataset size must be >= 1, got {dataset_count}")
    p = policy or ExpansionPolicy()
    cap = math.floor(p.max_growth * dataset_count)
    t = diag.thresholds.high_variance
    if t > 0:
        wanted = math.ceil(round(dataset_count * ((diag.variance / t) ** 2 - 1), _PLACES))
    else:
        wanted = cap
    return max(1, min(p.max_count, max(p.min_count, min(wanted, cap))))


def no_expansion_reason(diag: Diagnosis) -> str:
    """Why a diagnosis without high variance builds nothing, with the numbers."""
    what = (
        f"the variance gap {diag.variance:g} is not above {diag.thresholds.high_variance:g} points"
    )
    if diag.findings:
        return f"no high variance ({what}); the finding is {diag.summary()}"
    return f"no high variance ({what})"
