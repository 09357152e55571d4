"""The digits example end to end, in one command: real handwritten digits imported as the test
set, a small synthetic start, and ``synth improve`` growing it round by round.

    python examples/digits/loop.py [--work DIR] [--start 60] [--max-samples 3000]
                                   [--max-rounds 5] [--human-error 0]

It runs, with ``synth`` (this checkout's, or the installed one):

1. ``prepare.py DIR``: scikit-learn's 1,797 real digits as an imagefolder, and digit lines;
2. ``synth datasets import DIR/real-digits --kind ocr --licence CC-BY-4.0``: the real test set;
3. ``synth ocr --preset digits``: a start of ``--start`` lines (60 lines: about 330 digits) and a
   synthetic validation set of 600 lines (another seed);
4. ``synth improve START --fraction --val VAL --test REAL -- python train.py {path} ...``: an rbf
   SVC trained, diagnosed, and the data grown on high variance, until variance is fixed, the
   sample budget or rounds are spent, or validation error stops falling.

It prints ``synth improve``'s table of rounds, then the mismatch between the synthetic
validation set and the real test set, and writes the loop's JSON to ``DIR/improve.json``.
Everything lands in the catalog under ``DIR/synth-data``. Needs ``synth[examples]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYNTH = [sys.executable, "-m", "flows.cli"]


def synth(home: Path, *args: str) -> dict:
    """One ``synth`` command with ``--json``; its object (a failure is this script's)."""
    cut = args.index("--") if "--" in args else len(args)  # a training command goes last
    proc = subprocess.run(
        [*SYNTH, *args[:cut], "--home", str(home), "--json", *args[cut:]],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"loop.py: synth {' '.join(args[:3])} failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("digits-work"), help="working folder")
    p.add_argument("--start", type=int, default=60, help="lines of the start (default 60)")
    p.add_argument("--val-lines", type=int, default=600, help="synthetic validation lines")
    p.add_argument("--max-samples", type=int, default=3000, help="largest training set, lines")
    p.add_argument("--max-rounds", type=int, default=5)
    p.add_argument("--human-error", default="0", help="human-level error, a fraction (0)")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    work = args.work.resolve()
    home = work / "synth-data"
    subprocess.run([sys.executable, str(HERE / "prepare.py"), str(work)], check=True)
    lines = str(work / "digit-lines.txt")
    real = synth(
        home, "datasets", "import", str(work / "real-digits"), "--kind", "ocr",
        "--licence", "CC-BY-4.0", "--name", "real-digits",
    )  # fmt: skip
    start = synth(
        home, "ocr", "--count", str(args.start), "--preset", "digits", "--texts", lines,
        "--name", "digits", "--seed", "1", "--workers", str(args.workers),
    )  # fmt: skip
    val = synth(
        home, "ocr", "--count", str(args.val_lines), "--preset", "digits", "--texts", lines,
        "--name", "digits-val", "--seed", "99", "--workers", str(args.workers),
    )  # fmt: skip
    train = [sys.executable, str(HERE / "train.py"), "{path}", "--val", "{val_path}",
             "--test", "{test_path}"]  # fmt: skip
    loop = synth(
        home, "improve", start["id"], "--fraction", "--human-error", args.human_error,
        "--val", val["id"], "--test", real["id"], "--max-rounds", str(args.max_rounds),
        "--max-samples", str(args.max_samples), "--model", "svc-rbf",
        "--workers", str(args.workers), "--", *train,
    )  # fmt: skip
    (work / "improve.json").write_text(json.dumps(loop, indent=1), encoding="utf-8")
    print(table(loop))
    return 0


def table(loop: dict) -> str:
    """The rounds as ``synth improve`` prints them (errors in percent)."""
    head = f"{'round':>5}  {'lines':>6}  {'human':>6}  {'train':>6}  {'val':>6}  {'test':>6}  "
    lines = [head + "findings -> action"]
    for r in loop["rounds"]:
        errors = "  ".join(
            f"{r[k]:6.2f}" if r[k] is not None else f"{'-':>6}"
            for k in ("human_error", "train_error", "val_error", "test_error")
        )
        findings = ", ".join(r["findings"]) or "none"
        lines.append(f"{r['round']:>5}  {r['samples']:>6}  {errors}  {findings} -> {r['action']}")
    lines.append(f"stopped: {loop['stopped']}: {loop['message']}")
    if loop.get("mismatch"):
        lines.append(f"mismatch: {loop['mismatch']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
