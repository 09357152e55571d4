"""The operation commands: ``synth diagnose`` and ``synth serve``.

``synth diagnose`` without ``--expand`` is pure arithmetic and never imports Prefect.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from flows.cli.args import _points, add_common, add_count, add_workers
from flows.cli.output import _emit, _fail, _Progress, _progress_enabled

# -- synth diagnose -------------------------------------------------------------------------------
_OPTION = {
    "human_error": "--human-error",
    "train_error": "--train-error",
    "val_error": "--val-error",
    "test_error": "--test-error",
}


def _rates(args: argparse.Namespace) -> tuple[Any, str | None, bool]:
    """The error rates in percent from --metrics and the options (options win), the model name
    in the metrics file, and whether any value was given as a fraction."""
    from synth.diagnose import DiagnosisError, error_rates, parse_rate, read_metrics

    unit = "fraction" if args.fraction else "percent"
    rates: dict[str, float] = {}
    model = None
    fractions = args.fraction
    if args.metrics:
        try:
            with open(args.metrics, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as err:
            raise DiagnosisError(f"{args.metrics}: cannot read ({err.strerror})") from None
        except json.JSONDecodeError as err:
            raise DiagnosisError(f"{args.metrics}: not valid JSON ({err})") from None
        values, file_unit, model = read_metrics(data, args.metrics)
        file_unit = file_unit or unit  # the file's own unit wins over --fraction for its values
        fractions = fractions or file_unit == "fraction"
        labels = {k: f"{args.metrics}: {k}" for k in values}
        found = error_rates(values, file_unit, labels).to_json()
        rates = {k: v for k, v in found.items() if v is not None}
    if getattr(args, "run", None):
        found, run_model, run_fraction = _run_rates(args, unit)
        rates.update(found)
        model = model or run_model
        fractions = fractions or run_fraction
    for name, option in _OPTION.items():
        raw = getattr(args, name)
        if raw is not None:
            rates[name] = parse_rate(option, raw, unit)
    for name in ("human_error", "train_error", "val_error"):
        if name not in rates:
            raise DiagnosisError(f"missing {_OPTION[name]} (or give --metrics FILE or --run RUN)")
    return error_rates(rates), model, fractions


def _run_rates(args: argparse.Namespace, unit: str) -> tuple[dict[str, float], str, bool]:
    """The training, validation and test errors (percent) of a recorded run, its model, and
    whether they were fractions (the run's metrics file said so, or --fraction)."""
    from synth.catalog import open_catalog
    from synth.diagnose import DiagnosisError, parse_rate

    catalog = open_catalog(args.home, create=False)
    try:
        run = catalog.get_run(args.run)
    finally:
        catalog.close()
    if run.status != "succeeded":
        raise DiagnosisError(
            f"--run {run.id[:12]}: the run {run.status} ({run.reason}): no errors to diagnose"
        )
    run_unit = run.unit or unit
    rates = {}
    for name in ("train_error", "val_error", "test_error"):
        if name in run.metrics:
            label = f"run {run.id[:12]}: {name}"
            rates[name] = parse_rate(label, run.metrics[name], run_unit)  # type: ignore[arg-type]
        elif name != "test_error":
            have = ", ".join(run.metrics) or "none"
            raise DiagnosisError(f"--run {run.id[:12]}: the run recorded no {name} (it has {have})")
    return rates, run.model, run_unit == "fraction"


def _diagnosis_text(diag: Any, model: str | None) -> str:
    r = diag.rates
    th = diag.thresholds

    def gap(label: str, value: float | None, limit: float, finding: str) -> str:
        if value is None:
            return f"{label:15} {'-':>6}         (no test error)"
        flag = "  HIGH" if finding in diag.findings else ""
        return f"{label:15} {value:6.2f} points  (high above {limit:g}){flag}"

    lines = []
    if model and model != "unnamed":
        lines.append(f"{'model':15} {model}")
    lines += [
        f"{'human-level':15} {r.human_error:6.2f} %",
        f"{'training':15} {r.train_error:6.2f} %",
        f"{'validation':15} {r.val_error:6.2f} %",
    ]
    if r.test_error is not None:
        lines.append(f"{'test':15} {r.test_error:6.2f} %")
    lines += [
        gap("avoidable bias", diag.avoidable_bias, th.high_bias, "high_bias"),
        gap("variance", diag.variance, th.high_variance, "high_variance"),
        gap("mismatch", diag.mismatch, th.mismatch, "mismatch"),
        f"{'finding':15} {diag.summary()}",
    ]
    actions = diag.actions()
    if actions:
        lines.append("actions")
        for a in actions:
            lines.append(f"  - {a['text']}")
    for note in diag.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _diagnosis(args: argparse.Namespace) -> tuple[Any, Any, str, str]:
    from synth.config import read_config_file
    from synth.diagnose import diagnose, load_config

    rates, file_model, fractions = _rates(args)
    raw = read_config_file(args.config) if args.config else {}
    config = load_config(raw, args.config or "config")
    overrides = {
        k: v
        for k, v in {
            "high_bias": args.bias_threshold,
            "high_variance": args.variance_threshold,
            "mismatch": args.mismatch_threshold,
        }.items()
        if v is not None
    }
    thresholds = config.thresholds.model_copy(update=overrides)
    diag = diagnose(rates, thresholds)
    model = args.model or file_model or "unnamed"
    return diag, config, model, fractions


def _fraction_hint(diag: Any, fractions: bool) -> list[str]:
    values = [v for v in diag.rates.to_json().values() if v is not None]
    if not fractions and 0 < max(values) <= 1:
        return ["every error is at most 1 %: if these are fractions (0-1), add --fraction"]
    return []


def cmd_diagnose(args: argparse.Namespace) -> int:
    if args.count is not None and not args.expand:
        _fail("--count needs --expand ID")
    diag, config, model, fractions = _diagnosis(args)
    hints = _fraction_hint(diag, fractions)
    obj: dict[str, Any] = {
        **diag.to_json(),
        "model": model,
        "expansion": None,
        "event": None,
        "reason": None,
    }
    obj["notes"] += hints
    text = _diagnosis_text(diag, model)
    text += "".join(f"\nnote: {hint}" for hint in hints)
    if not args.expand:
        _emit(args, obj, text)
        return 0
    if not diag.high_variance:
        from synth.catalog import open_catalog
        from synth.diagnose import no_expansion_reason

        catalog = open_catalog(args.home, create=False)
        try:
            parent = catalog.get(args.expand)  # a wrong id fails even when nothing is built
        finally:
            catalog.close()
        obj["reason"] = f"{no_expansion_reason(diag)}: dataset {parent.id[:12]} not expanded"
        _emit(args, obj, f"{text}\nnothing built: {obj['reason']}")
        return 0
    return _diagnose_and_expand(args, diag, config, model, obj, text)


def _diagnose_and_expand(
    args: argparse.Namespace, diag: Any, config: Any, model: str, obj: dict[str, Any], text: str
) -> int:
    from flows.jobs import run_diagnosis_job
    from flows.plans import expansion_size, find_parent, resolve_via
    from synth.engine.expand import check_parent_folder

    via = resolve_via(args.via)
    parent = find_parent(args.expand, args.home)
    if via == "local":
        check_parent_folder(parent)
    count, _ = expansion_size(diag, parent, args.count, config.expansion)
    r = diag.rates
    with _Progress(count, "rendering", via == "local" and _progress_enabled(args)):
        result = run_diagnosis_job(
            verbose=args.verbose,
            human_error=r.human_error,
            train_error=r.train_error,
            val_error=r.val_error,
            test_error=r.test_error,
            thresholds=diag.thresholds.model_dump(),
            expansion=config.expansion.model_dump(),
            model=model,
            dataset_id=parent.id,
            count=args.count,
            workers=args.workers,
            home=args.home,
            via=via,
        )
    obj["reason"] = result["reason"]
    if result["event"]:
        ev = result["event"]
        obj["event"] = ev
        human = (
            f"{text}\nemitted {ev['name']} ({ev['id']}) for {ev['resource']}: a `synth serve` "
            f"process expands dataset {parent.id[:12]} by {ev['count']}"
        )
    else:
        exp = result["expansion"]
        rec = exp["record"]
        obj["expansion"] = {
            "id": rec["id"],
            "path": rec["path"],
            "count": rec["count"],
            "parent_id": exp["parent_id"],
            "new": exp["created"],
            "rendered_shards": exp["rendered_shards"],
            "skipped_shards": exp["skipped_shards"],
            "trigger": rec["trigger"],
        }
        state = "registered" if exp["created"] else "already registered"
        added = rec["count"] - parent.count
        human = (
            f"{text}\nexpanded {parent.id[:12]} by {added}: {rec['kind']} dataset "
            f"{rec['id'][:12]} ({rec['count']} samples) {state}\n{rec['path']}"
        )
    _emit(args, obj, human)
    return 0


# -- synth serve ----------------------------------------------------------------------------------
def _stop_on_sigterm() -> None:
    """Until the Prefect runner installs its own handler, SIGTERM stops like Ctrl-C."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def cmd_serve(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    try:
        return _serve(args)
    except KeyboardInterrupt:
        print("synth serve: stopped", file=sys.stderr)
        return 0


def _serve(args: argparse.Namespace) -> int:
    """Prefect's warnings and errors stay visible (a failed scheduled run must show in the log of
    a long-running server); --verbose adds its info logs."""
    from flows.serve import build_deployments, check_server, load_serve_config, serve_forever
    from synth.catalog.base import data_home
    from synth.config import read_config_file

    raw = read_config_file(args.config) if args.config else {}
    config = load_serve_config(raw, args.config or "config")
    updates: dict[str, Any] = {}
    if args.no_trigger:
        updates["enabled"] = False
    if args.workers is not None:
        updates["workers"] = args.workers
    if updates:
        config = config.model_copy(
            update={"high_variance": config.high_variance.model_copy(update=updates)}
        )
    home = str(data_home(args.home))
    os.environ["SYNTH_HOME"] = home  # flow runs are child processes: they inherit the data root
    url = None if args.dry_run else check_server()
    served, notes = build_deployments(config, home)
    obj = {
        "home": home,
        "api_url": url,
        "dry_run": args.dry_run,
        "deployments": [s.to_json() for s in served],
        "notes": notes,
    }
    lines = [f"synth serve: data root {home}", f"Prefect API {url or '(dry run: not checked)'}"]
    width = max([45, *(len(s.name) for s in served)])
    for s in served:
        when = (
            f"cron {s.schedule}" if s.schedule else f"on {s.trigger}" if s.trigger else "on demand"
        )
        lines.append(f"  {s.name:{width}} {when}")
    lines += [f"note: {n}" for n in notes]
    if not args.dry_run:
        lines.append("serving; stop with Ctrl-C or SIGTERM")
    _emit(args, obj, "\n".join(lines))
    sys.stdout.flush()
    if args.dry_run:
        return 0
    serve_forever(served, config.limit)
    print("synth serve: stopped", file=sys.stderr)
    return 0


# -- parsers --------------------------------------------------------------------------------------
def register(sub: argparse._SubParsersAction) -> None:
    """Add ``diagnose`` and ``serve`` to the ``synth`` parser's sub-commands."""
    d = sub.add_parser(
        "diagnose",
        help="bias/variance diagnosis of a model; more data on high variance",
        description=(
            "Diagnose a model from its human-level, training, validation and (optionally) test "
            "error: avoidable bias = train - human, variance = val - train, mismatch = test - "
            "val. A gap is high above its threshold (default 2 percentage points each). With "
            "--expand ID, high variance expands dataset ID (by --count, or by a size derived from "
            "the variance gap: n * ((variance / threshold)^2 - 1), at least 100, at most 3 times "
            "the dataset's size) and records the diagnosis as the new version's trigger; with a "
            "Prefect server configured, it emits synth.diagnosis.high-variance for `synth serve` "
            "instead. Without high variance nothing is built."
        ),
    )
    d.add_argument("--human-error", metavar="H", help="human-level (Bayes proxy) error, percent")
    d.add_argument("--train-error", metavar="T", help="training error, percent")
    d.add_argument("--val-error", metavar="V", help="validation (dev) error, percent")
    d.add_argument("--test-error", metavar="X", help="test error, percent (optional)")
    d.add_argument("--fraction", action="store_true", help="errors are fractions 0-1, not percent")
    d.add_argument(
        "--metrics",
        metavar="FILE",
        help="a JSON file with human_error, train_error, val_error [, test_error, unit, model]; "
        "options given as well override its values",
    )
    d.add_argument(
        "--run",
        metavar="RUN",
        help="take the training, validation and test errors (and the model) from a recorded "
        "run (synth runs list); --human-error is still needed",
    )
    d.add_argument(
        "--config", metavar="FILE", help="[thresholds] and [expansion] (.toml, .json, .yaml)"
    )
    for name, finding in (
        ("bias", "avoidable bias"),
        ("variance", "variance"),
        ("mismatch", "mismatch"),
    ):
        d.add_argument(
            f"--{name}-threshold",
            type=_points,
            metavar="POINTS",
            help=f"{finding} above this is high, in percentage points (default 2)",
        )
    d.add_argument("--expand", metavar="ID", help="on high variance, expand this dataset")
    add_count(d, "new samples (default: derived from the gap)", required=False)
    d.add_argument("--model", metavar="NAME", help="the model's name, kept in the lineage")
    add_workers(d)
    d.add_argument(
        "--via",
        choices=("auto", "local", "event"),
        default="auto",
        help="expand here (local) or by a Prefect event (event); auto: event when "
        "PREFECT_API_URL is set (default)",
    )
    add_common(d)
    d.set_defaults(func=cmd_diagnose)

    s = sub.add_parser(
        "serve",
        help="serve the flows: on-demand deployments, schedules, the high-variance trigger",
        description=(
            "Serve synth's flows as Prefect deployments until SIGTERM or Ctrl-C: ocr, speech "
            "(when available) and expand on demand, the cron schedules of --config, and "
            "expand_on_diagnosis/on-high-variance-TAG, triggered by synth.diagnosis.high-variance "
            "events. Each deployment's name ends in -TAG, a short hash of the data root, so serve "
            "processes with different data roots keep their own deployments on one server. "
            "Needs `prefect server start` and PREFECT_API_URL."
        ),
    )
    s.add_argument(
        "--config", metavar="FILE", help="[[schedules]] and [high_variance] (.toml, ...)"
    )
    add_workers(s, "worker processes of triggered expansions (default 1)", default=None)
    s.add_argument(
        "--no-trigger", action="store_true", help="do not serve the high-variance trigger"
    )
    s.add_argument(
        "--dry-run", action="store_true", help="check the config, list the deployments and exit"
    )
    add_common(s)
    s.set_defaults(func=cmd_serve)
