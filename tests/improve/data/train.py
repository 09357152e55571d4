"""A real, small training command for the improve tests: its errors are known functions of the
number of samples n in the training folder (SYNTH_DATASET_PATH), as a learning curve would be.

    train.py [--train T] [--k K] [--floor F] [--mismatch M] [--fail-at N]

train_error = T; val_error = max(F, T + K / sqrt(n)); test_error = val_error + M when a test
set is given (SYNTH_TEST_PATH). All in percent, written to SYNTH_METRICS_FILE. With --fail-at N
it exits 3 once the dataset has at least N samples.
"""

import argparse
import json
import math
import os
import sys
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument("--train", type=float, default=1.0)
p.add_argument("--k", type=float, default=10.0)
p.add_argument("--floor", type=float, default=0.0)
p.add_argument("--mismatch", type=float, default=0.0)
p.add_argument("--fail-at", type=int)
args = p.parse_args()

folder = Path(os.environ["SYNTH_DATASET_PATH"])
n = len((folder / "metadata.jsonl").read_text().splitlines())
if args.fail_at is not None and n >= args.fail_at:
    print(f"out of memory at {n} samples", file=sys.stderr)
    sys.exit(3)
val = max(args.floor, args.train + args.k / math.sqrt(n))
metrics = {"train_error": args.train, "val_error": val, "samples": n}
if os.environ.get("SYNTH_TEST_PATH"):
    metrics["test_error"] = val + args.mismatch
with open(os.environ["SYNTH_METRICS_FILE"], "w") as f:
    json.dump(metrics, f)
print(f"trained on {n} samples: {metrics}")
