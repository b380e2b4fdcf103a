"""``curvecast simulate``: replay searches over recorded curves with early stopping (paper
§4.2–4.3); which searchers, stoppers and schedulers run is read from :mod:`curvecast.registry`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from curvecast import registry
from curvecast.cli._app import app
from curvecast.cli._common import (
    ArcsineTargetOption,
    ExploreOption,
    ExploreTrialsOption,
    FinalStretchOption,
    SigmaModelOption,
    check_folder,
    check_json_out,
    err_console,
    explore_trials_setting,
    fillable,
    fixed,
    floats,
    friendly_errors,
    human_console,
    load_any,
    write_json_result,
)
from curvecast.curves import CurveSet
from curvecast.curves.wording import counted
from curvecast.defaults import DELTA as DEFAULT_DELTA
from curvecast.report.terminal import progress

if TYPE_CHECKING:  # the replay machinery (scikit-learn's predictors) loads when a replay runs
    from curvecast.experiments.speedup import SpeedupSettings
    from curvecast.experiments.speedup_plan import SpeedupPlan


@app.command()
@friendly_errors
def simulate(
    data: Annotated[Path, typer.Argument(help="A CurveSet Parquet file or a baker2018 CSV.")],
    searcher: Annotated[str, typer.Option(help="Comma-separated searchers: random, metaqnn "
                                               "(needs a 'net' column), tpe (each with every "
                                               "stopper), hyperband, fhyperband (f-Hyperband "
                                               "sweeps Δ; compared with Hyperband).")] = "random",
    trials: Annotated[int, typer.Option(help="Trials per search (0: every recorded "
                                             "config).")] = 0,
    stopper: Annotated[str, typer.Option(help="Comma-separated stoppers: " + ", ".join(
        registry.STOPPERS) + ".")] = "predictive,median,never,oracle",
    delta: Annotated[str, typer.Option(help=(
        "Δ values swept by the predictive stopper, each in (0, 1]; 1 stops no run on a "
        "prediction."))] = "0.8,0.9,0.95,0.99",
    orderings: Annotated[int, typer.Option(help="Random orderings of the configs.")] = 10,
    workers: Annotated[int, typer.Option(help="Simulated workers.")] = 1,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the orderings and the predictor.")] = 0,
    min_complete: Annotated[int | None, typer.Option(min=0, help="Complete trials before any stopper "
                                                          "stops (default: 5 with the chain "
                                                          "predictor, 100 — the paper's — with "
                                                          "the others).")] = None,
    predictor: Annotated[str, typer.Option(help="Predictor of the predictive stopper: "
                                                + ", ".join(registry.PREDICTORS) + "; chain is "
                                                "curvecast's default (HorizonChain), paper the "
                                                "paper's SRM.paper() (its reproductions).")
                         ] = "chain",
    draws: Annotated[int, typer.Option(help="Random-search draws per SRM model.")] = 50,
    sigma_model: SigmaModelOption = "per_tau",
    arcsine_target: ArcsineTargetOption = False,
    refit_every: Annotated[int, typer.Option(help="Refit a predictor fitted on complete curves "
                                                  "(srm, paper, …) every k completions (0: fit "
                                                  "once, the paper's); chain and chain-kernel "
                                                  "learn from every report and do not read "
                                                  "it.")] = 0,
    keep_top_k: Annotated[int, typer.Option(help="Compare with the k-th best final value.")] = 1,
    final_stretch: FinalStretchOption = None,
    explore: ExploreOption = None,
    explore_trials: ExploreTrialsOption = None,
    margin: Annotated[float, typer.Option(help="δ: compare with y_best − δ (metric units).")] = 0.0,
    eta: Annotated[float, typer.Option(help="Reduction factor η of ASHA and Hyperband.")] = 3.0,
    kappa: Annotated[float, typer.Option(help="f-Hyperband's κ: compare with the ⌈κ·n_next⌉-th "
                                              "best value of the rung.")] = 1.0,
    min_curves: Annotated[int, typer.Option(help="f-Hyperband's d: curves that reach a rung's "
                                                 "end before its predictor is fitted.")] = 100,
    prior_fraction: Annotated[float, typer.Option(help="Hold out this share of the configs "
                                                       "(at random, --seed) as the predictive "
                                                       "stopper's warm-start prior; the search "
                                                       "replays only the others.")] = 0.0,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write tidy JSON here (replaced if it exists; - : standard output, and "
                       "the tables go to standard error).")] = None,
    plots: Annotated[Path | None, typer.Option(help="Write speedup-vs-Δ PNGs here.")] = None,
) -> None:
    """Replay a search over recorded curves with early stopping; speedup vs Δ (paper §4.2–4.3).

    With `--prior-fraction f` a random share f of the complete configs is the predictive
    stopper's warm start (its curves count toward `--min-complete`) and never replayed; the
    oracle then stops after `max(1, min_complete − prior configs)` complete trials, the fewest
    a warm-started rule could wait for.

    n configs have only n! distinct orders (n!/(n−t)! with `--trials t`): when that is fewer
    than `--orderings`, orderings repeat, and a note and the table's title say so (the ± s.e.
    then counts each repeat as independent).
    """
    curves = _simulate_curves(data, arcsine_target)
    check_json_out(json_out, reads=[data])
    check_folder(plots)
    if refit_every < 0:
        raise ValueError(f"--refit-every must be >= 0, got {refit_every}")
    if trials < 0:
        raise ValueError(f"--trials must be >= 0, got {trials}")
    if keep_top_k < 1:  # checked even when no --stopper reads it, so a typo is not ignored
        raise ValueError(f"--keep-top-k must be >= 1, got {keep_top_k}")
    if not 0.0 <= margin < math.inf:
        raise ValueError(f"--margin must be finite and >= 0, got {margin}")
    if draws < 1:
        raise ValueError(f"--draws must be >= 1, got {draws}")
    from curvecast.stopping import check_eta

    check_eta(eta, "--eta")  # checked before any replay, as every option is
    deltas = floats(delta, "--delta")
    from curvecast.experiments.speedup import SpeedupSettings, split_prior

    short = int((~curves.is_complete()).sum())
    prior, curves = split_prior(curves, prior_fraction, seed)
    n_prior = 0 if prior is None else prior.n_configs
    settings = registry.Settings(
        seed=seed, predictor=predictor, delta=DEFAULT_DELTA, margin=margin,
        keep_top_k=keep_top_k, min_complete=min_complete, refit_every=refit_every or None,
        eta=eta, kappa=kappa, min_curves=min_curves, draws=draws, sigma_model=sigma_model,
        arcsine_target=arcsine_target, final_stretch=final_stretch, explore=explore,
        explore_trials=explore_trials_setting(explore_trials))
    plan = _checked_plan(curves, searcher, stopper, settings, prior, n_prior, trials)
    _note_what_limits(curves, trials, settings.complete_before_stop if plan.searchers else 0,
                      n_prior)
    complete = int(curves.is_complete().sum())
    reachable = min(complete, trials or complete)
    if keep_top_k > reachable and _runs_predictive(stopper):
        err_console.print(f"note: --keep-top-k {keep_top_k} compares with the "
                          f"{keep_top_k}-th best final value, but a replay here completes at "
                          f"most {reachable} trials: the predictive rule will stop nothing",
                          highlight=False)
    # (fewer than 2 complete curves: the replay refuses them, and says so, below)
    distinct = (_distinct_orderings(complete, reachable, orderings)
                if plan.searchers and complete >= 2 else None)
    if distinct is not None:
        what = (f"{complete} configs have" if reachable == complete
                else f"{counted(reachable, 'trial')} of {complete} configs have")
        err_console.print(f"note: {what} only {distinct} distinct orders (fewer than --orderings "
                          f"{orderings}): orderings repeat, and the ± s.e. counts each repeat "
                          "as an independent ordering, so it overstates the certainty",
                          highlight=False)
    run = SpeedupSettings(deltas=deltas, orderings=orderings, workers=workers,
                          seed=seed)
    output = _replay_all(data, curves, plan, run)
    output["settings"].update(trials=trials, min_complete=settings.complete_before_stop,
                              predictor=predictor, sigma_model=sigma_model,
                              arcsine_target=arcsine_target, prior_fraction=prior_fraction,
                              prior_configs=n_prior, draws=draws, refit_every=refit_every,
                              keep_top_k=keep_top_k, margin=margin, eta=eta, kappa=kappa,
                              min_curves=min_curves, configs_left_out=short,
                              **_rule_shares(settings, stopper, prior))
    from curvecast.report.replay_settings import searched_trials

    trials_part = ("" if searched_trials(output["settings"]) is None
                   else f"{counted(trials, 'trial')} per search, ")
    spread = "mean ± s.e. over" if orderings > 1 else "one value from"
    repeats = "" if distinct is None else f", at most {distinct} distinct"
    title = (f"{data.name}: early stopping ({trials_part}{spread} "
             f"{counted(orderings, 'ordering')}{repeats}, {counted(workers, 'worker')})")
    human_console(json_out).print(_speedup_table(output, title, bool(plan.schedulers)))
    _write_outputs(output, json_out, plots, data.stem)


def _distinct_orderings(configs: int, trials: int, orderings: int) -> int | None:
    """How many distinct orders a search visiting ``trials`` of ``configs`` configs, each once,
    can take (n!/(n−t)!: n! for every config) when that is fewer than ``orderings``, else None
    (the usual case, where nothing is noted)."""
    count = 1
    for k in range(configs - trials + 1, configs + 1):
        if count >= orderings:  # (stops after a few factors, however many configs)
            return None
        count *= k
    # checked after the loop too: no trial (0 complete configs) is the one order, which
    # --orderings 1 is not more than
    return None if count >= orderings else count


def _note_what_limits(curves: CurveSet, trials: int, min_complete: int, n_prior: int) -> None:
    """Notes on stderr for settings the data silently cap: a trial budget above the configs
    there are (each is visited once), and fewer complete curves than the rules wait for
    (nothing is then stopped: a speedup of 1.00 says nothing about a rule; ``min_complete`` 0:
    no stopper replays)."""
    complete = int(curves.is_complete().sum())
    if trials > complete:
        err_console.print(f"note: --trials {trials}, but each of the {complete} complete configs "
                          f"is visited once: {complete} trials", highlight=False)
    reachable = min(complete, trials or complete)
    what = (f"{complete} complete configs" if reachable == complete
            else f"{counted(reachable, 'trial')} per search (--trials)")
    # a trial is judged while the others complete: the last one with at most reachable − 1 of
    # them (prior curves added), so a set of exactly min_complete stops nothing either
    if reachable + n_prior < min_complete:
        err_console.print(f"note: {what} and {n_prior} prior curves, but the rules stop nothing "
                          f"before {min_complete} complete trials: no rule will stop anything "
                          "here", highlight=False)
    elif min_complete and reachable + n_prior == min_complete:
        err_console.print(f"note: {what} and {n_prior} prior curves, but the rules stop nothing "
                          f"before {min_complete} complete trials, and at most {min_complete - 1} "
                          "are complete when the last trial starts: no rule will stop anything "
                          "here", highlight=False)


def _checked_plan(curves: CurveSet, searcher: str, stopper: str, settings: registry.Settings,
                  prior: CurveSet | None, n_prior: int, trials: int) -> SpeedupPlan:
    """:func:`speedup_plan`, refused before any replay when the predictive rule could not fit or
    a searcher cannot use the data."""
    from curvecast.experiments.speedup_plan import speedup_plan
    from curvecast.search.hyperband import Hyperband, hyperband_brackets
    from curvecast.stopping import FitCache

    plan = speedup_plan(curves, searcher, stopper, settings, prior=prior, n_prior=n_prior,
                        budget=trials or None)
    if "predictive" in registry.names(stopper, registry.STOPPERS, "stopper"):
        registry.check_fit_possible(registry.build_predictor(settings),
                                    settings.complete_before_stop, n_prior)
    for make in plan.searchers.values():
        make(curves, settings.seed)
    trained = int((curves.epochs > 0).sum())
    for spec in plan.schedulers:  # κ, d and η refused now, not after (or during) the replays
        made = spec.make(curves, settings.seed, settings.delta if spec.sweeps_delta else None,
                         FitCache())
        if isinstance(made, Hyperband):  # its bracket table: η too close to 1 never ends
            hyperband_brackets(made.max_epochs or trained, made.eta)
    return plan


def _simulate_curves(data: Path, arcsine_target: bool) -> CurveSet:
    """The curves of ``data``, refused at once when ``--arcsine-target`` cannot model them;
    a note on stderr names the configs left out (curves that end early)."""
    curves = fillable(load_any(data, warn=not arcsine_target), data)  # (arcsine: an error)
    if arcsine_target:  # before the replays start: fail with one line, not mid-progress-bar
        from curvecast.predictors.srm import check_arcsine_values

        check_arcsine_values(curves.filled_values(), f"{data.name}'s {curves.metric} values")
    short = ~curves.is_complete()
    if short.any():  # the replays use complete curves only: say what is left out, and why
        import numpy as np

        observed = curves.n_observed()
        ends = [int(curves.epochs[k - 1]) for k in observed[short] if k]
        last = [curves.values[i, observed[i] - 1] for i in np.flatnonzero(short) if observed[i]]
        diverged = int(sum(not np.isfinite(v) for v in last))
        why = (f"; {diverged} of them end in a diverged report (NaN or ±inf: e.g. an Optuna "
               "trial that failed when its loss turned NaN), which a replay cannot continue "
               "either" if diverged else "")
        empty = int((observed[short] == 0).sum())
        where = f" (at epochs {min(ends)}..{max(ends)})" if ends else ""
        none = (f"; {empty} of them have no value at all" if empty and ends
                else " (they have no value at all)" if empty else "")
        err_console.print(f"note: {int(short.sum())} of {curves.n_configs} configs are left out: "
                          f"their curves end before the final epoch {int(curves.epochs[-1])}"
                          f"{where}{none}{why}", highlight=False)
    return curves


def _replay_all(data: Path, curves: CurveSet, plan: SpeedupPlan, run: SpeedupSettings
                ) -> dict[str, Any]:
    """:func:`run_speedup` of ``plan`` with a progress bar; the output names ``data``."""
    from curvecast.experiments.speedup import run_speedup

    with progress(err_console) as bar:
        task = bar.add_task("replays", total=None)

        def on_step(what: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=what[:40])

        output = run_speedup(curves, plan.searchers, plan.stoppers if plan.searchers else [],
                             run, on_step=on_step, schedulers=plan.schedulers)
    return {"dataset": str(data), **output}


def _speedup_table(output: dict[str, Any], title: str, with_schedulers: bool) -> Table:
    """One row per searcher + stopper (+ Δ): speedup, best kept, regret, epochs (mean ± s.e.)."""
    from curvecast.experiments.speedup import select
    from curvecast.report.replay_settings import rule_settings

    ran_with = rule_settings(output["settings"])
    table = Table(title=title, caption="; ".join(ran_with) or None)
    for col in ("search+stop", "Δ", "speedup", "best kept", "regret", "epochs",
                *(("vs hyperband", "same picks") if with_schedulers else ())):
        table.add_column(col, justify="left" if col == "search+stop" else "right",
                         no_wrap=True)
    extra = (("speedup_vs_reference", ".2f"), ("same_selections", ".2f")) if with_schedulers else ()
    keys = []
    for rec in output["results"]:
        key = (rec["searcher"], rec["stopper"], rec["delta"])
        if key not in keys:
            keys.append(key)
    for sname, stop_name, d in keys:
        cells = []
        for metric, fmt in (("speedup", ".2f"), ("best_kept", ".2f"), ("regret", ".3g"),
                            ("epochs", ".0f"), *extra):
            recs = select(output["results"], searcher=sname, stopper=stop_name, delta=d,
                          metric=metric)
            cells.append("" if not recs else "n/a" if recs[0]["mean"] is None else
                         fixed(recs[0]["mean"], fmt) if recs[0]["stderr"] is None else
                         f"{fixed(recs[0]['mean'], fmt)}±{fixed(recs[0]['stderr'], fmt)}")
        table.add_row(f"{sname}+{stop_name}", "" if d is None else f"{d:g}", *cells)
    return table


def _runs_predictive(stoppers: str) -> bool:
    """Whether ``--stopper``'s comma-separated names include the predictive rule."""
    return "predictive" in {s.strip() for s in stoppers.split(",")}


def _rule_shares(settings: registry.Settings, stoppers: str,
                 prior: CurveSet | None) -> dict[str, float | int | None]:
    """The predictive rule's final stretch and exploration as it applies them (its defaults
    resolved for the predictor: None stands for "the rule's default" only on the command line);
    None when no predictive rule runs."""
    if not _runs_predictive(stoppers):
        return {"final_stretch": None, "explore": None, "explore_trials": None}
    rule = registry.build_stopper("predictive", settings, registry.Context(prior=prior))
    return {"final_stretch": getattr(rule, "final_stretch", None),
            "explore": getattr(rule, "explore", None),
            "explore_trials": getattr(rule, "explore_trials", None)}


def _write_outputs(output: dict[str, Any], json_out: Path | None, plots: Path | None,
                   stem: str) -> None:
    """The JSON result and the speedup and any-time-regret figures, where asked for."""
    if json_out is not None:
        write_json_result(json_out, output)
    if plots is not None:
        from curvecast.report.anytime_plots import plot_anytime_regret
        from curvecast.report.speedup_plots import plot_speedup_results

        for path in [*plot_speedup_results(output, plots, stem),
                     *plot_anytime_regret([output], plots, stem)]:
            human_console(json_out).print(f"figure -> {path}")
