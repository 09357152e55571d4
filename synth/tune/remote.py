"""A trial run in another process (a Dask worker): it opens the job's study itself, reports its
intermediate values and asks the pruner there, and returns its outcome as JSON. The worker must
reach the data root (a shared filesystem) or the PostgreSQL catalog."""

from __future__ import annotations

from typing import Any

from synth.tune.config import parse_config
from synth.tune.job import make_pruner
from synth.tune.space import base_spec
from synth.tune.storage import open_storage
from synth.tune.trial import run_trial


def run_remote(
    config: dict[str, Any],
    job: str,
    number: int,
    trial_id: int,
    values: dict[str, Any],
    home: str | None,
) -> dict[str, Any]:
    """Run trial ``number`` (Optuna trial id ``trial_id``) of job ``job`` with ``values``;
    its outcome (``TrialOutcome.to_json``)."""
    import optuna

    cfg = parse_config(config, f"tuning job '{job}'")
    study = optuna.load_study(study_name=job, storage=open_storage(home), pruner=make_pruner(cfg))
    trial = optuna.trial.Trial(study, trial_id)
    prunes = cfg.strategy == "hyperband" or cfg.early_stopping == "auto"
    rule = "hyperband" if cfg.strategy == "hyperband" else "the median rule"
    steps: set[int] = set()

    def report(value: float, step: int) -> str | None:
        if step in steps:
            return None
        steps.add(step)
        trial.report(value, step)
        if prunes and trial.should_prune():
            return f"pruned by {rule}"
        return None

    return run_trial(cfg, job, number, values, base_spec(cfg), home or "", report).to_json()
