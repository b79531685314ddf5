"""`python -m flows.generate`: fit a VAE synthesizer to a table and write synthetic rows, a
report and the model to an output folder (the flow itself: flows/generate_flow.py). With
`--dataset DIR`, related tables and a whole database instead (flows/database.py).

The options are `synthvae.run.options.RunOptions`; `--help` answers from them alone, before
PyTorch or Prefect load. The inputs are then read and checked by `synthvae.run.prepare`
before Prefect starts its temporary local API (10-25 s), so bad input fails in seconds, and
the flow is handed what was read instead of reading it again.
"""

from __future__ import annotations

import sys
import time

from synthvae.run.options import RunOptions, build_parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 1 a table failed its schema (or the run failed), 2 bad input,
    3 the privacy gate failed, 128 + N stopped by signal N (143 SIGTERM, 130 SIGINT: the
    output folder as it was, the staging folder and Prefect's temporary server all gone)."""
    started = time.perf_counter()
    args = sys.argv[1:] if argv is None else argv
    if any(a == "--dataset" or a.startswith("--dataset=") for a in args):
        # related tables: a database in, a database out (flows/database.py)
        from flows.database import main as generate_database
        return generate_database(args)
    options = RunOptions(**vars(build_parser().parse_args(argv)))
    # Loaded only once the options parse: Prefect and PyTorch take seconds to import.
    from flows.common import RunStopped, stop_on_signals
    from prefect.exceptions import TerminationSignal
    import signal

    with stop_on_signals():
        try:
            return _run(options, started)
        except (RunStopped, TerminationSignal) as stop:
            signum = stop.signum if isinstance(stop, RunStopped) else stop.signal
            print(f"stopped by {signal.Signals(signum).name}: no output written, temporary "
                  f"files removed", file=sys.stderr)
            return 128 + signum


def _run(options: RunOptions, started: float) -> int:
    import logging

    from flows.common import fail, quiet_expected_errors, stop_orphans, tag_child_processes
    from flows.generate_flow import PrivacyGateFailed, generate
    from flows.shards import shared_prefect_api
    from synthvae import fused
    from synthvae.io import InputError
    from synthvae.run.prepare import prepare
    from synthvae.run.summary import summary

    try:
        prepared = prepare(options)
    except InputError as err:  # SchemaViolation included
        return fail(err)
    stop_orphans()  # Prefect servers and Dask workers of runs killed outright
    tag_child_processes()
    quiet_expected_errors()
    logging.getLogger("synthvae").setLevel(logging.INFO)
    sharded = options.workers or options.dask_address
    # numba compiles the sampling kernel once per install (about 13 s) while Prefect starts
    # its server; afterwards this only loads it from the cache
    with fused.compiled_in_background():
        try:
            if sharded:
                with shared_prefect_api(options.dask_address):
                    report = generate(prepared=prepared)
            else:
                report = generate(prepared=prepared)
        except PrivacyGateFailed as err:
            print(f"error: {err}", file=sys.stderr)
            return 3
        except InputError as err:
            return fail(err)
    print(summary(report, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
