"""Visual order of a line's font runs when it holds right-to-left letters.

A line drawn in one font is laid out by raqm (FriBiDi) whole. A line in several fonts is drawn
run by run, so the runs must first be put in visual order: the core of the Unicode
Bidirectional Algorithm for one paragraph without explicit embeddings (UAX #9 W4-W5, N1-N2,
I1-I2, L2). Numbers and their separators and terminators ("1,250.00", "15%") stay one
left-to-right sequence; a neutral between two strong characters of one direction takes it,
else the paragraph's (its first strong character's) direction.
"""

from __future__ import annotations

import unicodedata

_RTL = ("R", "AL")
_NUMBER = ("EN", "AN")


def levels(text: str) -> list[int]:
    """The embedding level of each character: even left-to-right, odd right-to-left."""
    kinds = []
    for ch in text:
        b = unicodedata.bidirectional(ch)
        kinds.append("R" if b in _RTL else "L" if b == "L" else "EN" if b in _NUMBER else b)
    base = next((1 if k == "R" else 0 for k in kinds if k in ("R", "L")), 0)
    n = len(kinds)
    # W4: a single separator between two numbers joins them; W5: terminators next to numbers.
    for i in range(1, n - 1):
        if kinds[i] in ("ES", "CS") and kinds[i - 1] == "EN" and kinds[i + 1] == "EN":
            kinds[i] = "EN"
    for i in range(n):
        if kinds[i] == "ET" and (
            (i > 0 and kinds[i - 1] == "EN") or (i + 1 < n and kinds[i + 1] == "EN")
        ):
            kinds[i] = "EN"
    # W7: a number after a left-to-right letter (or at the start of an LTR line) is L.
    strong = "L" if base == 0 else "R"
    for i in range(n):
        if kinds[i] in ("L", "R"):
            strong = kinds[i]
        elif kinds[i] == "EN" and strong == "L":
            kinds[i] = "L"
    # N1-N2: neutrals take the direction around them (numbers count as R), else the line's.
    direction = ["R" if k in ("R", "EN") else "L" if k == "L" else "" for k in kinds]
    sos = "R" if base else "L"
    i = 0
    while i < n:
        if direction[i]:
            i += 1
            continue
        j = i
        while j < n and not direction[j]:
            j += 1
        before = direction[i - 1] if i > 0 else sos
        after = direction[j] if j < n else sos
        fill = before if before == after else sos
        for k in range(i, j):
            direction[k] = fill
        i = j
    out = []
    for k, d in zip(kinds, direction, strict=True):
        if k == "EN":  # I1/I2: a number is at 2 (after right-to-left text in an LTR line too)
            out.append(2)
        elif d == "R":
            out.append(1)
        else:
            out.append(2 if base else 0)
    return out


def visual_runs(text: str, runs: list[tuple[str, int, int]]) -> list[tuple[str, int, int, str]]:
    """``runs`` ((font id, start, end) in logical order) cut where the level changes and put in
    visual order, left to right, each with the direction raqm shapes it in ("ltr"/"rtl")."""
    lv = levels(text)
    pieces: list[tuple[str, int, int, int]] = []
    for fid, start, end in runs:
        s = start
        for i in range(start + 1, end + 1):
            if i == end or lv[i] != lv[s]:
                pieces.append((fid, s, i, lv[s]))
                s = i
    if not pieces:
        return []
    # L2: from the highest level down to the lowest odd one, reverse every run of pieces at
    # that level or above.
    high = max(p[3] for p in pieces)
    low = min((p[3] for p in pieces if p[3] % 2), default=high + 1)
    order = list(range(len(pieces)))
    for level in range(high, low - 1, -1):
        i = 0
        while i < len(order):
            if pieces[order[i]][3] >= level:
                j = i
                while j < len(order) and pieces[order[j]][3] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                i = j
            else:
                i += 1
    return [
        (pieces[k][0], pieces[k][1], pieces[k][2], "rtl" if pieces[k][3] % 2 else "ltr")
        for k in order
    ]
