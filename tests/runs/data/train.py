"""A real, small training command for the tests: it reads the dataset's labels and reports
metrics that are known functions of its inputs, the way a training script would.

    train.py MODE DATASET [VAL] [TEST]

MODE: file (a JSON metrics file), lines (metric lines with epochs), jsonl (a JSON Lines metrics
file with steps), env (prints what synth handed it), fail (exits 3), silent (prints nothing),
slow (a metric per 0.2 s for 60 s, to be stopped).
"""

import json
import os
import sys
import time
from pathlib import Path


def labels(folder: str) -> list[str]:
    rows = [json.loads(x) for x in (Path(folder) / "metadata.jsonl").read_text().splitlines()]
    return [r["text"] for r in rows]


mode, data = sys.argv[1], sys.argv[2]
n = len(labels(data))
chars = sum(len(t) for t in labels(data))
metrics_file = os.environ.get("SYNTH_METRICS_FILE")
if mode == "file":
    with open(metrics_file, "w") as f:
        json.dump(
            {
                "train_error": 1.5,
                "val_error": 100.0 / n,
                "samples": n,
                "chars": chars,
                "unit": "percent",
                "model": "tiny-cnn",
            },
            f,
        )
elif mode == "lines":
    for epoch in range(1, 4):
        print(
            f"epoch {epoch}: loss {1 / epoch:.3f} "
            f"train_err={10.0 / epoch:.2f} val_err={20.0 / epoch:.2f}"
        )
    print(f"final: train_err={n / 10:.2f} val_err={n / 5:.2f}")
elif mode == "jsonl":
    with open(metrics_file, "w") as f:
        for step in range(3):
            f.write(json.dumps({"step": step, "val_error": 30.0 - step}) + "\n")
        f.write(json.dumps({"train_error": 2.0, "val_error": 27.5}) + "\n")
elif mode == "env":
    keys = [
        "SYNTH_DATASET_PATH",
        "SYNTH_DATASET_ID",
        "SYNTH_VAL_PATH",
        "SYNTH_TEST_PATH",
        "SYNTH_METRICS_FILE",
        "SYNTH_RUN_ID",
        "SYNTH_HP_LR",
    ]
    print("ENV " + json.dumps({k: os.environ.get(k) for k in keys}))
    print("ARGV " + json.dumps(sys.argv[1:]))
    print(f"train_error={n} val_error={n + 1}")
elif mode == "fail":
    print("loading data", flush=True)
    print("CUDA out of memory", file=sys.stderr)
    sys.exit(3)
elif mode == "silent":
    pass
elif mode == "slow":
    for step in range(300):
        print(f"step {step} val_error={50 - step}", flush=True)
        time.sleep(0.2)
