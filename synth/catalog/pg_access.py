"""PostgreSQL's part of access rights: the row-level security policies of schema version 4.

``synth_right(dataset, role)`` is the one place a right is computed: ``use`` for the owner and
for a ``team`` dataset, the strongest right granted to the role or to a group role it belongs to
on a ``restricted`` one, else NULL. It runs as its owner (the tables' owner, who is not subject
to the policies), so the policies on ``datasets`` and ``grants`` do not call each other.

The policies: a role reads a ``datasets`` row only when it holds a right on it, and the rows of
``dataset_inputs``, ``grants``, ``builds`` and ``audit`` only when it can read their dataset
(a build also while it is the role's own, an audit row also when the role wrote it); it
registers only as itself; only a dataset's owner changes its rows and grants. ``audit`` has no
UPDATE or DELETE policy, and a trigger stamps each new row with the acting role and the time,
so the trail is append-only for every role but the tables' owner. The roles an administrator
creates, and the privileges they get, are ``synth.catalog.roles``'.
"""

from __future__ import annotations

from synth.catalog.retention import TOMBSTONE_POLICIES

# Run in order after migration 4's shared statements, in the same transaction. Each is one
# statement (function bodies hold semicolons, so they are not split).
POLICIES_V4: list[str] = [
    """
    CREATE FUNCTION synth_right(ds TEXT, who TEXT) RETURNS TEXT
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
        SELECT CASE
            WHEN d.owner = who OR d.access = 'team' THEN 'use'
            WHEN d.access = 'private' THEN NULL
            ELSE (
                SELECT MAX(g.access_right) FROM grants g
                WHERE g.dataset_id = d.id AND (
                    g.role = who OR EXISTS (
                        SELECT 1 FROM pg_catalog.pg_roles r
                        WHERE r.rolname = g.role AND pg_catalog.pg_has_role(who, r.oid, 'MEMBER')
                    )
                )
            )
        END
        FROM datasets d WHERE d.id = ds
    $$
    """,
    "ALTER TABLE datasets ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY datasets_read ON datasets FOR SELECT
       USING (owner = current_user OR access = 'team'
              OR synth_right(id, current_user) IS NOT NULL)""",
    "CREATE POLICY datasets_register ON datasets FOR INSERT WITH CHECK (owner = current_user)",
    """CREATE POLICY datasets_change ON datasets FOR UPDATE
       USING (owner = current_user) WITH CHECK (owner = current_user)""",
    "CREATE POLICY datasets_remove ON datasets FOR DELETE USING (owner = current_user)",
    "ALTER TABLE dataset_inputs ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY inputs_read ON dataset_inputs FOR SELECT
       USING (EXISTS (SELECT 1 FROM datasets d WHERE d.id = dataset_inputs.dataset_id))""",
    """CREATE POLICY inputs_register ON dataset_inputs FOR INSERT
       WITH CHECK (EXISTS (SELECT 1 FROM datasets d
                           WHERE d.id = dataset_inputs.dataset_id AND d.owner = current_user))""",
    """CREATE POLICY inputs_remove ON dataset_inputs FOR DELETE
       USING (EXISTS (SELECT 1 FROM datasets d
                      WHERE d.id = dataset_inputs.dataset_id AND d.owner = current_user))""",
    "ALTER TABLE grants ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY grants_read ON grants FOR SELECT
       USING (EXISTS (SELECT 1 FROM datasets d WHERE d.id = grants.dataset_id))""",
    """CREATE POLICY grants_give ON grants FOR INSERT
       WITH CHECK (EXISTS (SELECT 1 FROM datasets d
                           WHERE d.id = grants.dataset_id AND d.owner = current_user))""",
    """CREATE POLICY grants_change ON grants FOR UPDATE
       USING (EXISTS (SELECT 1 FROM datasets d
                      WHERE d.id = grants.dataset_id AND d.owner = current_user))""",
    """CREATE POLICY grants_take ON grants FOR DELETE
       USING (EXISTS (SELECT 1 FROM datasets d
                      WHERE d.id = grants.dataset_id AND d.owner = current_user))""",
    "ALTER TABLE builds ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY builds_read ON builds FOR SELECT
       USING (owner = current_user OR owner = ''
              OR (dataset_id IS NOT NULL
                  AND EXISTS (SELECT 1 FROM datasets d WHERE d.id = builds.dataset_id)))""",
    "CREATE POLICY builds_start ON builds FOR INSERT WITH CHECK (owner = current_user)",
    """CREATE POLICY builds_track ON builds FOR UPDATE
       USING (owner = current_user OR owner = '') WITH CHECK (owner = current_user)""",
    "ALTER TABLE audit ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY audit_read ON audit FOR SELECT
       USING (role = current_user OR dataset_id IS NULL
              OR EXISTS (SELECT 1 FROM datasets d WHERE d.id = audit.dataset_id))""",
    "CREATE POLICY audit_append ON audit FOR INSERT WITH CHECK (role = current_user)",
    """
    CREATE FUNCTION synth_audit_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.role := current_user;
        NEW.time := to_char(clock_timestamp() AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS"+00:00"');
        RETURN NEW;
    END
    $$
    """,
    """CREATE TRIGGER audit_stamp BEFORE INSERT ON audit
       FOR EACH ROW EXECUTE FUNCTION synth_audit_stamp()""",
]

# Schema version 5: training runs are as visible as their datasets. A role reads a run it ran,
# or one whose every dataset it may read (``synth_run_visible`` looks at all of the run's
# datasets, as the tables' owner); the run's datasets and steps go with the run; only the run's
# owner writes or rewrites it.
RUN_POLICIES: list[str] = [
    """
    CREATE FUNCTION synth_run_visible(run TEXT, who TEXT) RETURNS BOOLEAN
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
        SELECT NOT EXISTS (
            SELECT 1 FROM run_datasets rd
            WHERE rd.run_id = run AND synth_right(rd.dataset_id, who) IS NULL
        )
    $$
    """,
    "ALTER TABLE runs ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY runs_read ON runs FOR SELECT
       USING (owner = current_user OR synth_run_visible(id, current_user))""",
    "CREATE POLICY runs_start ON runs FOR INSERT WITH CHECK (owner = current_user)",
    """CREATE POLICY runs_change ON runs FOR UPDATE
       USING (owner = current_user) WITH CHECK (owner = current_user)""",
    "CREATE POLICY runs_remove ON runs FOR DELETE USING (owner = current_user)",
    "ALTER TABLE run_datasets ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY run_datasets_read ON run_datasets FOR SELECT
       USING (EXISTS (SELECT 1 FROM runs r WHERE r.id = run_datasets.run_id))""",
    """CREATE POLICY run_datasets_write ON run_datasets FOR INSERT
       WITH CHECK (EXISTS (SELECT 1 FROM runs r
                           WHERE r.id = run_datasets.run_id AND r.owner = current_user))""",
    """CREATE POLICY run_datasets_remove ON run_datasets FOR DELETE
       USING (EXISTS (SELECT 1 FROM runs r
                      WHERE r.id = run_datasets.run_id AND r.owner = current_user))""",
    "ALTER TABLE run_steps ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY run_steps_read ON run_steps FOR SELECT
       USING (EXISTS (SELECT 1 FROM runs r WHERE r.id = run_steps.run_id))""",
    """CREATE POLICY run_steps_write ON run_steps FOR INSERT
       WITH CHECK (EXISTS (SELECT 1 FROM runs r
                           WHERE r.id = run_steps.run_id AND r.owner = current_user))""",
    """CREATE POLICY run_steps_remove ON run_steps FOR DELETE
       USING (EXISTS (SELECT 1 FROM runs r
                      WHERE r.id = run_steps.run_id AND r.owner = current_user))""",
]

EXTRA_MIGRATIONS: dict[int, list[str]] = {
    4: POLICIES_V4 + TOMBSTONE_POLICIES,
    5: RUN_POLICIES,
}
