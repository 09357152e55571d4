"""A job's study as the other modules read it: its config, its budget, the trials that count,
and its best trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synth.errors import NotFound, SynthError
from synth.tune import space
from synth.tune.config import TuneConfig, parse_config
from synth.tune.storage import open_storage

FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def max_trials(cfg: TuneConfig) -> int:
    """The job's budget: ``max_trials`` (default 10), never more than a grid's points."""
    if cfg.strategy == "grid":
        size = space.grid_size(cfg)
        return min(cfg.max_trials or size, size)
    return cfg.max_trials or 10


def state(trial: Any) -> str:
    return trial.state.name


def counted(trials: list[Any]) -> list[Any]:
    """The finished trials that count toward the budget (a retried one does not: its retry
    does)."""
    return [t for t in trials if state(t) in FINISHED and not t.user_attrs.get("retried")]


def load_study(home: str | Path | None, job: str, storage: Any = None) -> Any:
    """The study of job ``job``; NotFound naming the job when there is none."""
    import optuna

    storage = storage or open_storage(home, create=False)
    if storage is None:
        raise NotFound(f"tuning job '{job}': no tuning jobs under this data root yet")
    try:
        return optuna.load_study(study_name=job, storage=storage)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage))
        raise NotFound(
            f"tuning job '{job}': not found (jobs: {', '.join(names) or 'none'})"
        ) from None


def job_config(study: Any) -> tuple[TuneConfig, dict[str, Any]]:
    data = study.user_attrs.get("config")
    if not isinstance(data, dict):
        raise SynthError(f"tuning job '{study.study_name}': its study holds no synth config")
    return parse_config(data, f"tuning job '{study.study_name}'"), data


def best(trials: list[Any], direction: str) -> Any:
    done = [t for t in trials if state(t) == "COMPLETE" and t.value is not None]
    if not done:
        return None
    pick = min if direction == "minimize" else max
    return pick(done, key=lambda t: t.value)
