"""Run a training command on catalog datasets and record the run in the catalog.

The run is recorded as ``running`` before its command starts and again when it ends: as
``succeeded`` only when the command exited 0 and every required metric was found, else as
``failed`` (or ``stopped``, when the caller's ``on_metric`` asked to stop it) with the reason.
Its output, stdout and stderr interleaved as written, is kept in ``<data root>/runs/<id>/log.txt``;
``SYNTH_METRICS_FILE`` points at ``<data root>/runs/<id>/metrics.json``.

Bad input (an unknown dataset or split, a command that does not exist, a placeholder with no
value, a bad metric definition) is a one-line error raised before anything is recorded.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.catalog import Catalog
from synth.catalog.runs import RunRecord
from synth.errors import ConfigError, SynthError
from synth.lineage.runs import emit
from synth.runs.metrics import (
    MetricsFileError,
    MetricsFileTail,
    Observation,
    OutputMetrics,
    parse_metrics_text,
)
from synth.runs.refs import resolve_ref
from synth.runs.spec import ERROR_METRICS, RunRequest, default_metrics

# on_metric(name, value, step) for every value as it arrives; a truthy return stops the run
# (a string return is the reason recorded).
OnMetric = Callable[[str, float, int | None], Any]

_PLACEHOLDER = re.compile(r"\{(path|val_path|test_path|id|run_id|hp\.[A-Za-z_][A-Za-z0-9_]*)\}")
_POLL_S = 0.2  # how often the metrics file is read while the command runs
_GRACE_S = 5.0  # between SIGTERM and SIGKILL when a run is stopped


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _executable(program: str, env: dict[str, str], cwd: str | None) -> None:
    """One line when ``program`` cannot be started: not on PATH, missing, or not executable."""
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(cwd or ".") / program
        if not path.is_file():
            raise ConfigError(f"command '{program}': no such file")
        if not os.access(path, os.X_OK):
            raise ConfigError(
                f"command '{program}': not executable (chmod +x, or run it with its interpreter)"
            )
    elif shutil.which(program, path=env.get("PATH")) is None:
        raise ConfigError(f"command '{program}': not found on PATH")


def _arguments(command: list[str], values: dict[str, str | None]) -> list[str]:
    """``command`` with its placeholders replaced; one with no value is a one-line error."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        value = values.get(key)
        if value is None:
            if key.startswith("hp."):
                raise ConfigError(f"command: {{{key}}} but no hyperparameter '{key[3:]}' is set")
            option = {"val_path": "--val", "test_path": "--test"}.get(key, key)
            raise ConfigError(f"command: {{{key}}} but no {option} dataset was given")
        return value

    return [_PLACEHOLDER.sub(one, arg) for arg in command]


class _Output:
    """The command's output lines, read on a thread so the caller can poll and time out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line)
        self.lines.put(None)


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM to the command's process group, SIGKILL after a grace period."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


class _Collector:
    """Values as they arrive: steps in order, final values, and the caller's stop request."""

    def __init__(self, on_metric: OnMetric | None) -> None:
        self.on_metric = on_metric
        self.steps: list[Observation] = []
        self.finals: dict[str, float] = {}
        self.stop_reason: str | None = None

    def add(self, found: list[Observation], final: bool = True) -> None:
        for obs in found:
            if final:
                self.finals[obs.name] = obs.value
            if obs.step is not None:
                self.steps.append(obs)
            if self.on_metric is not None and self.stop_reason is None:
                answer = self.on_metric(obs.name, obs.value, obs.step)
                if answer:
                    where = f" at step {obs.step}" if obs.step is not None else ""
                    text = answer if isinstance(answer, str) else "stopped by the caller"
                    self.stop_reason = f"{text} ({obs.name}={obs.value:g}{where})"


def execute_run(
    catalog: Catalog, home: str | Path, request: RunRequest, on_metric: OnMetric | None = None
) -> RunRecord:
    """Run ``request`` and record it; the finished run (its ``status`` says how it ended)."""
    request.check()
    home = Path(home)
    train = resolve_ref(catalog, request.train, label="dataset")
    val = resolve_ref(catalog, request.val, train.record, "--val") if request.val else None
    test = resolve_ref(catalog, request.test, train.record, "--test") if request.test else None

    run_id = uuid.uuid4().hex
    run_dir = home / "runs" / run_id
    log_path = run_dir / "log.txt"
    metrics_file = run_dir / "metrics.json"
    env = dict(os.environ)
    env.update(
        {
            "SYNTH_DATASET_PATH": str(train.path),
            "SYNTH_DATASET_ID": train.record.id,
            "SYNTH_METRICS_FILE": str(metrics_file),
            "SYNTH_RUN_ID": run_id,
            "PYTHONUNBUFFERED": "1",  # a Python training script's metric lines arrive as printed
        }
    )
    for key, ref in (("SYNTH_VAL_PATH", val), ("SYNTH_TEST_PATH", test)):
        env.pop(key, None)
        if ref is not None:
            env[key] = str(ref.path)
    for name, value in request.hp.items():
        env[f"SYNTH_HP_{name.upper()}"] = str(value)
    values: dict[str, str | None] = {
        "path": str(train.path),
        "val_path": str(val.path) if val else None,
        "test_path": str(test.path) if test else None,
        "id": train.record.id,
        "run_id": run_id,
        **{f"hp.{k}": str(v) for k, v in request.hp.items()},
    }
    argv = _arguments(request.command, values)
    _executable(argv[0], env, request.cwd)

    refs = [(train, "train"), (val, "validation"), (test, "test")]
    used = [(r, role) for r, role in refs if r is not None]
    for r, _ in used:  # a dataset the acting role may not use: one line, nothing recorded
        catalog.require(r.record.id, "use")
    inputs = [
        {**r.to_json(role), "path": str(r.path), "access": getattr(r.record, "access", "team")}
        for r, role in used
    ]
    run = RunRecord(
        id=run_id,
        model=request.model or Path(request.command[0]).name,
        command=list(request.command),
        status="running",
        started=_now(),
        log_path=str(log_path),
        trigger=dict(request.trigger),
        datasets=[r.to_json(role) for r, role in used],
        hp={k: str(v) for k, v in request.hp.items()},
    )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SynthError(f"{run_dir}: cannot create the run's folder ({err.strerror})") from None
    catalog.add_run(run)
    for r, role in used:
        catalog.audit("read", r.record.id, {"run": run_id, "role": role, "split": r.split})
    emit("START", run, inputs, home)
    try:
        _run_command(run, argv, env, request, metrics_file, log_path, on_metric)
    except BaseException as err:  # Ctrl-C or a crash here: the run is not left "running"
        run.status, run.ended = "failed", _now()
        run.reason = "interrupted" if isinstance(err, KeyboardInterrupt) else f"synth: {err}"
        catalog.add_run(run)
        emit("FAIL", run, inputs, home)
        raise
    catalog.add_run(run)
    emit("COMPLETE" if run.status == "succeeded" else "FAIL", run, inputs, home)
    return run


def _run_command(
    run: RunRecord,
    argv: list[str],
    env: dict[str, str],
    request: RunRequest,
    metrics_file: Path,
    log_path: Path,
    on_metric: OnMetric | None,
) -> None:
    """Run the command to its end, filling in ``run``'s status, metrics and reason."""
    explicit = bool(request.metrics)
    reader = OutputMetrics(request.metrics or default_metrics())
    tail = MetricsFileTail(metrics_file)
    got = _Collector(on_metric)
    deadline = time.monotonic() + request.timeout_s if request.timeout_s else None
    timed_out = False
    last_line = ""
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=request.cwd,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,  # its own process group: a stop reaches its children too
        )
        try:
            output = _Output(proc)
            while True:
                try:
                    line = output.lines.get(timeout=_POLL_S)
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                if line:
                    log.write(line)
                    if line.strip():
                        last_line = line.strip()
                    got.add(reader.feed(line))
                got.add(tail.poll(), final=False)
                if got.stop_reason is not None:
                    _stop(proc)
                    break
                if deadline is not None and time.monotonic() > deadline:
                    timed_out = True
                    _stop(proc)
                    break
            exit_code = proc.wait()
        except BaseException:
            _stop(proc)
            raise
    run.exit_code = exit_code
    run.ended = _now()
    file_reason = _read_metrics_file(run, got, metrics_file)
    run.steps = [o.to_json() for o in got.steps]
    run.metrics = dict(sorted(got.finals.items()))
    if got.stop_reason is not None:
        run.status, run.reason = "stopped", got.stop_reason
    elif timed_out:
        run.status, run.reason = "failed", f"timed out after {request.timeout_s:g} s"
    elif exit_code != 0:
        tail_text = f": {last_line[:300]}" if last_line else ""
        how = f"killed by signal {-exit_code}" if exit_code < 0 else f"exited with code {exit_code}"
        run.status, run.reason = "failed", f"the command {how}{tail_text}"
    elif file_reason:
        run.status, run.reason = "failed", file_reason
    elif explicit and (missing := [d.name for d in request.metrics if d.name not in got.finals]):
        regexes = ", ".join(f"{d.name}={d.regex}" for d in request.metrics if d.name in missing)
        run.status = "failed"
        run.reason = f"metric {', '.join(missing)} never printed (no line matched {regexes})"
    elif not got.finals:
        run.status = "failed"
        run.reason = (
            "no metric: the command printed no "
            + "/".join(f"{n}=" for n in ERROR_METRICS)
            + " line and wrote no SYNTH_METRICS_FILE (or give --metric NAME=REGEX)"
        )
    else:
        run.status = "succeeded"


def _read_metrics_file(run: RunRecord, got: _Collector, path: Path) -> str | None:
    """Merge the metrics file's values (they win over output lines); the reason it is unusable."""
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return f"SYNTH_METRICS_FILE {path}: cannot read ({err})"
    try:
        found = parse_metrics_text(text, f"SYNTH_METRICS_FILE {path.name}")
    except MetricsFileError as err:
        return str(err)
    seen = {(o.name, o.step) for o in got.steps}
    got.add([o for o in found.steps if (o.name, o.step) not in seen], final=False)
    got.finals.update(found.finals)
    if found.unit in ("percent", "fraction"):
        run.unit = found.unit
    if found.model and run.model == Path(run.command[0]).name:
        run.model = found.model
    return None
