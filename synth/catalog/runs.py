"""Training runs in the catalog: a run's record, and the SQL that stores, finds and lists runs.

A run is a user's training command run on catalog datasets (``synth run``): its datasets and
their roles (train, validation, test), its metrics with their steps, its exit code, times and
log. The run is written when it starts (status ``running``) and again when it ends, so a run
killed mid-way stays visible as ``running`` rather than vanishing. Runs name datasets by id
without a foreign key: a run outlives the deletion of a dataset it used, as lineage must.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synth.catalog.base import id_prefix, prefix_match

_IN_CHUNK = 500  # run ids per IN (...) list, far below either database's limit on parameters
RUN_STATES = ("running", "succeeded", "failed", "stopped")
ROLES = ("train", "validation", "test")


@dataclass
class RunRecord:
    id: str  # 32 hex digits (a random UUID), looked up by a prefix of at least 4
    model: str
    command: list[str]
    status: str  # one of RUN_STATES
    started: str  # ISO-8601 UTC
    log_path: str
    trigger: dict[str, Any] = field(default_factory=lambda: {"type": "manual"})
    ended: str | None = None
    exit_code: int | None = None
    reason: str | None = None  # why a run failed or stopped
    datasets: list[dict[str, Any]] = field(default_factory=list)  # dataset_id, role, split
    metrics: dict[str, float] = field(default_factory=dict)  # final value of each metric
    steps: list[dict[str, Any]] = field(default_factory=list)  # name, step, value, in order
    hp: dict[str, str] = field(default_factory=dict)  # hyperparameters handed to the command
    unit: str | None = None  # "percent" or "fraction" when the command said which its errors are

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}

    def dataset(self, role: str) -> dict[str, Any] | None:
        """The dataset used in ``role`` (train, validation, test), if any."""
        return next((d for d in self.datasets if d["role"] == role), None)


# Schema version 2 of synth.catalog.sql.MIGRATIONS (the text of a released version never changes).
RUNS_MIGRATION = """
    CREATE TABLE runs (
        id {key} PRIMARY KEY,
        model TEXT NOT NULL,
        command_json {json} NOT NULL,
        status TEXT NOT NULL,
        started {key} NOT NULL,
        ended TEXT,
        exit_code {int64},
        reason TEXT,
        log_path TEXT NOT NULL,
        trigger_type TEXT NOT NULL,
        trigger_json {json} NOT NULL,
        metrics_json {json} NOT NULL,
        hp_json {json} NOT NULL,
        unit TEXT
    );
    CREATE INDEX runs_started ON runs(started);
    CREATE TABLE run_datasets (
        run_id {key} NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        role {key} NOT NULL,
        dataset_id {key} NOT NULL,
        split TEXT,
        PRIMARY KEY (run_id, role)
    );
    CREATE INDEX run_datasets_dataset ON run_datasets(dataset_id);
    CREATE TABLE run_steps (
        run_id {key} NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq {int64} NOT NULL,
        name TEXT NOT NULL,
        step {int64},
        value_json {json} NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
"""

# Schema version 5: a run's owner, the role (OS user on SQLite) that ran it. On PostgreSQL the
# row-level security of synth.catalog.pg_access lets a role read a run only when it is the
# run's owner or may read every dataset the run used.
RUNS_OWNER_MIGRATION = """
    ALTER TABLE runs ADD COLUMN owner {key} NOT NULL DEFAULT '';
"""

_RUN_COLUMNS = (
    "id, model, command_json, status, started, ended, exit_code, reason, log_path, "
    "trigger_type, trigger_json, metrics_json, hp_json, unit, owner"
)


def _row(run: RunRecord) -> tuple[Any, ...]:
    return (
        run.id,
        run.model,
        json.dumps(run.command, ensure_ascii=False),
        run.status,
        run.started,
        run.ended,
        run.exit_code,
        run.reason,
        run.log_path,
        run.trigger.get("type", "manual"),
        json.dumps(run.trigger, sort_keys=True, ensure_ascii=False),
        json.dumps(run.metrics, sort_keys=True),
        json.dumps(run.hp, sort_keys=True, ensure_ascii=False),
        run.unit,
    )


def _record(row: Mapping[str, Any], datasets: list[dict[str, Any]], steps: list[dict[str, Any]]):
    return RunRecord(
        id=row["id"],
        model=row["model"],
        command=json.loads(row["command_json"]),
        status=row["status"],
        started=row["started"],
        ended=row["ended"],
        exit_code=row["exit_code"],
        reason=row["reason"],
        log_path=row["log_path"],
        trigger=json.loads(row["trigger_json"]),
        metrics=json.loads(row["metrics_json"]),
        hp=json.loads(row["hp_json"]),
        unit=row["unit"],
        datasets=datasets,
        steps=steps,
    )


class RunsMixin:
    """The run methods of ``SqlCatalog`` (which supplies ``dialect``)."""

    dialect: Any
    whoami: Any  # the acting role (SqlCatalog's)

    def add_run(self, run: RunRecord) -> None:
        """Write ``run`` (a new one, or the same id again with its end): its row, datasets and
        steps replace what was there, in one transaction."""
        d = self.dialect
        with d.errors(), d.transaction():
            d.execute("DELETE FROM run_steps WHERE run_id = ?", (run.id,))
            d.execute("DELETE FROM run_datasets WHERE run_id = ?", (run.id,))
            d.execute("DELETE FROM runs WHERE id = ?", (run.id,))
            d.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({', '.join(['?'] * 15)})",  # noqa: S608
                (*_row(run), self.whoami()),
            )
            if run.datasets:
                d.executemany(
                    "INSERT INTO run_datasets (run_id, role, dataset_id, split) "
                    "VALUES (?, ?, ?, ?)",
                    [(run.id, x["role"], x["dataset_id"], x.get("split")) for x in run.datasets],
                )
            if run.steps:
                d.executemany(
                    "INSERT INTO run_steps (run_id, seq, name, step, value_json) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (run.id, i, s["name"], s.get("step"), json.dumps(s["value"]))
                        for i, s in enumerate(run.steps)
                    ],
                )

    def _runs(self, rows: Sequence[Mapping[str, Any]]) -> list[RunRecord]:
        """Records for ``runs`` rows, their datasets and steps read a few hundred runs at a time."""
        datasets: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
        steps: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
        ids = list(datasets)
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ", ".join(["?"] * len(chunk))
            for r in self.dialect.execute(
                f"SELECT run_id, role, dataset_id, split FROM run_datasets "  # noqa: S608
                f"WHERE run_id IN ({marks})",
                chunk,
            ).fetchall():
                datasets[r["run_id"]].append(
                    {"dataset_id": r["dataset_id"], "role": r["role"], "split": r["split"]}
                )
            for r in self.dialect.execute(
                f"SELECT run_id, name, step, value_json FROM run_steps "  # noqa: S608
                f"WHERE run_id IN ({marks}) ORDER BY run_id, seq",
                chunk,
            ).fetchall():
                steps[r["run_id"]].append(
                    {"name": r["name"], "step": r["step"], "value": json.loads(r["value_json"])}
                )
        for used in datasets.values():
            used.sort(key=lambda x: ROLES.index(x["role"]) if x["role"] in ROLES else len(ROLES))
        return [_record(row, datasets[row["id"]], steps[row["id"]]) for row in rows]

    def get_run(self, ref: str) -> RunRecord:
        """A run by full id or a unique prefix (at least 4 hex digits)."""
        ref = id_prefix(ref, "run")
        with self.dialect.errors():
            rows = self.dialect.execute(
                "SELECT * FROM runs WHERE id >= ? ORDER BY id LIMIT 6", (ref,)
            ).fetchall()
            rows = [r for r in rows if r["id"].startswith(ref)]
            return self._runs([prefix_match(ref, rows, self.dialect.where, "run")])[0]

    def list_runs(self, dataset_id: str | None = None) -> list[RunRecord]:
        """Every run, oldest first; with ``dataset_id``, the runs that used that dataset."""
        with self.dialect.errors():
            if dataset_id is None:
                rows = self.dialect.execute("SELECT * FROM runs ORDER BY started, id").fetchall()
            else:
                rows = self.dialect.execute(
                    "SELECT * FROM runs WHERE id IN "
                    "(SELECT run_id FROM run_datasets WHERE dataset_id = ?) ORDER BY started, id",
                    (dataset_id,),
                ).fetchall()
            return self._runs(rows)

    def runs_for_dataset(self, dataset_id: str) -> list[RunRecord]:
        return self.list_runs(dataset_id)
