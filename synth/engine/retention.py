"""Deleting dataset versions: their records become tombstones and their own files go.

Order, so that a failure at any step leaves either the dataset as it was or the dataset gone,
never a record without its files or files without a record or tombstone:

1. Look up the version and every version built from it (by parent or as a dataset input, at any
   depth). Without ``with_descendants`` any of them is a refusal that names them; nothing moves.
2. Plan each version's own files: its folder under ``<data root>/datasets/``, an import's index
   ``<data root>/imports/<id>/`` and the label file ``<data root>/texts/<id>.txt`` that
   ``--texts-from`` wrote. An imported dataset's folder is the user's and stays where it is (the
   tombstone says so). A folder outside the data root is refused unless it is already gone.
3. Rename those files into ``<data root>/.trash/<id>-<pid>/`` (one ``rename`` each, atomic on one
   filesystem) with a ``moved.json`` of where each came from. A failure moves back what moved.
4. One catalog transaction: nothing else may have been built from them meanwhile, the tombstones
   are written, the builds marked deleted and the records removed, descendants first. If it
   fails, the files are moved back and the error stands.
5. After the commit, the trash folders are removed. A crash before that leaves a trash folder;
   the next ``delete`` under the same data root sweeps it: removed when its version is gone from
   the catalog, moved back when the commit never happened.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synth.catalog import Catalog, DatasetRecord
from synth.catalog.base import Tombstone
from synth.engine.importer import IMPORT_DIR
from synth.errors import Deleted, NotFound, SynthError

TRASH_DIR = ".trash"
MOVED_JSON = "moved.json"


@dataclass
class Removal:
    """One version to delete: its record and what becomes of its files."""

    record: DatasetRecord
    own: list[Path] = field(default_factory=list)  # synth's files of it, to remove
    files: str = ""  # for the tombstone: what happens to the files
    trash: Path | None = None  # where ``own`` waits for the commit


@dataclass
class DeleteResult:
    tombstones: list[Tombstone]  # descendants first, the version asked for last
    problems: list[str]  # files that could not be removed after the commit


def os_user() -> str:
    """The OS user running synth (``$USER`` style), or ``uid <n>`` without an account name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def descendants(catalog: Catalog, root: str) -> list[str]:
    """Every live version built from ``root`` at any depth, each after all versions built from
    it (descendants first: the order of deletion), ``root`` last."""
    children: dict[str, list[str]] = {}
    for link in catalog.links():
        children.setdefault(link.source, []).append(link.child)
    order: list[str] = []
    done: set[str] = set()

    def visit(node: str, path: set[str]) -> None:
        for child in sorted(set(children.get(node, []))):
            if child not in done and child not in path:
                visit(child, path | {child})
        if node not in done:
            done.add(node)
            order.append(node)

    visit(root, {root})
    return order


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return path != folder


def plan_removal(rec: DatasetRecord, home: Path, shared: set[str]) -> Removal:
    """What deleting ``rec`` removes under data root ``home``; ``shared``: folders that other
    live versions, not deleted, name too (kept)."""
    removal = Removal(rec)
    folder = Path(rec.path)
    imported = rec.trigger.get("type") == "import"
    index = home / IMPORT_DIR / rec.id
    labels = home / "texts" / f"{rec.id}.txt"
    removal.own += [p for p in (index, labels) if p.exists()]
    if imported:
        removal.files = (
            f"kept {folder} (imported in place: the user's files, not synth's); "
            f"removed synth's index {index}"
        )
    elif str(folder) in shared:
        removal.files = f"kept {folder} (another catalog version names the same folder)"
    elif not folder.exists():
        removal.files = f"{folder} was already gone"
    elif not _inside(folder.resolve(), (home / "datasets").resolve()):
        raise SynthError(
            f"{folder}: dataset {rec.id[:12]}'s folder is not under this data root's "
            f"{home / 'datasets'}; give its data root with --home (nothing deleted)"
        )
    else:
        removal.own.insert(0, folder)
        removal.files = f"removed {folder}"
    return removal


def _move_to_trash(removal: Removal, home: Path) -> None:
    trash = home / TRASH_DIR / f"{removal.record.id}-{os.getpid()}"
    trash.mkdir(parents=True, exist_ok=False)
    moved: list[dict[str, str]] = []
    removal.trash = trash
    for n, path in enumerate(removal.own):
        target = trash / str(n)
        (trash / MOVED_JSON).write_text(json.dumps({"id": removal.record.id, "moved": moved}))
        try:
            os.rename(path, target)
        except OSError as err:
            raise SynthError(
                f"{path}: cannot move it aside to delete it ({err.strerror or err}); "
                "nothing deleted"
            ) from None
        moved.append({"from": str(path), "to": target.name})
    (trash / MOVED_JSON).write_text(json.dumps({"id": removal.record.id, "moved": moved}))


def _restore(trash: Path) -> None:
    """Move what a trash folder holds back to where it came from, then drop the folder."""
    try:
        moved = json.loads((trash / MOVED_JSON).read_text())["moved"]
    except (OSError, ValueError, KeyError):
        moved = []
    for item in reversed(moved):
        source, original = trash / item["to"], Path(item["from"])
        if source.exists() and not original.exists():
            original.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, original)
    shutil.rmtree(trash, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_trash(catalog: Catalog, home: Path) -> None:
    """Finish what an interrupted delete left in ``<home>/.trash``: a version that is gone from
    the catalog has its files removed, one still there has them moved back."""
    root = home / TRASH_DIR
    if not root.is_dir():
        return
    for trash in sorted(root.iterdir()):
        pid = trash.name.rpartition("-")[2]
        if pid.isdigit() and _running(int(pid)):
            continue  # another delete's, under way
        try:
            dataset_id = json.loads((trash / MOVED_JSON).read_text())["id"]
        except (OSError, ValueError, KeyError):
            continue  # not one of ours
        try:
            catalog.get(dataset_id)
        except NotFound:
            shutil.rmtree(trash, ignore_errors=True)
        else:
            _restore(trash)


def delete_dataset(
    catalog: Catalog,
    ref: str,
    home: Path,
    *,
    reason: str = "",
    with_descendants: bool = False,
) -> DeleteResult:
    """Delete version ``ref`` (and, with ``with_descendants``, every version built from it),
    leaving tombstones; see the module's docstring for the order of the steps."""
    home = Path(home)
    try:
        target = catalog.get(ref)
    except Deleted as err:
        raise SynthError(f"cannot delete: {err}") from None
    sweep_trash(catalog, home)
    order = descendants(catalog, target.id)
    below = order[:-1]
    records = {r.id: r for r in catalog.list()}
    if below and not with_descendants:
        named = ", ".join(
            f"{i[:12]} ({records[i].name})" if i in records else i[:12] for i in reversed(below)
        )
        raise SynthError(
            f"dataset {target.id[:12]} ({target.name}): {len(below)} dataset"
            f"{'s were' if len(below) != 1 else ' was'} built from it: {named}; delete "
            "them first or give --with-descendants"
        )
    doomed = [records[i] for i in order]
    doomed_ids = set(order)
    shared = {r.path for r in records.values() if r.id not in doomed_ids}
    removals = [plan_removal(rec, home, shared) for rec in doomed]
    claimed: set[Path] = set()
    for removal in removals:  # two versions of one folder: move it once
        removal.own = [p for p in removal.own if p not in claimed]
        claimed.update(removal.own)

    when = datetime.now(UTC).isoformat(timespec="milliseconds")
    by, role = os_user(), catalog.db_role()
    tombstones = [
        Tombstone.of(r.record, by=by, role=role, reason=reason, files=r.files, when=when)
        for r in removals
    ]
    try:
        for removal in removals:
            _move_to_trash(removal, home)
        catalog.delete(doomed, tombstones)
    except BaseException:
        for removal in reversed(removals):
            if removal.trash is not None:
                _restore(removal.trash)
        raise
    problems: list[str] = []
    for removal in removals:
        if removal.trash is None:
            continue
        try:
            shutil.rmtree(removal.trash)
        except OSError as err:
            problems.append(f"{removal.trash}: not removed ({err.strerror or err})")
    with contextlib.suppress(OSError):
        (home / TRASH_DIR).rmdir()  # only when empty
    return DeleteResult(tombstones, problems)


def tombstone_json(t: Tombstone) -> dict[str, Any]:
    """A tombstone as ``--json`` prints it (its inputs counted, not listed)."""
    out = t.to_json()
    out["inputs"] = len(t.inputs)
    return out


def deleted_sources(catalog: Catalog, rec: DatasetRecord) -> dict[str, Tombstone]:
    """The tombstones of ``rec``'s parent and dataset inputs that are deleted, by id."""
    from synth.catalog.base import DATASET_INPUT
    from synth.errors import NotFound

    ids = [rec.parent_id] if rec.parent_id else []
    ids += [
        i["uri"][len(DATASET_INPUT) :] for i in rec.inputs if i["uri"].startswith(DATASET_INPUT)
    ]
    gone = {}
    for dataset_id, tombstone in catalog.tombstones(ids).items() if ids else ():
        try:
            catalog.get(dataset_id)  # rebuilt since: live again
        except NotFound:
            gone[dataset_id] = tombstone
    return gone
