"""The ``synth`` command: one sub-command per job, ``--json`` for scripts, one-line errors.

Prefect and the heavy libraries are imported inside the commands, so ``--help`` is instant and
worker processes that re-import this module stay light.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from synth.catalog.base import DatasetRecord

EXIT_BAD_INPUT = 2
EXIT_CHECK_FAILED = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other synth error; the usage is one --help away.
        message = f"{' '.join(message.split())} (see '{self.prog} --help')"
        if _wants_json(_argv):  # the same JSON error object as any other error
            _print_json({"error": message, "exit_code": EXIT_BAD_INPUT})
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


_argv: list[str] = []
"""The arguments ``main`` is parsing, for errors of the parser itself (empty outside it)."""


def _wants_json(argv: list[str]) -> bool:
    """``--json`` among the arguments, or an abbreviation argparse would expand to it."""
    return any(len(a) > 3 and "--json".startswith(a) for a in argv)


def _print_json(obj: dict[str, Any]) -> None:
    """One JSON error object on stdout; a closed stdout (piped into ``head``) is no error of
    its own: the message is on stderr and the exit code stands."""
    try:
        print(json.dumps(obj, ensure_ascii=False), flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet too


class _Failed(Exception):
    """A command's one-line error and exit code, reported by ``main``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    raise _Failed(message, code)


def _report_error(args: argparse.Namespace, message: str, code: int) -> int:
    """The error on stderr, one line; with ``--json`` also as ``{"error", "exit_code"}`` on
    stdout, so a script that reads stdout as JSON gets an object in every case."""
    message = message.replace("\n", " ")
    print(f"synth: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        _print_json({"error": message, "exit_code": code})
    return code


def _emit(args: argparse.Namespace, obj: dict[str, Any], human: str) -> None:
    if args.json:
        print(json.dumps(obj, ensure_ascii=False, default=str))
    else:
        print(human)


class _Rate:
    """Samples per second over the last ``window`` seconds, and the time left at that rate."""

    def __init__(self, window: float = 20.0) -> None:
        self.window = window
        self._points: list[tuple[float, int]] = []

    def update(self, now: float, rendered: int) -> float | None:
        self._points.append((now, rendered))
        while len(self._points) > 2 and now - self._points[1][0] >= self.window:
            self._points.pop(0)
        t0, n0 = self._points[0]
        if now - t0 < 1.0 or rendered <= n0:
            return None
        return (rendered - n0) / (now - t0)

    @staticmethod
    def describe(rate: float | None, left: int) -> tuple[str, str]:
        """``("312 samples/s", "2:13 left")``; blank until there is a rate."""
        if not rate:
            return "", ""
        seconds = int(left / rate + 0.5)
        h, rest = divmod(seconds, 3600)
        m, sec = divmod(rest, 60)
        eta = f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
        return f"{rate:,.0f} samples/s", f"{eta} left"


class _Progress:
    """A progress bar on stderr fed by the running build's sample counter (a process pool's, or
    the Dask workers' counts): samples done, samples per second and the time left."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total = total
        self.label = label
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        import time

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from flows.runtime import active_pool

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[eta]}"),
        )
        rate = _Rate()
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(self.label, total=self.total, rate="", eta="")
            while not self._stop.wait(0.25):
                source = active_pool()
                if source is None:
                    continue
                done = min(source.done_samples, self.total)
                # Shards found done on a resume count as done, not in the rate.
                rendered = getattr(source, "rendered_samples", done)
                speed, eta = _Rate.describe(
                    rate.update(time.monotonic(), rendered), self.total - done
                )
                bar.update(task, completed=done, rate=speed, eta=eta)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _progress_enabled(args: argparse.Namespace) -> bool:
    return not args.json and sys.stderr.isatty()


# -- synth ocr -----------------------------------------------------------------------------------
def _read_config(args: argparse.Namespace, path_keys: tuple[str, ...]) -> dict[str, Any]:
    """``--config``'s values ({} without one), its relative paths taken from its own folder."""
    from synth.config import read_config_file, resolve_paths

    if not args.config:
        return {}
    config = read_config_file(args.config)
    return resolve_paths(config, path_keys, Path(args.config).resolve().parent)


def _ocr_config(args: argparse.Namespace) -> dict[str, Any]:
    from synth.config import deep_merge

    if args.texts and args.texts_from:
        _fail("--texts and --texts-from both name the texts: give one")
    config = _read_config(args, ("text.path", "fonts.dir", "backgrounds.dir"))
    if isinstance(config.get("text"), dict) and "dataset_id" in config["text"]:
        _fail(
            f"{args.config}: text.dataset_id is set by --texts-from ID (from the catalog's record "
            "of that dataset), not in a config file"
        )
    overrides: dict[str, Any] = {}
    if args.fonts:
        overrides.setdefault("fonts", {})["dir"] = str(Path(args.fonts).resolve())
        overrides["fonts"]["styles"] = None
    if args.backgrounds:
        overrides.setdefault("backgrounds", {})["dir"] = str(Path(args.backgrounds).resolve())
    if args.texts:
        overrides.setdefault("text", {}).update(
            {"source": "file", "path": str(Path(args.texts).resolve())}
        )
    if args.texts_from:
        from synth.engine.importer import labels_file

        catalog = _catalog(args)
        try:
            record = catalog.get(args.texts_from)
        finally:
            catalog.close()
        from synth.catalog.base import data_home

        overrides.setdefault("text", {}).update(
            {
                "source": "file",
                "path": str(labels_file(record, data_home(args.home))),
                "dataset_id": record.id,
            }
        )
    if args.locale:
        overrides.setdefault("text", {})["locales"] = args.locale
    if args.format:
        overrides.setdefault("output", {})["format"] = args.format
    return deep_merge(config, overrides)


_RUN_KEYS = ("dask_address", "runner")


def _run_options(args: argparse.Namespace, config: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """Split a config's ``[run]`` table (how to run a build, not what it makes: never part of the
    spec or the fingerprint) from the spec values. ``--runner``/``--dask-address`` win over it;
    a Dask address alone means the Dask runner."""
    from synth.errors import ConfigError

    config = dict(config)
    table = config.pop("run", None)
    source = getattr(args, "config", None) or "config"
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: 'run' must be a table (keys: {', '.join(_RUN_KEYS)})")
    for key in table:
        if key not in _RUN_KEYS:
            raise ConfigError(f"{source}: unknown key 'run.{key}' (known: {', '.join(_RUN_KEYS)})")
    for key in _RUN_KEYS:
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{source}: run.{key} must be a string")
    if args.runner:
        runner = args.runner
        address = args.dask_address or (table.get("dask_address") if runner == "dask" else None)
    else:
        address = args.dask_address or table.get("dask_address")
        runner = table.get("runner") or ("dask" if address else "process")
    if runner not in ("process", "dask"):
        raise ConfigError(f"{source}: run.runner='{runner}': expected 'process' or 'dask'")
    if address and runner != "dask":
        raise ConfigError("--dask-address: only used with --runner dask")
    if runner == "dask":
        from flows.build import check_runner

        check_runner(runner, address)
    return config, {"runner": runner, "dask_address": address}


def cmd_ocr(args: argparse.Namespace) -> int:
    from synth.engine.generator import make_generator
    from synth.ocr.spec import build_spec

    config, run = _run_options(args, _ocr_config(args))
    source = args.config or "options"
    spec = build_spec(args.preset, config, source=source, labels=_flag_labels(args, _OCR_FLAGS))
    if args.backgrounds and spec.backgrounds.photo_prob == 0:
        _fail(
            f"--backgrounds: the '{args.preset}' preset draws no photo backgrounds "
            "(backgrounds.photo_prob = 0); use --preset default or set backgrounds.photo_prob "
            "in a --config file"
        )
    # Bad fonts, images and text files fail here, in one line, before a flow run starts.
    gen = make_generator("ocr", spec.model_dump(mode="json"))
    gen.texts.require_drawable(gen.fonts)
    _check_home(args.home)
    return _run_build(
        args,
        "ocr",
        run,
        "rendering",
        count=args.count,
        seed=args.seed,
        preset=args.preset,
        config=config,
        name=args.name,
        spec=spec.model_dump(mode="json"),
        generator=gen,
    )


def _run_build(
    args: argparse.Namespace, job: str, run: dict[str, Any], label: str, **params: Any
) -> int:
    """Run dataset job ``job`` (``params`` plus the workers and home of ``args``; ``spec`` and
    ``generator`` when the command checked them) with a progress bar labelled ``label``: a flow
    run when a Prefect server is configured, else here without Prefect (``flows.jobs``); then
    report the registered dataset."""
    from flows.jobs import run_dataset_job

    spec, generator = params.pop("spec", None), params.pop("generator", None)
    with _Progress(args.count, label, _progress_enabled(args)):
        result = run_dataset_job(
            job,
            params,
            workers=args.workers,
            home=args.home,
            verbose=args.verbose,
            spec=spec,
            generator=generator,
            **run,
        )
    return _report_build(args, result)


def _check_home(home: str | None) -> None:
    """Fail early, naming the folder, when the data root cannot hold a catalog or datasets."""
    from synth.catalog import open_catalog
    from synth.catalog.base import data_home
    from synth.errors import SynthError

    open_catalog(home).close()
    datasets = data_home(home) / "datasets"
    if datasets.exists() and not datasets.is_dir():
        raise SynthError(f"{datasets}: cannot create the datasets folder (a file has that name)")
    try:
        datasets.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SynthError(
            f"{datasets}: cannot create the datasets folder ({err.strerror})"
        ) from None


def _dataset_json(path: str) -> dict[str, Any]:
    try:
        return json.loads((Path(path) / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _report_build(args: argparse.Namespace, result: dict[str, Any]) -> int:
    """Report the build that ran: its folder, fingerprint, rejections and skipped inputs (its
    own ``dataset.json``), under the catalog id of its content."""
    rec = result["record"]
    built = result.get("built") or {"path": rec["path"], "fingerprint": rec["fingerprint"]}
    info = _dataset_json(built["path"])
    skipped = list(info.get("skipped_inputs") or [])
    for item in skipped:
        print(f"synth: warning: skipped {item['file']}: {item['reason']}", file=sys.stderr)
    statistics = info.get("statistics") or rec["statistics"]
    obj = {
        "id": rec["id"],
        "path": built["path"],
        "count": rec["count"],
        "name": info.get("name", rec["name"]),
        "kind": rec["kind"],
        "fingerprint": built["fingerprint"],
        "new": result["created"],
        "rendered_shards": result["rendered_shards"],
        "skipped_shards": result["skipped_shards"],
        "rejections": statistics.get("rejections", {}),
        "skipped_inputs": skipped,
    }
    state = "registered" if result["created"] else "already registered"
    if built["fingerprint"] != rec["fingerprint"]:
        # Another spec (other inputs, licences or name) gave the same files and labels: the
        # catalog holds one record per content id, the earlier build's, with its lineage.
        obj["registered_path"] = rec["path"]
        obj["registered_fingerprint"] = rec["fingerprint"]
        print(
            f"synth: warning: this build made the same files and labels as {rec['id'][:12]}, "
            f"registered earlier from another spec (name '{rec['name']}', {rec['path']}); "
            "the catalog keeps that record and its lineage",
            file=sys.stderr,
        )
    human = (
        f"{rec['kind']} dataset {rec['id'][:12]} ({rec['count']} samples) {state}\n{built['path']}"
    )
    _emit(args, obj, human)
    return 0


# -- synth speech -------------------------------------------------------------------------------
def _speech_config(args: argparse.Namespace) -> dict[str, Any]:
    from synth.config import deep_merge

    config = _read_config(args, ("clean", "noise_dir"))
    if "clean_dataset_id" in config:
        _fail(
            f"{args.config}: clean_dataset_id is set by --clean ID (from the catalog's record of "
            "that dataset), not in a config file"
        )
    overrides: dict[str, Any] = {}
    if args.snr_db:
        overrides["snr_db_range"] = list(args.snr_db)
    if args.snr_reference:
        overrides["snr_reference"] = args.snr_reference
    if args.clean:
        path, record = _clean_source(args.clean, args.home)
        overrides["clean"] = path
        if record is not None:  # a catalog dataset: lineage points at it, its licences apply
            from synth.licences import all_of

            overrides["clean_dataset_id"] = record.id
            if "clean_licence" not in config:
                overrides["clean_licence"] = all_of(record.licences)
    if args.noise:
        overrides["noise_dir"] = str(Path(args.noise).resolve())
    if args.reverb_prob is not None:
        overrides["reverb_prob"] = args.reverb_prob
    if args.sample_rate:
        overrides["sample_rate_hz"] = args.sample_rate
    if args.format:
        overrides["format"] = args.format
    if args.with_targets:
        overrides["with_targets"] = True
    if args.kaldi:
        overrides["kaldi"] = True
    return deep_merge(config, overrides)


def _clean_source(value: str, home: str | None) -> tuple[str, DatasetRecord | None]:
    """A corpus path as it is, or a catalog dataset's folder with its record; an existing path
    wins over a catalog id."""
    path = Path(value)
    if path.exists():
        return str(path.resolve()), None
    from synth.catalog import open_catalog

    catalog = open_catalog(home)
    try:
        record = catalog.get(value)
    except Exception:
        _fail(f"--clean: '{value}' is not a file, a folder or a dataset id in the catalog")
    finally:
        catalog.close()
    return str(Path(record.path)), record


_SPEECH_FLAGS = {
    "snr_db": ("snr_db_range", "--snr-db"),
    "snr_reference": ("snr_reference", "--snr-reference"),
    "clean": ("clean", "--clean"),
    "noise": ("noise_dir", "--noise"),
    "reverb_prob": ("reverb_prob", "--reverb-prob"),
    "sample_rate": ("sample_rate_hz", "--sample-rate"),
    "format": ("format", "--format"),
}
_OCR_FLAGS = {
    "fonts": ("fonts.dir", "--fonts"),
    "backgrounds": ("backgrounds.dir", "--backgrounds"),
    "texts": ("text.path", "--texts"),
    "locale": ("text.locales", "--locale"),
    "format": ("output.format", "--format"),
}


def _flag_labels(args: argparse.Namespace, flags: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Spec field -> the flag that set it on this command line, for errors that name the field."""
    given = {a: getattr(args, a, None) for a in flags}
    return {
        key: flag
        for attr, (key, flag) in flags.items()
        if given[attr] is not None and given[attr] is not False and given[attr] != []
    }


def cmd_speech(args: argparse.Namespace) -> int:
    from flows.jobs import speech_spec
    from synth.engine.generator import make_generator

    config, run = _run_options(args, _speech_config(args))
    labels = _flag_labels(args, _SPEECH_FLAGS)
    spec = speech_spec(config, source=args.config or "options", labels=labels)
    gen = make_generator("speech", spec)  # bad corpora and noise folders fail here, in one line
    return _run_build(
        args,
        "speech",
        run,
        "mixing",
        count=args.count,
        seed=args.seed,
        config=config,
        name=args.name,
        spec=spec,
        generator=gen,
    )


# -- synth expand -------------------------------------------------------------------------------
def cmd_expand(args: argparse.Namespace) -> int:
    from synth.catalog import open_catalog
    from synth.engine.expand import check_parent_folder

    catalog = open_catalog(args.home)
    parent = catalog.get(args.id)
    catalog.close()
    check_parent_folder(parent)
    _, run = _run_options(args, {})
    return _run_build(args, "expand", run, "rendering", dataset_id=parent.id, count=args.count)


# -- synth datasets ... --------------------------------------------------------------------------
def _catalog(args: argparse.Namespace, create: bool = False):
    """The catalog of ``--home``; a look-up (``create=False``) never creates one."""
    from synth.catalog import open_catalog

    return open_catalog(args.home, create=create)


def cmd_list(args: argparse.Namespace) -> int:
    from synth.errors import NoCatalog

    try:
        records = _catalog(args).list(kind=args.kind, name=args.name, licence=args.licence)
    except NoCatalog:
        records = []
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "kind": r.kind,
            "count": r.count,
            "created": r.created,
            "trigger": r.trigger.get("type"),
            "parent_id": r.parent_id,
            "licences": r.licences,
            "path": r.path,
        }
        for r in records
    ]
    if args.json:
        print(json.dumps({"datasets": rows}, ensure_ascii=False))
        return 0
    if not rows:
        filters = [
            f"--{flag} {value}"
            for flag, value in (("kind", args.kind), ("name", args.name), ("licence", args.licence))
            if value
        ]
        if filters:
            print(f"no dataset matches {' '.join(filters)}")
        else:
            print(
                "no datasets yet: make one with `synth ocr --count 100` or "
                "`synth speech --count 100`"
            )
        return 0
    print(f"{'id':12}  {'kind':6}  {'count':>7}  {'trigger':9}  {'created':25}  name")
    for r in rows:
        print(
            f"{r['id'][:12]}  {r['kind']:6}  {r['count']:>7}  {r['trigger']:9}  "
            f"{r['created']:25}  {r['name']}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    rec = _catalog(args).get(args.id)
    obj = rec.to_json()
    if args.json:
        print(json.dumps(obj, ensure_ascii=False))
        return 0
    print(f"id           {rec.id}")
    print(f"name         {rec.name} ({rec.kind}, {rec.count} samples)")
    print(f"path         {rec.path}")
    print(f"created      {rec.created}")
    print(f"fingerprint  {rec.fingerprint}")
    print(f"seed         {rec.seed}")
    print(f"code version {rec.code_version}")
    print(f"trigger      {json.dumps(rec.trigger)}")
    print(f"flow run     {rec.flow_run_id or '-'}")
    print(f"parent       {rec.parent_id or '-'}")
    print(f"licences     {', '.join(rec.licences)}")
    rej = rec.statistics.get("rejections") or {}
    print(f"rejections   {json.dumps(rej) if rej else 'none'}")
    print(f"inputs       {len(rec.inputs)}")
    for item in rec.inputs:
        digest = item["sha256"][:12] or "-"
        print(f"  {item['role']:11} {item['name']:40} {digest:12}  {item['licence']}")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from synth.lineage.trace import render_dot, render_mermaid, render_tree, trace

    catalog = _catalog(args)
    try:
        lineage = trace(catalog, args.id)
    finally:
        catalog.close()
    if args.json:
        print(json.dumps(lineage, ensure_ascii=False))
    else:
        render = {"tree": render_tree, "mermaid": render_mermaid, "dot": render_dot}[args.format]
        print(render(lineage))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from synth.lineage.trace import diff

    catalog = _catalog(args)
    try:
        d = diff(catalog.get(args.a), catalog.get(args.b))
    finally:
        catalog.close()
    if args.json:
        print(json.dumps(d, ensure_ascii=False))
        return 0
    a, b = d["a"]["id"][:12], d["b"]["id"][:12]
    print(f"{'':28}{a:>24}  {b:>24}")
    for key in ("count", "seed", "code_version"):
        print(f"{key:28}{d[key][0]!s:>24}  {d[key][1]!s:>24}")
    print(f"{'trigger':28}{d['trigger'][0].get('type')!s:>24}  {d['trigger'][1].get('type')!s:>24}")
    for key, (va, vb) in d["spec"].items():
        print(f"spec {key:23}{json.dumps(va):>24}  {json.dumps(vb):>24}")
    for side in ("only_in_a", "only_in_b", "changed_hash"):
        for item in d["inputs"][side]:
            print(f"input {side:22}{item}")
    for key, (va, vb) in d["numbers"].items():
        ma = va["mean"] if va else "-"
        mb = vb["mean"] if vb else "-"
        print(f"mean {key:23}{ma!s:>24}  {mb!s:>24}")
    for key, (sa, sb) in d["distributions"].items():
        top = sorted(set(sa) | set(sb), key=lambda v: -(sa.get(v, 0) + sb.get(v, 0)))[:5]
        for value in top:
            label = f"share {key}={value}"
            if len(label) > 27:  # in full on a line of its own: a cut could merge two values
                print(label)
                label = ""
            print(f"{label:28}{sa.get(value, 0):>24}  {sb.get(value, 0):>24}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from synth.catalog.base import data_home
    from synth.engine.importer import import_dataset
    from synth.licences import licence_problem

    if problem := licence_problem(args.licence):
        _fail(f"--licence: {problem}")

    catalog = _catalog(args, create=True)
    try:
        record, created = import_dataset(
            args.path,
            args.kind,
            catalog,
            data_home(args.home),
            name=args.name,
            licence=args.licence,
            personal_data=args.personal_data,
        )
    finally:
        catalog.close()
    obj = {
        "id": record.id,
        "path": record.path,
        "count": record.count,
        "name": record.name,
        "kind": record.kind,
        "new": created,
    }
    state = "imported" if created else "already in the catalog"
    _emit(args, obj, f"{record.kind} dataset {record.id[:12]} ({record.count} samples) {state}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from synth.engine.verify import VerifyReport, verify_dataset

    rec = _catalog(args).get(args.id)
    if Path(rec.path).is_dir() and rec.trigger.get("type") == "import":
        from synth.catalog.base import data_home
        from synth.engine.verify import verify_import

        report = verify_import(data_home(args.home), rec.path, rec.id)
    elif Path(rec.path).is_dir():
        report = verify_dataset(
            rec.path, rec.id, samples=args.samples, quick=args.quick, record=rec.to_json()
        )
    else:  # a registered dataset whose folder is gone is a failed check, not a bad input
        report = VerifyReport(rec.id, problems=[f"{rec.path}: dataset folder not found"])
    if args.json:
        print(json.dumps({"id": rec.id, "path": rec.path, **report.to_json()}))
    else:
        for rel in report.missing:
            print(f"missing: {rel}")
        for rel in report.changed:
            print(f"changed: {rel}")
        for rel in report.extra:
            print(f"extra: {rel} (not in the dataset's manifests; loaders would read it)")
        for problem in report.problems:
            print(f"problem: {problem}")
        verdict = "ok" if report.ok else "FAILED"
        files = f"{report.checked_files} files"
        if report.mode == "quick":
            files += f" sized, {report.hashed_files} hashed"
        print(
            f"{verdict}: {rec.id[:12]} ({files}, "
            f"{report.checked_inputs} inputs checked, {len(report.rerendered)} samples "
            f"re-rendered) at {rec.path}"
        )
    return 0 if report.ok else EXIT_CHECK_FAILED


# -- the parser ------------------------------------------------------------------------------------
def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


_MAX_SEED = 2**63 - 1  # the catalog stores seeds as SQLite's signed 64-bit INTEGER


def _seed(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if not 0 <= n <= _MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {_MAX_SEED}, got {n}")
    return n


def _name(value: str) -> str:
    """A dataset name becomes a folder name under the data root: no separators, no dot first."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value):
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a valid dataset name (expected 1-100 ASCII letters, digits, '.', "
            "'_' or '-', starting with a letter or digit)"
        )
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", help="data root (default: $SYNTH_HOME or ./synth-data)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--verbose", action="store_true", help="show Prefect's logs")


def _runner_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runner",
        choices=("process", "dask"),
        help=(
            "process: a pool of --workers processes here (default); dask: the shard tasks run on "
            "a Dask cluster through Prefect (needs PREFECT_API_URL; see docs/scaling.md)"
        ),
    )
    p.add_argument(
        "--dask-address",
        metavar="tcp://HOST:PORT",
        help=(
            "an existing Dask scheduler (implies --runner dask; default: a local cluster of "
            "--workers processes); the output must be on a filesystem every worker can reach"
        ),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="synth",
        description="Synthesise OCR line images and noisy speech with exact labels and lineage.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ocr = sub.add_parser(
        "ocr",
        help="render OCR line images",
        description=(
            "Render COUNT text-line images over photo or generated backgrounds, with exact labels "
            "and character/word boxes, and register the dataset. Running the same command again "
            "resumes an interrupted build and registers nothing twice."
        ),
    )
    ocr.add_argument("--count", type=_positive, required=True, help="number of images")
    ocr.add_argument("--seed", type=_seed, default=0, help="dataset seed (default 0)")
    ocr.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    ocr.add_argument("--preset", default="default", help="clean | default (default: default)")
    ocr.add_argument("--config", help="a .toml, .json or .yaml file of spec values")
    ocr.add_argument("--fonts", help="a folder of font files (default: the embedded fonts)")
    ocr.add_argument("--backgrounds", help="a folder of background images (default: embedded)")
    ocr.add_argument("--texts", help="a UTF-8 file with one text per line (default: Faker)")
    ocr.add_argument(
        "--texts-from",
        metavar="ID",
        help="draw texts from the labels of a catalog dataset (real or synthetic)",
    )
    ocr.add_argument("--locale", action="append", help="Faker locale, repeatable (en_US, ...)")
    ocr.add_argument("--format", choices=("jpeg", "png"), help="image format (default jpeg)")
    ocr.add_argument("--name", type=_name, help="dataset name (default: ocr-PRESET)")
    _runner_flags(ocr)
    _common(ocr)
    ocr.set_defaults(func=cmd_ocr)

    sp = sub.add_parser(
        "speech",
        help="mix clean speech with noise at a controlled SNR",
        description=(
            "Mix COUNT clean utterances with noise at SNRs drawn from a range, with exact "
            "transcripts, the achieved SNR measured on the written files, and full lineage."
        ),
    )
    sp.add_argument("--count", type=_positive, required=True, help="number of mixes")
    sp.add_argument("--seed", type=_seed, default=0, help="dataset seed (default 0)")
    sp.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    sp.add_argument(
        "--snr-db",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="SNR range in dB (default 0 20)",
    )
    sp.add_argument(
        "--snr-reference",
        choices=("active", "whole"),
        help="SNR over active speech (default) or the whole clip",
    )
    sp.add_argument("--clean", help="a corpus folder/manifest, or a dataset id (default: embedded)")
    sp.add_argument("--noise", help="a folder of noise clips (default: procedural noise)")
    sp.add_argument("--reverb-prob", type=float, help="chance of reverb per mix (default 0)")
    sp.add_argument("--sample-rate", type=_positive, help="output rate in Hz (default 16000)")
    sp.add_argument("--format", choices=("wav", "flac"), help="audio format (default wav)")
    sp.add_argument(
        "--kaldi",
        action="store_true",
        help="also write a Kaldi data directory (kaldi/: wav.scp, text, utt2spk)",
    )
    sp.add_argument(
        "--with-targets",
        action="store_true",
        help="also write each mix's clean target and noise component",
    )
    sp.add_argument("--config", help="a .toml, .json or .yaml file of spec values")
    sp.add_argument("--name", type=_name, help="dataset name (default: speech)")
    _runner_flags(sp)
    _common(sp)
    sp.set_defaults(func=cmd_speech)

    expand = sub.add_parser(
        "expand",
        help="a new version of a dataset with more samples",
        description=(
            "Make a new version of dataset ID holding its samples plus COUNT new ones (indices "
            "continue, so new samples differ from the parent's). The parent's files are linked, "
            "not rendered again, and the parent is recorded in the lineage."
        ),
    )
    expand.add_argument("id", help="dataset id or a unique prefix of it")
    expand.add_argument("--count", type=_positive, required=True, help="number of new samples")
    expand.add_argument("--workers", type=_positive, default=1, help="worker processes")
    _runner_flags(expand)
    _common(expand)
    expand.set_defaults(func=cmd_expand)

    from flows.cli_ops import add_parsers

    add_parsers(sub, _common)

    ds = sub.add_parser("datasets", help="list, show, trace, diff, import and verify datasets")
    dsub = ds.add_subparsers(dest="datasets_command", required=True, parser_class=_Parser)
    ls = dsub.add_parser("list", help="list dataset versions")
    ls.add_argument("--kind", choices=("ocr", "speech"))
    ls.add_argument("--name")
    ls.add_argument("--licence", help="only datasets with an input under this licence")
    _common(ls)
    ls.set_defaults(func=cmd_list)
    show = dsub.add_parser("show", help="one version with its lineage")
    show.add_argument("id", help="dataset id or a unique prefix of it")
    _common(show)
    show.set_defaults(func=cmd_show)
    lin = dsub.add_parser("lineage", help="ancestry, inputs and descendants of a version")
    lin.add_argument("id", help="dataset id or a unique prefix of it")
    lin.add_argument("--format", choices=("tree", "mermaid", "dot"), default="tree")
    _common(lin)
    lin.set_defaults(func=cmd_lineage)
    dif = dsub.add_parser("diff", help="spec, inputs, counts and distributions side by side")
    dif.add_argument("a", help="dataset id or prefix")
    dif.add_argument("b", help="dataset id or prefix")
    _common(dif)
    dif.set_defaults(func=cmd_diff)

    imp = dsub.add_parser(
        "import",
        help="register an existing (real) dataset, in place",
        description=(
            "Register the dataset at PATH (an imagefolder/audiofolder with metadata.jsonl or "
            "metadata.csv, a NeMo manifest, or files with same-named .txt labels) with the hash of "
            "every file, so synthetic builds can take it as input. Nothing in PATH is changed."
        ),
    )
    imp.add_argument("path", help="the dataset folder or its manifest")
    imp.add_argument("--kind", choices=("ocr", "speech"), required=True)
    imp.add_argument("--name", help="dataset name (default: the folder's name)")
    imp.add_argument("--licence", default="unknown", help="the data's licence (SPDX id)")
    imp.add_argument(
        "--personal-data",
        action="store_true",
        help="mark the data as possibly holding personal data",
    )
    _common(imp)
    imp.set_defaults(func=cmd_import)

    verify = dsub.add_parser("verify", help="recompute hashes; exit 1 on any mismatch")
    verify.add_argument("id", help="dataset id or a unique prefix of it")
    verify.add_argument(
        "--samples",
        type=_non_negative,
        default=8,
        help="samples to re-render from their recipes (default 8, 0: none)",
    )
    verify.add_argument(
        "--quick",
        action="store_true",
        help=(
            "the sampled check for large datasets: every file's size, the file index against the "
            "content id, and only the --samples samples hashed and re-rendered (about a second "
            "on 100,000 samples); without it every file is hashed"
        ),
    )
    _common(verify)
    verify.set_defaults(func=cmd_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    from flows.env import apply_defaults

    global _argv
    _argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(_argv)
    finally:
        _argv = []
    apply_defaults(verbose=getattr(args, "verbose", False))
    from synth.errors import SynthError

    try:
        return int(args.func(args) or 0)
    except SynthError as err:
        return _report_error(args, str(err), EXIT_BAD_INPUT)
    except _Failed as err:
        return _report_error(args, str(err), err.code)
    except BrokenPipeError:  # stdout closed early (e.g. piped into head): nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("synth: interrupted; run the same command again to resume", file=sys.stderr)
        if getattr(args, "json", False):
            _print_json({"error": "interrupted", "exit_code": 130})
        return 130


if __name__ == "__main__":
    sys.exit(main())
