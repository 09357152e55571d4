"""Licence values: SPDX license expressions (``MIT``, ``CC-BY-4.0``, ``MIT OR Apache-2.0``,
``LicenseRef-my-terms``) or ``unknown``.

Only the shape is checked, not the SPDX list: a typo like ``CC BY 4.0`` (spaces, no operator)
or an empty value is caught, while identifiers newer than any list we could ship still pass.
"""

from __future__ import annotations

import re

_ID = r"[A-Za-z0-9][A-Za-z0-9.+-]*"


def licence_problem(value: str) -> str | None:
    """Why ``value`` is not an SPDX license expression (or ``unknown``), or None."""
    if not isinstance(value, str) or not value.strip():
        return "expected an SPDX licence id or expression (e.g. CC-BY-4.0), or 'unknown'"
    parts: list[str] = []
    for word in value.split():  # split off parentheses: "(MIT" -> "(", "MIT"
        parts += [t for t in re.split(r"([()])", word) if t]
    expect_id, depth = True, 0
    for part in parts:
        if part == "(" and expect_id:
            depth += 1
        elif part == ")" and not expect_id and depth:
            depth -= 1
        elif part in ("AND", "OR", "WITH") and not expect_id:
            expect_id = True
        elif expect_id and part not in ("AND", "OR", "WITH") and re.fullmatch(_ID, part):
            expect_id = False
        else:
            return _not_spdx(value)
    return _not_spdx(value) if expect_id or depth else None


def _not_spdx(value: str) -> str:
    return (
        f"'{value}' is not an SPDX licence expression (ids like CC-BY-4.0 joined by AND, OR "
        "or WITH), or 'unknown'"
    )


def all_of(licences: list[str]) -> str:
    """The SPDX conjunction of ``licences`` (``unknown`` for none): a member that is itself a
    disjunction is parenthesised, so ``A OR B`` stays one term (``X AND (A OR B)``)."""
    terms = [f"({x})" if " OR " in f" {x} " else x for x in licences]
    return " AND ".join(terms) or "unknown"
