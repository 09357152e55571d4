"""The dataset jobs (ocr, speech, expand, diagnose-and-expand), from their parameters to a build,
and the one place that decides where a build runs. Imports no Prefect.

- With a Prefect server configured (``PREFECT_API_URL`` in the environment, a ``.env`` or
  ``prefect.toml``/``pyproject.toml`` in the working directory, or the active Prefect profile),
  a build is a flow run on that server (``flows.ocr``, ``flows.speech``, ``flows.expand``,
  ``flows.diagnose``), as a scheduled or triggered one is.
- Without one, it runs here through the core's build sequence with the local process pool
  (``synth.engine.build.run_build`` and ``PoolRunner``): no server is started and Prefect is
  not even imported, so a small build takes a second or two instead of the ~20 s a temporary
  Prefect server takes to start.

Either way the plan, and so the fingerprint, the files and the dataset id, are the same; the
dataset's ``run`` facts say how it ran (``orchestrator``: ``local`` or ``prefect``, with the
flow-run id on a server).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flows.plans import (
    JOBS,
    build_here,
    diagnosis_outcome,
    expand_plan,
    ocr_plan,
    quiet_prefect,
    require_reachable_server,
    server_configured,
    speech_plan,
)
from synth.engine.generator import Generator
from synth.engine.plan import BuildPlan, generator_offered
from synth.errors import SynthError


def _plan_of(job: str, params: dict[str, Any], spec: Any, gen: Any) -> tuple[BuildPlan, Generator]:
    if job == "ocr":
        return ocr_plan(**params, spec=spec, generator=gen)
    if job == "speech":
        return speech_plan(**params, spec=spec, generator=gen)
    if job == "expand":
        return expand_plan(**params)
    raise SynthError(f"job '{job}': expected one of {', '.join(JOBS)}")


def _flow_of(job: str) -> Any:
    if job == "ocr":
        from flows.ocr import ocr_dataset

        return ocr_dataset
    if job == "speech":
        from flows.speech import speech_dataset

        return speech_dataset
    from flows.expand import expand_dataset

    return expand_dataset


@contextlib.contextmanager
def _offered(job: str, spec: dict[str, Any] | None, gen: Generator | None) -> Iterator[None]:
    if spec is None or gen is None:
        yield
        return
    with generator_offered(job, spec, gen):
        yield


def run_dataset_job(
    job: str,
    params: dict[str, Any],
    *,
    workers: int = 1,
    home: str | None = None,
    runner: str = "process",
    dask_address: str | None = None,
    verbose: bool = False,
    spec: dict[str, Any] | None = None,
    generator: Generator | None = None,
) -> dict[str, Any]:
    """Run dataset job ``job`` (``ocr``, ``speech`` or ``expand``) with the flow's ``params``
    (``count``, ``seed``, ``preset``, ``config``, ``name``; ``dataset_id`` and ``count`` for
    expand): as a flow run when a Prefect server is configured or ``runner`` is ``dask``
    (which needs one), else here without Prefect.

    ``spec`` and ``generator``, when the caller has them, are the validated spec of ``params``
    and a generator built from it (its inputs checked): the local path uses them as they are,
    and a flow run in this process takes the generator instead of loading every input again.
    """
    if runner == "dask" or server_configured():
        require_reachable_server()
        from flows.build import with_runner

        quiet_prefect(verbose)  # after Prefect's import, which sets up its logging
        flow = with_runner(_flow_of(job), runner, workers, dask_address)
        with _offered(job, spec, generator):
            return flow(**params, workers=workers, home=home)
    plan, gen = _plan_of(job, {**params, "home": home}, spec, generator)
    return build_here(plan, gen, workers)


# -- diagnose, then expand -------------------------------------------------------------------------
def _expand_here(
    dataset_id: str, count: int, workers: int, home: str | None, trigger: dict[str, Any]
) -> dict[str, Any]:
    plan, gen = expand_plan(dataset_id, count, home=home, trigger=trigger)
    return build_here(plan, gen, workers)


def run_diagnosis_job(verbose: bool = False, **params: Any) -> dict[str, Any]:
    """The ``diagnose`` job with ``params`` of the ``diagnose`` flow: a flow run on the Prefect
    server when one is configured (an expansion is its sub-flow run, an event goes to the
    server), else here without Prefect (an expansion is built by the local process pool)."""
    if server_configured():
        require_reachable_server()
        from flows.diagnose import diagnose

        quiet_prefect(verbose)
        return diagnose(**params)
    return diagnosis_outcome(**params, expand=_expand_here, emit=None)
