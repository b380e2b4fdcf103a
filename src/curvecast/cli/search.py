"""``curvecast search``: a real search (training) of a workload's space with early stopping;
what runs is built from names by :func:`curvecast.registry.search_plan.plan_search`."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from curvecast import defaults, registry
from curvecast.cli._app import app
from curvecast.cli._common import (
    ArcsineTargetOption,
    ExploreOption,
    ExploreTrialsOption,
    FinalStretchOption,
    SigmaModelOption,
    console,
    dumps,
    err_console,
    explore_trials_setting,
    fail,
    friendly_errors,
    interrupted_exit,
    require,
    study_summary,
    terminate_as_interrupt,
)
from curvecast.curves.wording import counted
from curvecast.defaults import DELTA as DEFAULT_DELTA
from curvecast.report.terminal import progress

if TYPE_CHECKING:  # the execution layer (torch-free, but scikit-learn's) loads when a search runs
    from curvecast.execution.live import Progress, SearchResult


@app.command("search")
@friendly_errors
def search_command(
    workload: Annotated[str, typer.Option(help="Workload to train, e.g. digits-metaqnn.")],
    trials: Annotated[int, typer.Option(help="Trials to finish (complete, stopped or failed).")],
    epochs: Annotated[int, typer.Option(help="Epochs of full training, T.")],
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
    study: Annotated[str, typer.Option(help="Study name (rerun the same command to resume; run "
                                            "it in several processes to share the work).")] = (
        "search"),
    searcher: Annotated[str, typer.Option(help="random, metaqnn (architectures), tpe "
                                               "(hyperparameters), or hyperband / fhyperband "
                                               "(schedulers: --trials configs drawn at random, "
                                               "R = --epochs, η = 3; one process per study; "
                                               "they stop runs themselves, so take no "
                                               "--stopper; on --backend local or "
                                               "ray).")] = "random",
    stopper: Annotated[str, typer.Option(help=", ".join(
        n for n, e in registry.STOPPERS.items() if not e.needs_recorded_finals) + ".")] = (
        "predictive"),
    workers: Annotated[int, typer.Option(help="Training processes (--backend ray: epochs "
                                              "trained at once); 0: one per core (the Ray's "
                                              "CPUs).")] = 0,
    min_complete: Annotated[int | None, typer.Option(min=0, help=(
        "Complete curves (prior included) before any stopper stops (default: 5 with the chain "
        "predictor, 100 with the others; at least 6 with --searcher fhyperband, whose rung "
        "predictors need 6)."))] = None,
    delta: Annotated[float, typer.Option(help=(
        "Δ of the predictive rule, in (0, 1]: stop a run when P(its final value is worse than "
        "the best) ≥ Δ; 1 stops no run on a prediction (--stopper never: none at all)."))] = (
        DEFAULT_DELTA),
    final_stretch: FinalStretchOption = None,
    explore: ExploreOption = None,
    explore_trials: ExploreTrialsOption = None,
    predictor: Annotated[str, typer.Option(help="Predictor of the predictive rule and of "
                                                "f-Hyperband's rungs: " + ", ".join(
                                                    registry.PREDICTORS) + "; chain is "
                                                "curvecast's default (HorizonChain), srm the "
                                                "paper's SRM (--sigma-model and "
                                                "--arcsine-target apply to it).")] = "chain",
    refit_every: Annotated[int, typer.Option(help="Refit a predictor fitted on complete curves "
                                                  "(srm, paper, …) every K completions (0: fit "
                                                  "once); chain and chain-kernel learn from "
                                                  "every report and do not read it.")] = (
                                                  defaults.REFIT_EVERY),
    prior: Annotated[str | None, typer.Option(help="Recorded curves of the same workload and "
                                                   "metric to warm-start the predictor: a "
                                                   "Parquet file, or STORAGE#STUDY, a study in "
                                                   "an Optuna storage (sqlite:///last.db#name, "
                                                   "postgresql://…#name) or an SQLite file "
                                                   "(last.db#name: Optuna's or curvecast's).")
                                                   ] = None,
    sigma_model: SigmaModelOption = "per_tau",
    arcsine_target: ArcsineTargetOption = False,
    seed: Annotated[int, typer.Option(min=0, help="Seed of config sampling and training.")] = 1,
    backend: Annotated[str, typer.Option(help="local (worker processes) or ray (each epoch a "
                                              "Ray task, on a local Ray or a cluster; "
                                              "checkpoints stay in DATABASE.checkpoints, "
                                              "which every node must reach).")] = "local",
    address: Annotated[str | None, typer.Option(help="With --backend ray: a running Ray cluster "
                                                     "(HOST:6379 of `ray start --head`); "
                                                     "default: a local Ray.")] = None,
    ray_storage: Annotated[str | None, typer.Option(hidden=True, help=(
        "Removed (Ray Tune's experiment folder): refused with a one-line error."))] = None,
) -> None:
    """Search a workload's space with real training, stopping runs by predicted final value."""
    from curvecast.registry.search_plan import SearchRequest, plan_search
    from curvecast.stopping import check_delta
    from curvecast.store import Store, StoreWriteError, check_study_name
    from curvecast.workloads import CheckpointWriteError

    check_study_name(study)  # before the database is created or touched
    if refit_every < 0:  # the stopper's own checks name its arguments, not the options
        raise ValueError(f"--refit-every must be >= 0 (0: fit once), got {refit_every}")
    check_delta(delta, "--delta (Δ)")
    settings = registry.Settings(
        seed=seed, predictor=predictor, delta=delta, min_complete=min_complete,
        refit_every=refit_every or None, sigma_model=sigma_model,
        arcsine_target=arcsine_target, final_stretch=final_stretch, explore=explore,
        explore_trials=explore_trials_setting(explore_trials))
    plan = plan_search(SearchRequest(
        workload=workload, trials=trials, epochs=epochs, searcher=searcher, stopper=stopper,
        backend=backend, workers=workers, prior=prior, address=address, ray_storage=ray_storage,
        settings=settings, command="curvecast " + shlex.join(sys.argv[1:])))
    require("torch")  # every workload trains with PyTorch, in worker processes
    if backend == "ray":  # a refused or silent address, before the database is created
        from curvecast.integrations.ray_session import resolve_address

        try:
            resolve_address(address)
        except ConnectionError as err:
            raise fail(str(err)) from None
    with Store(storage) as db, progress(err_console) as bar, terminate_as_interrupt():
        have = db.count_trials(study) if study in db.study_names() else 0
        note = (f"note: study {study!r} already has {counted(have, 'trial')}, at least "
                f"--trials {trials}: no new trial is started (a larger --trials runs more; "
                "interrupted trials are resumed)"
                if have >= trials and searcher not in registry.PROMOTING else None)
        shown = _progress_bar(bar, max(trials, have), epochs)

        def on_progress(progress: Progress) -> None:  # the note once the settings are checked
            nonlocal note
            if note is not None:
                bar.console.print(note, highlight=False, markup=False)
                note = None
            shown(progress)

        try:
            result = plan.runner(plan.workload, plan.proposer, plan.stop, db, study=study,
                                 trials=trials, epochs=epochs, workers=plan.workers, seed=seed,
                                 settings=plan.recorded, on_progress=on_progress)
        except ConnectionError as err:  # --address: no Ray cluster there
            raise fail(str(err)) from None
        except KeyboardInterrupt as err:
            bar.stop()  # the line below is the last one, not another frame of the bar
            err_console.print(f"interrupted: everything recorded is in {storage} (study "
                              f"{study!r}); rerun the same command to resume")
            raise interrupted_exit(err) from None
        except (StoreWriteError, CheckpointWriteError) as err:
            # the machine's fault, not a trial's: no trial is failed for it, the running ones
            # are left to resume
            bar.stop()
            text = str(err)
            end = "" if text.endswith(("?", ".")) else "."
            raise fail(f"{text}{end} Everything recorded before is kept in {storage} (study "
                       f"{study!r}); fix that, then rerun the same command to resume") from None
        summary = study_summary(db.trials(study), db.study_info(study))
    _print_result(result, summary, study, storage)


def _progress_bar(bar: Any, trials: int, epochs: int) -> Callable[[Progress], None]:
    """``on_progress`` of a search: the bar shows the study's counts, best value and epochs;
    notices (not errors) are printed above it once each."""
    task = bar.add_task("trials", total=trials)
    shown: list[str] = []

    def on_progress(p: Progress) -> None:
        for notice in p.notices[len(shown):]:
            bar.console.print(f"warning: {notice}", highlight=False, markup=False,
                              soft_wrap=True)
            shown.append(notice)
        best = "–" if p.best_value is None else f"{p.best_value:.4g} (t{p.best_trial})"
        full = (p.complete + p.stopped) * epochs
        bar.update(task, completed=p.finished,
                   description=f"{p.complete} done {p.stopped} stopped {p.running} running"
                               f"{f' {p.failed} failed' if p.failed else ''} | best {best}"
                               f" | finished trials: {p.epochs_finished} epochs of {full} "
                               f"in full; {p.epochs_used} trained in all")

    return on_progress


def _print_result(result: SearchResult, summary: list[str], study: str, storage: str) -> None:
    """The end of a search: its counts, :func:`study_summary`'s lines (what ``show`` repeats)
    and the best trial's config."""
    p = result.progress
    elsewhere = (f", {p.running} still running (in another process, or interrupted: `show` "
                 "tells which)" if p.running else "")
    console.print(f"study {study!r} in {storage}: {p.complete} complete, {p.stopped} stopped "
                  f"early, {p.failed} failed{elsewhere}")
    for line in summary:
        console.print(line, highlight=False, markup=False)
    if result.best_config is not None:
        console.print(f"best config: {dumps(result.best_config)}", markup=False)
    where = f"--storage {shlex.quote(storage)} --study {shlex.quote(study)}"  # to paste
    console.print(f"details: curvecast show {where}; report: curvecast report {where} "
                  "--out report.html")
