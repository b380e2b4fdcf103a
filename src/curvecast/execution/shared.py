"""A real search's study in the store, as every process of it sees it: :func:`open_study` (create
it, or check a rerun repeats its settings) and the study's one searcher, whose state lives in the
store (:func:`load_shared`, :func:`ask_shared`, :func:`tell_shared`) so that several processes —
and every rerun — ask and tell through one state; and the predictive stopper's exploration, kept
in the store the same way (:class:`SharedExplorationFIFO`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curvecast.execution.study import LiveStudy, StudyMirror
from curvecast.search import FIFO, ConfigSearcher, Searcher
from curvecast.stopping import Decision, History, PredictiveStopper, Stopper, Trial
from curvecast.store import GRACE, Store, TrialState, worker_id
from curvecast.workloads._base import Workload

#: Seconds between the heartbeats of a process's RUNNING trials (default of every real search;
#: ``GRACE``, the store's, is how long without one before another process may take a trial over).
HEARTBEAT = 10.0

__all__ = ["EXPLORATION_STATE", "GRACE", "HEARTBEAT", "SharedExplorationFIFO", "ask_shared",
           "load_shared", "open_live", "open_study", "tell_shared"]


#: The study-state key of the commands that ran the study again after the one that created it
#: (recorded in its settings), oldest first: resumes, runs with more --trials, other processes
#: joining.
RERUNS_STATE = "reruns"

#: Settings of a study that a rerun (a resume, or another process joining) must repeat.
_RERUN_SETTINGS = ("searcher", "stopper", "predictor", "delta", "min_complete", "refit_every",
                   "final_stretch", "explore", "explore_trials", "prior", "sigma_model",
                   "arcsine_target", "trials")  # (trials: recorded by Hyperband's studies only)


def open_study(store: Store, study: str, workload: Workload, epochs: int, seed: int,
               settings: dict[str, Any] | None) -> None:
    """Create study ``study`` or check that it was started with this workload, epochs and seed,
    and with the same scheduler (``settings["scheduler"]``: hyperband, fhyperband; absent: a
    FIFO search, as the local and the Ray backends run), and — where both the study and
    ``settings`` record them — the same searcher, stopper, predictor, Δ, min-complete,
    refit-every, final stretch, exploration, --trials (Hyperband's and f-Hyperband's, whose
    brackets are drawn for it; since stop 35), prior (by its curves' fingerprint,
    ``prior_digest``, where recorded: the same file by another path is the same prior, another
    file at the same path is not), σ model and arcsine target (a changed rule would silently
    judge later trials differently; the predictor comes before min-complete, whose default
    follows it).

    Raises:
        ValueError: the study exists with other settings.
    """
    fixed: dict[str, Any] = {"workload": workload.name, "epochs": epochs, "seed": seed}
    existed = study in store.study_names()
    store.create_study(study, metric=workload.metric, direction=workload.direction,
                       settings={**fixed, **(settings or {})})
    recorded = store.study_info(study)["settings"]
    for key, wanted in fixed.items():
        if recorded.get(key) != wanted:
            raise ValueError(f"study {study!r} was started with --{key} {recorded.get(key)}, "
                             f"not {wanted}: rerun with its settings or choose another --study")
    chosen = settings or {}
    by_content = "prior_digest" in recorded and "prior_digest" in chosen
    if by_content and recorded["prior_digest"] != chosen["prior_digest"]:
        # the prior is compared by its curves, not by the path that named it
        was, now = (f"--prior {s['prior']}" if s.get("prior") else "no --prior"
                    for s in (recorded, chosen))
        raise ValueError(f"study {study!r} was started with {was}, not {now}"
                         f"{' (other curves)' if recorded.get('prior') and chosen.get('prior') else ''}"
                         ": rerun with the same prior or choose another --study")
    if "explore" in recorded and "explore_trials" not in recorded:  # made before stop 32:
        recorded = {**recorded, "explore_trials": None}  # it explored in every trial
    for key in _RERUN_SETTINGS:  # what the command line chose: a rerun must choose the same
        if key == "prior" and by_content:
            continue
        if key in recorded and key in chosen and recorded[key] != chosen[key]:
            option = "--" + key.replace("_", "-")
            was, now = (_shown(key, v) for v in (recorded[key], chosen[key]))
            raise ValueError(f"study {study!r} was started with {option} {was}, not {now}: "
                             "rerun with its settings or choose another --study")
    scheduler = (settings or {}).get("scheduler")  # hyperband, fhyperband; None: FIFO
    if recorded.get("scheduler") != scheduler:
        was, now = (f"scheduler {k!r}" if k else "a FIFO search"
                    for k in (recorded.get("scheduler"), scheduler))
        raise ValueError(f"study {study!r} was started with {was}, not {now}: rerun with its "
                         "settings or choose another --study")
    if existed and chosen.get("command"):  # a resume, a longer run, another process joining
        reruns = store.get_study_state(study, RERUNS_STATE) or []
        store.set_study_state(study, RERUNS_STATE, [*reruns, chosen["command"]])



def load_shared(store: Store, study: str, searcher: ConfigSearcher) -> None:
    """Load the study's searcher state (saved in the store by any process) into ``searcher``."""
    saved = store.get_study_state(study, "searcher")
    if saved is not None:
        searcher.load_state_dict(saved)


def ask_shared(store: Store, study: str, searcher: ConfigSearcher, *, worker: str,
               budget: int) -> tuple[int, Mapping[str, Any]] | None:
    """Ask the study's shared searcher for a config and record it as ``worker``'s RUNNING trial,
    in one transaction that counts the study's trials against ``budget``.

    Returns:
        ``(trial number, config)``, or None when the budget is spent or the searcher has no
        config left.
    """
    with store.transaction():
        if store.count_trials(study) >= budget:
            return None
        load_shared(store, study, searcher)
        config = searcher.ask_config()
        if config is None:
            return None
        number = store.add_trial(study, config, state=TrialState.RUNNING, worker=worker)
        store.set_study_state(study, "searcher", searcher.state_dict())
    return number, config


def tell_shared(store: Store, study: str, searcher: ConfigSearcher, config: Mapping[str, Any],
                value: float, *, predicted: bool) -> None:
    """Tell the study's shared searcher a trial's final ``value`` (metric units; predicted for a
    stopped trial) and save its state — inside the caller's transaction."""
    load_shared(store, study, searcher)
    searcher.tell_config(config, value, predicted=predicted)
    store.set_study_state(study, "searcher", searcher.state_dict())




def open_live(store: Store, study: str, workload: Workload, epochs: int, seed: int,
              settings: dict[str, Any] | None, grace: float | None = GRACE) -> LiveStudy:
    """Open study ``study`` (:func:`open_study`) and this process's part in it: its checkpoint
    folder made (or the study, when new, not created: the two are one transaction), ``grace``
    recorded as the study's unless None (:meth:`~curvecast.store.Store.set_grace`: ``show`` and
    ``studies`` judge its trials by the grace its searches take them over by), the study
    read.  The folder is passed to the epoch tasks as an absolute path
    with links followed, so a task that runs elsewhere (a Ray task, in another working directory
    or on another node) finds it; ``<database>.checkpoints`` may be a link to shared storage."""
    with store.transaction():  # a study whose checkpoint folder cannot be made is not created
        open_study(store, study, workload, epochs, seed, settings)
        if grace is not None:
            store.set_grace(study, grace)
        checkpoints = store.checkpoint_folder(study)
        try:
            checkpoints.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OSError(err.errno, f"the study's checkpoint folder cannot be made "
                                     f"({err.strerror or err})", str(checkpoints)) from None
    checkpoints = checkpoints.resolve()
    live = LiveStudy(store, study, worker_id(), workload, epochs, seed, checkpoints,
                     StudyMirror(workload, epochs))
    live.sync()
    return live


#: The study-state key of the predictive stopper's exploration (its draws and promises).
EXPLORATION_STATE = "exploration"


class SharedExplorationFIFO(FIFO):
    """FIFO whose stopper's exploration — the generator it draws from and the trials it let run
    on, to which epoch — lives in the study (:data:`EXPLORATION_STATE`), so that a resumed
    search draws on where the interrupted one stopped and keeps its promises, and the processes
    of one study draw from one sequence.  The state is read before each decision and written
    after it when it changed, merged with what another process saved meanwhile (the trials let
    run on are the union; the decision itself is not under the lock, as it may fit a model, so
    two processes deciding at the same moment may draw the same number, which exploration can
    bear).  A stopper without exploration decides as under FIFO."""

    def __init__(self, live: LiveStudy, searcher: Searcher, stopper: Stopper) -> None:
        super().__init__(searcher, stopper)
        self.live = live

    def report(self, trial: Trial, history: History, until: int) -> Decision:
        stopper = self.stopper
        if not isinstance(stopper, PredictiveStopper) or not stopper.explore:
            return super().report(trial, history, until)
        store, study = self.live.store, self.live.study
        saved = store.get_study_state(study, EXPLORATION_STATE)
        if saved is not None:  # the study's draws, and every process's promises with this one's
            mine = stopper.exploration_state(history.study)
            stopper.load_exploration_state(history.study, {
                **saved, "runs_on": {**mine["runs_on"], **saved["runs_on"]}})
        before = stopper.exploration_state(history.study)
        decision = super().report(trial, history, until)
        after = stopper.exploration_state(history.study)
        if after != before:
            with store.transaction():  # merged with what another process saved meanwhile
                current = store.get_study_state(study, EXPLORATION_STATE) or {}
                merged = {"runs_on": {**current.get("runs_on", {}), **after["runs_on"]},
                          "generator": after["generator"],
                          "n_explored": int(current.get("n_explored", 0))
                          + after["n_explored"] - before["n_explored"]}
                store.set_study_state(study, EXPLORATION_STATE, merged)
            stopper.load_exploration_state(history.study, merged)
        return decision


def _shown(key: str, value: Any) -> Any:
    """A recorded setting as its option is written (``--explore-trials 0``: every trial)."""
    return 0 if key == "explore_trials" and value is None else value
