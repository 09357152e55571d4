"""A tuning job run to its end: an Optuna study of the job's name, trials asked of its sampler
(at most ``max_parallel`` at once), each built and run (``synth.tune.trial``), told back, until
a completion criterion holds.

Resume: running the same job again continues its study: finished trials are kept and count, and
a trial left ``RUNNING`` by a process that died (kill -9) is marked failed and asked again with
the same values. Warm start: the parents' completed trials whose values lie inside this job's
ranges are added to the study (history for the sampler) once, and count toward ``max_trials``.

``launch(fn, number)`` runs trial ``number``'s work somewhere (a thread by default; a Prefect
task in the ``tune`` flow); the study is only touched here, one thread at a time.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.errors import ConfigError
from synth.hashing import canonical_json
from synth.tune import space
from synth.tune.config import MAX_PARENTS, TuneConfig
from synth.tune.storage import StudyLock, job_dir, job_lock, open_storage
from synth.tune.study import (
    best,
    counted,
    job_config,
    load_study,
    max_trials,
    state,
)
from synth.tune.trial import TrialOutcome, run_trial, trigger_text

Launch = Callable[[Callable[[], None], int], Any]
_RULES = {"auto": "the median rule", "hyperband": "hyperband"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def make_sampler(cfg: TuneConfig, offset: int = 0) -> Any:
    """The strategy's sampler, seeded by the job's seed plus ``offset`` (the trials the study
    holds already: a resumed job draws new values, not the first session's again)."""
    import optuna

    seed = (cfg.seed + offset) % 2**32
    if cfg.strategy == "grid":

        class Grid(optuna.samplers.GridSampler):
            def after_trial(self, *args: Any, **kwargs: Any) -> None:
                """Nothing: Optuna's stops an ``optimize`` loop once the grid is spent (and
                fails outside one); the job's own budget stops it (``max_trials``)."""

        return Grid(space.grid(cfg), seed=seed)
    if cfg.strategy == "bayesian":
        startup = max(2, min(10, max_trials(cfg) // 3))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    return optuna.samplers.RandomSampler(seed=seed)  # random; hyperband samples at random


def make_pruner(cfg: TuneConfig) -> Any:
    import optuna

    if cfg.strategy == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto")
    if cfg.early_stopping == "auto":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def _compared(data: dict[str, Any]) -> str:
    return canonical_json({k: v for k, v in data.items() if k != "warm_start"})


def _open_job(cfg: TuneConfig, data: dict[str, Any], storage: Any) -> Any:
    import optuna

    job = data["name"]
    direction = cfg.objective.direction
    study = optuna.create_study(
        study_name=job,
        storage=storage,
        direction=direction,
        sampler=make_sampler(cfg),
        pruner=make_pruner(cfg),
        load_if_exists=True,
    )
    stored = study.user_attrs.get("config")
    if stored is None:
        study.set_user_attr("config", data)
        study.set_user_attr("created", _now())
        study.set_user_attr("runtime_s", 0.0)
    else:
        study.sampler = make_sampler(cfg, len(study.get_trials(deepcopy=False)))
    if stored is not None and _compared(stored) != _compared(data):
        changed = sorted(
            k for k in set(stored) | set(data) if k != "warm_start" and stored.get(k) != data.get(k)
        )
        raise ConfigError(
            f"tuning job '{job}' exists with another config (changed: {', '.join(changed)}); "
            f"give this one another name, or refine it with `synth tune clone {job} --set ...`"
        )
    return study


def _retry_stale(study: Any) -> list[int]:
    """Trials left running by a process that died: marked failed and asked again."""
    from optuna.trial import TrialState

    retried = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        _retry(study, t._trial_id, t.number, t.params, "its process ended while it ran (killed?)")
        retried.append(t.number)
    return retried


def _end_orphan_runs(home: str | Path | None, job: str) -> list[str]:
    """Runs of this job's trials still recorded as running while no trial runs (the job's lock
    is held): their job's process ended under them. Recorded as failed; their ids."""
    from synth.catalog import open_catalog
    from synth.errors import NoCatalog

    try:
        catalog = open_catalog(home, create=False)
    except NoCatalog:
        return []
    ended = []
    try:
        for r in catalog.list_runs():
            t = r.trigger
            if r.status == "running" and t.get("type") == "tune" and t.get("job") == job:
                r.status, r.ended = "failed", _now()
                r.reason = f"its tuning job's process ended while trial {t.get('trial')} ran"
                catalog.add_run(r)
                ended.append(r.id)
    finally:
        catalog.close()
    return ended


def _retry(study: Any, trial_id: int, number: int, params: dict[str, Any], why: str) -> None:
    """Mark a running trial failed (not counted) and queue its values to be run again."""
    from optuna.trial import TrialState

    storage = study._storage
    storage.set_trial_user_attr(trial_id, "retried", True)
    storage.set_trial_user_attr(trial_id, "reason", f"{why}; retried")
    storage.set_trial_state_values(trial_id, TrialState.FAIL)
    if params:
        study.enqueue_trial(params, user_attrs={"retry_of": number})


# -- warm start ----------------------------------------------------------------------------------
def _same_data(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("build", "training", "objective")
    return all(canonical_json(a.get(k)) == canonical_json(b.get(k)) for k in keys)


def warm_start(
    study: Any, cfg: TuneConfig, data: dict[str, Any], parents: list[str], storage: Any
) -> list[dict[str, Any]]:
    """Add the parents' completed trials inside this job's ranges to ``study`` (once);
    returns what each parent gave: ``identical`` data (the same build, command and objective)
    or ``transfer``, its trials added and left out."""
    import optuna

    if "warm_start" in study.user_attrs:
        return list(study.user_attrs["warm_start"])
    if len(parents) > MAX_PARENTS:
        raise ConfigError(f"--warm-start: at most {MAX_PARENTS} parent jobs, got {len(parents)}")
    job = data["name"]
    ranges = {space.param_name(r): r for r in cfg.ranges}
    dists = space.distributions(cfg)
    summary = []
    for parent in parents:
        if parent == job:
            raise ConfigError(f"--warm-start {parent}: a job cannot warm-start from itself")
        pstudy = load_study(None, parent, storage)
        pcfg, pdata = job_config(pstudy)
        if pcfg.objective.direction != cfg.objective.direction:
            raise ConfigError(
                f"--warm-start {parent}: it {pcfg.objective.direction}s, this job "
                f"{cfg.objective.direction}s"
            )
        if pcfg.objective.metric != cfg.objective.metric:
            raise ConfigError(
                f"--warm-start {parent}: its objective is {pcfg.objective.metric}, this job's "
                f"{cfg.objective.metric}"
            )
        mode = "identical" if _same_data(pdata, data) else "transfer"
        added = skipped = 0
        for t in pstudy.get_trials(deepcopy=False):
            if state(t) != "COMPLETE" or t.value is None:
                continue
            params = {n: v for n, v in t.params.items() if n in ranges}
            if not params or not all(space.inside(ranges[n], v) for n, v in params.items()):
                skipped += 1
                continue
            attrs = {
                k: t.user_attrs[k]
                for k in ("dataset_id", "run_id", "values", "total_s")
                if k in t.user_attrs
            }
            attrs |= {"warm_start": parent, "parent_trial": t.number}
            study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions={n: dists[n] for n in params},
                    value=t.value,
                    user_attrs=attrs,
                )
            )
            added += 1
        summary.append({"job": parent, "mode": mode, "trials": added, "left_out": skipped})
    study.set_user_attr("warm_start", summary)
    return summary


# -- completion ----------------------------------------------------------------------------------
def stop_reason(cfg: TuneConfig, trials: list[Any], runtime_s: float) -> str | None:
    """Why the job stops now, or None to go on."""
    done = counted(trials)
    top = best(trials, cfg.objective.direction)
    target = cfg.completion.target
    if top is not None and target is not None:
        reached = (
            top.value <= target if cfg.objective.direction == "minimize" else (top.value >= target)
        )
        if reached:
            return (
                f"the objective reached its target {target:g} "
                f"(trial {top.number}: {cfg.objective.metric}={top.value:g})"
            )
    n = cfg.completion.no_improvement_trials
    if top is not None and n is not None:
        after = [t for t in done if t.number > top.number]
        if len(after) >= n:
            return f"the best (trial {top.number}) did not improve for {n} trials"
    budget = max_trials(cfg)
    if len(done) >= budget:
        if cfg.strategy == "grid" and budget == space.grid_size(cfg):
            return f"every point of the grid ({budget}) was tried"
        return f"max_trials ({budget}) reached"
    if cfg.max_runtime_s is not None and runtime_s >= cfg.max_runtime_s:
        return f"max_runtime_s ({cfg.max_runtime_s:g} s) reached"
    return None


# -- the job -------------------------------------------------------------------------------------
def _thread(fn: Callable[[], None], number: int) -> None:
    threading.Thread(target=fn, daemon=True).start()


class _Job:
    def __init__(self, cfg: TuneConfig, data: dict[str, Any], home: str | Path | None) -> None:
        self.cfg, self.data, self.home = cfg, data, home
        self.job = data["name"]
        self.lock = StudyLock()
        self.rule = _RULES.get(cfg.strategy, _RULES["auto"])
        self.prunes = cfg.strategy == "hyperband" or cfg.early_stopping == "auto"
        self.spec: dict[str, Any] = {}
        self.study: Any = None
        self.stopping = threading.Event()  # set on Ctrl-C: a command printing steps is stopped

    def ask(self) -> Any:
        with self.lock:
            trial = self.study.ask(space.distributions(self.cfg))
            trial.set_user_attr("trigger", trigger_text(self.job, trial.number))
            trial.set_user_attr("started", _now())
            return trial

    def work(self, trial: Any, done: queue.Queue[tuple[Any, Any]]) -> Callable[[], None]:
        values = space.values(self.cfg, trial.params)
        steps: set[int] = set()

        def report(value: float, step: int) -> str | None:
            if self.stopping.is_set():
                return "interrupted (Ctrl-C)"
            with self.lock:
                if step in steps:  # one value per step: the first reported
                    return None
                steps.add(step)
                trial.report(value, step)
                if self.prunes and trial.should_prune():
                    return f"pruned by {self.rule}"
            return None

        def fn() -> None:
            try:
                outcome: Any = run_trial(
                    self.cfg, self.job, trial.number, values, self.spec, self.home, report
                )
            except BaseException as err:  # handed to the job's thread
                outcome = err
            done.put((trial, outcome))

        # For a launcher that runs the trial elsewhere (synth.tune.remote): what to run, and
        # where its outcome goes.
        fn.trial = trial  # type: ignore[attr-defined]
        fn.values = values  # type: ignore[attr-defined]
        fn.deliver = lambda outcome: done.put((trial, outcome))  # type: ignore[attr-defined]
        return fn

    def tell(self, trial: Any, outcome: TrialOutcome | BaseException) -> None:
        from optuna.trial import TrialState

        with self.lock:
            if self.stopping.is_set():
                return
            if isinstance(outcome, BaseException):
                trial.set_user_attr("reason", f"synth: {outcome}")
                self.study.tell(trial, state=TrialState.FAIL)
                return
            values = space.values(self.cfg, trial.params)
            trial.set_user_attr("values", values)
            for key, value in outcome.to_json().items():
                if key not in ("value", "started"):
                    trial.set_user_attr(key, value)
            if outcome.state == "complete":
                self.study.tell(trial, outcome.value)
            elif outcome.state == "pruned":
                self.study.tell(trial, state=TrialState.PRUNED)
            else:
                self.study.tell(trial, state=TrialState.FAIL)


def run_job(
    cfg: TuneConfig,
    data: dict[str, Any],
    home: str | Path | None = None,
    parents: list[str] | None = None,
    launch: Launch | None = None,
    on_trial: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the job to its end; its summary (``synth.tune.report.summary``)."""
    from synth.tune.report import draw, summary

    launch = launch or _thread
    job = data["name"]
    parents = list(dict.fromkeys((parents or []) + list(cfg.warm_start)))
    run = _Job(cfg, data, home)
    run.spec = space.check_fields(cfg, f"tuning job '{job}'")
    storage = open_storage(home)
    if len(parents) > MAX_PARENTS:
        raise ConfigError(f"--warm-start: at most {MAX_PARENTS} parent jobs, got {len(parents)}")
    for parent in parents:  # an unknown parent is an error before this job is recorded
        if parent == job:
            raise ConfigError(f"--warm-start {parent}: a job cannot warm-start from itself")
        load_study(home, parent, storage)
    with job_lock(home, job):
        study = run.study = _open_job(cfg, data, storage)
        retried = _retry_stale(study)
        _end_orphan_runs(home, job)
        if parents:
            warm_start(study, cfg, data, parents, storage)
        study.set_user_attr("stopped", None)
        t0 = time.monotonic()
        before = float(study.user_attrs.get("runtime_s") or 0.0)
        done: queue.Queue[tuple[Any, Any]] = queue.Queue()
        active: dict[int, Any] = {}  # trials running, by number
        reason: str | None = None
        try:
            while True:
                trials = study.get_trials(deepcopy=False)
                runtime = before + time.monotonic() - t0
                reason = stop_reason(cfg, trials, runtime)
                budget = max_trials(cfg) - len(counted(trials)) - len(active)
                if reason is None and budget > 0 and len(active) < cfg.max_parallel:
                    trial = run.ask()
                    active[trial.number] = trial
                    launch(run.work(trial, done), trial.number)
                    continue
                if not active:
                    if reason is None:  # nothing left to run, nothing running: the budget is out
                        reason = stop_reason(cfg, study.get_trials(deepcopy=False), runtime)
                    break
                trial, outcome = done.get()
                run.tell(trial, outcome)
                del active[trial.number]
                study.set_user_attr("runtime_s", before + time.monotonic() - t0)
                if on_trial is not None:
                    on_trial(study.get_trials(deepcopy=False)[trial.number])
        except KeyboardInterrupt:
            # Ctrl-C: the trials running are failed and queued again now, so the job's record
            # is true at once; the same command resumes the job.
            run.stopping.set()
            with run.lock:
                for t in active.values():
                    _retry(study, t._trial_id, t.number, t.params, "interrupted (Ctrl-C)")
                study.set_user_attr("stopped", "interrupted (Ctrl-C): the same command resumes it")
            raise
        finally:
            study.set_user_attr("runtime_s", before + time.monotonic() - t0)
        study.set_user_attr("stopped", reason or "the budget was spent")
        study.set_user_attr("ended", _now())
        out = summary(study)
        out["retried"] = retried
        folder = job_dir(home, job)
        (folder / "config.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        out["picture"] = str(draw(study, folder))
        return out
