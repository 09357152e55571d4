"""The closed loop of ``synth improve``: train, diagnose, grow the data, train again.

Each round runs the user's training command on the current version of the training dataset
(``synth.runs.execute_run``), diagnoses the run's training, validation and test errors against
human-level error (``synth.diagnose``) and, on high variance, grows the dataset by the size the
variance gap asks for (``synth.diagnose.expansion_count``, capped so that the dataset never
exceeds the sample budget). The loop stops at the first of:

- ``high_bias``: avoidable bias is high; more data would not help, a bigger model or longer
  training would (the diagnosis's actions); nothing is synthesised;
- ``variance_fixed``: variance is no longer high;
- ``no_improvement``: validation error did not fall below the previous round's;
- ``max_rounds``: the rounds budget is spent;
- ``max_samples``: the sample budget leaves no room for another expansion;
- ``run_failed``: a run failed or was stopped (its id and reason are kept).

Validation and test data stay fixed through the loop (a split name is pinned to the starting
dataset), so the rounds' errors compare. The loop needs no Prefect: how a run is executed and
how a dataset is expanded are callables, so the command line runs both here and the ``improve``
flow runs them as Prefect tasks and sub-flows. Errors are in percent, gaps in percentage points.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synth.catalog import Catalog, DatasetRecord
from synth.catalog.runs import RunRecord
from synth.diagnose import (
    FINDING_TEXT,
    Diagnosis,
    DiagnosisError,
    ErrorRates,
    ExpansionPolicy,
    Thresholds,
    Unit,
    diagnose,
    expansion_count,
    parse_rate,
)
from synth.errors import ConfigError, NotFound, SynthError
from synth.runs.refs import resolve_ref
from synth.runs.spec import MetricDef, RunRequest

STOPS = (
    "high_bias",
    "variance_fixed",
    "no_improvement",
    "max_rounds",
    "max_samples",
    "run_failed",
)
DEFAULT_ROUNDS = 5
TRIGGER_TYPE = "improve"

# run(request) -> the finished, recorded run; expand(dataset_id, count, trigger) -> new id.
RunFn = Callable[[RunRequest], RunRecord]
ExpandFn = Callable[[str, int, dict[str, Any]], str]
OnRound = Callable[["Round"], None]


class ImproveError(SynthError):
    """Bad input to the loop, or a run whose numbers cannot be diagnosed (exit 2)."""


@dataclass
class ImproveRequest:
    """What ``synth improve`` is asked: ``command`` trained on ``dataset`` (an id or prefix),
    diagnosed against ``human_error`` (in ``unit``: percent, or a fraction 0-1, as the runs'
    errors are unless a run's metrics file says otherwise)."""

    dataset: str
    human_error: float | str
    command: list[str]
    val: str | None = None
    test: str | None = None
    max_rounds: int = DEFAULT_ROUNDS
    max_samples: int | None = None  # the training dataset's largest size, in samples
    metrics: list[MetricDef] = field(default_factory=list)
    model: str | None = None
    unit: Unit = "percent"
    thresholds: Thresholds = field(default_factory=Thresholds)
    expansion: ExpansionPolicy = field(default_factory=ExpansionPolicy)
    hp: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None


@dataclass
class Round:
    """One round: the dataset version trained on, its run, the errors (percent), the findings,
    and what the loop did next (``action``: ``expand``, or ``stop``) with a short text."""

    number: int
    dataset_id: str
    samples: int
    run_id: str
    rates: ErrorRates | None
    findings: tuple[str, ...] = ()
    action: str = "stop"
    action_text: str = ""
    expanded_by: int | None = None
    next_dataset_id: str | None = None
    diagnosis: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        r = self.rates
        return {
            "round": self.number,
            "dataset_id": self.dataset_id,
            "samples": self.samples,
            "run_id": self.run_id,
            "human_error": r.human_error if r else None,
            "train_error": r.train_error if r else None,
            "val_error": r.val_error if r else None,
            "test_error": r.test_error if r else None,
            "findings": list(self.findings),
            "action": self.action,
            "action_text": self.action_text,
            "expanded_by": self.expanded_by,
            "next_dataset_id": self.next_dataset_id,
            "diagnosis": self.diagnosis,
        }


@dataclass
class ImproveResult:
    loop_id: str
    rounds: list[Round]
    stopped: str  # one of STOPS
    message: str  # why, with the numbers
    advice: list[dict[str, Any]] = field(default_factory=list)  # the last diagnosis's actions
    mismatch: str | None = None  # the mismatch note, when the last round found one
    failed_run: dict[str, Any] | None = None  # id, status, reason of a run that did not succeed

    @property
    def final_dataset_id(self) -> str:
        return self.rounds[-1].dataset_id

    def to_json(self) -> dict[str, Any]:
        return {
            "loop_id": self.loop_id,
            "rounds": [r.to_json() for r in self.rounds],
            "stopped": self.stopped,
            "message": self.message,
            "advice": self.advice,
            "mismatch": self.mismatch,
            "failed_run": self.failed_run,
            "final_dataset_id": self.final_dataset_id if self.rounds else None,
        }


def run_trigger(loop_id: str, number: int) -> dict[str, Any]:
    """The trigger recorded on round ``number``'s run: ``improve:<loop id>/<round>``."""
    return {
        "type": TRIGGER_TYPE,
        "ref": f"improve:{loop_id}/{number}",
        "loop_id": loop_id,
        "round": number,
    }


def expansion_trigger(
    diag: Diagnosis,
    model: str,
    count: int,
    derived: bool,
    run_id: str,
    loop_id: str,
    number: int,
) -> dict[str, Any]:
    """The trigger of a version round ``number``'s diagnosis asked for: the shape ``synth
    diagnose --expand`` records (``flows.plans.diagnosis_trigger``) plus the run and the loop."""
    return {
        "type": "diagnosis",
        "model": model,
        "diagnosis": diag.record(),
        "count": count,
        "count_derived": derived,
        "run_id": run_id,
        "loop_id": loop_id,
        "round": number,
    }


def _num(percent: float) -> str:
    """An error rate in a message: at most two decimals (``12.95``, ``10``, ``0.5``)."""
    return f"{round(percent, 2):g}"


def mismatch_note(diag: Diagnosis) -> str:
    return (
        f"validation and test differ: test error {_num(diag.rates.test_error)} % is "
        f"{diag.mismatch:.2f} points above validation error {_num(diag.rates.val_error)} % "
        f"(high above {diag.thresholds.mismatch:g}); more data like the training set will not "
        "close that gap: synthesise training data matched to the test set (and take validation "
        "data from the test set's distribution)"
    )


def _pin(catalog: Catalog, ref: str | None, train: DatasetRecord, label: str) -> str | None:
    """``ref`` as a reference that names the same data in every round: a split name alone is a
    split of the starting dataset, which later versions do not have."""
    if ref is None:
        return None
    found = resolve_ref(catalog, ref, train, label)
    return f"{found.record.id}:{found.split}" if found.split else found.record.id


def check_request(catalog: Catalog, request: ImproveRequest) -> tuple[DatasetRecord, float]:
    """The starting dataset and human-level error (percent); one line for any bad input."""
    if not request.command or not request.command[0]:
        raise ConfigError("command: give the training command after --")
    if request.max_rounds < 1:
        raise ConfigError(f"--max-rounds {request.max_rounds}: expected at least 1")
    human = parse_rate("--human-error", request.human_error, request.unit)
    if ":" in request.dataset:
        raise ConfigError(
            f"dataset '{request.dataset}': improve grows the training dataset, so give a dataset "
            "id, not a split (validation and test can be splits: --val ID:validation)"
        )
    try:
        start = catalog.get(request.dataset)
    except NotFound as err:
        raise NotFound(f"dataset: {err}") from None
    from synth.engine.expand import check_parent_folder

    check_parent_folder(start)  # an imported dataset cannot grow: say so before any run
    if request.max_samples is not None and request.max_samples < start.count:
        raise ConfigError(
            f"--max-samples {request.max_samples}: dataset {start.id[:12]} has {start.count} "
            "samples already"
        )
    return start, human


def _rates(run: RunRecord, human: float, unit: Unit) -> ErrorRates:
    run_unit: Unit = run.unit if run.unit in ("percent", "fraction") else unit  # type: ignore[assignment]
    values: dict[str, float | None] = {}
    for name in ("train_error", "val_error", "test_error"):
        if name in run.metrics:
            values[name] = parse_rate(f"run {run.id[:12]}: {name}", run.metrics[name], run_unit)
        elif name == "test_error":
            values[name] = None
        else:
            have = ", ".join(run.metrics) or "none"
            raise DiagnosisError(
                f"run {run.id[:12]}: the run recorded no {name} (it has {have}): print "
                f"{name}=VALUE, write it to SYNTH_METRICS_FILE, or give --metric {name}=REGEX"
            )
    return ErrorRates(human, values["train_error"], values["val_error"], values["test_error"])  # type: ignore[arg-type]


def _findings_text(findings: tuple[str, ...]) -> str:
    return ", ".join(FINDING_TEXT[f] for f in findings) or "none"


def improve(
    catalog: Catalog,
    request: ImproveRequest,
    run: RunFn,
    expand: ExpandFn,
    on_round: OnRound | None = None,
    loop_id: str | None = None,
) -> ImproveResult:
    """Run the loop of ``request``: ``run`` executes and records a run, ``expand`` builds the
    expansion of a dataset by a count with a trigger and returns the new version's id,
    ``on_round`` hears of each finished round. ``catalog`` is read to resolve references and
    the versions' sizes."""
    start, human = check_request(catalog, request)
    loop_id = loop_id or uuid.uuid4().hex[:12]
    val = _pin(catalog, request.val, start, "--val")
    test = _pin(catalog, request.test, start, "--test")
    dataset = start
    rounds: list[Round] = []
    prev_val: float | None = None

    def finish(stop: str, message: str, diag: Diagnosis | None = None, **kw: Any) -> ImproveResult:
        if rounds and on_round is not None:
            on_round(rounds[-1])
        note = mismatch_note(diag) if diag is not None and "mismatch" in diag.findings else None
        advice = diag.actions() if diag is not None else []
        return ImproveResult(loop_id, rounds, stop, message, advice, note, **kw)

    for number in range(1, request.max_rounds + 1):
        record = run(
            RunRequest(
                train=dataset.id,
                command=list(request.command),
                val=val,
                test=test,
                metrics=list(request.metrics),
                model=request.model,
                trigger=run_trigger(loop_id, number),
                hp=dict(request.hp),
                timeout_s=request.timeout_s,
            )
        )
        this = Round(number, dataset.id, dataset.count, record.id, None)
        rounds.append(this)
        if record.status != "succeeded":
            this.action_text = f"stop: run {record.status}"
            failed = {"id": record.id, "status": record.status, "reason": record.reason}
            msg = f"run {record.id[:12]} {record.status}: {record.reason}"
            return finish("run_failed", msg, failed_run=failed)
        rates = _rates(record, human, request.unit)
        if number == 1 and human > rates.train_error:
            raise ImproveError(
                f"--human-error {_num(human)} % is above the training error "
                f"{_num(rates.train_error)} % of run {record.id[:12]}: human-level error (the "
                "Bayes-error proxy) cannot be beaten by a fit, so one of them is wrong (percent "
                "vs fraction? see --fraction)"
            )
        diag = diagnose(rates, request.thresholds)
        this.rates, this.findings, this.diagnosis = rates, diag.findings, diag.record()
        if prev_val is not None and rates.val_error >= prev_val:
            this.action_text = "stop: no improvement"
            msg = (
                f"validation error did not fall: {_num(rates.val_error)} % in round {number} "
                f"after {_num(prev_val)} % in round {number - 1}"
            )
            return finish("no_improvement", msg, diag)
        prev_val = rates.val_error
        if "high_bias" in diag.findings:
            this.action_text = "stop: high bias"
            advice = "; ".join(a["text"] for a in diag.actions() if "high_bias" in a["findings"])
            msg = (
                f"high bias: training error {_num(rates.train_error)} % is "
                f"{diag.avoidable_bias:.2f} points above human-level {_num(human)} %; more data "
                f"will not fix it: {advice}"
            )
            return finish("high_bias", msg, diag)
        if not diag.high_variance:
            this.action_text = "stop: variance fixed"
            msg = (
                f"variance is no longer high: {diag.variance:.2f} points (high above "
                f"{diag.thresholds.high_variance:g}) at {dataset.count} samples"
            )
            return finish("variance_fixed", msg, diag)
        if number == request.max_rounds:
            this.action_text = "stop: rounds spent"
            msg = (
                f"{request.max_rounds} rounds spent with variance still high "
                f"({diag.variance:.2f} points)"
            )
            return finish("max_rounds", msg, diag)
        wanted = expansion_count(diag, dataset.count, request.expansion)
        room = None if request.max_samples is None else request.max_samples - dataset.count
        if room is not None and room < 1:
            this.action_text = "stop: samples spent"
            msg = (
                f"sample budget spent: {dataset.count} of --max-samples {request.max_samples} "
                f"with variance still high ({diag.variance:.2f} points; it asks for {wanted} more)"
            )
            return finish("max_samples", msg, diag)
        count = wanted if room is None else min(wanted, room)
        model = record.model
        trigger = expansion_trigger(diag, model, count, True, record.id, loop_id, number)
        if count < wanted:
            trigger["capped_by"] = {"max_samples": request.max_samples, "wanted": wanted}
        new_id = expand(dataset.id, count, trigger)
        dataset = catalog.get(new_id)
        this.action = "expand"
        this.action_text = f"expand +{count}"
        this.expanded_by = count
        this.next_dataset_id = dataset.id
        if on_round is not None:
            on_round(this)
    raise AssertionError("unreachable: the last round always stops")  # pragma: no cover


TABLE_HEADER = ("round", "samples", "human", "train", "validation", "test", "findings", "action")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table_rows(result: ImproveResult) -> list[dict[str, str]]:
    """The rounds as the table prints them (and the flow's table artifact holds)."""
    rows = []
    for r in result.rounds:
        rates = r.rates
        rows.append(
            {
                "round": str(r.number),
                "samples": str(r.samples),
                "human": _pct(rates.human_error if rates else None),
                "train": _pct(rates.train_error if rates else None),
                "validation": _pct(rates.val_error if rates else None),
                "test": _pct(rates.test_error if rates else None),
                "findings": _findings_text(r.findings) if rates else "-",
                "action": r.action_text,
            }
        )
    return rows


def table_text(result: ImproveResult) -> str:
    """The rounds as a text table, then the stop reason and any advice or mismatch note."""
    rows = table_rows(result)
    widths = {h: max([len(h), *(len(row[h]) for row in rows)]) for h in TABLE_HEADER}
    right = {"round", "samples", "human", "train", "validation", "test"}

    def line(cells: dict[str, str]) -> str:
        parts = [
            cells[h].rjust(widths[h]) if h in right else cells[h].ljust(widths[h])
            for h in TABLE_HEADER
        ]
        return "  ".join(parts).rstrip()

    out = [line({h: h for h in TABLE_HEADER})]
    out += [line(row) for row in rows]
    if result.rounds:
        last = result.rounds[-1]
        out.append(
            f"dataset {last.dataset_id[:12]} ({last.samples} samples), run {last.run_id[:12]}"
        )
    if result.stopped == "high_bias":
        out += [f"  - {a['text']}" for a in result.advice if "high_bias" in a["findings"]]
    if result.mismatch:
        out.append(f"mismatch: {result.mismatch}")
    out.append(f"stopped: {result.stopped}: {result.message}")
    return "\n".join(out)
