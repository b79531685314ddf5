import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def run_cli(tmp_path_factory):
    """Run `python -m <module> ARGS` from the repository root in a fresh process, with its own
    PREFECT_HOME and no Prefect server configured (so Prefect starts its temporary one)."""
    prefect_home = tmp_path_factory.mktemp("prefect-home")
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env |= {"PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}

    def run(module: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", module, *map(str, args)],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if module == "flows.generate" and done.returncode in (0, 3) and "--output" in args \
                and "--dataset" not in args:
            # every report a one-table run writes must match the published schema
            read_report(Path(args[list(args).index("--output") + 1]))
        return done

    return run


def read_report(folder: Path) -> dict:
    """A run's report.json, after checking it against schemas/report.schema.json (JSON
    Schema) and the RunReport type it was generated from."""
    from synthvae.report.run_report import SCHEMA_FILE, RunReport

    report = json.loads((Path(folder) / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA_FILE.read_text()))
    RunReport.model_validate(report)
    return report


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The tests' small models train fastest on one thread; with two, torch's workers
    spin-wait whenever the CPU is shared (a 4 s fit took 58 s on a busy 2-core machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
