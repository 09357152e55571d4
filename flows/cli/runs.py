"""The training-run commands: ``synth run`` and ``synth runs list|show``.

``synth run ID [--val REF] [--test REF] [--metric NAME=REGEX ...] -- COMMAND [ARGS]`` runs a
user's training command on a catalog dataset and records the run beside it (``synth.runs``). Exit
codes: 0 for a succeeded run, 1 for a run whose command failed or was stopped, 2 for bad input
and for a run that never printed a metric it was asked for (its definition is the thing to fix).
None of these commands imports Prefect.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from flows.cli.args import add_common
from flows.cli.output import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, _fail

RUN_HELP = (
    "Run COMMAND (after --) on dataset ID and record the run in the catalog. The command gets "
    "SYNTH_DATASET_PATH, SYNTH_DATASET_ID, SYNTH_VAL_PATH, SYNTH_TEST_PATH, SYNTH_METRICS_FILE "
    "and SYNTH_RUN_ID in its environment, and {path}, {val_path}, {test_path}, {id} in its "
    "arguments are replaced. Metrics come from the JSON object (or JSON Lines) it writes to "
    "SYNTH_METRICS_FILE, or from its output: each --metric NAME=REGEX (the last match wins; "
    "a line with 'step N' or 'epoch N', or a (?P<step>...) group, is an intermediate value); "
    "without --metric, lines such as 'val_error=4.2' give train_error, val_error, test_error."
)


def _split_command(argv: list[str]) -> list[str]:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        _fail("give the training command after --, e.g. synth run ID -- python train.py {path}")
    return argv


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options ``synth run`` and ``synth improve`` share."""
    p.add_argument(
        "--val",
        metavar="ID|SPLIT",
        help="validation data: a dataset id, ID:SPLIT, "
        "or a split of the training dataset (validation)",
    )
    p.add_argument("--test", metavar="ID|SPLIT", help="test data, as --val")
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME=REGEX",
        help="a metric read from the output: the regex's group (or (?P<value>...)) is the value",
    )
    p.add_argument("--model", metavar="NAME", help="the model's name (default: the program's)")
    p.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter: {hp.NAME} in the arguments, SYNTH_HP_NAME in the environment",
    )
    p.add_argument("--timeout", type=float, metavar="S", help="stop the command after S seconds")


def run_request(args: argparse.Namespace, train: str, trigger: dict[str, Any] | None = None):
    from synth.runs.spec import MetricDef, RunRequest

    hp = {}
    for item in args.hp:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            _fail(f"--hp '{item}': expected NAME=VALUE")
        hp[name.strip()] = value
    return RunRequest(
        train=train,
        command=_split_command(list(args.user_command)),
        val=args.val,
        test=args.test,
        metrics=[MetricDef.parse(m) for m in args.metric],
        model=args.model,
        trigger=trigger or {"type": "manual"},
        hp=hp,
        timeout_s=args.timeout,
    )


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def run_lines(run: Any) -> list[str]:
    """A run as ``synth run`` and ``synth runs show`` print it."""
    lines = [
        f"run          {run.id}",
        f"model        {run.model}",
        f"status       {run.status}" + (f": {run.reason}" if run.reason else ""),
        f"command      {' '.join(run.command)}",
        f"started      {run.started}",
        f"ended        {run.ended or '-'}",
        f"exit code    {run.exit_code if run.exit_code is not None else '-'}",
        f"trigger      {json.dumps(run.trigger, ensure_ascii=False)}",
    ]
    for d in run.datasets:
        split = f":{d['split']}" if d.get("split") else ""
        lines.append(f"{d['role']:12} {d['dataset_id'][:12]}{split}")
    for name, value in run.hp.items():
        lines.append(f"hp {name:9} {value}")
    for name, value in run.metrics.items():
        lines.append(f"{name:12} {_fmt(value)}")
    if run.steps:
        lines.append(f"steps        {len(run.steps)} intermediate values")
    lines.append(f"log          {run.log_path}")
    return lines


def _exit_code(run: Any) -> int:
    if run.status == "succeeded":
        return 0
    if run.reason and ("never printed" in run.reason or run.reason.startswith("no metric")):
        return EXIT_BAD_INPUT
    return EXIT_CHECK_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    from synth.catalog import open_catalog
    from synth.catalog.base import data_home
    from synth.runs.execute import execute_run

    request = run_request(args, args.id)
    catalog = open_catalog(args.home, create=False)
    try:
        run = execute_run(catalog, data_home(args.home), request)
    finally:
        catalog.close()
    code = _exit_code(run)
    if args.json:
        print(json.dumps(run.to_json(), ensure_ascii=False))
    else:
        print("\n".join(run_lines(run)))
    if code:  # recorded either way; the error line says why it did not succeed
        print(f"synth: error: run {run.id[:12]} {run.status}: {run.reason}", file=sys.stderr)
    return code


def cmd_runs_list(args: argparse.Namespace) -> int:
    from synth.catalog import open_catalog
    from synth.errors import NoCatalog

    try:
        catalog = open_catalog(args.home, create=False)
    except NoCatalog:
        runs = []
    else:
        try:
            dataset = catalog.get(args.dataset).id if args.dataset else None
            runs = catalog.list_runs(dataset)
        finally:
            catalog.close()
    if args.json:
        print(json.dumps({"runs": [r.to_json() for r in runs]}, ensure_ascii=False))
        return 0
    if not runs:
        print("no runs yet: run a training command with `synth run ID -- COMMAND`")
        return 0
    print(f"{'run':12}  {'status':9}  {'model':16}  {'train':12}  {'started':29}  metrics")
    for r in runs:
        train = r.dataset("train")
        metrics = " ".join(f"{k}={_fmt(v)}" for k, v in r.metrics.items())
        print(
            f"{r.id[:12]}  {r.status:9}  {r.model[:16]:16}  "
            f"{(train['dataset_id'][:12] if train else '-'):12}  {r.started:29}  {metrics}"
        )
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from synth.catalog import open_catalog

    catalog = open_catalog(args.home, create=False)
    try:
        run = catalog.get_run(args.run)
    finally:
        catalog.close()
    if args.json:
        print(json.dumps(run.to_json(), ensure_ascii=False))
    else:
        print("\n".join(run_lines(run)))
        for s in run.steps:
            print(f"  step {s['step']:>6}  {s['name']} = {_fmt(s['value'])}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``run`` and ``runs`` to the ``synth`` parser's sub-commands."""
    from flows.cli.args import _Parser

    run = sub.add_parser(
        "run",
        help="run a training command on a dataset; record it",
        description=RUN_HELP,
        usage="synth run ID [options] -- COMMAND [ARGS ...]",
    )
    run.add_argument("id", help="the training dataset: an id (prefix) or ID:SPLIT")
    add_run_options(run)
    add_common(run)
    run.set_defaults(func=cmd_run, user_command=[])  # the words after --: see COMMAND_TAKERS

    runs = sub.add_parser("runs", help="list and show recorded training runs")
    rsub = runs.add_subparsers(dest="runs_command", required=True, parser_class=_Parser)
    ls = rsub.add_parser("list", help="every run, oldest first")
    ls.add_argument("--dataset", metavar="ID", help="only runs that used this dataset")
    add_common(ls)
    ls.set_defaults(func=cmd_runs_list)
    show = rsub.add_parser("show", help="one run: datasets, metrics, steps, log")
    show.add_argument("run", help="run id or a unique prefix of it")
    add_common(show)
    show.set_defaults(func=cmd_runs_show)
