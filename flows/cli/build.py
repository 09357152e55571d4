"""The build commands: ``synth ocr``, ``synth speech`` and ``synth expand``.

Each checks its inputs here, in one line, then starts the build (``_run_build``): a flow run
when a Prefect server is configured, else here without Prefect (``flows.jobs``); Prefect is
imported only on a server build, so a mistake costs no Prefect start-up.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from flows.cli.args import (
    _name,
    _positive,
    add_common,
    add_count,
    add_runner,
    add_seed,
    add_workers,
)
from flows.cli.config import (
    _OCR_FLAGS,
    _SPEECH_FLAGS,
    _flag_labels,
    _ocr_config,
    _read_config,
    _run_options,
    _speech_config,
)
from flows.cli.output import _emit, _fail, _Progress, _progress_enabled


# -- synth ocr ----------------------------------------------------------------------------------
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
    input_warnings = list(info.get("input_warnings") or [])
    for line in input_warnings:
        print(f"synth: warning: {line}", file=sys.stderr)
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
        "input_warnings": input_warnings,
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
def cmd_speech(args: argparse.Namespace) -> int:
    from flows.plans import speech_spec
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
    from synth.engine.expand_config import expansion_spec, path_keys

    catalog = open_catalog(args.home)
    try:
        catalog.require(args.id, "use")  # one line naming it and the right, before anything
        parent = catalog.get(args.id)
    finally:
        catalog.close()
    check_parent_folder(parent)
    config, run = _run_options(args, _read_config(args, path_keys(parent.kind)))
    if config:  # a value an expansion may not change fails here, in one line, naming its key
        expansion_spec(parent.spec, parent.kind, config, args.config, parent.id)
    return _run_build(
        args,
        "expand",
        run,
        "rendering",
        dataset_id=parent.id,
        count=args.count,
        config=config or None,
    )


# -- the parsers ----------------------------------------------------------------------------------
def register(sub: argparse._SubParsersAction) -> None:
    """Add ``ocr``, ``speech`` and ``expand`` to the ``synth`` parser's sub-commands."""
    ocr = sub.add_parser(
        "ocr",
        help="render OCR line images",
        description=(
            "Render COUNT text-line images over photo or generated backgrounds, with exact labels "
            "and character/word boxes, and register the dataset. Running the same command again "
            "resumes an interrupted build and registers nothing twice."
        ),
    )
    add_count(ocr, "number of images")
    add_seed(ocr)
    add_workers(ocr)
    ocr.add_argument(
        "--preset",
        default="default",
        help="clean | default | document | handwriting | digits (default: default)",
    )
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
    add_runner(ocr)
    add_common(ocr)
    ocr.set_defaults(func=cmd_ocr)

    sp = sub.add_parser(
        "speech",
        help="mix clean speech with noise at a controlled SNR",
        description=(
            "Mix COUNT clean utterances with noise at SNRs drawn from a range, with exact "
            "transcripts, the achieved SNR measured on the written files, and full lineage."
        ),
    )
    add_count(sp, "number of mixes")
    add_seed(sp)
    add_workers(sp)
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
        help="also write a Kaldi data directory (kaldi/: wav.scp, text, utt2spk, ...)",
    )
    sp.add_argument(
        "--lhotse",
        action="store_true",
        help="also write Lhotse manifests (recordings, supervisions, cuts .jsonl.gz)",
    )
    sp.add_argument(
        "--with-targets",
        action="store_true",
        help="also write each mix's clean target and noise component",
    )
    sp.add_argument("--config", help="a .toml, .json or .yaml file of spec values")
    sp.add_argument("--name", type=_name, help="dataset name (default: speech)")
    add_runner(sp)
    add_common(sp)
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
    add_count(expand, "number of new samples")
    add_workers(expand, "worker processes")
    expand.add_argument(
        "--config",
        help=(
            "a .toml, .json or .yaml file: where the parent's inputs are now (the same files, "
            "moved: fonts.dir, backgrounds.dir, text.path; clean, noise_dir) and a [run] table; "
            "any other value must be the parent's"
        ),
    )
    add_runner(expand)
    add_common(expand)
    expand.set_defaults(func=cmd_expand)
