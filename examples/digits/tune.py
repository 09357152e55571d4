"""Tune the digits example for real: ``synth tune`` searches the handwriting effects and the
SVC's C against real handwritten digits, and the best trial is compared with the preset.

    python examples/digits/tune.py [--work DIR] [--max-trials N] [--count N] [--max-parallel N]

1. ``prepare.py DIR`` and ``synth datasets import``: scikit-learn's 1,797 real digits;
2. ``synth datasets split REAL --ratios 10 45 45 --group-by file_name --stratify-by text``:
   a real validation split (the objective) and a real test split (the judge), every image in
   one split only;
3. ``synth run`` of the preset as it is (``--preset digits``, C = 10, the same count): the
   baseline;
4. ``synth tune --config DIR/tune.toml``: ``examples/digits/tune.toml`` with the two split ids.

It prints the baseline, the best trial and both test errors on the real test split, and writes
them to ``DIR/tune-result.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loop import synth

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("digits-work"), help="working folder")
    p.add_argument("--max-trials", type=int, help="trials (default: tune.toml's)")
    p.add_argument("--count", type=int, help="lines per trial (default: tune.toml's)")
    p.add_argument("--max-parallel", type=int, help="trials at once (default: tune.toml's)")
    args = p.parse_args(argv)
    work = args.work.resolve()
    home = work / "synth-data"
    subprocess.run([sys.executable, str(HERE / "prepare.py"), str(work)], check=True)
    real = synth(
        home, "datasets", "import", str(work / "real-digits"), "--kind", "ocr",
        "--licence", "CC-BY-4.0", "--name", "real-digits",
    )  # fmt: skip
    split = synth(
        home, "datasets", "split", real["id"], "--ratios", "10", "45", "45",
        "--group-by", "file_name", "--stratify-by", "text", "--seed", "0",
    )  # fmt: skip
    sid = split["id"]
    job = (HERE / "tune.toml").read_text(encoding="utf-8")
    job = job.replace("@REAL_VALIDATION@", f"{sid}:validation").replace(
        "@REAL_TEST@", f"{sid}:test"
    )
    job = job.replace('"python", "train.py"', f'"{sys.executable}", "{HERE / "train.py"}"', 1)
    if args.max_trials:
        job = job.replace("max_trials = 30", f"max_trials = {args.max_trials}")
    if args.max_parallel:
        job = job.replace("max_parallel = 2", f"max_parallel = {args.max_parallel}")
    count = args.count or 600
    job = job.replace("count = 600 ", f"count = {count} ")
    (work / "tune.toml").write_text(job, encoding="utf-8")

    base = synth(
        home, "ocr", "--count", str(count), "--preset", "digits", "--seed", "1",
        "--texts", str(work / "digit-lines.txt"), "--name", "digits-preset",
    )  # fmt: skip
    baseline = synth(
        home, "run", base["id"], "--val", f"{sid}:validation", "--test", f"{sid}:test",
        "--model", "svc-rbf", "--", sys.executable, str(HERE / "train.py"), "{path}",
        "--val", "{val_path}", "--test", "{test_path}", "--C", "10",
    )  # fmt: skip
    tuned = synth(home, "tune", "--config", str(work / "tune.toml"))
    shown = synth(home, "tune", "show", tuned.get("job", "digits"))
    best = shown["best"]
    run = synth(home, "runs", "show", best["run_id"])
    result = {
        "baseline": {"run_id": baseline["id"], **baseline["metrics"]},
        "best": {
            "trial": best["number"],
            "params": best["params"],
            "run_id": best["run_id"],
            **run["metrics"],
        },
        "trials": len(shown["trials"]),
        "stopped": shown.get("stopped"),
    }
    (work / "tune-result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    b, t = result["baseline"], result["best"]
    print(f"preset (C=10):   val_error={b['val_error']:.4f}  test_error={b['test_error']:.4f}")
    print(
        f"best trial {t['trial']:>2}:   val_error={t['val_error']:.4f}  "
        f"test_error={t['test_error']:.4f}"
    )
    print(f"best parameters: {json.dumps(t['params'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
