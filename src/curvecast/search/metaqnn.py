"""MetaQNN: Q-learning over CNN layer sequences (Baker, Gupta, Naik, Raskar, ICLR 2017).

B. Baker, O. Gupta, N. Naik, R. Raskar, *Designing Neural Network Architectures using
Reinforcement Learning* (ICLR 2017) — the search algorithm whose 1000 CIFAR-10 networks Baker et
al. 2017/2018 (*Accelerating Neural Architecture Search using Performance Prediction*) stop early.

The agent walks the states and transitions of a :class:`~curvecast.space.MetaQNNSpace` and keeps a
table ``Q(state, action)``, every entry starting at ``q_init`` (0.5, MetaQNN's ``init_utility``).
An action is the next layer.  A state is the space's :class:`~curvecast.space.State` (depth, type
of the last layer, representation size, trailing FC layers, the last FC's width: an FC layer
may not be followed by a wider one) *together with the last layer itself*,
as in MetaQNN, whose state is the layer just added with its parameters, its depth and the
representation size: with the space's state alone every first convolution would lead to the same
state, so Q could not tell ``C(64,1,1)`` from ``C(512,5,1)``.  At each step the agent takes a
uniformly random legal action with probability ε, else an action of maximal Q (ties broken at
random).  ε follows MetaQNN's schedule, ``[(1.0, 1500), (0.9, 100), (0.8, 100), (0.7, 100),
(0.6, 150), …, (0.1, 150)]`` models, scaled to the trial budget (:func:`epsilon_schedule`).

After every :meth:`MetaQNN.tell` the trajectory and its reward join the replay memory, and
``replay_size`` trajectories drawn from the memory uniformly *with replacement* (as MetaQNN's code
does; the paper replays 100) are each replayed backwards through the Q-learning update

    Q(s_i, a_i) ← (1 − α) Q(s_i, a_i) + α (r_i + γ max_a' Q(s_{i+1}, a')),

with r_i = 0 and the max over the next state's actions for inner steps, and r = the reward with
no bootstrap for the step into the terminal state (α = 0.01, γ = 1 by default).  The reward is
the told value (``direction.sign × value``): the observed final accuracy, or the predicted one for
an early-stopped network (``predicted=True``, recorded with the experience).

Two modes, one agent:

* **Replay** over recorded networks (``nets`` / :meth:`MetaQNN.from_curves`): the agent only walks
  a trie of the recorded layer sequences and only to networks not used yet; :meth:`ask` returns the
  recorded config's id.  Dropout tokens ``D(i,n)`` are not layers of the walk: the trie and the
  states are built on the non-dropout layers (MetaQNN adds dropout deterministically; its code
  strips it the same way before a Q update), so a net matches however its dropout, whitespace or
  termination is spelled in the record.  Several recorded configs with the same layer sequence
  (e.g. the same net with other training hyperparameters) share a leaf; one unused config is drawn
  at random.  The max in the update runs over the actions some recorded net takes from that state
  (the only ones the agent can ever take); untaken entries of the space would stay at ``q_init``.
* **Generative** (no ``nets``): the walk runs over :meth:`MetaQNNSpace.actions`, training
  hyperparameters are drawn from :attr:`MetaQNNSpace.hyperparameters`, and :meth:`ask` returns a new
  id whose config dict :meth:`MetaQNN.config` gives.  A net may be proposed again (with other
  hyperparameters).

Both modes speak both interfaces: :class:`~curvecast.search.Searcher` (``ask() -> id``,
``tell(id, …)``, for replay) and :class:`~curvecast.search.ConfigSearcher` (``ask_config() ->
dict``, ``tell_config(dict, …)``, for real training; a config told is matched to the oldest trial
in flight with an equal config).

:meth:`MetaQNN.state_dict` / :meth:`MetaQNN.load_state_dict` save and restore everything learned
(Q-table, memory, results, trials in flight, the ε each trial was chosen with, the random
generator) as JSON-able data.

The ε schedule is in :mod:`curvecast.search.metaqnn_schedule`, the Q-table's parts in
:mod:`curvecast.search.metaqnn_qtable`, the recorded nets' trie and covering space in
:mod:`curvecast.search.metaqnn_nets`.
"""


from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from curvecast.curves import CurveSet, Direction
from curvecast.search._base import IdSearcherConfigs, Result
from curvecast.search.metaqnn_nets import (
    Node,
    Paths,
    build_trie,
    covering_space,
    infer_input_size,
    recount,
    strip_dropout,
)
from curvecast.search.metaqnn_qtable import (
    Experience,
    QState,
    Row,
    Steps,
    key_text,
    parse_action,
    parse_key,
    q_update,
)
from curvecast.search.metaqnn_schedule import METAQNN_SCHEDULE, epsilon_schedule
from curvecast.space.metaqnn import Layer, MetaQNNSpace, State, format_net, parse_net

__all__ = ["METAQNN_SCHEDULE", "MetaQNN", "covering_space", "epsilon_schedule"]

_STATE_DICT_VERSION = 1


class MetaQNN(IdSearcherConfigs):
    """MetaQNN's Q-learning agent (module docstring), over recorded nets or generative.

    Args:
        space: the layer space whose states and transitions the agent walks.  In replay mode every
            recorded net must be a walk of it (see :func:`covering_space`).
        n_trials: the trial budget: :meth:`ask` returns None after this many; the ε schedule is
            scaled to it.
        nets: replay mode: ``config_id → net`` in the paper's notation (the recorded candidates);
            None for generative mode.
        alpha: Q-learning rate α in (0, 1].
        gamma: discount γ in [0, 1].
        replay_size: trajectories replayed from memory after every tell (≥ 0).
        q_init: initial Q-value of every (state, action) (reward units).
        schedule: ``(ε, models)`` pairs, scaled to ``n_trials`` by :func:`epsilon_schedule`.
        direction: the reward is ``direction.sign × value`` (accuracy: maximize).
        seed: seed of every random choice.
        id_prefix: generative mode: prefix of the ids :meth:`ask` makes (``prefix + 5 digits``).

    Attributes:
        epsilons_: ε of each trial, shape ``(n_trials,)``.
        results_: ``config_id → Result`` of every trial told so far.
        n_asked_: trials asked so far.
    """

    def __init__(self, space: MetaQNNSpace, n_trials: int, *, nets: Mapping[str, str] | None = None,
                 alpha: float = 0.01, gamma: float = 1.0, replay_size: int = 100,
                 q_init: float = 0.5, schedule: Sequence[tuple[float, int]] = METAQNN_SCHEDULE,
                 direction: Direction | str = Direction.MAXIMIZE, seed: int = 0,
                 id_prefix: str = "metaqnn-") -> None:
        if not isinstance(space, MetaQNNSpace):
            raise ValueError(f"space must be a MetaQNNSpace, got {type(space).__name__} {space!r}")
        if not 0.0 < float(alpha) <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if not 0.0 <= float(gamma) <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
        if isinstance(replay_size, bool) or not isinstance(replay_size, int) or replay_size < 0:
            raise ValueError(f"replay_size must be an integer >= 0, got {replay_size!r}")
        if not math.isfinite(float(q_init)):
            raise ValueError(f"q_init must be finite, got {q_init!r}")
        self.space = space
        self.n_trials = n_trials
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.replay_size = replay_size
        self.q_init = float(q_init)
        self.epsilons_ = epsilon_schedule(n_trials, schedule)  # checks the schedule
        self.schedule = tuple((float(e), int(c)) for e, c in schedule)
        self.direction = Direction.parse(direction)
        self.seed = seed
        self.id_prefix = id_prefix
        self.results_: dict[str, Result] = {}
        self.n_asked_ = 0
        self._rng = np.random.default_rng(seed)
        self._rows: dict[QState, Row] = {}
        self._memory: list[Experience] = []
        self._pending: dict[str, tuple[str, Steps]] = {}
        self._configs: dict[str, dict[str, Any]] = {}  # generative configs by id
        self._epsilons: dict[str, float] = {}  # the ε each asked id was chosen with
        self._nets: dict[str, str] | None = None
        self._root: Node | None = None
        self._paths: Paths = {}
        self._used: set[str] = set()
        self._recorded_actions: dict[QState, tuple[Layer, ...]] = {}
        if nets is not None:
            if not nets:
                raise ValueError("nets is empty: replay mode needs at least one recorded net "
                                 "(pass None for generative mode)")
            self._build_trie(nets)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_curves(cls, curves: CurveSet, n_trials: int | None = None, *,
                    space: MetaQNNSpace | None = None, input_size: int | None = None,
                    **kwargs: Any) -> MetaQNN:
        """Replay mode over the configs of a CurveSet that are recorded to the final epoch.

        Args:
            curves: recorded curves whose config table has a ``net`` column.
            n_trials: budget (default: every candidate).
            space: the layer space (default: :func:`covering_space` of the recorded nets, with
                ``input_size``).
            input_size: side of the input images, for the default space (default: read from the
                ``final_size`` of a recorded net without pooling).
            **kwargs: the other arguments of :class:`MetaQNN` (``seed``, ``replay_size``, …);
                ``direction`` defaults to the curves' direction.

        Raises:
            ValueError: no ``net`` column, no complete config, a net that is not a walk of
                ``space``, or an input size that cannot be inferred.
        """
        if "net" not in curves.configs.columns:
            raise ValueError(f"the config table has no 'net' column (columns: "
                             f"{list(curves.configs.columns)})")
        trained = curves.without_untrained_epoch()
        complete = trained.is_complete() & (trained.n_observed() == trained.n_epochs)
        nets_all = [str(n) for n in curves.configs["net"]]
        nets = {cid: net for cid, net, ok in zip(trained.config_ids, nets_all, complete,
                                                 strict=True) if ok}
        if not nets:
            raise ValueError(f"no config of {curves!r} is recorded to the final epoch")
        if space is None:
            size = infer_input_size(curves, nets_all) if input_size is None else input_size
            space = covering_space(list(nets.values()), size)
        kwargs.setdefault("direction", curves.direction)
        return cls(space, len(nets) if n_trials is None else n_trials, nets=nets, **kwargs)

    def _walk(self, layers: Sequence[Layer], net: str) -> list[QState]:
        """The Q-states along ``layers`` (non-dropout), the terminal one included."""
        state, last = self.space.start_state(), None
        keys: list[QState] = [(state, None)]
        for pos, layer in enumerate(layers):
            try:
                state = self.space.transition(state, layer)
            except ValueError:
                raise ValueError(f"layer {pos} ({layer}) of net {net!r} is not allowed after "
                                 f"{state} in {self.space!r}") from None
            last = layer
            keys.append((state, last))
        if not self.space.is_terminal(state):
            raise ValueError(f"net {net!r} does not end with SM({self.space.n_classes})")
        return keys

    def _build_trie(self, nets: Mapping[str, str]) -> None:
        self._root, self._paths, self._recorded_actions = build_trie(
            nets, (self.space.start_state(), None), self._walk)
        self._nets = {str(k): str(v) for k, v in nets.items()}
        self._recount()

    def _recount(self) -> None:
        recount(self._paths, self._used)

    def __repr__(self) -> str:
        mode = "generative" if self._nets is None else f"candidates={len(self._nets)}"
        return (f"MetaQNN({mode}, n_trials={self.n_trials}, alpha={self.alpha}, "
                f"gamma={self.gamma}, replay_size={self.replay_size}, seed={self.seed})")

    # ------------------------------------------------------------------ Q-table
    @property
    def replay_mode(self) -> bool:
        """Whether the agent proposes recorded nets (else it generates configs)."""
        return self._nets is not None

    @property
    def epsilon(self) -> float:
        """ε of the next trial (the schedule's last value once the budget is spent)."""
        return float(self.epsilons_[min(self.n_asked_, self.n_trials - 1)])

    def _row(self, key: QState) -> Row:
        row = self._rows.get(key)
        if row is None:
            actions = self._recorded_actions.get(key) or self.space.actions(key[0])
            row = self._rows[key] = Row(actions, self.q_init)
        return row

    def _compile(self, layers: Sequence[Layer], net: str) -> Steps:
        keys = self._walk(layers, net)
        steps = []
        for key, layer in zip(keys[:-1], layers, strict=True):
            row = self._row(key)
            if layer not in row.index:
                raise ValueError(f"net {net!r}: {layer} is not an action of state {key}")
            steps.append((row, row.index[layer]))
        return tuple(steps)

    def q_values(self, prefix: Sequence[Layer] = ()) -> dict[Layer, float]:
        """``action → Q`` for the state a partial net ``prefix`` (dropout ignored) leads to.

        In replay mode the actions are those some recorded net takes there, in generative mode
        the space's legal actions.  Entries never updated are ``q_init``.

        Raises:
            ValueError: ``prefix`` is not a walk of the space.
        """
        layers = strip_dropout(prefix)
        state, last = self.space.start_state(), None
        for pos, layer in enumerate(layers):
            try:
                state = self.space.transition(state, layer)
            except ValueError:
                raise ValueError(f"layer {pos} ({layer}) of {format_net(layers)!r} is not "
                                 f"allowed after {state} in {self.space!r}") from None
            last = layer
        row = self._row((state, last))
        return dict(zip(row.actions, row.values, strict=True))

    def _choose(self, row: Row, options: Sequence[Layer], eps: float) -> Layer:
        if self._rng.random() < eps:
            return options[int(self._rng.integers(len(options)))]
        values = [row.values[row.index[a]] for a in options]
        top = max(values)
        best = [a for a, v in zip(options, values, strict=True) if v == top]
        return best[int(self._rng.integers(len(best)))] if len(best) > 1 else best[0]

    # ------------------------------------------------------------------ Searcher
    def ask(self) -> str | None:
        """The next config id: a recorded, unused net (replay) or a new config (generative).

        None when the budget is spent or (replay) every recorded net has been used.
        """
        if self.n_asked_ >= self.n_trials:
            return None
        eps = self.epsilon
        steps: list[tuple[Row, int]] = []
        if self._root is not None and self._nets is not None:
            if self._root.remaining == 0:
                return None
            node = self._root
            while not node.config_ids:
                row = self._row(node.key)
                options = [a for a, child in node.children.items() if child.remaining > 0]
                action = self._choose(row, options, eps)
                steps.append((row, row.index[action]))
                node = node.children[action]
            unused = [c for c in node.config_ids if c not in self._used]
            config_id = unused[int(self._rng.integers(len(unused)))] if len(unused) > 1 \
                else unused[0]
            self._used.add(config_id)
            for n in self._paths[config_id]:
                n.remaining -= 1
            net = self._nets[config_id]
        else:
            state: State = self.space.start_state()
            last: Layer | None = None
            layers: list[Layer] = []
            while not self.space.is_terminal(state):
                row = self._row((state, last))
                action = self._choose(row, row.actions, eps)
                steps.append((row, row.index[action]))
                layers.append(action)
                state, last = self.space.transition(state, action), action
            net = format_net(layers)
            config_id = f"{self.id_prefix}{self.n_asked_:05d}"
            self._configs[config_id] = {"net": net,
                                        **self.space.hyperparameters.sample(self._rng)}
        self.n_asked_ += 1
        self._pending[config_id] = (net, tuple(steps))
        self._epsilons[config_id] = eps
        return config_id

    def config(self, config_id: str) -> dict[str, Any]:
        """The config of an asked id: ``{"net": …, hyperparameters…}`` (generative) or
        ``{"net": <recorded net>}`` (replay).

        Raises:
            ValueError: an id this searcher did not propose.
        """
        if config_id in self._configs:
            return dict(self._configs[config_id])
        if self._nets is not None and config_id in self._used:
            return {"net": self._nets[config_id]}
        raise ValueError(f"config {config_id!r} was not proposed by this searcher")

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        """Reward the trajectory of ``config_id`` with ``value``, then replay the memory.

        Raises:
            ValueError: an id not in flight (never asked, or told already), or a non-finite value.
        """
        value = self._check_told(config_id, value)
        net, steps = self._pending.pop(config_id)
        self.results_[config_id] = Result(value, bool(predicted))
        self._memory.append(Experience(config_id, net, steps, self.direction.sign * value,
                                        bool(predicted)))
        if self.replay_size:
            memory = self._memory
            for i in self._rng.integers(len(memory), size=self.replay_size).tolist():
                q_update(memory[i].steps, memory[i].reward, self.alpha, self.gamma)

    @property
    def asked_epsilons(self) -> dict[str, float]:
        """``config_id → ε`` it was chosen with, for every id asked so far, in order.

        Kept because the schedule is scaled to ``n_trials``: a study resumed with a larger budget
        continues with another schedule, so ε cannot be recomputed from the final one.
        """
        return dict(self._epsilons)

    @property
    def memory(self) -> list[tuple[str, str, float, bool]]:
        """The replay memory: ``(config_id, net, reward, predicted)`` per told trial, in order."""
        return [(e.config_id, e.net, e.reward, e.predicted) for e in self._memory]

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything learned, as JSON-able data (see :meth:`load_state_dict`)."""
        return {
            "version": _STATE_DICT_VERSION,
            "mode": "replay" if self.replay_mode else "generative",
            "settings": {"n_trials": self.n_trials, "alpha": self.alpha, "gamma": self.gamma,
                         "replay_size": self.replay_size, "q_init": self.q_init,
                         "schedule": [list(s) for s in self.schedule],
                         "direction": self.direction.value, "seed": self.seed},
            "n_asked": self.n_asked_,
            "q": {key_text(k): {str(a): v for a, v in zip(r.actions, r.values, strict=True)}
                  for k, r in self._rows.items()},
            "memory": [{"config_id": e.config_id, "net": e.net, "reward": e.reward,
                        "predicted": e.predicted} for e in self._memory],
            "results": {cid: {"value": r.value, "predicted": r.predicted}
                        for cid, r in self.results_.items()},
            "pending": {cid: net for cid, (net, _) in self._pending.items()},
            "configs": {cid: dict(c) for cid, c in self._configs.items()},
            "epsilons": dict(self._epsilons),
            "used": sorted(self._used),
            "rng": self._rng.bit_generator.state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (the constructor's arguments stay as given).

        A generative agent's state saved before the space forbade an FC layer wider than the one
        before it still loads: its Q-values of such steps are dropped, and its nets that take
        one keep their results but teach the Q-table nothing (they are no walk of the space).

        Raises:
            ValueError: another version or mode, ids that are not candidates, or nets and
                actions that are not in the space.
        """
        if state.get("version") != _STATE_DICT_VERSION:
            raise ValueError(f"state_dict version {state.get('version')!r} is not "
                             f"{_STATE_DICT_VERSION}")
        mode = "replay" if self.replay_mode else "generative"
        if state.get("mode") != mode:
            raise ValueError(f"state_dict of a {state.get('mode')!r} agent loaded into a "
                             f"{mode!r} one")
        used = {str(c) for c in state["used"]}
        if self._nets is not None:
            unknown = sorted(used - set(self._nets))
            if unknown:
                raise ValueError(f"state_dict uses configs that are not candidates: {unknown[:5]}")
        old_rows = self._rows
        self._rows = {}
        legacy = not self.replay_mode and not self.space.fc_widening  # may hold widening FCs
        try:
            for text, saved in state["q"].items():
                key = parse_key(text)
                row = self._row(key)
                for action_text, value in saved.items():
                    action = parse_action(action_text)
                    if action not in row.index and legacy and self.space.widens(key[0], action):
                        continue  # a Q-value saved before the FC width rule
                    if action not in row.index:
                        raise ValueError(f"state_dict: {action} is not an action of state "
                                         f"{text!r}")
                    row.values[row.index[action]] = float(value)

            def compile_net(net: str) -> Steps:
                layers = strip_dropout(parse_net(net))
                try:
                    return self._compile(layers, net)
                except ValueError:  # a net saved before the FC width rule: nothing to update
                    if not legacy or not self.space.is_terminal(
                            self.space.walk(layers, fc_widening=True)):
                        raise
                    return ()

            memory = [Experience(str(e["config_id"]), str(e["net"]), compile_net(str(e["net"])),
                                  float(e["reward"]), bool(e["predicted"]))
                      for e in state["memory"]]
            pending = {str(cid): (str(net), compile_net(str(net)))
                       for cid, net in state["pending"].items()}
        except (ValueError, KeyError, TypeError):
            self._rows = old_rows
            raise
        self._memory = memory
        self._pending = pending
        self.results_ = {str(cid): Result(float(r["value"]), bool(r["predicted"]))
                         for cid, r in state["results"].items()}
        self._configs = {str(cid): dict(c) for cid, c in state["configs"].items()}
        self._epsilons = {str(cid): float(e) for cid, e in state.get("epsilons", {}).items()}
        self._used = used
        self.n_asked_ = int(state["n_asked"])
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = dict(state["rng"])
        if self._nets is not None:
            self._recount()
