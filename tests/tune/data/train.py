"""A tiny training command for the tuning tests: its error is a known function of a spec field
of the dataset it is given (read from the dataset's own dataset.json) and of a hyperparameter.
(JPEG quality changes every image's bytes, so each value is a dataset of its own.)

    train.py DATASET LR [STEPS] [SLEEP_S]

val_error = ((q - 70) / 10)**2 + (log10(LR) + 2)**2 + 1 for the JPEG quality q of the dataset
(effects.jpeg_quality_range [q, q]), reached over STEPS steps (printed as "step N val_error=V",
from 3x the final value down to it); the minimum, 1.0, is at q = 70 and LR = 0.01.
SLEEP_S between steps (default 0).
"""

import json
import math
import sys
import time
from pathlib import Path

data, lr = sys.argv[1], float(sys.argv[2])
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 1
pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
spec = json.loads((Path(data) / "dataset.json").read_text())["spec"]
q = spec["effects"]["jpeg_quality_range"][0]
final = ((q - 70) / 10) ** 2 + (math.log10(lr) + 2) ** 2 + 1
for step in range(1, steps + 1):
    value = final * (1 + 2 * (steps - step) / max(1, steps - 1)) if steps > 1 else final
    print(f"step {step} val_error={value:.6f}", flush=True)
    if pause:
        time.sleep(pause)
print(f"val_error={final:.6f}")
