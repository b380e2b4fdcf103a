"""A user's data survives every round trip exactly: CurveSet → Parquet → CurveSet, a long table →
CurveSet, a study database → ``export``, and the importers' config tables (whole numbers beyond
2^53 with a missing cell, codes written with a leading zero, test values)."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curvecast import CurveSet
from curvecast.datasets import from_long_table, from_ray, from_table
from curvecast.features import unused_column_reason
from curvecast.store import Store, TrialState

#: Ids a careless reader turns into others: numbers, booleans, missing-value words, spaces.
ODD_IDS = ["", " a", "a ", "1.0", "01", "1", "nan", "True", "None", "NA", "é", "e\u0301",
           "x y", "-0", "1e3", "N/A", "null"]

#: Two seeds a float cannot tell apart.
BIG = (2**60 + 1, 2**60 + 3)

_values = st.floats(allow_nan=True, allow_infinity=True)
_slow = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow,
                                                         HealthCheck.function_scoped_fixture])


def _same(a: Any, b: Any) -> bool:
    """Equal cells, of one type; every missing marker (None, NaN, pd.NA) equal to another."""
    if pd.isna(a) if not isinstance(a, list | tuple) else False:
        return bool(pd.isna(b))
    return bool(a == b) and type(a) is type(b)


@st.composite
def curve_sets(draw: st.DrawFn, odd_ids: list[str] = ODD_IDS) -> CurveSet:
    """A small CurveSet: odd ids, an epoch axis that may start at 0 and skip epochs, values with
    NaN and ±inf, partially observed curves (with gaps), config columns of every kind."""
    ids = draw(st.lists(st.sampled_from(odd_ids), min_size=1, max_size=5, unique=True))
    n = len(ids)
    n_epochs = draw(st.integers(1, 4))
    epochs = sorted(draw(st.lists(st.integers(0, 30), min_size=n_epochs, max_size=n_epochs,
                                  unique=True)))
    values = np.array(draw(st.lists(st.lists(_values, min_size=n_epochs, max_size=n_epochs),
                                    min_size=n, max_size=n)), dtype=np.float64)
    observed = np.array(draw(st.lists(st.lists(st.booleans(), min_size=n_epochs,
                                               max_size=n_epochs), min_size=n, max_size=n)))
    column = st.lists  # one draw per config
    configs = pd.DataFrame({
        "int": draw(column(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n)),
        "float": draw(column(_values, min_size=n, max_size=n)),
        "bool": draw(column(st.booleans(), min_size=n, max_size=n)),
        "text": pd.Series(draw(column(st.none() | st.sampled_from(ODD_IDS), min_size=n,
                                      max_size=n)), dtype=object),
        "nullable_int": pd.array(draw(column(st.none() | st.integers(-2**63 + 1, 2**63 - 1),
                                             min_size=n, max_size=n)), dtype="Int64"),
        "nullable_bool": pd.array(draw(column(st.none() | st.booleans(), min_size=n,
                                              max_size=n)), dtype="boolean"),
        "category": pd.Categorical(draw(column(st.sampled_from(["x", "01", "1", "True"]),
                                               min_size=n, max_size=n))),
    }, index=ids)
    return CurveSet(values=values, observed=observed, epochs=epochs, metric="val_é",
                    direction=draw(st.sampled_from(["maximize", "minimize"])), configs=configs,
                    test_values=np.array(draw(column(_values, min_size=n, max_size=n))),
                    provenance={"source": "made here", "list": [1, "x"]},
                    diverged_value=draw(st.none() | st.floats(-10, 10)))


@_slow
@given(curves=curve_sets())
def test_a_curveset_survives_parquet_exactly(curves: CurveSet, tmp_path: Path) -> None:
    path = curves.save(tmp_path / "c.parquet")
    back = CurveSet.load(path)
    assert back.config_ids == curves.config_ids
    np.testing.assert_array_equal(back.observed, curves.observed)
    np.testing.assert_array_equal(back.values, curves.values)  # NaN where NaN, ±inf kept
    assert np.array_equal(np.signbit(back.values), np.signbit(curves.values))
    np.testing.assert_array_equal(back.epochs, curves.epochs)
    np.testing.assert_array_equal(back.test_values, curves.test_values)
    assert (back.metric, back.direction, back.diverged_value) == (
        curves.metric, curves.direction, curves.diverged_value)
    assert back.provenance == curves.provenance
    assert list(back.configs.columns) == list(curves.configs.columns)
    for name in curves.configs.columns:
        assert back.configs[name].dtype == curves.configs[name].dtype, name
        for a, b in zip(curves.configs[name].tolist(), back.configs[name].tolist(), strict=True):
            assert _same(a, b), (name, a, b)


@_slow
@given(curves=curve_sets(odd_ids=[i for i in ODD_IDS if i.strip()]),
       fmt=st.sampled_from(["csv", "parquet"]))
def test_a_long_table_of_a_curveset_imports_back_exactly(curves: CurveSet, fmt: str,
                                                          tmp_path: Path) -> None:
    long = curves.to_long().drop(columns="seconds")
    path = tmp_path / f"long.{fmt}"
    if fmt == "csv":
        long.to_csv(path, index=False, na_rep="nan")
    else:  # NaN as a value, not a null (pandas' to_parquet would write null)
        pq.write_table(pa.table({"config_id": long["config_id"].astype(str).tolist(),
                                 "epoch": long["epoch"].to_numpy(),
                                 "value": pa.array(long["value"].to_numpy(), from_pandas=False)}),
                       path)
    if long.empty:
        return
    with _quiet():
        back = from_long_table(path, curves.metric, curves.direction)
    reached = curves.observed.any(axis=1)
    assert back.config_ids == [c for c, r in zip(curves.config_ids, reached, strict=True) if r]
    seen = curves.observed.any(axis=0)
    np.testing.assert_array_equal(back.epochs, curves.epochs[seen])
    rows = np.flatnonzero(reached)
    np.testing.assert_array_equal(back.values, curves.values[np.ix_(rows, np.flatnonzero(seen))])
    np.testing.assert_array_equal(back.observed,
                                  curves.observed[np.ix_(rows, np.flatnonzero(seen))])


@contextmanager
def _quiet() -> Iterator[None]:
    """The importers' warnings (an epoch axis with holes, a short run) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------- study → export


def _study(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/s.db"
    with Store(url) as store:
        store.create_study("s", metric="acc", direction="maximize", settings={"epochs": 3})
        configs = [{"lr": 0.1, "seed": BIG[0], "flag": True, "name": "01"},
                   {"lr": 0.2, "flag": False, "name": "1"},  # no seed: a missing cell
                   {"lr": 0.3, "seed": BIG[1], "flag": None, "name": "True"}]
        for config in configs:
            store.add_trial("s", config)
        for number, curve in enumerate([[0.5, math.nan, math.inf], [0.4, 0.45, 0.47], [-math.inf]]):
            for epoch, value in enumerate(curve, start=1):
                store.record_value("s", number, epoch, value)
        store.set_state("s", 0, TrialState.COMPLETE, test_value=0.125)
        store.set_state("s", 1, TrialState.COMPLETE, test_value=0.44)
        store.set_state("s", 2, TrialState.STOPPED, predicted_value=0.3)
    return url


def test_an_export_keeps_the_test_values_the_study_recorded(tmp_path: Path) -> None:
    with Store(_study(tmp_path), read_only=True) as store:
        curves = store.to_curveset("s")
    assert curves.test_values is not None
    assert curves.test_values[:2].tolist() == [0.125, 0.44]  # they were all NaN
    assert math.isnan(curves.test_values[2])  # a stopped trial has none
    back = CurveSet.load(curves.save(tmp_path / "e.parquet"))
    np.testing.assert_array_equal(back.test_values, curves.test_values)


def test_an_export_keeps_whole_numbers_beyond_2_53_with_a_missing_cell(tmp_path: Path) -> None:
    with Store(_study(tmp_path), read_only=True) as store:
        curves = store.to_curveset("s")
    back = CurveSet.load(curves.save(tmp_path / "e.parquet"))
    seeds = back.configs["seed"].tolist()
    assert seeds[0] == BIG[0] and seeds[2] == BIG[1] and pd.isna(seeds[1])  # not one float
    assert back.configs["name"].tolist() == ["01", "1", "True"]
    assert back.configs["flag"].tolist()[:2] == [True, False]
    # diverged values stay values, a never-reported epoch stays unobserved
    assert back.observed.tolist() == [[True] * 3, [True] * 3, [True, False, False]]
    assert math.isnan(back.values[0, 1]) and back.values[0, 2] == math.inf
    assert back.values[2, 0] == -math.inf


def test_show_json_gives_the_database_numbers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from curvecast.cli import app

    url = _study(tmp_path)
    result = CliRunner().invoke(app, ["show", "--study", "s", "--storage", url, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    with Store(url, read_only=True) as store:
        trials = store.trials("s")
    assert shown["metric"] == "acc" and shown["direction"] == "maximize"
    for row, trial in zip(shown["trials"], trials, strict=True):
        assert row["config"] == trial.config  # 2^60 + 1 exactly
        assert row["test_value"] == trial.test_value
        # NaN and ±inf as "NaN", "Infinity", "-Infinity" (they were all null): float() reads
        # each back as the number the database holds
        assert [e for e, _ in row["values"]] == [e for e, _, _ in trial.values]
        assert [float(v) for _, v in row["values"]] == pytest.approx(
            [v for _, v, _ in trial.values], nan_ok=True)
        assert all(isinstance(v, str) for _, v in row["values"] if not math.isfinite(float(v)))


# ---------------------------------------------------------------- importers' config tables


def test_config_frame_keeps_whole_numbers_beyond_2_53_with_a_missing_cell() -> None:
    from curvecast.curves.config_columns import config_frame

    frame = config_frame([{"seed": BIG[0], "lr": 0.1}, {"lr": 0.2}, {"seed": BIG[1], "lr": None}],
                         ["a", "b", "c"])
    assert frame["seed"].tolist()[::2] == list(BIG)
    assert frame["lr"].dtype == np.float64  # small numbers: as pandas makes them
    small = config_frame([{"n": 1}, {}], ["a", "b"])
    assert small["n"].dtype == np.float64


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_wide_table_keeps_big_whole_numbers_and_codes(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"wide.{fmt}"
    if fmt == "csv":
        path.write_text("config_id,seed,code,layers,acc_1,acc_2\n"
                        f"01,{BIG[0]},01,2,0.1,0.2\n"
                        "1,,02,3,0.3,\n"
                        f"1.0,{BIG[1]},10,4,0.5,nan\n")
    else:
        pq.write_table(pa.table({
            "config_id": ["01", "1", "1.0"], "seed": pa.array([BIG[0], None, BIG[1]], pa.int64()),
            "code": ["01", "02", "10"], "layers": [2, 3, 4], "acc_1": [0.1, 0.3, 0.5],
            "acc_2": pa.array([0.2, None, math.nan], from_pandas=False)}), path)
    with _quiet():
        curves = from_table(path, r"acc_(\d+)", "acc", "max")
    assert curves.config_ids == ["01", "1", "1.0"]
    seeds = curves.configs["seed"].tolist()
    assert seeds[0] == BIG[0] and seeds[2] == BIG[1] and pd.isna(seeds[1])
    assert curves.configs["code"].tolist() == ["01", "02", "10"]  # a code, as written
    assert curves.configs["layers"].tolist() == [2, 3, 4]  # plain numbers stay numbers
    assert curves.observed.tolist() == [[True, True], [True, False], [True, True]]
    assert math.isnan(curves.values[2, 1])


def test_a_long_import_config_table_keeps_big_whole_numbers(tmp_path: Path) -> None:
    (tmp_path / "long.csv").write_text("config_id,epoch,value\na,1,0.5\nb,1,0.4\nc,1,0.3\n")
    (tmp_path / "cfg.csv").write_text(f"config_id,seed\na,{BIG[0]}\nb,\nc,{BIG[1]}\n")
    with _quiet():
        curves = from_long_table(tmp_path / "long.csv", "acc", "max",
                                 configs=tmp_path / "cfg.csv")
    seeds = CurveSet.load(curves.save(tmp_path / "l.parquet")).configs["seed"].tolist()
    assert seeds[0] == BIG[0] and seeds[2] == BIG[1] and pd.isna(seeds[1])


def test_a_ray_import_keeps_big_whole_numbers_of_a_config_key_some_trials_lack(
        tmp_path: Path) -> None:
    root = tmp_path / "exp"
    for i, params in enumerate([{"lr": 0.1, "seed": BIG[0]}, {"lr": 0.2},
                                {"lr": 0.3, "seed": BIG[1]}]):
        trial = root / f"trial_{i}"
        trial.mkdir(parents=True)
        (trial / "params.json").write_text(json.dumps(params))
        (trial / "result.json").write_text("".join(
            json.dumps({"training_iteration": e, "acc": 0.1 * e + i}) + "\n" for e in (1, 2)))
    with _quiet():
        curves = from_ray(root, "acc", "max")
    by_id = curves.configs.sort_values("lr")["seed"].tolist()
    assert by_id[0] == BIG[0] and by_id[2] == BIG[1] and pd.isna(by_id[1])


def test_an_optuna_import_keeps_big_whole_numbers_of_a_user_attr_some_trials_lack(
        tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    from curvecast.datasets import from_optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    url = f"sqlite:///{tmp_path}/o.db"
    study = optuna.create_study(study_name="o", storage=url)

    def objective(trial: Any) -> float:
        lr = trial.suggest_float("lr", 0.01, 1.0, log=True)
        if trial.number != 1:
            trial.set_user_attr("seed", BIG[trial.number // 2])
        for step in (1, 2):
            trial.report(lr / step, step)
        return lr / 2

    study.optimize(objective, n_trials=3)
    curves = from_optuna(url, "o", metric="loss")
    seeds = curves.configs["seed"].tolist()
    assert seeds[0] == BIG[0] and seeds[2] == BIG[1] and pd.isna(seeds[1])


def test_the_unused_column_note_does_not_call_distinct_big_numbers_one_value() -> None:
    reason = unused_column_reason(pd.Series([2**60, 2**60 + 1, 2**60 + 2], name="seed"))
    assert reason is not None and "one value" not in reason and "2^53" in reason
    assert unused_column_reason(pd.Series([3, 3, None], name="n")) == (
        "one value, missing in 1 of 3 rows")


def test_a_csv_config_column_of_codes_with_leading_zeros_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("config_id,code,width,acc_1\na,007,64,0.1\nb,012,128,0.2\nc,,32,0.3\n")
    with _quiet():
        curves = from_table(path, r"acc_(\d+)", "acc", "max")
    assert curves.configs["code"].tolist()[:2] == ["007", "012"]  # pandas read 7 and 12
    assert pd.isna(curves.configs["code"].iloc[2])
    assert curves.configs["width"].tolist() == [64, 128, 32]


def test_a_missing_cell_of_a_mixed_column_stays_missing() -> None:
    from curvecast.curves.config_columns import plain_config_columns

    plain = plain_config_columns(pd.DataFrame({"width": pd.Series([64, pd.NA, "auto"],
                                                                   dtype=object)}))
    assert plain["width"].tolist() == ["64", None, "auto"]  # not the text "<NA>"
