"""Access levels, rights and what a derived dataset inherits: the rules, apart from any database.

A dataset has an owner (the role that registered it) and a level: ``team`` (every catalog user
may read and use it), ``restricted`` (the owner and the roles granted a right) or ``private``
(the owner alone). A grant gives a role ``read`` (see the record, its inputs and its lineage) or
``use`` (also build from it); ``use`` includes ``read``. PostgreSQL enforces reading with
row-level security (``synth.catalog.pg_access``); building checks ``use`` (``require``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from synth.errors import ConfigError

LEVELS = ("team", "restricted", "private")  # from the most open to the strictest
RIGHTS = ("read", "use")  # from the weakest to the strongest
ACCESS_ENV = "SYNTH_ACCESS"  # the level a build or import asks for (set by --access)


def check_level(value: str, where: str = "--access") -> str:
    """``value`` when it is a level, else one line naming ``where`` and the levels."""
    if value not in LEVELS:
        raise ConfigError(f"{where}: '{value}' is not an access level (use {', '.join(LEVELS)})")
    return value


def strictest(levels: Iterable[str]) -> str:
    """The strictest of ``levels`` (``team`` when there are none)."""
    return max(levels, key=LEVELS.index, default="team")


def stronger(a: str | None, b: str | None) -> str | None:
    """The stronger of two rights (None: no right)."""
    if a is None or b is None:
        return a or b
    return max(a, b, key=RIGHTS.index)


def requested_level(info: Mapping[str, Any]) -> str | None:
    """The level a registration asks for: ``info["access"]``, else ``$SYNTH_ACCESS``."""
    value = info.get("access") or os.environ.get(ACCESS_ENV) or None
    return check_level(value, "access" if info.get("access") else ACCESS_ENV) if value else None


def source_ids(info: Mapping[str, Any]) -> list[str]:
    """The catalog datasets a registration was built from: its parent and its ``dataset:``
    inputs, each once, in order."""
    ids: list[str] = []
    parent = info.get("parent") or None
    if parent and parent.get("id"):
        ids.append(parent["id"])
    for item in info.get("inputs", []):
        uri = item.get("uri", "")
        if uri.startswith("dataset:"):
            ids.append(uri[len("dataset:") :])
    return list(dict.fromkeys(ids))


def inherited(
    requested: str | None,
    personal: bool,
    owner: str,
    sources: Iterable[Mapping[str, Any]],
) -> tuple[str, dict[str, str]]:
    """The level and grants (role -> right) of a new dataset registered by ``owner``.

    The level is the strictest of the one asked for (default: ``restricted`` for personal data,
    else ``team``) and its sources' levels; the grants are the union of the sources' grants,
    each role with the strongest right it holds on any source, plus ``use`` for each source's
    owner, so the owners of the data keep their reach into what was made of it. ``sources`` are
    mappings with ``access``, ``owner`` and ``grants`` (a list of {role, right}).
    """
    sources = list(sources)
    level = requested or ("restricted" if personal else "team")
    level = strictest([level, *(s["access"] for s in sources)])
    grants: dict[str, str] = {}
    for s in sources:
        pairs = [(g["role"], g["right"]) for g in s.get("grants", [])]
        if s.get("owner"):
            pairs.append((s["owner"], "use"))
        for role, right in pairs:
            if role != owner:
                grants[role] = stronger(grants.get(role), right) or right
    return level, grants


def right_of(role: str, record: Any, member_of: Iterable[str] = ()) -> str | None:
    """The right ``role`` (a member of the roles ``member_of``) holds on ``record``: ``use``
    for its owner and for a ``team`` dataset, a granted right on a ``restricted`` one, else
    None. What PostgreSQL's ``synth_right`` computes, for the catalogs that do not enforce."""
    if record.owner == role or record.access == "team":
        return "use"
    if record.access == "private":
        return None
    roles = {role, *member_of}
    right: str | None = None
    for g in record.grants:
        if g["role"] in roles:
            right = stronger(right, g["right"])
    return right


def access_lines(rec: Any) -> list[str]:
    """``synth datasets show``'s lines on a record's owner, level and who may do what."""
    reach = {
        "team": "every catalog user may read and use it",
        "restricted": "its owner and the roles granted below",
        "private": "its owner alone",
    }[rec.access]
    lines = [
        f"owner        {rec.owner or '-'}",
        f"access       {rec.access} ({reach})",
    ]
    grants = rec.grants if rec.access == "restricted" else []
    if rec.grants and rec.access != "restricted":
        lines.append(f"grants       {len(rec.grants)} kept, in force only while restricted")
    for g in grants:
        lines.append(f"  {g['right']:5} {g['role']:24} by {g['by']} at {g['time']}")
    return lines
