"""Config assembly for ``synth ocr`` and ``synth speech``: a ``--config`` file, its relative
paths read from its own folder, under the flags given; the ``[run]`` table apart from the spec;
and which flag set which spec field, for errors that name both."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.cli.output import _fail

if TYPE_CHECKING:
    from synth.catalog.base import DatasetRecord


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
        from synth.catalog import open_catalog
        from synth.engine.importer import labels_file

        catalog = open_catalog(args.home, create=False)
        try:
            catalog.require(args.texts_from, "use")  # before its labels are copied out
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
                _check_stored_licences(args.clean, record)
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
    if args.lhotse:
        overrides["lhotse"] = True
    return deep_merge(config, overrides)


def _check_stored_licences(value: str, record: DatasetRecord) -> None:
    """A ``--clean ID`` dataset's licences become the spec's ``clean_licence``, which must be an
    SPDX expression: a licence stored before that rule (``CC BY 4.0``) is named with its dataset,
    not as a field the user never typed."""
    from synth.licences import all_of, licence_problem

    bad = [x for x in record.licences if licence_problem(x)] or (
        [all_of(record.licences)] if licence_problem(all_of(record.licences)) else []
    )
    if bad:
        stored = ", ".join(f"'{x}'" for x in bad)
        _fail(
            f"--clean {value}: dataset {record.id[:12]} has the licence {stored}, stored before "
            "licences had to be SPDX expressions (ids like CC-BY-4.0 joined by AND, OR or WITH); "
            "give its licence as clean_licence in a --config file (e.g. clean_licence = "
            '"CC-BY-4.0")'
        )


def _clean_source(value: str, home: str | None) -> tuple[str, DatasetRecord | None]:
    """A corpus path as it is, or a catalog dataset's folder with its record; an existing path
    wins over a catalog id."""
    path = Path(value)
    if path.exists():
        return str(path.resolve()), None
    from synth.catalog import open_catalog
    from synth.errors import AccessDenied, Deleted

    catalog = open_catalog(home)
    try:
        if _looks_like_id(value):  # a dataset the role may not use is named as such
            catalog.require(value, "use")
        record = catalog.get(value)
        catalog.require(record.id, "use")
    except AccessDenied:
        raise
    except Deleted as err:  # say so, with when, by whom and why
        _fail(f"--clean: {err}")
    except Exception:
        _fail(f"--clean: '{value}' is not a file, a folder or a dataset id in the catalog")
    finally:
        catalog.close()
    return str(Path(record.path)), record


def _looks_like_id(value: str) -> bool:
    """Whether ``value`` reads as a dataset id or a prefix of one (4 or more hex digits)."""
    ref = value.strip().lower().removeprefix("sha256:")
    return len(ref) >= 4 and all(c in "0123456789abcdef" for c in ref)


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
