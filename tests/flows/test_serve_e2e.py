"""``synth serve``: its config, its deployments, and end to end against a real Prefect server.

The end-to-end tests start ``synth serve`` beside the session's ``prefect server start`` (both on
127.0.0.1), check that the server holds the upcoming runs of a cron schedule, run the diagnose
flow on a high-variance case and wait for the triggered expansion to land in the catalog, then
stop ``synth serve`` with SIGTERM. Every process started here is stopped by its pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from synth.catalog import open_catalog
from synth.engine.build import build, prepare
from synth.errors import ConfigError, NotFound
from synth.ocr.spec import build_spec
from tests.conftest import synth_cmd

# Prefect reads PREFECT_API_URL when it is first imported: start the session's server first.
pytestmark = pytest.mark.usefixtures("prefect_api")

CRON = "0 3 * * *"


def root_tag(home: str) -> str:
    from flows.serve import root_tag

    return root_tag(home)


def schedule(**kw: Any) -> dict[str, Any]:
    return (
        {"name": "nightly", "cron": CRON, "flow": "expand"}
        | {"parameters": {"dataset": "lines", "count": 5}}
        | kw
    )


# -- the config -----------------------------------------------------------------------------------
def test_a_config_with_schedules_loads():
    from flows.serve import load_serve_config

    config = load_serve_config(
        {
            "schedules": [
                schedule(),
                schedule(name="fresh-ocr", flow="ocr", timezone="Europe/Berlin",
                         parameters={"count": 50, "preset": "clean"}),
            ],
            "high_variance": {"workers": 2},
            "limit": 3,
        }
    )  # fmt: skip
    assert [s.name for s in config.schedules] == ["nightly", "fresh-ocr"]
    assert config.schedules[1].timezone == "Europe/Berlin"
    assert config.high_variance.workers == 2 and config.high_variance.enabled
    assert config.limit == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schedule": []}, "serve.toml: unknown key 'schedule'"),
        ({"schedules": [schedule(retries=2)]}, "serve.toml: unknown key 'schedules.0.retries'"),
        ({"schedules": [schedule(cron="0 3 * *")]}, "schedules.0.cron=\"0 3 * *\": Value error, "
                                                    "not a valid cron expression"),
        ({"schedules": [schedule(flow="audio")]}, "schedules.0.flow=\"audio\": Input should be "
                                                  "'ocr', 'speech', 'expand' or 'tune'"),
        ({"schedules": [schedule(timezone="Mars/Olympus")]}, "not an IANA time zone"),
        ({"schedules": [schedule(name="bad name")]}, "schedules.0.name=\"bad name\""),
        ({"schedules": [schedule(), schedule()]}, "two schedules are named 'nightly'"),
        ({"schedules": [schedule(parameters={"count": 5})]},
         "serve.toml: schedules.0 ('nightly').parameters: dataset={...}: Field required"),
        ({"schedules": [schedule(parameters={"dataset": "x", "count": 5, "seed": 1})]},
         "unknown key 'seed'"),
        ({"schedules": [schedule(flow="ocr", parameters={"count": 5, "colour": "red"})]},
         "serve.toml: schedules.0 ('nightly').parameters: unknown key 'colour' for flow 'ocr' "
         "(expected count, seed, workers, preset, config, name)"),
        ({"schedules": [schedule(flow="ocr", parameters={"seed": 5})]},
         "'count' is required for flow 'ocr'"),
        ({"schedules": [schedule(flow="ocr", parameters={"count": "many"})]}, "count"),
        ({"schedules": [schedule(flow="ocr", parameters={"count": 5, "config": {"fontz": {}}})]},
         "schedules.0 ('nightly').parameters.config: unknown key 'fontz'"),
        ({"high_variance": {"workers": 0}}, "high_variance.workers=0"),
        ({"schedules": [schedule(flow="ocr", parameters={"count": -5})]},
         "serve.toml: schedules.0 ('nightly').parameters: count=-5: must be >= 1"),
        ({"schedules": [schedule(flow="speech", parameters={"count": 0})]},
         "serve.toml: schedules.0 ('nightly').parameters: count=0: must be >= 1"),
        ({"schedules": [schedule(flow="ocr", parameters={"count": 5, "seed": -1})]},
         "serve.toml: schedules.0 ('nightly').parameters: seed=-1: must be from 0 to "
         "9223372036854775807"),
        ({"schedules": [schedule(flow="ocr", parameters={"count": 5, "seed": 2**63})]},
         "parameters: seed=9223372036854775808: must be from 0 to 9223372036854775807"),
        ({"schedules": [schedule(flow="ocr", parameters={"count": 5, "workers": 0})]},
         "serve.toml: schedules.0 ('nightly').parameters: workers=0: must be >= 1"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(data, message):
    from flows.serve import load_serve_config

    with pytest.raises(ConfigError) as err:
        load_serve_config(data, "serve.toml")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_schedule_s_count_and_seed_in_range_load():
    from flows.serve import load_serve_config

    entry = schedule(flow="ocr", parameters={"count": 1, "seed": 2**63 - 1, "workers": 1})
    (loaded,) = load_serve_config({"schedules": [entry]}).schedules
    assert loaded.parameters == {"count": 1, "seed": 2**63 - 1, "workers": 1}
    entry = schedule(flow="ocr", parameters={"count": 3, "seed": 0})
    (zero,) = load_serve_config({"schedules": [entry]}).schedules
    assert zero.parameters["seed"] == 0


def test_serve_dry_run_names_the_schedule_and_key_of_a_bad_count_or_seed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    cases = [
        ("count = -5", "count=-5: must be >= 1"),
        ("count = 5, seed = -1", "seed=-1: must be from 0 to 9223372036854775807"),
    ]
    for params, key in cases:
        bad = tmp_path / "serve.toml"
        bad.write_text(
            f'[[schedules]]\nname = "fresh"\ncron = "0 3 * * *"\nflow = "ocr"\n'
            f"parameters = {{ {params} }}\n"
        )
        proc = subprocess.run(
            [*synth_cmd(), "serve", "--config", str(bad), "--dry-run", "--home",
             str(tmp_path / "h")], capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert (proc.returncode, proc.stdout) == (2, "")
        assert proc.stderr == f"synth: error: {bad}: schedules.0 ('fresh').parameters: {key}\n"


def test_the_root_tag_is_stable_for_one_data_root_and_differs_for_another(tmp_path, monkeypatch):
    import hashlib

    a, b = tmp_path / "a", tmp_path / "b"
    tag = root_tag(str(a))
    assert tag == hashlib.sha256(str(a).encode()).hexdigest()[:8]
    assert root_tag(f"{a}/") == tag  # the same folder however it is written
    monkeypatch.chdir(tmp_path)
    assert root_tag("a") == root_tag("./b/../a") == tag
    assert root_tag(str(b)) != tag


def test_two_data_roots_keep_their_own_deployments_on_one_server(prefect_api, tmp_path):
    """Applied to the real server as ``synth serve`` applies them: the second root's
    deployments sit beside the first's instead of overwriting their data root."""
    import flows.serve as fs

    config = fs.load_serve_config(
        {"schedules": [schedule(name="grow")], "high_variance": {"enabled": False}}
    )
    roots = [str(tmp_path / "team-a"), str(tmp_path / "team-b")]
    served = {home: fs.build_deployments(config, home)[0] for home in roots}
    names = {home: {s.name for s in items} for home, items in served.items()}
    assert not names[roots[0]] & names[roots[1]]
    ids = []
    try:
        for items in served.values():
            ids += [str(s.deployment.apply()) for s in items]
        for home in roots:
            tag = root_tag(home)
            for flow_dep in ("ocr_dataset/ocr", "expand_dataset/expand", "scheduled_batch/grow"):
                dep = api(prefect_api, f"/deployments/name/{flow_dep}-{tag}")
                assert dep["parameters"]["home"] == home, flow_dep
        # served again (a restart of one root) the names are the same: updated, not added
        again = [str(s.deployment.apply()) for s in fs.build_deployments(config, roots[0])[0]]
        assert again == ids[: len(again)]
    finally:
        for dep_id in set(ids):
            _delete(f"{prefect_api}/deployments/{dep_id}")


def _delete(url: str) -> None:
    """DELETE ``url`` (gone already is fine)."""
    try:
        _retrying(urllib.request.Request(url, method="DELETE")).close()
    except urllib.error.HTTPError as err:
        if err.code != 404:
            raise


def test_a_speech_schedule_needs_the_speech_flow(monkeypatch):
    import flows.serve as fs

    monkeypatch.setattr(fs, "speech_flow", lambda: None)
    with pytest.raises(ConfigError, match=r"flow 'speech': flows\.speech .* is not available"):
        fs.load_serve_config({"schedules": [schedule(flow="speech", parameters={"count": 5})]})
    served, notes = fs.build_deployments(fs.ServeConfig(), "/data")
    assert not [s.name for s in served if s.name.startswith("speech_dataset/")]
    assert notes == ["speech: flows.speech is not available yet; no speech deployment"]


def test_the_deployments_carry_the_data_root_schedules_and_trigger(monkeypatch):
    import flows.serve as fs

    monkeypatch.setattr(fs, "speech_flow", lambda: None)
    config = fs.load_serve_config({"schedules": [schedule(timezone="Europe/Berlin")]})
    served, _ = fs.build_deployments(config, "/data/root")
    tag = fs.root_tag("/data/root")
    by_name = {s.name.removesuffix(f"-{tag}"): s for s in served}
    assert list(by_name) == [
        "ocr_dataset/ocr",
        "expand_dataset/expand",
        "improve/improve",
        "expand_on_diagnosis/on-high-variance",
        "scheduled_batch/nightly",
    ]
    assert [s.deployment.name for s in served] == [
        f"ocr-{tag}",
        f"expand-{tag}",
        f"improve-{tag}",
        f"on-high-variance-{tag}",
        f"nightly-{tag}",
    ]
    for s in served:
        assert s.deployment.parameters["home"] == "/data/root"
    # module entrypoints: the served code runs from the installed package, whatever the cwd
    assert [s.deployment.entrypoint for s in served] == [
        "flows.ocr.ocr_dataset",
        "flows.expand.expand_dataset",
        "flows.improve.improve_flow",
        "flows.diagnose.expand_on_diagnosis",
        "flows.serve.scheduled_batch",
    ]
    nightly = by_name["scheduled_batch/nightly"].deployment
    assert [(d.schedule.cron, d.schedule.timezone) for d in nightly.schedules] == [
        (CRON, "Europe/Berlin")
    ]
    assert nightly.parameters == {
        "schedule": "nightly",
        "job": "expand",
        "parameters": {"dataset": "lines", "count": 5},
        "home": "/data/root",
    }
    hv = by_name["expand_on_diagnosis/on-high-variance"].deployment
    assert [t.expect for t in hv.triggers] == [{"synth.diagnosis.high-variance"}]
    assert hv.triggers[0].parameters["home"] == "/data/root"
    no_trigger = fs.ServeConfig.model_validate({"high_variance": {"enabled": False}})
    names = [s.name for s in fs.build_deployments(no_trigger, "/d")[0]]
    assert not [n for n in names if n.startswith("expand_on_diagnosis/")]


def test_a_scheduled_seed_is_the_scheduled_minute_in_utc():
    from flows.serve import schedule_seed

    assert schedule_seed(datetime(2026, 11, 27, 3, 0, tzinfo=UTC)) == 202611270300
    berlin = datetime(2026, 11, 27, 4, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert schedule_seed(berlin) == 202611270330


def _fake(catalog, id_: str, count: int, created: str, parent: str | None = None, name="lines"):
    """A catalog record without files: enough for the lookups of ``latest_version``."""
    info = {
        "id": id_ * 64, "fingerprint": id_ * 64, "name": name, "kind": "ocr", "count": count,
        "seed": 0, "spec": {}, "code_version": "t", "statistics": {}, "created": created,
        "parent": {"id": parent * 64} if parent else None, "licences": [], "inputs": [],
    }  # fmt: skip
    return catalog.register(info, f"/nowhere/{id_}")[0]


def test_a_scheduled_expansion_grows_the_newest_descendant(home):
    from flows.serve import latest_version

    catalog = open_catalog(home)
    _fake(catalog, "a", 20, "2026-01-01T00:00:00+00:00")
    _fake(catalog, "b", 30, "2026-01-02T00:00:00+00:00", parent="a")
    _fake(catalog, "c", 40, "2026-01-03T00:00:00+00:00", parent="b")
    _fake(catalog, "d", 25, "2026-01-04T00:00:00+00:00", parent="a")
    _fake(catalog, "e", 99, "2026-01-05T00:00:00+00:00", name="other")
    catalog.close()
    assert latest_version("aaaa", str(home)).id == "c" * 64  # the most samples in a's line
    assert latest_version("dddd", str(home)).id == "d" * 64
    assert latest_version("lines", str(home)).id == "c" * 64  # a name: its newest version
    assert latest_version("other", str(home)).id == "e" * 64
    with pytest.raises(NotFound, match="no dataset is named 'nothing' either"):
        latest_version("nothing", str(home))


def test_an_expand_schedule_of_a_dataset_not_in_the_catalog_is_noted(home, monkeypatch):
    import flows.serve as fs

    monkeypatch.setattr(fs, "speech_flow", lambda: fs.ocr_dataset)
    config = fs.load_serve_config(
        {
            "schedules": [
                schedule(name="by-name"),  # dataset "lines"
                schedule(name="by-id", parameters={"dataset": "aaaa", "count": 5}),
                schedule(name="typo", parameters={"dataset": "lnies", "count": 5}),
            ]
        }
    )
    _, notes = fs.build_deployments(config, str(home))  # no catalog yet: looked up, not made
    assert not (home / "catalog.db").exists()
    assert [n.split(":")[0] for n in notes] == [
        "schedule 'by-name'",
        "schedule 'by-id'",
        "schedule 'typo'",
    ]
    catalog = open_catalog(home)
    _fake(catalog, "a", 20, "2026-01-01T00:00:00+00:00")  # named "lines"
    catalog.close()
    # a catalog that cannot be opened is a note too: serving goes on
    monkeypatch.setenv("SYNTH_CATALOG_URL", "postgresql://u:p@127.0.0.1:1/db")
    _, down = fs.build_deployments(config, str(home))
    assert len(down) == 3 and all("could not be looked up now" in n for n in down)
    monkeypatch.delenv("SYNTH_CATALOG_URL")
    _, notes = fs.build_deployments(config, str(home))
    assert notes == [
        f"schedule 'typo': dataset id 'lnies': no such dataset in {home / 'catalog.db'}; no "
        "dataset is named 'lnies' either; its runs fail until it is found"
    ]


def test_serve_errors_are_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "serve.toml"
    bad.write_text('[[schedules]]\nname = "n"\ncron = "0 3 * * *"\nflow = "ocr"\nparameters = {}\n')
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    proc = subprocess.run(
        [*synth_cmd(), "serve", "--config", str(bad), "--dry-run"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == (
        f"synth: error: {bad}: schedules.0 ('n').parameters: 'count' is required for flow 'ocr'\n"
    )
    proc = subprocess.run(
        [*synth_cmd(), "serve"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("synth: error: synth serve needs a Prefect server")


# -- end to end -----------------------------------------------------------------------------------
def api(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url + path,
        data=data,
        headers={"content-type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with _retrying(req) as r:
        return json.loads(r.read())


def _retrying(req: urllib.request.Request, attempts: int = 10) -> Any:
    """``urlopen(req)``, again after a 503: the server answers so while its services hold its
    SQLite database (Prefect's own clients retry it the same way); at most ``attempts`` tries."""
    for attempt in range(attempts):
        try:
            return urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as err:
            if err.code != 503 or attempt == attempts - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


@dataclass
class Served:
    proc: subprocess.Popen
    url: str
    home: Path
    parent: str
    log: Path
    deployments: dict[str, str]  # flow/deployment -> id

    def alive(self) -> None:
        if self.proc.poll() is not None:
            pytest.fail(f"synth serve exited with {self.proc.returncode}:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _wait(what: str, served: Served, probe, timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        served.alive()
        found = probe()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"{what}: not within {timeout:.0f} s\n{served.tail()}")


@pytest.fixture(scope="module")
def served(prefect_api: str, tmp_path_factory: pytest.TempPathFactory):
    """``synth serve`` with one nightly schedule and the trigger, beside the session's server."""
    root = tmp_path_factory.mktemp("serve")
    home = root / "home"
    catalog = open_catalog(home)
    spec = build_spec("clean", {"shard_size": 10}).model_dump(mode="json")
    plan, gen = prepare("ocr", spec, seed=11, count=20, name="lines", home=home)
    parent = build(plan, gen, catalog).record.id
    catalog.close()
    config = root / "serve.toml"
    config.write_text(
        f'[[schedules]]\nname = "nightly-grow"\ncron = "{CRON}"\nflow = "expand"\n'
        f'parameters = {{ dataset = "{parent}", count = 5 }}\n'
    )
    log = root / "serve.log"
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "SYNTH_HOME": str(home),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",  # event -> run latency; the default is 10 s
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*synth_cmd(), "serve", "--config", str(config), "--json"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    s = Served(proc, prefect_api, home, parent, log, {})
    tag = root_tag(str(home))
    try:

        def registered() -> bool:
            try:
                for name in (
                    "scheduled_batch/nightly-grow",
                    "expand_on_diagnosis/on-high-variance",
                ):
                    path = f"/deployments/name/{name}-{tag}"
                    s.deployments[name] = api(prefect_api, path)["id"]
            except OSError:
                return False
            autos = api(prefect_api, "/automations/filter", {})
            hv = s.deployments["expand_on_diagnosis/on-high-variance"]
            return any(
                a["name"] == "synth-high-variance"
                and any(x.get("deployment_id") == hv for x in a["actions"])
                for a in autos
            )

        _wait("deployments and automation registered", s, registered, timeout=120)
        yield s
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.mark.slow
def test_the_server_holds_upcoming_runs_of_a_served_schedule(served):
    dep_id = served.deployments["scheduled_batch/nightly-grow"]
    dep = api(served.url, f"/deployments/{dep_id}")
    assert [x["schedule"]["cron"] for x in dep["schedules"]] == [CRON]
    assert dep["parameters"]["home"] == str(served.home)

    def upcoming():
        return api(
            served.url,
            "/flow_runs/filter",
            {
                "deployments": {"id": {"any_": [dep_id]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
            },
        )

    runs = _wait("scheduled runs", served, upcoming, timeout=90, every=1)
    now = datetime.now(UTC)
    for run in runs:
        when = datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00"))
        assert when > now and (when.hour, when.minute, when.second) == (3, 0, 0)
        assert run["parameters"] == {
            "schedule": "nightly-grow",
            "job": "expand",
            "parameters": {"dataset": served.parent, "count": 5},
            "home": str(served.home),
        }


@pytest.mark.slow
def test_a_high_variance_diagnosis_expands_the_dataset_through_the_served_trigger(served):
    env = {**os.environ, "PREFECT_API_URL": served.url, "SYNTH_HOME": str(served.home)}
    # First, the same event about another data root: this server's trigger must ignore it.
    other = subprocess.run(
        [sys.executable, "-c", _EMIT_FOR_ANOTHER_ROOT, served.parent, str(served.home / "other")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert other.returncode == 0, other.stderr
    other_id = other.stdout.strip()
    started = time.monotonic()
    proc = subprocess.run(
        [*synth_cmd(), "diagnose", "--human-error", "1", "--train-error", "2", "--val-error", "6",
         "--expand", served.parent[:10], "--count", "6", "--model", "ocr-crnn", "--json"],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["findings"] == ["high_variance"] and out["expansion"] is None
    event = out["event"]
    assert event["name"] == "synth.diagnosis.high-variance"
    assert event["resource"] == "synth.model.ocr-crnn" and event["count"] == 6

    def expanded():
        catalog = open_catalog(served.home)
        try:
            return [r for r in catalog.list() if r.trigger.get("type") == "diagnosis"]
        finally:
            catalog.close()

    (rec,) = _wait("the triggered expansion in the catalog", served, expanded, timeout=120)
    assert rec.parent_id == served.parent and rec.count == 26
    assert rec.trigger == {
        "type": "diagnosis",
        "model": "ocr-crnn",
        "diagnosis": {
            "inputs": {"human_error": 1, "train_error": 2, "val_error": 6, "test_error": None},
            "unit": "percent",
            "avoidable_bias": 1,
            "variance": 4,
            "mismatch": None,
            "thresholds": {"high_bias": 2, "high_variance": 2, "mismatch": 2},
            "findings": ["high_variance"],
        },
        "count": 6,
        "count_derived": False,
        "event": "synth.diagnosis.high-variance",
        "event_id": event["id"],
    }
    assert time.monotonic() - started < 150

    # the run that made it was started by the automation, with the payload as its parameters
    hv = served.deployments["expand_on_diagnosis/on-high-variance"]
    runs = api(served.url, "/flow_runs/filter", {"deployments": {"id": {"any_": [hv]}}})
    (run,) = [r for r in runs if r["parameters"].get("event_id") == event["id"]]
    assert run["created_by"]["type"] == "AUTOMATION"
    assert run["parameters"]["dataset_id"] == served.parent and run["parameters"]["count"] == 6
    assert json.loads(run["parameters"]["diagnosis"]) == rec.trigger["diagnosis"]
    # the other root's event, sent before, started nothing here
    assert not [r for r in runs if r["parameters"].get("event_id") == other_id]


_EMIT_FOR_ANOTHER_ROOT = """
import sys
from flows.diagnose import emit_high_variance
from synth.diagnose import ErrorRates, diagnose
diag = diagnose(ErrorRates(1, 2, 6))
sent = emit_high_variance(diag, "ocr-crnn", sys.argv[1], 6, False, sys.argv[2])
print(sent["id"])
"""


@pytest.mark.slow
def test_serve_stops_cleanly_on_sigterm(served):
    served.alive()
    os.kill(served.proc.pid, signal.SIGTERM)
    assert served.proc.wait(timeout=60) == 0, served.tail()
    assert "synth serve: stopped" in served.tail()
    listing = json.loads(served.log.read_text().splitlines()[0])
    assert listing["home"] == str(served.home) and listing["api_url"] == served.url
    tag = root_tag(str(served.home))
    assert {
        f"ocr_dataset/ocr-{tag}",
        f"expand_dataset/expand-{tag}",
        f"expand_on_diagnosis/on-high-variance-{tag}",
        f"scheduled_batch/nightly-grow-{tag}",
    } <= {d["name"] for d in listing["deployments"]}
