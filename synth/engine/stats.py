"""Streaming statistics: counts of categorical values and summaries of numbers, mergeable."""

from __future__ import annotations

import math
from typing import Any


class Stats:
    """Accumulates per-sample ``describe`` dicts and rejection counts; merges across shards."""

    def __init__(self) -> None:
        self.samples = 0
        self.counts: dict[str, dict[str, int]] = {}
        self.numbers: dict[str, dict[str, float]] = {}
        self.rejections: dict[str, int] = {}

    def add(self, described: dict[str, Any], rejections: dict[str, int] | None = None) -> None:
        self.samples += 1
        counts, numbers = self.counts, self.numbers
        for key, value in described.items():
            kind = type(value)
            if kind is str or kind is bool:
                text = value if kind is str else str(value)
                bucket = counts.get(key)
                if bucket is None:
                    bucket = counts[key] = {}
                bucket[text] = bucket.get(text, 0) + 1
            elif kind is float or kind is int or isinstance(value, int | float):
                v = float(value)
                n = numbers.get(key)
                if n is None:
                    numbers[key] = {"n": 1, "sum": v, "sumsq": v * v, "min": v, "max": v}
                else:
                    n["n"] += 1
                    n["sum"] += v
                    n["sumsq"] += v * v
                    if v < n["min"]:
                        n["min"] = v
                    if v > n["max"]:
                        n["max"] = v
            elif value is None:
                continue
            elif isinstance(value, str | bool):
                text = str(value)
                bucket = counts.setdefault(key, {})
                bucket[text] = bucket.get(text, 0) + 1
            else:
                raise TypeError(f"describe() value for '{key}' must be str, bool or number")
        if rejections:
            for reason, k in rejections.items():
                self.rejections[reason] = self.rejections.get(reason, 0) + int(k)

    def merge(self, other: dict[str, Any]) -> None:
        self.samples += other["samples"]
        for key, bucket in other["counts"].items():
            mine = self.counts.setdefault(key, {})
            for value, k in bucket.items():
                mine[value] = mine.get(value, 0) + k
        for key, n in other["numbers"].items():
            mine = self.numbers.get(key)
            if mine is None:
                self.numbers[key] = dict(n)
            else:
                mine["n"] += n["n"]
                mine["sum"] += n["sum"]
                mine["sumsq"] += n["sumsq"]
                mine["min"] = min(mine["min"], n["min"])
                mine["max"] = max(mine["max"], n["max"])
        for reason, k in other["rejections"].items():
            self.rejections[reason] = self.rejections.get(reason, 0) + k

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "counts": {k: dict(sorted(v.items())) for k, v in sorted(self.counts.items())},
            "numbers": {k: dict(v) for k, v in sorted(self.numbers.items())},
            "rejections": dict(sorted(self.rejections.items())),
        }

    def summary(self) -> dict[str, Any]:
        """The human-facing statistics recorded in ``dataset.json`` and the catalog."""
        numbers = {}
        for key, n in sorted(self.numbers.items()):
            mean = n["sum"] / n["n"]
            var = max(0.0, n["sumsq"] / n["n"] - mean * mean)
            numbers[key] = {
                "min": round(n["min"], 4),
                "max": round(n["max"], 4),
                "mean": round(mean, 4),
                "std": round(math.sqrt(var), 4),
            }
        return {
            "samples": self.samples,
            "counts": {k: dict(sorted(v.items())) for k, v in sorted(self.counts.items())},
            "numbers": numbers,
            "rejections": dict(sorted(self.rejections.items())),
        }
