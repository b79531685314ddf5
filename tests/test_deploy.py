"""flows.deploy: the datasets config, the deployments it builds, and, against a real Prefect
server, a served deployment run end to end: triggered through the API, completed, its
artifacts recorded, its output published to the catalog.

The end-to-end test starts `prefect server start` (own PREFECT_HOME, SQLite) on a free port
and `python -m flows.deploy --serve` beside it, each in its own process group, and stops
both in teardown whatever happened. No part of Prefect is mocked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from flows import deploy
from flows.generate_flow import SCORES_ARTIFACT
from synthvae.catalog import load_manifest, versions
from synthvae.io import InputError, read_table

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "data" / "adult.csv.gz"
ADULT_SCHEMA = ROOT / "schemas" / "adult.yaml"
PREFECT = [sys.executable, "-m", "prefect"]
SERVER_START_SECONDS = 180
RUN_SECONDS = 420
DATASET = "adult-mini"


# ---------------------------------------------------------------------------- config


def write_config(folder: Path, **overrides) -> Path:
    config = {
        "catalog": "catalog",
        "runs_dir": "runs",
        "defaults": {"seed": "date", "privacy_gate": False, "epochs": 2},
        "datasets": [{"name": DATASET, "input": "small.csv", "schema": str(ADULT_SCHEMA),
                      "rows": 300, "cron": "0 3 * * *", "timezone": "Europe/Paris",
                      "timeout_minutes": 15, **overrides}],
    }
    if not (folder / "small.csv").exists():
        read_table(ADULT).sample(300, random_state=0).to_csv(folder / "small.csv", index=False)
    path = folder / "deployments.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_repository_config_builds_one_deployment_per_dataset():
    config = deploy.load_config()
    assert [d.name for d in config.datasets] == ["adult"]
    (adult,) = deploy.build_deployments(config)
    assert adult.name == "adult"
    assert [s.schedule.cron for s in adult.schedules] == ["0 3 * * *"]
    assert adult.parameters["input_path"] == str(ADULT)
    assert adult.parameters["schema_path"] == str(ADULT_SCHEMA)
    assert adult.parameters["seed"] is None and adult.parameters["privacy_gate"] is True
    assert adult.entrypoint == "flows/deploy.py:refresh"
    assert "synthvae" in adult.tags


def test_a_config_resolves_paths_defaults_and_schedules(tmp_path):
    config = deploy.load_config(write_config(tmp_path, seed=11))
    (dataset,) = config.datasets
    assert dataset.input == tmp_path / "small.csv" and dataset.seed == 11
    assert dataset.epochs == 2 and dataset.privacy_gate is False
    (built,) = deploy.build_deployments(config)
    assert built.parameters["catalog_root"] == str(tmp_path / "catalog")
    assert built.parameters["runs_dir"] == str(tmp_path / "runs")
    schedule = built.schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == ("0 3 * * *", "Europe/Paris")
    assert built.description.startswith(f"Refresh {DATASET} on cron '0 3 * * *'")


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"cron": "0 25 * * *"}, "Invalid cron string"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
        ({"input": "missing.csv"}, "input file not found: .*missing.csv"),
        ({"seed": "tuesday"}, "seed must be an integer or 'date'"),
        ({"rows": 0}, "rows must be a positive integer"),
        ({"name": "../up"}, "invalid dataset name"),
        ({"epoch": 3}, r"unknown keys \['epoch'\]"),
    ],
    ids=["cron", "timezone", "input", "seed", "rows", "name", "typo"],
)
def test_config_mistakes_are_one_line_errors(tmp_path, overrides, words):
    with pytest.raises(InputError, match=words):
        deploy.load_config(write_config(tmp_path, **overrides))


def test_duplicate_names_and_unknown_only(tmp_path, capsys):
    path = write_config(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["datasets"].append(dict(raw["datasets"][0]))
    (tmp_path / "twice.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="the name is used twice"):
        deploy.load_config(tmp_path / "twice.yaml")
    assert deploy.main(["--config", str(path), "--only", "census"]) == 2
    assert f"--only census: not in {path}; datasets: {DATASET}" in capsys.readouterr().err
    assert deploy.main(["--config", str(tmp_path / "none.yaml")]) == 2
    assert "deployments config not found" in capsys.readouterr().err


def test_serving_without_a_server_is_refused(tmp_path, capsys):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert deploy.main(["--config", str(write_config(tmp_path)), "--serve"]) == 2
    assert "no Prefect server: run `prefect server start`" in capsys.readouterr().err


def test_date_seed_and_artifact_key():
    assert deploy.date_seed(datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)) == 20260301
    assert deploy.artifact_key("Adult_v2.x") == "synthvae-catalog-adult-v2-x"


# ------------------------------------------------------------------------ end to end


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen, first=signal.SIGINT, grace: float = 20) -> None:
    """Stop a process and everything in its process group: `first`, then SIGKILL."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, first)
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
    try:
        os.killpg(process.pid, signal.SIGKILL)  # leftovers: flow-run subprocesses
    except ProcessLookupError:
        pass
    process.wait(10)


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """`prefect server start` on a free port, with its own PREFECT_HOME and SQLite database."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_PROFILES_PATH")}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": url,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "OMP_NUM_THREADS": "1",
    }
    log = home / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        started = time.monotonic()
        while True:
            assert server.poll() is None, f"prefect server exited:\n{tail(log)}"
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() - started < SERVER_START_SECONDS, \
                f"no /api/health after {SERVER_START_SECONDS} s:\n{tail(log)}"
            time.sleep(1)
        print(f"\nprefect server healthy at {url} after {time.monotonic() - started:.1f} s")
        yield SimpleNamespace(url=url, env=env, home=home, log=log)
    finally:
        stop(server, signal.SIGTERM)
        assert server.poll() is not None


@pytest.fixture(scope="module")
def served(prefect_server, tmp_path_factory):
    """`python -m flows.deploy --serve` for a 300-row, 2-epoch dataset; yields once the
    deployment is registered."""
    folder = tmp_path_factory.mktemp("deploy")
    config = write_config(folder)
    log = folder / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.deploy", "--serve", "--config", str(config)],
            cwd=ROOT, env=prefect_server.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        with client(prefect_server) as api:
            started = time.monotonic()
            while True:
                assert process.poll() is None, f"serve exited:\n{tail(log)}"
                try:
                    deployment = api.read_deployment_by_name(f"{deploy.FLOW_NAME}/{DATASET}")
                    break
                except Exception:  # ObjectNotFound until serve registers it
                    assert time.monotonic() - started < 120, f"not registered:\n{tail(log)}"
                    time.sleep(1)
        print(f"deployment {deploy.FLOW_NAME}/{DATASET} registered after "
              f"{time.monotonic() - started:.1f} s")
        yield SimpleNamespace(folder=folder, config=config, log=log, deployment=deployment,
                              process=process)
    finally:
        stop(process, signal.SIGINT)
        assert process.poll() is not None
        print(f"serve process stopped (exit {process.returncode}); its log ends:\n{tail(log, 15)}")


def client(server):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    class Client:
        def __enter__(self):
            self.settings = temporary_settings(updates={PREFECT_API_URL: server.url})
            self.settings.__enter__()
            self.client = get_client(sync_client=True)
            return self.client.__enter__()

        def __exit__(self, *exc):
            self.client.__exit__(*exc)
            self.settings.__exit__(*exc)

    return Client()


def wait_for(api, flow_run_id, log: Path):
    started = time.monotonic()
    while True:
        run = api.read_flow_run(flow_run_id)
        if run.state is not None and run.state.is_final():
            return run, time.monotonic() - started
        assert time.monotonic() - started < RUN_SECONDS, \
            f"flow run still {run.state.name if run.state else None}:\n{tail(log)}"
        time.sleep(2)


@pytest.mark.slow
def test_a_served_deployment_runs_and_publishes(prefect_server, served):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.deployments import run_deployment

    catalog = served.folder / "catalog"
    name = f"{deploy.FLOW_NAME}/{DATASET}"
    with client(prefect_server) as api:
        # the schedule was registered: the server has scheduled future runs for it
        assert [s.schedule.cron for s in served.deployment.schedules] == ["0 3 * * *"]

        # run 1: through the API (run_deployment), with the config's parameters
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: prefect_server.url}):
            triggered = run_deployment(name, timeout=0, as_subflow=False)
        run, seconds = wait_for(api, triggered.id, served.log)
        print(f"run 1 {run.name}: {run.state.name} after {seconds:.1f} s")
        assert run.state.is_completed(), f"{run.state}\n{tail(served.log)}"

        # its generate subflow recorded the scores artifact; refresh recorded the catalog one
        scores = api.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SCORES_ARTIFACT])))
        parents = set()
        for artifact in scores:
            child = api.read_flow_run(artifact.flow_run_id)
            if child.parent_task_run_id:
                parents.add(api.read_task_run(child.parent_task_run_id).flow_run_id)
        assert run.id in parents, "no synthvae-scores artifact from this run's generate subflow"
        assert {row["score"] for row in _table(scores[0])} >= {"quality", "dcr ratio"}
        published = api.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[deploy.artifact_key(DATASET)])))
        assert [a.flow_run_id for a in published] == [run.id]
        assert "# adult-mini version 1" in published[0].data

    # the catalog has version 1: verified, 300 rows, seeded from the scheduled day
    assert versions(DATASET, catalog) == ["1"]
    manifest = load_manifest(DATASET, "1", catalog)
    assert manifest["rows"] == 300 and manifest["data"]["rows"] == 300
    assert manifest["seed"] == deploy.date_seed(run.expected_start_time)
    assert manifest["privacy"]["gate"]["enforced"] is False
    assert manifest["model"]["epochs_run"] <= 2
    assert list((served.folder / "runs" / DATASET).iterdir()) == []  # removed once published
    print(f"catalog {DATASET} v1: {manifest['rows']} rows, seed {manifest['seed']}, quality "
          f"{manifest['scores']['quality']:.3f}, model {manifest['model']['id'][:12]}…")

    # run 2: through the CLI, overriding a parameter
    result = subprocess.run(
        [*PREFECT, "deployment", "run", name, "--param", "seed=7"], cwd=ROOT,
        env=prefect_server.env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", result.stdout).group(1)
    with client(prefect_server) as api:
        run, seconds = wait_for(api, flow_run_id, served.log)
    print(f"run 2 {run.name} (--param seed=7): {run.state.name} after {seconds:.1f} s")
    assert run.state.is_completed(), f"{run.state}\n{tail(served.log)}"
    assert versions(DATASET, catalog) == ["1", "2"]
    assert load_manifest(DATASET, "latest", catalog)["seed"] == 7

    listing = subprocess.run(
        [sys.executable, "-m", "flows.catalog", "--catalog", str(catalog), "list"], cwd=ROOT,
        capture_output=True, text=True, timeout=60, check=True).stdout
    print(listing)
    (row,) = [line.split() for line in listing.splitlines() if line.startswith(DATASET)]
    assert row[:3] == [DATASET, "2", "2"] and row[-1] == "ok"


def _table(artifact) -> list[dict]:
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data
