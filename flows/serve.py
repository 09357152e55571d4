"""``synth serve``: synth's flows as Prefect deployments, served by one long-running process.

Served deployments (``flow/deployment-TAG``, where TAG is ``root_tag`` of the data root):

- ``ocr_dataset/ocr-TAG``, ``speech_dataset/speech-TAG`` (when ``flows.speech`` exists) and
  ``expand_dataset/expand-TAG`` and ``improve/improve-TAG`` (the closed loop of
  ``synth improve``): run on demand (``prefect deployment run``, the UI);
- ``expand_on_diagnosis/on-high-variance-TAG``: triggered by ``synth.diagnosis.high-variance``
  events (see ``flows.diagnose``);
- ``scheduled_batch/<name>-TAG``: one per ``[[schedules]]`` entry of the config, on its cron.

Every deployment gets the data root as its ``home`` parameter, so the served flows write where
``synth serve --home`` (or ``$SYNTH_HOME``) says; the tag in its name keeps the deployments of
two ``synth serve`` processes with different data roots apart on one Prefect server. Scheduling
and triggers need a persistent Prefect server (``prefect server start`` and ``PREFECT_API_URL``);
no work pool or worker is needed.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import urllib.request
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

from prefect import Flow, flow
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType
from pydantic import Field, field_validator, model_validator

from flows.diagnose import expand_on_diagnosis, high_variance_trigger
from flows.expand import expand_dataset
from flows.improve import improve_flow
from flows.ocr import ocr_dataset
from flows.plans import root_tag
from synth.catalog import DatasetRecord, open_catalog
from synth.config import StrictModel, validate
from synth.errors import ConfigError, NotFound, SynthError

JOBS = ("ocr", "speech", "expand", "tune")
RESERVED = ("home", "trigger")  # set by synth serve, never by a schedule's parameters


class ExpandParameters(StrictModel):
    """Parameters of an ``expand`` schedule. ``dataset`` is an id, id prefix or name; each run
    expands the newest version descended from it (for a name: the newest version of that name),
    so a nightly schedule keeps growing the dataset instead of rebuilding one version."""

    dataset: str = Field(min_length=1)
    count: int = Field(ge=1)
    workers: int = Field(1, ge=1)


class Schedule(StrictModel):
    """One ``[[schedules]]`` entry: run ``flow`` with ``parameters`` on ``cron``.

    Cron times are UTC unless ``timezone`` (IANA, e.g. ``Europe/Berlin``) is given. An ``ocr`` or
    ``speech`` schedule without a ``seed`` parameter draws each run's seed from its scheduled time
    (``YYYYMMDDHHMM``, UTC): every run makes a fresh dataset, and a retried run resumes the same
    one.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    cron: str
    flow: Literal["ocr", "speech", "expand", "tune"]  # tune: parameters.config is a job file
    parameters: dict[str, Any] = Field(default_factory=dict)
    timezone: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            Cron(value)
        except ValueError as err:
            raise ValueError(f"not a valid cron expression ({err})") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError("not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return value


class TriggerSettings(StrictModel):
    """The ``[high_variance]`` table: serve the on-high-variance deployment, and with how many
    worker processes its expansions render."""

    enabled: bool = True
    workers: int = Field(1, ge=1)


class ServeConfig(StrictModel):
    """The ``synth serve --config`` file."""

    schedules: list[Schedule] = Field(default_factory=list)
    high_variance: TriggerSettings = TriggerSettings()
    limit: int | None = Field(None, ge=1)  # flow runs at the same time; None = no limit

    @model_validator(mode="after")
    def _unique_names(self) -> ServeConfig:
        seen: set[str] = set()
        for s in self.schedules:
            if s.name in seen:
                raise ValueError(f"two schedules are named '{s.name}'; names must be unique")
            seen.add(s.name)
        return self


def speech_flow() -> Flow | None:
    """``flows.speech.speech_dataset``, or None while that module does not exist. An existing
    module that fails to import is an error, not a silent skip."""
    if importlib.util.find_spec("flows.speech") is None:
        return None
    module = importlib.import_module("flows.speech")
    return getattr(module, "speech_dataset", None)


def job_flow(job: str) -> Flow:
    if job == "ocr":
        return ocr_dataset
    if job == "expand":
        return expand_dataset
    if job == "speech":
        fn = speech_flow()
        if fn is None:
            raise ConfigError("flow 'speech': flows.speech (speech_dataset) is not available")
        return fn
    if job == "tune":
        from flows.tune import tune_flow

        return tune_flow
    raise ConfigError(f"flow '{job}': expected one of {', '.join(JOBS)}")


def _signature(fn: Flow) -> inspect.Signature:
    return inspect.signature(fn.fn)


def check_parameters(entry: Schedule, where: str) -> None:
    """Fail at load, naming the key, when a schedule's parameters do not fit its flow."""
    if entry.flow == "expand":
        validate(ExpandParameters, entry.parameters, f"{where}.parameters")
        return
    fn = job_flow(entry.flow)
    sig = _signature(fn)
    allowed = [n for n in sig.parameters if n not in RESERVED]
    for key in entry.parameters:
        if key not in allowed:
            raise ConfigError(
                f"{where}.parameters: unknown key '{key}' for flow '{entry.flow}' "
                f"(expected {', '.join(allowed)})"
            )
    for name, p in sig.parameters.items():
        if (
            name in allowed
            and p.default is inspect.Parameter.empty
            and name not in entry.parameters
        ):
            raise ConfigError(f"{where}.parameters: '{name}' is required for flow '{entry.flow}'")
    try:
        values = fn.validate_parameters(dict(entry.parameters))
    except Exception as err:
        raise ConfigError(f"{where}.parameters: {err}".replace("\n", " ")) from None
    check_ranges(values, f"{where}.parameters")
    if entry.flow == "tune" and isinstance(entry.parameters.get("config"), str):
        from synth.tune.config import load_config

        load_config(entry.parameters["config"])  # a bad job file fails at load, naming its key
    if entry.flow == "ocr":
        from synth.ocr.spec import build_spec

        build_spec(
            entry.parameters.get("preset", "default"),
            entry.parameters.get("config"),
            source=f"{where}.parameters.config",
        )


_MAX_SEED = 2**63 - 1  # the catalog stores seeds as SQLite's signed 64-bit INTEGER


def check_ranges(values: dict[str, Any], where: str) -> None:
    """A build schedule's ``count``, ``workers`` and ``seed`` in their ranges, checked at load
    (``--dry-run`` included) rather than at the first run: the flows' types alone let
    ``count = -5`` through."""
    for key in ("count", "workers"):
        if key in values and values[key] < 1:
            raise ConfigError(f"{where}: {key}={values[key]}: must be >= 1")
    if "seed" in values and not 0 <= values["seed"] <= _MAX_SEED:
        raise ConfigError(f"{where}: seed={values['seed']}: must be from 0 to {_MAX_SEED}")


def load_serve_config(data: dict[str, Any], source: str = "config") -> ServeConfig:
    """A strict ``ServeConfig`` whose schedule parameters fit their flows."""
    config = validate(ServeConfig, data, source)
    for i, entry in enumerate(config.schedules):
        check_parameters(entry, f"{source}: schedules.{i} ('{entry.name}')")
    return config


# -- what scheduled runs do ---------------------------------------------------------------------
def schedule_seed(when: Any) -> int:
    """The seed of a scheduled run without one: its scheduled time as ``YYYYMMDDHHMM`` (UTC)."""
    return int(when.astimezone(UTC).strftime("%Y%m%d%H%M"))


def _descendants(records: list[DatasetRecord], root: str) -> list[DatasetRecord]:
    children: dict[str, list[DatasetRecord]] = defaultdict(list)
    by_id = {r.id: r for r in records}
    for r in records:
        if r.parent_id:
            children[r.parent_id].append(r)
    out, stack = [], [by_id[root]]
    while stack:
        rec = stack.pop()
        out.append(rec)
        stack.extend(children[rec.id])
    return out


def missing_dataset(ref: str, home: str | None) -> str | None:
    """Why an ``expand`` schedule's dataset ``ref`` (id, prefix or name) finds nothing in the
    catalog now, or None when it does. Looks only: a missing SQLite catalog is not created, and
    a catalog that cannot be opened is a reason, not an error (serving goes on)."""
    try:
        catalog = open_catalog(home, create=False)
    except NotFound as err:  # no catalog at all yet
        return str(err)
    except SynthError as err:  # e.g. a PostgreSQL catalog that is down: said, not fatal
        return f"dataset '{ref}' could not be looked up now ({err})"
    try:
        try:
            catalog.get(ref)
        except NotFound as err:
            if not catalog.list(name=ref):
                return f"{err}; no dataset is named '{ref}' either"
        return None
    finally:
        catalog.close()


def latest_version(ref: str, home: str | None) -> DatasetRecord:
    """The newest version descended from dataset ``ref`` (id or prefix), or the newest version
    named ``ref``: the most samples, then the latest created."""
    catalog = open_catalog(home)
    try:
        try:
            base = catalog.get(ref)
            pool = _descendants(catalog.list(), base.id)
        except NotFound as err:
            pool = catalog.list(name=ref)
            if not pool:
                raise NotFound(f"{err}; no dataset is named '{ref}' either") from None
        return max(pool, key=lambda r: (r.count, r.created, r.id))
    finally:
        catalog.close()


@flow(name="scheduled_batch", validate_parameters=True)
def scheduled_batch(
    schedule: str, job: str, parameters: dict[str, Any], home: str | None = None
) -> dict[str, Any]:
    """One scheduled run of ``job`` (ocr, speech or expand) for schedule ``schedule``; records
    ``{"type": "schedule", "schedule", "scheduled_time"}`` as the new version's trigger."""
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time
    trigger: dict[str, Any] = {
        "type": "schedule",
        "schedule": schedule,
        "scheduled_time": when.astimezone(UTC).isoformat(timespec="seconds"),
    }
    if job == "expand":
        p = validate(ExpandParameters, parameters, f"schedule '{schedule}' parameters")
        base = latest_version(p.dataset, home)
        return expand_dataset(
            dataset_id=base.id,
            count=p.count,
            workers=p.workers,
            home=home,
            trigger=trigger | {"dataset": p.dataset},
        )
    fn = job_flow(job)
    names = _signature(fn).parameters
    params = dict(parameters)
    if "seed" in names and "seed" not in params:
        params["seed"] = schedule_seed(when)
        trigger["seed_from"] = "scheduled_time"
    if "trigger" in names:
        params["trigger"] = trigger
    if "home" in names:
        params["home"] = home
    return fn(**params)


# -- the deployments ----------------------------------------------------------------------------
@dataclass
class Served:
    """A deployment to serve and how to show it."""

    deployment: Any  # prefect.deployments.runner.RunnerDeployment
    name: str  # flow/deployment
    schedule: str | None = None
    trigger: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schedule": self.schedule,
            "trigger": self.trigger,
            "parameters": self.parameters,
        }


def _home_parameters(fn: Flow, home: str) -> dict[str, Any]:
    return {"home": home} if "home" in _signature(fn).parameters else {}


def build_deployments(config: ServeConfig, home: str) -> tuple[list[Served], list[str]]:
    """The deployments ``synth serve`` serves, and notes on any it skipped. Each name ends in
    the data root's tag (``root_tag``)."""
    from flows.diagnose import EVENT

    module = {"entrypoint_type": EntrypointType.MODULE_PATH, "tags": ["synth"]}
    served: list[Served] = []
    notes: list[str] = []
    tag = root_tag(home)

    def add(fn: Flow, name: str, **kw: Any) -> Served:
        params = kw.pop("parameters", None) or _home_parameters(fn, home)
        name = f"{name}-{tag}"
        dep = fn.to_deployment(name=name, parameters=params, **module, **kw)
        item = Served(dep, f"{fn.name}/{name}", parameters=params)
        served.append(item)
        return item

    add(ocr_dataset, "ocr", description="OCR line images on demand")
    speech = speech_flow()
    if speech is None:
        notes.append("speech: flows.speech is not available yet; no speech deployment")
    else:
        add(speech, "speech", description="Noisy speech on demand")
    add(expand_dataset, "expand", description="Expand a dataset on demand")
    add(improve_flow, "improve", description="Train, diagnose and grow a dataset on demand")
    hv = config.high_variance
    if hv.enabled:
        item = add(
            expand_on_diagnosis,
            "on-high-variance",
            parameters={"home": home, "workers": hv.workers},
            triggers=[high_variance_trigger(home, hv.workers)],
            # trigger parameters are checked by the flow itself, which also parses JSON text
            enforce_parameter_schema=False,
            description=f"Expand the dataset a {EVENT} event names",
        )
        item.trigger = EVENT
    else:
        notes.append("high-variance trigger: disabled by the config")
    for entry in config.schedules:
        tz = f" ({entry.timezone})" if entry.timezone else " (UTC)"
        item = add(
            scheduled_batch,
            entry.name,
            parameters={
                "schedule": entry.name,
                "job": entry.flow,
                "parameters": entry.parameters,
                "home": home,
            },
            schedules=[Cron(entry.cron, timezone=entry.timezone)],
            description=f"{entry.flow} on cron '{entry.cron}'{tz}",
        )
        item.schedule = entry.cron + tz
        if entry.flow == "expand":
            # A dataset a schedule builds later is fine, a typo is not: say it now, not at 2 a.m.
            why = missing_dataset(str(entry.parameters.get("dataset", "")), home)
            if why:
                notes.append(f"schedule '{entry.name}': {why}; its runs fail until it is found")
    return served, notes


def check_server() -> str:
    """The configured Prefect API URL, after a health check; a one-line error otherwise."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise SynthError(
            "synth serve needs a Prefect server: run `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    health = url.rstrip("/") + "/health"
    if not health.startswith(("http://", "https://")):
        raise SynthError(f"PREFECT_API_URL={url}: expected an http(s) URL")
    try:
        with urllib.request.urlopen(health, timeout=10) as r:  # noqa: S310 (scheme checked above)
            if r.status != 200:
                raise OSError(f"HTTP {r.status}")
    except OSError as err:
        reason = getattr(err, "reason", None) or err
        raise SynthError(f"cannot reach the Prefect server at {url} ({reason})") from None
    return url


def serve_forever(served: list[Served], limit: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT; the runner then stops polling, cancels runs in flight and
    pauses the schedules (the next ``synth serve`` resumes them)."""
    from prefect import serve

    serve(*(s.deployment for s in served), print_starting_message=False, limit=limit)
