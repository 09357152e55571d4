"""``synth improve``: train, diagnose and grow the training data until the diagnosis says stop.

``synth improve ID --human-error H [--val REF] [--test REF] [--max-rounds R] [--max-samples N]
-- COMMAND`` runs the loop of ``synth.improve`` here: each run as ``synth run`` does, each
expansion as ``synth expand`` does (a flow run when a Prefect server is configured, else the
local process pool). Exit codes: 0 when the loop stopped by one of its rules, 1 when a run
failed (it is recorded, and the error names it), 2 for bad input (nothing recorded, except a
first run whose training error is below the human-level error given: that run is kept).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flows.cli.args import _positive, add_common, add_workers
from flows.cli.output import EXIT_CHECK_FAILED, _emit
from flows.cli.runs import add_run_options, run_request

IMPROVE_HELP = (
    "Close the loop: run COMMAND (after --) on dataset ID as `synth run` does, diagnose the run "
    "against --human-error (avoidable bias = train - human, variance = val - train, mismatch = "
    "test - val; high above 2 points), and on high variance expand the dataset by the size the "
    "gap asks for (n * ((variance / threshold)^2 - 1), at least 100, at most 3 times its size, "
    "never past --max-samples) and run again on the new version. It stops when variance is no "
    "longer high, on high bias (with the advice: a bigger model, train longer), when "
    "validation error does not fall, or when the rounds or samples are spent, and says which. "
    "Every round's run and dataset version are in the catalog; each expansion's trigger is the "
    "diagnosis that asked for it."
)


def _request(args: argparse.Namespace) -> Any:
    from synth.config import read_config_file
    from synth.diagnose import load_config
    from synth.improve import ImproveRequest

    raw = read_config_file(args.config) if args.config else {}
    config = load_config(raw, args.config or "config")
    thresholds = config.thresholds
    if args.variance_threshold is not None:
        thresholds = thresholds.model_copy(update={"high_variance": args.variance_threshold})
    run = run_request(args, args.id)  # checks the command and --metric/--hp definitions
    return ImproveRequest(
        dataset=args.id,
        human_error=args.human_error,
        command=run.command,
        val=args.val,
        test=args.test,
        max_rounds=args.max_rounds,
        max_samples=args.max_samples,
        metrics=run.metrics,
        model=args.model,
        unit="fraction" if args.fraction else "percent",
        thresholds=thresholds,
        expansion=config.expansion,
        hp=run.hp,
        timeout_s=run.timeout_s,
    )


def cmd_improve(args: argparse.Namespace) -> int:
    from flows.jobs import run_dataset_job
    from synth.catalog import open_catalog
    from synth.catalog.base import data_home
    from synth.improve import improve, table_text
    from synth.runs.execute import execute_run

    request = _request(args)
    catalog = open_catalog(args.home, create=False)
    home = data_home(args.home)

    def expand(dataset_id: str, count: int, trigger: dict[str, Any]) -> str:
        params = {"dataset_id": dataset_id, "count": count, "trigger": trigger}
        result = run_dataset_job(
            "expand", params, workers=args.workers, home=args.home, verbose=args.verbose
        )
        return result["record"]["id"]

    def on_round(r: Any) -> None:
        if not args.json:
            print(f"round {r.number}: {r.samples} samples, run {r.run_id[:12]}: {r.action_text}")
            sys.stdout.flush()

    try:
        result = improve(
            catalog, request, lambda req: execute_run(catalog, home, req), expand, on_round
        )
    finally:
        catalog.close()
    _emit(args, result.to_json(), table_text(result))
    if result.stopped == "run_failed":
        failed = result.failed_run or {}
        print(
            f"synth: error: run {str(failed.get('id'))[:12]} {failed.get('status')}: "
            f"{failed.get('reason')}",
            file=sys.stderr,
        )
        return EXIT_CHECK_FAILED
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``improve`` to the ``synth`` parser's sub-commands."""
    from flows.cli.args import _points

    p = sub.add_parser(
        "improve",
        help="run, diagnose, synthesise more data, run again: the closed loop",
        description=IMPROVE_HELP,
        usage="synth improve ID --human-error H [options] -- COMMAND [ARGS ...]",
    )
    p.add_argument("id", help="the training dataset to grow: an id or a unique prefix")
    p.add_argument(
        "--human-error", required=True, metavar="H", help="human-level (Bayes proxy) error"
    )
    p.add_argument(
        "--max-rounds", type=_positive, default=5, metavar="R", help="runs at most (default 5)"
    )
    p.add_argument(
        "--max-samples",
        type=_positive,
        metavar="N",
        help="the training dataset's largest size, in samples (default: no limit)",
    )
    p.add_argument(
        "--fraction",
        action="store_true",
        help="errors (--human-error and the runs') are fractions 0-1, not percent",
    )
    p.add_argument(
        "--variance-threshold",
        type=_points,
        metavar="POINTS",
        help="variance above this is high, in percentage points (default 2)",
    )
    p.add_argument(
        "--config", metavar="FILE", help="[thresholds] and [expansion], as synth diagnose takes"
    )
    add_run_options(p)
    add_workers(p, "worker processes of each expansion (default 1)")
    add_common(p)
    p.set_defaults(func=cmd_improve, user_command=[])  # the words after --: see COMMAND_TAKERS
