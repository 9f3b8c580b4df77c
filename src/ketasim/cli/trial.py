"""``ketasim trial``: run a virtual trial from a TOML spec and write its summaries."""

from __future__ import annotations

import gc
import json
import shutil
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from ketasim.cli.common import handle_errors, print_findings
from ketasim.errors import InputError

# The population stack (numba, llvmlite, scipy, the pydantic schemas: some 200,000 objects, all
# alive until the process ends) is imported with the cyclic garbage collector paused, then
# frozen (gc.freeze: later collections skip them). Without this, CPython runs several full
# collections during these imports and every later one walks them again: about a second of
# a loaded 10^5-patient run, a few tenths idle (benchmarks/README.md, "where the time goes").
_gc_was_on = gc.isenabled()
gc.disable()
try:
    from ketasim.population import (
        TrialResult,
        TrialSpec,
        load_trial_spec,
        run_trial,
    )
finally:
    if _gc_was_on:
        gc.freeze()
        gc.enable()

__all__ = ["register", "trial_command", "write_results"]


def _preload_writers() -> threading.Thread:
    """Import the writing stack (pandas, pyarrow, matplotlib) in a background thread.

    Started before the trial runs: the compiled kernel releases the GIL, so these imports
    (about a second of single-threaded start-up) overlap the simulation instead of following it.
    A failed import here is ignored: :func:`write_results` imports again and reports it.
    """

    def work() -> None:
        gc_on = gc.isenabled()
        gc.disable()  # as for the population stack above: no full collections over them
        try:
            import matplotlib

            matplotlib.use("Agg")  # as ketasim.report.trial_plots does, before pyplot
            import matplotlib.pyplot
            import pandas  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        except Exception:  # retried (and reported) by the writer
            pass
        finally:
            if gc_on:
                gc.freeze()
                gc.enable()

    thread = threading.Thread(target=work, name="ketasim-preload-writers", daemon=True)
    thread.start()
    return thread


def write_results(result: TrialResult, out: Path, spec_path: Path | None = None) -> list[Path]:
    """Write bands and endpoints (Parquet and CSV), the figure, the spec and the run record."""
    from ketasim.report.trial_plots import plot_bands

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def both(frame: Any, stem: str) -> None:
        frame.to_parquet(out / f"{stem}.parquet", index=False)
        frame.to_csv(out / f"{stem}.csv", index=False, float_format="%.6g")
        written.extend([out / f"{stem}.parquet", out / f"{stem}.csv"])

    both(result.summary, "bands")
    if not result.endpoints.empty:
        both(result.endpoints, "endpoints")
    if result.individuals is not None:
        both(result.individuals, "individuals")
    if result.individual_parameters is not None:
        both(result.individual_parameters, "individual_parameters")
    if result.replicate_bands is not None:
        both(result.replicate_bands, "replicate_bands")
    assumed = any(v.startswith("ASSUMED") for v in result.variability.values())
    title = result.spec.title
    if assumed and "ASSUMED" not in title:
        title += " [variability ASSUMED]"
    written.append(
        plot_bands(result.summary, out / "bands.png", title=title, variability=result.variability)
    )
    if spec_path is not None:
        shutil.copyfile(spec_path, out / "spec.toml")
        written.append(out / "spec.toml")
    record = {
        "seed": result.seed,
        "variability": dict(result.variability),
        "provenance": dict(result.provenance),
        "findings": [
            {"rule_id": f.rule_id, "severity": f.severity, "message": f.message, "source": f.source}
            for f in result.findings
        ],
        "spec": result.spec.model_dump(mode="json", by_alias=True),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    written.append(out / "run.json")
    return written


@handle_errors
def trial_command(
    spec: Annotated[Path, typer.Argument(help="trial spec (TOML); see examples/trials/")],
    out: Annotated[Path, typer.Option("--out", help="directory for the results")],
    individuals: Annotated[
        int,
        typer.Option(
            "--individuals",
            help="also write the first K full profiles of each arm with their "
            "covariates and parameters",
        ),
    ] = 0,
    scheduler: Annotated[
        str,
        typer.Option(
            "--scheduler",
            help="local[:N] (threads, default), local-cluster[:N] (Dask "
            "LocalCluster) or tcp://HOST:PORT (running Dask scheduler)",
        ),
    ] = "local",
    n: Annotated[int | None, typer.Option("--n", help="override the spec's N per arm")] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            "--precision",
            help="override the spec's outputs.precision: float64 (exact) or float32 "
            "(faster; concentrations within a stated relative bound, see README)",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    optimise: Annotated[
        bool,
        typer.Option(
            "--optimise",
            help="regimen search: run every candidate of the spec's optimise table "
            "and report the feasible best and the trade-off frontier",
        ),
    ] = False,
) -> None:
    """Simulate a virtual trial: percentile bands, endpoint distributions and probabilities.

    Writes bands.{parquet,csv}, endpoints.{parquet,csv}, bands.png, spec.toml and run.json
    (seed, variability source, provenance) into --out.
    """
    trial_spec = load_trial_spec(spec)
    if n is not None:
        if n < 1:
            raise InputError("--n", f"{n} must be >= 1")
        trial_spec = trial_spec.with_n(n)
    if precision is not None:
        if precision not in ("float64", "float32"):
            raise InputError("--precision", f"{precision!r}; accepted: float64, float32")
        trial_spec = trial_spec.with_precision("float32" if precision == "float32" else "float64")
    if optimise:
        _optimise(trial_spec, spec, out, scheduler, quiet)
        return
    # (local threads only: a Dask LocalCluster forks its workers, and a fork must not copy
    # a thread in the middle of an import)
    preload = (
        _preload_writers()
        if scheduler.strip().startswith("local")
        and not scheduler.strip().startswith("local-cluster")
        else None
    )
    if quiet:
        result = run_trial(trial_spec, scheduler=scheduler, individuals=individuals)
    else:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("[bold]patients"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task("trial", total=trial_spec.n * len(trial_spec.arms))

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_trial(
                trial_spec, scheduler=scheduler, individuals=individuals, progress=progress
            )
    if preload is not None:
        preload.join()
    print_findings(result.findings)
    written = write_results(result, out, spec)
    if not quiet:
        print(f"ketasim: wrote {len(written)} files to {out}", file=sys.stderr)
    if preload is not None:  # local threads: every file is closed, nothing left to tear down
        from ketasim.cli._exit import request_fast_exit

        request_fast_exit()


def _optimise(
    trial_spec: TrialSpec, spec_path: Path, out: Path, scheduler: str, quiet: bool
) -> None:
    from ketasim.population.optimise import optimise_regimen, parse_optimise_spec
    from ketasim.report.trial_plots import plot_frontier

    opt = parse_optimise_spec(trial_spec.optimise)

    def progress(done: int, total: int) -> None:
        if not quiet:
            print(f"ketasim: candidate {done}/{total}", file=sys.stderr)

    result = optimise_regimen(trial_spec, opt, scheduler=scheduler, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    result.table.to_parquet(out / "candidates.parquet", index=False)
    result.table.to_csv(out / "candidates.csv", index=False, float_format="%.6g")
    first = opt.constraints[0] if opt.constraints else None
    plot_frontier(
        result.table,
        out / "frontier.png",
        objective=result.objective,
        constraint=result.constraints[0] if result.constraints else None,
        limit=(first.max if first.max is not None else first.min) if first else None,
        title=trial_spec.title,
    )
    shutil.copyfile(spec_path, out / "spec.toml")
    record = {
        "seed": trial_spec.seed,
        "objective": result.objective,
        "constraints": list(result.constraints),
        "best": result.best,
        "spec": trial_spec.model_dump(mode="json", by_alias=True),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    cols = ["regimen", "objective", *result.constraints, "feasible", "frontier"]
    sys.stdout.write(result.table[cols].to_csv(index=False, float_format="%.4g"))
    if result.best is None:
        print("ketasim: warn: no candidate satisfies every constraint", file=sys.stderr)
    else:
        print(
            f"ketasim: best feasible regimen: {result.best['regimen']} "
            f"({result.objective} = {result.best['objective']:.4g})",
            file=sys.stderr,
        )


def register(root: typer.Typer) -> None:
    """Add ``ketasim trial`` to the root app."""
    root.command("trial")(trial_command)
