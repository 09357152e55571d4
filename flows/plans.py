"""The dataset jobs' parts that need no Prefect and no flow: whether a Prefect server is
configured (read without importing Prefect), the plans of the ocr, speech and expand jobs, a
build here with the local process pool, and the diagnosis job's outcome. ``flows.jobs``
decides where a build runs; the flows (``flows.ocr``, ``flows.speech``, ``flows.expand``,
``flows.diagnose``) make their plans here too, so the plan, and so the fingerprint, the files
and the dataset id, are the same whichever runs it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from synth.catalog import DatasetRecord, open_catalog
from synth.catalog.base import data_home
from synth.config import validate
from synth.diagnose import (
    Diagnosis,
    ExpansionPolicy,
    Thresholds,
    error_rates,
    expansion_count,
    no_expansion_reason,
)
from synth.diagnose import diagnose as diagnose_rates
from synth.engine.build import BuildResult, PoolRunner, local_run, prepare, run_build
from synth.engine.expand import prepare_expansion
from synth.engine.generator import Generator
from synth.engine.plan import BuildPlan
from synth.errors import SynthError

JOBS = ("ocr", "speech", "expand")
Via = Literal["auto", "local", "event"]


# -- is a Prefect server configured? ---------------------------------------------------------------
def _toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file (quotes stripped, comments skipped)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return values
    for line in text.splitlines():
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _get(table: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(table, dict):
            return None
        table = table.get(key)  # type: ignore[assignment]
    return table


def _profiles_path(environ: dict[str, str], cwd: Path) -> Path:
    if environ.get("PREFECT_PROFILES_PATH"):
        return Path(environ["PREFECT_PROFILES_PATH"]).expanduser()
    for found in (
        _dotenv(cwd / ".env").get("PREFECT_PROFILES_PATH"),
        _get(_toml(cwd / "prefect.toml"), "profiles_path"),
        _get(_toml(cwd / "pyproject.toml"), "tool", "prefect", "profiles_path"),
    ):
        if isinstance(found, str) and found:
            return Path(found).expanduser()
    home = environ.get("PREFECT_HOME") or "~/.prefect"
    return Path(home).expanduser() / "profiles.toml"


def prefect_api_url(environ: dict[str, str] | None = None, cwd: Path | None = None) -> str | None:
    """The Prefect API URL that Prefect would use, read as Prefect's settings read it (the
    environment, then ``.env``, ``prefect.toml``, ``pyproject.toml``'s ``[tool.prefect]`` in
    the working directory, then the active profile of the profiles file, ``$PREFECT_PROFILE``
    or the file's ``active``), without importing Prefect (a few milliseconds, not a second)."""
    environ = dict(os.environ if environ is None else environ)
    cwd = Path.cwd() if cwd is None else cwd
    if "PREFECT_API_URL" in environ:
        return environ["PREFECT_API_URL"] or None
    for found in (
        _dotenv(cwd / ".env").get("PREFECT_API_URL"),
        _get(_toml(cwd / "prefect.toml"), "api", "url"),
        _get(_toml(cwd / "pyproject.toml"), "tool", "prefect", "api", "url"),
    ):
        if isinstance(found, str) and found:
            return found
    profiles = _toml(_profiles_path(environ, cwd))
    active = environ.get("PREFECT_PROFILE") or profiles.get("active")
    profile = _get(profiles, "profiles", str(active)) if active else None
    url = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return url if isinstance(url, str) and url else None


def server_configured() -> bool:
    """True when Prefect talks to a persistent server (``PREFECT_API_URL`` is set somewhere
    Prefect reads it, see ``prefect_api_url``)."""
    return prefect_api_url() is not None


def require_reachable_server(timeout_s: float = 10.0) -> None:
    """Before a flow run: the configured Prefect server answers its health check, else a
    one-line error naming the URL (a stale profile entry or a stopped server would otherwise
    end the build in Prefect's connection tracebacks). A few milliseconds, without Prefect."""
    import urllib.error
    import urllib.request

    url = prefect_api_url()
    if url is None:
        return
    health = url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout_s) as reply:  # noqa: S310
            if reply.status == 200:
                return
            problem = f"HTTP {reply.status}"
    except urllib.error.HTTPError as err:
        problem = f"HTTP {err.code}"
    except (OSError, ValueError) as err:
        problem = str(getattr(err, "reason", err))
    raise SynthError(
        f"PREFECT_API_URL={url}: the Prefect server does not answer ({problem}); start it "
        "(prefect server start), or unset PREFECT_API_URL (environment, .env, prefect.toml or "
        "the active Prefect profile) to build here without Prefect"
    )


def quiet_prefect(verbose: bool) -> None:
    """Prefect's own logs off the terminal, unless ``verbose`` (the build's errors reach the
    command either way)."""
    if not verbose:
        for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.engine"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        logging.getLogger("distributed").setLevel(logging.ERROR)  # the Dask runner's cluster


# -- from parameters to a plan (shared by the flows and the local path) ----------------------------
def ocr_plan(
    count: int,
    seed: int = 0,
    preset: str = "default",
    config: dict[str, Any] | None = None,
    name: str | None = None,
    home: str | None = None,
    trigger: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
    generator: Generator | None = None,
) -> tuple[BuildPlan, Generator]:
    """The plan of an OCR build: ``spec`` when the caller validated it already, else the
    preset with ``config`` on top."""
    if spec is None:
        from synth.ocr.spec import build_spec

        spec = build_spec(preset, config).model_dump(mode="json")
    return prepare(
        "ocr",
        spec,
        seed=seed,
        count=count,
        name=name or f"ocr-{preset}",
        home=home,
        trigger=trigger,
        generator=generator,
    )


def speech_spec(
    config: dict[str, Any] | None, source: str = "config", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Validate a speech spec dict strictly; returns it as plain JSON."""
    from synth.speech.spec import build_spec

    return build_spec(config, source, labels).model_dump(mode="json")


def speech_plan(
    count: int,
    seed: int = 0,
    config: dict[str, Any] | None = None,
    name: str | None = None,
    home: str | None = None,
    trigger: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
    generator: Generator | None = None,
) -> tuple[BuildPlan, Generator]:
    """The plan of a noisy-speech build (``spec`` when validated already, else ``config``)."""
    return prepare(
        "speech",
        spec if spec is not None else speech_spec(config),
        seed=seed,
        count=count,
        name=name or "speech",
        home=home,
        trigger=trigger,
        generator=generator,
    )


def find_parent(dataset_id: str, home: str | None) -> DatasetRecord:
    catalog = open_catalog(home)
    try:
        return catalog.get(dataset_id)
    finally:
        catalog.close()


def expand_plan(
    dataset_id: str,
    count: int,
    home: str | None = None,
    trigger: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[BuildPlan, Generator]:
    """The plan of dataset ``dataset_id`` (an id or unique prefix) grown by ``count``;
    ``config`` may give new locations of the parent's inputs (``synth.engine.expand_config``)."""
    return prepare_expansion(
        find_parent(dataset_id, home), count, home=home, trigger=trigger, config=config
    )


# -- where a build runs ----------------------------------------------------------------------------
def build_result(plan: BuildPlan, result: BuildResult) -> dict[str, Any]:
    """What a build returns, flow run or not: the record, whether it is new, this build's own
    folder and fingerprint, and the shards rendered and found done."""
    return {
        "record": result.record.to_json(),
        "created": result.created,
        "built": {"path": str(plan.out_dir), "fingerprint": plan.fingerprint},
        "rendered_shards": result.rendered_shards,
        "skipped_shards": result.skipped_shards,
    }


def build_here(plan: BuildPlan, gen: Generator, workers: int) -> dict[str, Any]:
    """Build ``plan`` in this process and its local worker pool, without Prefect; a progress bar
    reads the pool's counter (``flows.runtime.active_pool``)."""
    from flows.runtime import set_active_pool

    catalog = open_catalog(plan.home)
    try:
        result = run_build(
            plan, gen, catalog, PoolRunner(workers, on_pool=set_active_pool), local_run(workers)
        )
    finally:
        set_active_pool(None)
        catalog.close()
    return build_result(plan, result)


# -- diagnose, then expand -------------------------------------------------------------------------
def root_tag(home: str | None) -> str:
    """8 hex characters of the SHA-256 of the data root's absolute path: the same for every
    ``synth serve`` and ``synth diagnose`` of one root, different for another root (1 in 4
    billion to collide). Deployment names and high-variance events carry it."""
    return hashlib.sha256(str(data_home(home)).encode("utf-8")).hexdigest()[:8]


def resolve_via(via: str) -> Literal["local", "event"]:
    """``auto`` is ``event`` when a Prefect server is configured, else ``local``."""
    if via == "auto":
        return "event" if server_configured() else "local"
    if via == "local":
        return "local"
    if via == "event":
        if not server_configured():
            raise SynthError(
                "via=event needs a Prefect server: run `prefect server start` and set "
                "PREFECT_API_URL=http://127.0.0.1:4200/api"
            )
        return "event"
    raise SynthError(f"via='{via}': expected auto, local or event")


def expansion_size(
    diag: Diagnosis, parent: DatasetRecord, count: int | None, policy: ExpansionPolicy | None
) -> tuple[int, bool]:
    """``count`` when given, else the size derived from the variance gap (see
    ``synth.diagnose.expansion_count``); the flag says whether it was derived."""
    if count is not None:
        if count < 1:
            raise SynthError(f"count: must be >= 1, got {count}")
        return count, False
    return expansion_count(diag, parent.count, policy), True


EVENT = "synth.diagnosis.high-variance"


def diagnosis_trigger(
    diag: Diagnosis, model: str, count: int, derived: bool, event_id: str | None = None
) -> dict[str, Any]:
    """The trigger recorded in the lineage of a version a diagnosis asked for."""
    trigger: dict[str, Any] = {
        "type": "diagnosis",
        "model": model,
        "diagnosis": diag.record(),
        "count": count,
        "count_derived": derived,
    }
    if event_id:
        trigger |= {"event": EVENT, "event_id": event_id}
    return trigger


Expand = Callable[[str, int, int, str | None, dict[str, Any]], dict[str, Any]]
Emit = Callable[[Diagnosis, str, str, int, bool, str | None], dict[str, Any]]


def diagnosis_outcome(
    *,
    human_error: float,
    train_error: float,
    val_error: float,
    test_error: float | None,
    thresholds: dict[str, Any] | None,
    expansion: dict[str, Any] | None,
    model: str,
    dataset_id: str | None,
    count: int | None,
    workers: int,
    home: str | None,
    via: str,
    expand: Expand,
    emit: Emit | None,
) -> dict[str, Any]:
    """The ``diagnose`` job: the diagnosis of the error rates and, on high variance, what was
    done about ``dataset_id``: ``expand(dataset_id, count, workers, home, trigger)`` builds the
    new version, ``emit`` sends the high-variance event (``via`` event). See
    ``flows.diagnose.diagnose`` for the parameters."""
    rates = error_rates(
        {
            "human_error": human_error,
            "train_error": train_error,
            "val_error": val_error,
            "test_error": test_error,
        }
    )
    diag = diagnose_rates(rates, validate(Thresholds, thresholds or {}, "thresholds"))
    policy = validate(ExpansionPolicy, expansion or {}, "expansion")
    out: dict[str, Any] = {
        "model": model,
        "diagnosis": diag.to_json(),
        "dataset_id": dataset_id,
        "action": "none",
        "reason": None,
        "expansion": None,
        "event": None,
    }
    if dataset_id is None:
        out["reason"] = "no dataset to expand was named"
        return out
    if not diag.high_variance:
        out["reason"] = no_expansion_reason(diag)
        return out
    mode = resolve_via(via)
    parent = find_parent(dataset_id, home)
    n, derived = expansion_size(diag, parent, count, policy)
    out["dataset_id"] = parent.id
    if mode == "event":
        if emit is None:
            raise SynthError("via=event needs a Prefect server")
        out["event"] = emit(diag, model, parent.id, n, derived, home) | {"count": n}
        out["action"] = "event"
        out["reason"] = "high variance: a served on-high-variance deployment expands the dataset"
    else:
        trigger = diagnosis_trigger(diag, model, n, derived)
        result = expand(parent.id, n, workers, home, trigger)
        out["expansion"] = {**result, "trigger": trigger, "parent_id": parent.id}
        out["action"] = "expanded"
        out["reason"] = "high variance"
    return out
