"""Trace a dataset version: its ancestry (parents, dataset inputs, triggers), its asset inputs
with hashes and licences, and the versions built from it; rendered as a tree, Mermaid or DOT."""

from __future__ import annotations

from typing import Any

from synth.catalog import Catalog, DatasetRecord
from synth.catalog.base import Tombstone


def _dataset_inputs(rec: DatasetRecord) -> list[str]:
    return [i["uri"][len("dataset:") :] for i in rec.inputs if i["uri"].startswith("dataset:")]


def _node(rec: DatasetRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "name": rec.name,
        "kind": rec.kind,
        "count": rec.count,
        "created": rec.created,
        "trigger": rec.trigger,
        "licences": rec.licences,
        "personal_data": rec.personal_data,
    }


def _grave(t: Tombstone) -> dict[str, Any]:
    """A deleted version as a lineage node: what its tombstone keeps."""
    return {
        "id": t.id,
        "name": t.name,
        "kind": t.kind,
        "count": t.count,
        "created": t.created,
        "trigger": {"type": t.trigger_type},
        "licences": t.licences,
        "personal_data": t.personal_data,
        "deleted": {
            "deleted": t.deleted,
            "by": t.deleted_by,
            "role": t.deleted_role,
            "reason": t.reason,
            "files": t.files,
        },
    }


def _links(rec: DatasetRecord | Tombstone) -> list[tuple[str, str]]:
    if isinstance(rec, Tombstone):
        return [(relation, pid) for pid, relation in rec.dataset_links()]
    return ([("parent", rec.parent_id)] if rec.parent_id else []) + [
        ("input", d) for d in _dataset_inputs(rec)
    ]


def _trigger_type(rec: DatasetRecord | Tombstone) -> str:
    if isinstance(rec, Tombstone):
        return rec.trigger_type
    return rec.trigger.get("type", "manual")


def trace(catalog: Catalog, ref: str) -> dict[str, Any]:
    """The lineage of ``ref``: ``ancestors`` (recursively, each with how it relates), ``inputs``
    (assets and corpora with hashes and licences) and ``descendants`` (recursively). A deleted
    version is a node with ``deleted`` (when, by whom, why) from its tombstone, and its own
    ancestors and descendants as the tombstone names them."""
    root = catalog.get(ref)
    records = {r.id: r for r in catalog.list()}
    graves = {i: t for i, t in catalog.tombstones().items() if i not in records}

    def ancestors(rec: DatasetRecord | Tombstone, seen: set[str]) -> list[dict[str, Any]]:
        out = []
        for relation, pid in _links(rec):
            parent = records.get(pid)
            if parent is None and pid in graves and pid not in seen:
                grave = graves[pid]
                out.append(
                    {
                        **_grave(grave),
                        "relation": relation,
                        "ancestors": ancestors(grave, seen | {pid}),
                    }
                )
                continue
            if parent is None or pid in seen:
                out.append({"id": pid, "relation": relation, "missing": parent is None})
                continue
            out.append(
                {
                    **_node(parent),
                    "relation": relation,
                    "ancestors": ancestors(parent, seen | {pid}),
                }
            )
        return out

    def descendants(rec: DatasetRecord | Tombstone, seen: set[str]) -> list[dict[str, Any]]:
        out = []
        for child in [*records.values(), *graves.values()]:
            if child.id in seen:
                continue
            links = _links(child)
            if ("parent", rec.id) in links:  # a split version is its parent's samples, split
                relation = "split" if _trigger_type(child) == "split" else "expansion"
            elif ("input", rec.id) in links:
                relation = "input"
            else:
                continue
            node = _grave(child) if isinstance(child, Tombstone) else _node(child)
            out.append(
                {
                    **node,
                    "relation": relation,
                    "descendants": descendants(child, seen | {child.id}),
                }
            )
        return out

    inputs = [
        {k: i[k] for k in ("role", "name", "uri", "sha256", "licence", "personal_data")}
        for i in root.inputs
        if not i["uri"].startswith("dataset:")
    ]
    return {
        **_node(root),
        "code_version": root.code_version,
        "seed": root.seed,
        "flow_run_id": root.flow_run_id,
        "inputs": inputs,
        "ancestors": ancestors(root, {root.id}),
        "descendants": descendants(root, {root.id}),
        "runs": _runs(catalog, root.id),
    }


def _runs(catalog: Catalog, dataset_id: str) -> list[dict[str, Any]]:
    """The training runs that used the dataset, with the role it had in each."""
    out = []
    for run in catalog.list_runs(dataset_id):
        for used in run.datasets:
            if used["dataset_id"] == dataset_id:
                out.append(
                    {
                        "id": run.id,
                        "model": run.model,
                        "role": used["role"],
                        "split": used["split"],
                        "status": run.status,
                        "started": run.started,
                        "metrics": run.metrics,
                        "trigger": run.trigger,
                    }
                )
    return out


def _trigger(t: dict[str, Any]) -> str:
    kind = t.get("type", "manual")
    if kind == "diagnosis":
        return f"diagnosis of {t.get('model', '?')}"
    return kind


def render_tree(lineage: dict[str, Any]) -> str:
    lines = [
        f"{lineage['id'][:12]}  {lineage['name']} ({lineage['kind']}, {lineage['count']} "
        f"samples, trigger: {_trigger(lineage['trigger'])})"
    ]
    by_role: dict[str, list[dict[str, Any]]] = {}
    for item in lineage["inputs"]:
        by_role.setdefault(item["role"], []).append(item)
    for role, items in sorted(by_role.items()):
        lines.append(f"  inputs: {role} ({len(items)})")
        for item in items:
            lines.append(
                f"    {item['name']:40} {item['sha256'][:12] or '-':12}  {item['licence']}"
            )

    def walk(nodes: list[dict[str, Any]], key: str, depth: int) -> None:
        for n in nodes:
            pad = "  " * depth
            if n.get("missing"):
                lines.append(f"{pad}{n['relation']}: {n['id'][:12]} (not in this catalog)")
                continue
            if n.get("deleted"):
                gone = n["deleted"]
                who = gone["by"] + (f" (role {gone['role']})" if gone.get("role") else "")
                lines.append(
                    f"{pad}{n['relation']}: {n['id'][:12]}  {n['name']} (DELETED on "
                    f"{gone['deleted']} by {who}: {gone['reason'] or 'no reason given'})"
                )
                walk(n.get(key, []), key, depth + 1)
                continue
            lines.append(
                f"{pad}{n['relation']}: {n['id'][:12]}  {n['name']} ({n['count']} "
                f"samples, trigger: {_trigger(n['trigger'])})"
            )
            walk(n.get(key, []), key, depth + 1)

    if lineage["ancestors"]:
        lines.append("  built from:")
        walk(lineage["ancestors"], "ancestors", 2)
    if lineage["descendants"]:
        lines.append("  built into:")
        walk(lineage["descendants"], "descendants", 2)
    if lineage.get("runs"):
        lines.append("  used by runs:")
        for r in lineage["runs"]:
            split = f":{r['split']}" if r["split"] else ""
            metrics = " ".join(f"{k}={v:.4g}" for k, v in r["metrics"].items())
            lines.append(
                f"    {r['id'][:12]}  {r['model']} ({r['role']}{split}, {r['status']}) {metrics}"
            )
    return "\n".join(lines)


def _edges(lineage: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    nodes: dict[str, str] = {lineage["id"]: f"{lineage['name']} ({lineage['count']})"}
    edges: list[tuple[str, str, str]] = []

    def up(child: str, parents: list[dict[str, Any]]) -> None:
        for p in parents:
            gone = ", deleted" if p.get("deleted") else ""
            nodes.setdefault(p["id"], f"{p.get('name', '?')} ({p.get('count', '?')}{gone})")
            label = p["relation"] if p["relation"] != "parent" else "expanded"
            if p.get("trigger"):
                label += f" / {_trigger(p.get('trigger') or {})}"
            edges.append((p["id"], child, p["relation"]))
            up(p["id"], p.get("ancestors", []))

    def down(parent: str, children: list[dict[str, Any]]) -> None:
        for c in children:
            gone = ", deleted" if c.get("deleted") else ""
            nodes.setdefault(c["id"], f"{c['name']} ({c['count']}{gone})")
            edges.append((parent, c["id"], f"{c['relation']} / {_trigger(c['trigger'])}"))
            down(c["id"], c.get("descendants", []))

    up(lineage["id"], lineage["ancestors"])
    down(lineage["id"], lineage["descendants"])
    return nodes, edges


def render_mermaid(lineage: dict[str, Any]) -> str:
    nodes, edges = _edges(lineage)
    lines = ["graph LR"]
    for nid, label in nodes.items():
        lines.append(f'  d{nid[:12]}["{nid[:12]}<br/>{label}"]')
    for src, dst, label in edges:
        lines.append(f"  d{src[:12]} -->|{label}| d{dst[:12]}")
    return "\n".join(lines)


def render_dot(lineage: dict[str, Any]) -> str:
    nodes, edges = _edges(lineage)
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for nid, label in nodes.items():
        lines.append(f'  "{nid[:12]}" [label="{nid[:12]}\\n{label}"];')
    for src, dst, label in edges:
        lines.append(f'  "{src[:12]}" -> "{dst[:12]}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines)


def diff(a: DatasetRecord, b: DatasetRecord) -> dict[str, Any]:
    """Spec, inputs, counts and distributions of two versions side by side (only differences
    for spec and inputs)."""

    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(d, dict):
            out: dict[str, Any] = {}
            for k, v in d.items():
                out |= flat(v, f"{prefix}{k}.")
            return out
        return {prefix[:-1]: d}

    fa, fb = flat(a.spec), flat(b.spec)
    spec = {k: [fa.get(k), fb.get(k)] for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)}
    ia = {(i["role"], i["uri"]): i["sha256"] for i in a.inputs}
    ib = {(i["role"], i["uri"]): i["sha256"] for i in b.inputs}
    inputs = {
        "only_in_a": sorted(f"{r}:{u}" for (r, u) in ia.keys() - ib.keys()),
        "only_in_b": sorted(f"{r}:{u}" for (r, u) in ib.keys() - ia.keys()),
        "changed_hash": sorted(
            f"{r}:{u}" for (r, u) in ia.keys() & ib.keys() if ia[(r, u)] != ib[(r, u)]
        ),
    }
    na, nb = a.statistics.get("numbers", {}), b.statistics.get("numbers", {})
    numbers = {k: [na.get(k), nb.get(k)] for k in sorted(set(na) | set(nb))}
    ca, cb = a.statistics.get("counts", {}), b.statistics.get("counts", {})

    def shares(counts: dict[str, int] | None) -> dict[str, float]:
        total = sum((counts or {}).values()) or 1
        return {k: round(v / total, 4) for k, v in (counts or {}).items()}

    distributions = {k: [shares(ca.get(k)), shares(cb.get(k))] for k in sorted(set(ca) | set(cb))}
    return {
        "a": {"id": a.id, "name": a.name, "kind": a.kind},
        "b": {"id": b.id, "name": b.name, "kind": b.kind},
        "count": [a.count, b.count],
        "seed": [a.seed, b.seed],
        "code_version": [a.code_version, b.code_version],
        "trigger": [a.trigger, b.trigger],
        "spec": spec,
        "inputs": inputs,
        "numbers": numbers,
        "distributions": distributions,
        "rejections": [a.statistics.get("rejections", {}), b.statistics.get("rejections", {})],
    }
