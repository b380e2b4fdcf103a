"""What a ``simulate`` output's settings say about how its rules ran, in words: the trials
each search ran under a budget, and what each rule waited for and read (for the terminal's
table, the HTML report and the figures' notes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curvecast.curves.wording import counted
from curvecast.registry import PARTIAL_CURVE_PREDICTORS, Settings

__all__ = ["rule_settings", "searched_trials"]


def searched_trials(settings: Mapping[str, Any]) -> int | None:
    """The trials each search of a ``simulate`` output ran when a ``--trials`` budget made them
    fewer than the complete configs; None when every config was visited (or it is not said)."""
    trials, configs = settings.get("trials"), settings.get("configs")
    if not trials or configs is None or trials >= configs:
        return None
    return int(trials)


def rule_settings(settings: Mapping[str, Any]) -> list[str]:
    """What a ``simulate`` output's rules ran with beyond the data and the orderings, as phrases
    for a table's caption or a page: how many complete trials each rule waited for, a warm
    start, and the settings that differ from the command's defaults, each only where a rule
    that ran reads it (reviews, stop 36: a warm-started or tuned replay read like a cold start
    at the defaults, and then settings no rule read were listed)."""
    stoppers = set(settings.get("stoppers") or ())
    schedulers = set(settings.get("schedulers") or ())
    prior = int(settings.get("prior_configs") or 0)
    predictive = "predictive" in stoppers
    out = []
    waiting = [name for name in ("predictive", "median", "asha") if name in stoppers]
    if settings.get("min_complete") is not None and waiting:
        n = int(settings["min_complete"])
        counts = (f" (the predictive rule counting the prior's {prior})" if prior and predictive
                  else "")
        out.append(f"{', '.join(waiting)} {'waits' if len(waiting) == 1 else 'wait'} for "
                   f"{counted(n, 'complete trial')}{counts}")
        if "oracle" in stoppers and prior:
            # the oracle stops nothing before one trial is complete (it needs a best to beat),
            # however many prior curves there are
            out.append(f"the oracle for {counted(max(1, n - prior), 'complete trial')}")
    if prior:
        share = f"{settings.get('prior_fraction', 0):g} of the complete ones, not replayed"
        out.append(f"warm start: {counted(prior, 'prior config')} ({share})" if predictive else
                   f"{counted(prior, 'config')} held out as a prior ({share}; no predictive "
                   "rule ran to use it)")
    if predictive and settings.get("final_stretch") is not None:
        explore, young = settings.get("explore"), settings.get("explore_trials")
        out.append(f"predictive: no stop in the last {100 * settings['final_stretch']:g} % of "
                   f"training, {100 * (explore or 0):g} % of would-be stops let run on"
                   f"{'' if young is None else f' in the first {young} trials'}")
    refits = predictive and settings.get("predictor") not in PARTIAL_CURVE_PREDICTORS
    plain = Settings()  # the defaults (refit_every: None in the library, 0 on the command line)
    for key, text, read in (("margin", "margin δ {:g}", predictive or "fhyperband" in schedulers),
                            ("keep_top_k", "keep-top-k {}", predictive),
                            ("eta", "η {:g}", "asha" in stoppers or bool(schedulers)),
                            ("refit_every", "refit every {}", refits)):
        if read and settings.get(key) not in (None, 0 if key == "refit_every" else None,
                                              getattr(plain, key)):
            out.append(text.format(settings[key]))
    return out
