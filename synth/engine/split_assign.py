"""Assign whole groups of samples to train, validation and test: the pure part of splitting.

A group is the set of samples sharing the values of the group fields (a speech mix's clean clip,
an OCR line's text): every sample of a group goes to one split, so nothing the model learns from
one mix of an utterance is tested on another mix of it. Groups are visited in an order drawn from
the seed alone and each goes to the split furthest below its share of samples, counted both
within the group's stratum (its most common value of the stratify field) and overall, so the
splits keep the ratios and, as far as whole groups allow, the label balance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synth.errors import SynthError
from synth.hashing import canonical_json

SPLITS = ("train", "validation", "test")
_SPLIT_STREAM = 0x5917  # keeps the split's generator apart from any other use of the same seed
BALANCE_MAX_VALUES = 100
"""Without ``--stratify-by`` the balance is counted over ``text`` only when it has at most this
many distinct values (digits, words, commands); a dataset of free text lines would list each."""


def check_ratios(ratios: Sequence[int]) -> list[int]:
    """Three whole percentages, each at least 1, summing to 100; else one line naming them."""
    shown = " ".join(str(r) for r in ratios)
    if len(ratios) != len(SPLITS):
        raise SynthError(f"--ratios {shown}: expected three percentages (train validation test)")
    if any(r < 1 for r in ratios):
        raise SynthError(
            f"--ratios {shown}: each split needs at least 1 percent (an empty split cannot be "
            "evaluated on)"
        )
    if sum(ratios) != 100:
        raise SynthError(f"--ratios {shown}: the percentages sum to {sum(ratios)}, not 100")
    return [int(r) for r in ratios]


def label_of(value: Any) -> str:
    """A field value as a balance key: strings as they are, anything else as canonical JSON."""
    return value if isinstance(value, str) else canonical_json(value)


def group_key(row: dict[str, Any], fields: Sequence[str]) -> str:
    """The group of a row: the canonical JSON of its values of ``fields``."""
    return canonical_json([row.get(f) for f in fields])


def check_fields(
    rows: Sequence[dict[str, Any]], fields: Sequence[str], flag: str, where: str
) -> None:
    """Every row must hold every field: one line naming the flag, the field and the rows' fields
    when no row has it, or the first row without it."""
    for field in fields:
        holding = sum(1 for r in rows if field in r)
        if holding == 0:
            known = sorted({k for r in rows[:50] for k in r})
            raise SynthError(
                f"{flag} {field}: no row of {where} has a field '{field}' "
                f"(its rows have {', '.join(known)})"
            )
        if holding < len(rows):
            n = next(i for i, r in enumerate(rows) if field not in r)
            raise SynthError(
                f"{flag} {field}: row {n + 1} of {where} ({rows[n].get('file_name')}) has no "
                f"'{field}'; only {holding} of {len(rows)} rows have it"
            )


@dataclass(frozen=True)
class Assignment:
    """Which split each sample went to (``split_of[i]`` indexes ``SPLITS``) and the counts."""

    split_of: list[int]  # per sample, in the order of the rows given
    groups: dict[str, int]  # group key -> split index

    def members(self, split: int) -> list[int]:
        return [i for i, s in enumerate(self.split_of) if s == split]


def assign(
    rows: Sequence[dict[str, Any]],
    ratios: Sequence[int],
    group_by: Sequence[str],
    stratify_by: str | None,
    seed: int,
) -> Assignment:
    """Assign every row's group to a split; deterministic given the rows and ``seed``.

    Raises a one-line error when a split would be left empty (too few groups for the ratios)."""
    members: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        members.setdefault(group_key(row, group_by), []).append(i)
    stratum: dict[str, str] = {}
    for key, idx in members.items():
        if stratify_by is None:
            stratum[key] = ""
        else:  # the group's most common label; ties go to the smallest, for determinism
            counts = Counter(label_of(rows[i].get(stratify_by)) for i in idx)
            stratum[key] = min(counts, key=lambda v: (-counts[v], v))
    keys = sorted(members)
    rng = np.random.default_rng([_SPLIT_STREAM, seed])
    order = [keys[int(k)] for k in rng.permutation(len(keys))]
    share = [r / 100 for r in ratios]
    total = [0] * len(SPLITS)
    per_stratum: dict[str, list[int]] = {}
    chosen: dict[str, int] = {}
    for key in order:
        size = len(members[key])
        local = per_stratum.setdefault(stratum[key], [0] * len(SPLITS))
        after_all, after_local = sum(total) + size, sum(local) + size
        score = [
            share[k] * after_local - local[k] + share[k] * after_all - total[k]
            for k in range(len(SPLITS))
        ]
        k = max(range(len(SPLITS)), key=lambda j: (score[j], -j))
        chosen[key] = k
        total[k] += size
        local[k] += size
    empty = [SPLITS[k] for k in range(len(SPLITS)) if total[k] == 0]
    if empty:
        raise SynthError(
            f"--ratios {' '.join(map(str, ratios))}: the {' and '.join(empty)} split would be "
            f"empty: {len(keys)} group(s) by {', '.join(group_by)} are too few for these "
            "ratios (give more samples, other ratios, or another --group-by)"
        )
    split_of = [0] * len(rows)
    for key, idx in members.items():
        for i in idx:
            split_of[i] = chosen[key]
    return Assignment(split_of, chosen)


def balance_field(rows: Sequence[dict[str, Any]], stratify_by: str | None) -> str | None:
    """The field the label balance is counted over: ``stratify_by``, else ``text`` when it has
    few distinct values (``BALANCE_MAX_VALUES``), else none."""
    if stratify_by is not None:
        return stratify_by
    values = set()
    for r in rows:
        if "text" not in r:
            return None
        values.add(label_of(r["text"]))
        if len(values) > BALANCE_MAX_VALUES:
            return None
    return "text" if rows else None


def split_statistics(
    rows_by_split: dict[str, Sequence[dict[str, Any]]],
    group_by: Sequence[str],
    balance_by: str | None,
) -> dict[str, Any]:
    """Per-split counts, groups and label balance, and the leak check: how many groups occur in
    more than one split (``shared_groups``), and the first few such groups (``shared_examples``)."""
    seen: dict[str, set[str]] = {}
    counts, groups, balance = {}, {}, {}
    for split, rows in rows_by_split.items():
        keys = {group_key(r, group_by) for r in rows}
        for key in keys:
            seen.setdefault(key, set()).add(split)
        counts[split] = len(rows)
        groups[split] = len(keys)
        tally = Counter(label_of(r.get(balance_by)) for r in rows) if balance_by else Counter()
        balance[split] = dict(sorted(tally.items()))
    shared = sorted(k for k, s in seen.items() if len(s) > 1)
    return {
        "counts": counts,
        "groups": groups,
        "balance": balance,
        "balance_by": balance_by,
        "shared_groups": len(shared),
        "shared_examples": [
            {"group": k, "splits": [s for s in rows_by_split if s in seen[k]]} for k in shared[:5]
        ],
    }
