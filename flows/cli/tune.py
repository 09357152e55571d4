"""The tuning commands: ``synth tune --config FILE`` runs (or resumes) a tuning job, and
``synth tune list|show|best|clone`` read what jobs found (``synth.tune``).

With a Prefect server configured the job is a run of the ``tune`` flow (``flows.tune``), its
trials Prefect tasks; without one it runs here, its trials in threads, without Prefect.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from flows.cli.args import add_common
from flows.cli.output import _emit, _fail

TUNE_HELP = (
    "Run the tuning job of --config FILE (TOML, JSON or YAML): each trial builds a dataset "
    "with the spec values it draws (a dataset of the same fingerprint is reused), runs the "
    "training command on it as synth run does, and tells the objective to Optuna. Running the "
    "same command again resumes the job. Its studies are kept in <data root>/tune/"
    "studies.sqlite3: optuna-dashboard sqlite:///<data root>/tune/studies.sqlite3 shows them."
)


def _need_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        _fail("synth tune needs Optuna: pip install 'synth[tune]' (or pip install optuna)")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return "-"
    return json.dumps(v) if isinstance(v, list) else str(v)


def trial_line(t: dict[str, Any]) -> str:
    values = " ".join(f"{k}={_fmt(v)}" for k, v in t["values"].items())
    where = f" (from {t['warm_start']}/{t['parent_trial']})" if t.get("warm_start") else ""
    ids = f"{(t['dataset_id'] or '-')[:12]:12}  {(t['run_id'] or '-')[:12]:12}"
    secs = f"{t['total_s']:.1f}s" if isinstance(t.get("total_s"), float) else "-"
    reason = f"  {t['reason']}" if t.get("reason") and t["state"] != "complete" else ""
    return (
        f"{t['number']:>5}  {t['state']:8}  {_fmt(t['objective']):>10}  {ids}  {secs:>7}  "
        f"{values}{where}{reason}"
    )


def summary_lines(s: dict[str, Any]) -> list[str]:
    obj = s["objective"]
    lines = [
        f"job          {s['job']} ({s['kind']}, {s['strategy']})",
        f"objective    {obj['direction']} {obj['metric']}",
        f"trials       {s['trials_counted']} of {s['max_trials']} counted; "
        + ", ".join(f"{n} {k}" for k, n in sorted(s["states"].items())),
        f"stopped      {s['stopped'] or 'not yet'}",
    ]
    for w in s["warm_start"]:
        lines.append(
            f"warm start   {w['job']} ({w['mode']}): {w['trials']} trials, {w['left_out']} left out"
        )
    best = s["best"]
    if best is not None:
        values = " ".join(f"{k}={_fmt(v)}" for k, v in best["values"].items())
        lines.append(
            f"best         trial {best['number']}: {obj['metric']}={_fmt(best['objective'])}"
        )
        lines.append(f"             {values}")
        lines.append(f"             dataset {best['dataset_id']}  run {best['run_id']}")
    if s.get("picture"):
        lines.append(f"picture      {s['picture']}")
    lines.append("")
    lines.append(
        f"{'trial':>5}  {'state':8}  {'objective':>10}  {'dataset':12}  {'run':12}  "
        f"{'time':>7}  values"
    )
    lines += [trial_line(t) for t in s["trials"]]
    return lines


def cmd_tune(args: argparse.Namespace) -> int:
    if not args.config:
        _fail("synth tune: give --config FILE to run a job, or one of list, show, best, clone")
    _need_optuna()
    from synth.tune.config import MAX_PARENTS, load_config

    if len(args.warm_start) > MAX_PARENTS:
        _fail(f"--warm-start: at most {MAX_PARENTS} parent jobs, got {len(args.warm_start)}")
    cfg, data = load_config(args.config)
    from synth.tune.space import check_fields

    check_fields(cfg, args.config)  # every spec field exists and takes its range's ends
    from flows.plans import server_configured

    if args.dask_address and args.runner != "dask":
        _fail("--dask-address: only used with --runner dask")
    if args.runner == "dask" or server_configured():
        from flows.plans import quiet_prefect, require_reachable_server

        require_reachable_server()
        from flows.tune import tune

        quiet_prefect(args.verbose)
        out = tune(
            config=data,
            home=args.home,
            warm_start=args.warm_start,
            runner=args.runner,
            dask_address=args.dask_address,
        )
    else:
        from synth.tune.job import run_job

        def progress(t: Any) -> None:
            if not args.json:
                from synth.tune.report import trial_json

                print(trial_line(trial_json(t)), file=sys.stderr, flush=True)

        out = run_job(cfg, data, args.home, args.warm_start, on_trial=progress)
    _emit(args, out, "\n".join(summary_lines(out)))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    _need_optuna()
    from synth.tune.report import list_jobs
    from synth.tune.storage import open_storage

    jobs = list_jobs(open_storage(args.home, create=False))
    if args.json:
        print(json.dumps({"jobs": jobs}, ensure_ascii=False))
        return 0
    if not jobs:
        print("no tuning jobs yet: run one with `synth tune --config FILE`")
        return 0
    print(f"{'job':24}  {'kind':6}  {'strategy':9}  {'trials':>6}  {'best':>10}  stopped")
    for j in jobs:
        print(
            f"{j['job'][:24]:24}  {j['kind'] or '-':6}  {j['strategy'] or '-':9}  "
            f"{j['trials']:>6}  {_fmt(j['best']):>10}  {j['stopped'] or '-'}"
        )
    return 0


def _study(args: argparse.Namespace) -> Any:
    _need_optuna()
    from synth.tune.study import load_study

    return load_study(args.home, args.job)


def cmd_show(args: argparse.Namespace) -> int:
    from synth.tune.report import PICTURE, summary
    from synth.tune.storage import job_dir

    out = summary(_study(args))
    picture = job_dir(args.home, args.job) / PICTURE
    out["picture"] = str(picture) if picture.exists() else None
    _emit(args, out, "\n".join(summary_lines(out)))
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    from synth.tune.report import best_build, write_config
    from synth.tune.study import job_config

    study = _study(args)
    cfg, _ = job_config(study)
    config, hp, best = best_build(study)
    out = Path(args.out)
    b = cfg.build
    preset = f" --preset {b.preset}" if b.kind == "ocr" else ""
    build = f"synth {b.kind}{preset} --count {b.count} --seed {b.seed} --config {out}"
    hps = " ".join(f"{k}={v}" for k, v in hp.items())
    header = (
        f"The best trial ({best.number}) of tuning job '{args.job}': "
        f"{cfg.objective.metric}={best.value:g}\n"
        f"Build it: {build}" + (f"\nIts training hyperparameters: {hps}" if hps else "")
    )
    write_config(config, out, header)
    obj = {
        "job": args.job,
        "trial": best.number,
        "objective": best.value,
        "config": config,
        "hp": hp,
        "out": str(out),
        "build": build,
        "dataset_id": best.user_attrs.get("dataset_id"),
    }
    human = f"wrote {out}: trial {best.number}, {cfg.objective.metric}={best.value:g}\n{build}"
    if hps:
        human += f"\nhyperparameters: {hps}"
    _emit(args, obj, human)
    return 0


def cmd_clone(args: argparse.Namespace) -> int:
    from synth.tune.clone import clone_config
    from synth.tune.report import to_toml, write_config
    from synth.tune.study import job_config

    _, data = job_config(_study(args))
    new = clone_config(args.job, data, args.set)
    if args.out:
        write_config(new, Path(args.out), f"A clone of tuning job '{args.job}', warm-started by it")
        _emit(args, {"job": new["name"], "config": new, "out": args.out}, f"wrote {args.out}")
    elif args.json:
        print(json.dumps({"job": new["name"], "config": new}, ensure_ascii=False))
    else:
        print(to_toml(new), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``tune`` (and its ``list``, ``show``, ``best``, ``clone``) to ``synth``'s commands."""
    from flows.cli.args import _Parser

    tune = sub.add_parser(
        "tune",
        help="tune the data and training parameters of a model (Optuna)",
        description=TUNE_HELP,
        usage="synth tune --config FILE [--warm-start JOB ...] | synth tune list|show|best|clone",
    )
    tune.add_argument("--config", help="the tuning job's config (.toml, .json or .yaml)")
    tune.add_argument(
        "--warm-start",
        nargs="+",
        default=[],
        metavar="JOB",
        help="earlier jobs (at most 5) whose trials inside this job's ranges start its search",
    )
    tune.add_argument(
        "--runner",
        choices=("process", "dask"),
        default="process",
        help="process: trials in this process (default); dask: trials on a Dask cluster "
        "through Prefect (needs PREFECT_API_URL and a data root every worker reaches)",
    )
    tune.add_argument("--dask-address", metavar="tcp://HOST:PORT", help="the Dask scheduler")
    add_common(tune)
    tune.set_defaults(func=cmd_tune)
    tsub = tune.add_subparsers(
        dest="tune_command", required=False, parser_class=_Parser, prog="synth tune"
    )
    ls = tsub.add_parser("list", help="every tuning job of the data root")
    add_common(ls)
    ls.set_defaults(func=cmd_list)
    show = tsub.add_parser("show", help="a job's trials, best trial and why it stopped")
    show.add_argument("job")
    add_common(show)
    show.set_defaults(func=cmd_show)
    best = tsub.add_parser("best", help="write the best trial's build config")
    best.add_argument("job")
    best.add_argument("--out", required=True, help="a .toml, .json or .yaml file to write")
    add_common(best)
    best.set_defaults(func=cmd_best)
    clone = tsub.add_parser("clone", help="a new job's config from a job, with changed values")
    clone.add_argument("job")
    clone.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a changed value: max_trials=20, ranges[0].high=0.4, ranges[hp.lr].low=1e-3 "
        "(VALUE is JSON, else text)",
    )
    clone.add_argument("--out", help="write the config here (default: print it as TOML)")
    add_common(clone)
    clone.set_defaults(func=cmd_clone)
