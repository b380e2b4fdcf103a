"""CurveSet: construction, the diverged-run rule, slicing, merge, Parquet round trip, validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from curvecast import CurveSet, CurveSetFormatError, Direction


def make(values: list[list[float]], direction: str = "maximize", **kw: object) -> CurveSet:
    arr = np.array(values, dtype=float)
    observed = kw.pop("observed", ~np.isnan(arr))
    n = arr.shape[0]
    configs = pd.DataFrame({"lr": np.linspace(0.1, 0.2, n), "n_params": np.arange(n) * 10,
                            "n_layers": np.full(n, 3), "net": [f"net{i}" for i in range(n)]},
                           index=[f"c{i}" for i in range(n)])
    return CurveSet(values=arr, observed=observed, epochs=np.arange(1, arr.shape[1] + 1),
                    metric="acc", direction=Direction.parse(direction), configs=configs,
                    **kw)  # type: ignore[arg-type]


def test_shape_final_values_and_prefix() -> None:
    cs = make([[0.1, 0.5, 0.7], [0.2, 0.3, np.nan]])
    assert (cs.n_configs, cs.n_epochs) == (2, 3)
    np.testing.assert_array_equal(cs.is_complete(), [True, False])
    np.testing.assert_array_equal(cs.n_observed(), [3, 2])
    np.testing.assert_allclose(cs.final_values(), [0.7, np.nan])
    epochs, values = cs.prefix("c1")
    np.testing.assert_array_equal(epochs, [1, 2])
    np.testing.assert_allclose(values, [0.2, 0.3])


def test_diverged_values_are_kept_and_filled_with_worst_finite_value() -> None:
    nan = np.nan
    observed = np.ones((3, 3), dtype=bool)
    cs = make([[0.1, 0.5, 0.7], [0.2, nan, nan], [0.3, 0.4, np.inf]], observed=observed)
    # kept as observed, raw values untouched
    assert cs.observed.all()
    assert np.isnan(cs.values[1, 2]) and np.isinf(cs.values[2, 2])
    np.testing.assert_array_equal(cs.diverged().sum(axis=1), [0, 2, 1])
    # maximize: worst finite value is the minimum, 0.1
    assert cs.diverged_fill == pytest.approx(0.1)
    np.testing.assert_allclose(cs.final_values(), [0.7, 0.1, 0.1])
    np.testing.assert_allclose(cs.final_values(filled=False)[0], 0.7)


def test_diverged_fill_for_minimize_is_the_largest_value_or_the_stated_one() -> None:
    obs = np.ones((2, 2), dtype=bool)
    cs = make([[300.0, 120.0], [500.0, np.inf]], direction="minimize", observed=obs)
    assert cs.diverged_fill == 500.0
    stated = make([[300.0, 120.0], [500.0, np.inf]], direction="minimize", observed=obs,
                  diverged_value=1000.0)
    np.testing.assert_allclose(stated.final_values(), [120.0, 1000.0])


def test_unobserved_is_not_diverged() -> None:
    cs = make([[0.1, np.nan]])
    assert not cs.diverged().any()
    assert np.isnan(cs.final_values()[0])


def test_subset_by_ids_positions_and_mask() -> None:
    cs = make([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    assert cs.subset(["c2", "c0"]).config_ids == ["c2", "c0"]
    assert cs.subset([1]).values.tolist() == [[0.3, 0.4]]
    assert cs.subset(np.array([True, False, True])).config_ids == ["c0", "c2"]
    with pytest.raises(KeyError, match="c9"):
        cs.subset(["c9"])


def test_arrays_are_read_only() -> None:
    cs = make([[0.1, 0.2]])
    with pytest.raises(ValueError):
        cs.values[0, 0] = 1.0


def test_merge_unions_configs_and_epochs() -> None:
    a = make([[0.1, 0.2]])
    b = CurveSet(values=np.array([[0.5, 0.6, 0.7]]), observed=np.ones((1, 3), bool),
                 epochs=np.array([1, 2, 3]), metric="acc", direction=Direction.MAXIMIZE,
                 configs=pd.DataFrame({"lr": [0.3]}, index=["d0"]))
    m = a.merge(b)
    assert m.config_ids == ["c0", "d0"]
    assert m.epochs.tolist() == [1, 2, 3]
    assert m.observed.tolist() == [[True, True, False], [True, True, True]]
    assert np.isnan(m.configs.loc["d0", "n_params"])
    with pytest.raises(ValueError, match="c0"):
        a.merge(a)
    with pytest.raises(ValueError, match="minimize"):
        a.merge(make([[1.0, 2.0]], direction="minimize"))


def test_merging_sets_whose_diverged_runs_count_differently_is_refused() -> None:
    """A researcher's review (stop 33): merging a set that states ``diverged_value=0.9`` into
    one that does not read the first set's diverged run as 0.9, so it went from the worst run
    to the best.  Diverged values must agree; a set without diverged reports takes the other's."""
    def curves(ids: list[str], rows: list[list[float]], value: float | None) -> CurveSet:
        values = np.array(rows)
        return CurveSet(values=values, observed=np.ones(values.shape, bool),
                        epochs=np.arange(1, values.shape[1] + 1), metric="acc",
                        direction=Direction.MAXIMIZE, configs=pd.DataFrame(index=ids),
                        diverged_value=value)

    worst_seen = curves(["c1", "c2"], [[0.1, 0.2, np.nan], [0.3, 0.4, 0.5]], None)
    stated = curves(["d1", "d2"], [[0.1, 0.2, np.nan], [0.3, 0.4, 0.5]], 0.9)
    for a, b in ((worst_seen, stated), (stated, worst_seen)):
        with pytest.raises(ValueError, match=r"counts a diverged report as .*Give both the same"):
            a.merge(b)
    clean = curves(["e1"], [[0.3, 0.4, 0.6]], None)
    assert stated.merge(clean).diverged_value == 0.9  # nothing of clean's to read otherwise
    assert clean.merge(stated).final_values().tolist() == [0.6, 0.9, 0.5]
    assert worst_seen.merge(clean).final_values().tolist() == [0.1, 0.5, 0.6]
    again = curves(["f1"], [[0.2, np.nan, np.nan]], 0.9)
    assert stated.merge(again).diverged_value == 0.9


def test_runs_without_the_untrained_evaluation_are_not_diverged() -> None:
    """A researcher's review (stop 33): logs where half the runs evaluated the untrained network
    (epoch 0) and half did not were imported with "10 empty values … each counts as a diverged
    report: fill them in", and the summary counted 10 diverged configs, though none diverged."""
    values = np.array([[0.1, 0.5, 0.6], [np.nan, 0.4, 0.7], [0.1, np.nan, 0.2]])
    cs = CurveSet(values=values, observed=~np.isnan(values), epochs=np.array([0, 1, 2]),
                  metric="acc", direction=Direction.MAXIMIZE,
                  configs=pd.DataFrame(index=["a", "b", "c"]))
    assert cs.diverged().tolist() == [[False, False, False], [False, False, False],
                                      [False, True, False]]  # only c's trained epoch 1
    assert "1 empty value(s)" in (cs.gap_warning() or "")
    assert cs.n_observed().tolist() == [3, 3, 3]  # b's curve is whole
    trained = cs.without_untrained_epoch()
    assert trained.filled_values()[1].tolist() == [0.4, 0.7]
    # filled, as documented, with the worst *trained* value (stop 35: the untrained network's
    # 0.1 counted as the worst value here, and predictors and replays, which drop epoch 0, used
    # another fill than cs.filled_values() and cs.final_values())
    assert np.isnan(cs.values[1, 0]) and cs.filled_values()[1, 0] == 0.2
    assert cs.diverged_fill == trained.diverged_fill == 0.2
    assert cs.filled_values()[2, 1] == trained.filled_values()[2, 0] == 0.2


def test_merging_interleaved_axes_is_refused_not_read_as_diverged_runs() -> None:
    every = make([[0.5, 0.6, 0.7, 0.8]])
    every_second = CurveSet(values=np.array([[0.55, 0.75]]), observed=np.ones((1, 2), bool),
                            epochs=np.array([2, 4]), metric="acc", direction=Direction.MAXIMIZE,
                            configs=pd.DataFrame(index=["b"]))
    with pytest.raises(ValueError, match=r"other set's budget axis lacks epoch\(s\) \[1, 3\]"):
        every.merge(every_second)
    with_zero = CurveSet(values=np.array([[0.1, 0.5]]), observed=np.ones((1, 2), bool),
                         epochs=np.array([0, 1]), metric="acc", direction=Direction.MAXIMIZE,
                         configs=pd.DataFrame(index=["z"]))
    with pytest.raises(ValueError, match=r"this set's budget axis lacks epoch\(s\) \[0\]"):
        every.merge(with_zero)
    shorter = CurveSet(values=np.array([[0.3, 0.4]]), observed=np.ones((1, 2), bool),
                       epochs=np.array([1, 2]), metric="acc", direction=Direction.MAXIMIZE,
                       configs=pd.DataFrame(index=["s"]))
    merged = every.merge(shorter)  # shorter runs: partial curves, no holes
    assert merged.epochs.tolist() == [1, 2, 3, 4] and not merged.diverged().any()


def test_untrained_epoch_is_marked_and_removable() -> None:
    cs = CurveSet(values=np.array([[0.1, 0.4, 0.6]]), observed=np.ones((1, 3), bool),
                  epochs=np.array([0, 1, 2]), metric="acc", direction=Direction.MAXIMIZE,
                  configs=pd.DataFrame({"lr": [0.3]}, index=["a"]))
    assert cs.has_untrained_epoch
    trained = cs.without_untrained_epoch()
    assert not trained.has_untrained_epoch
    assert trained.epochs.tolist() == [1, 2]


def test_parquet_round_trip_is_lossless(tmp_path: Path) -> None:
    obs = np.array([[True, True, True], [True, True, False]])
    cs = make([[0.1, 1 / 3, np.inf], [np.nan, 0.123456789012345678, np.nan]], observed=obs,
              seconds=np.array([[0.5, 0.25, 1e-9], [1.0, 2.0, np.nan]]),
              test_values=np.array([0.61, np.nan]),
              provenance={"workload": "w", "seed": 3, "packages": {"numpy": "2"}})
    path = cs.save(tmp_path / "x.parquet")
    back = CurveSet.load(path)
    np.testing.assert_array_equal(back.observed, cs.observed)
    np.testing.assert_array_equal(back.values, cs.values)  # NaN == NaN for array_equal
    np.testing.assert_array_equal(back.seconds, cs.seconds)
    np.testing.assert_array_equal(back.test_values, cs.test_values)
    np.testing.assert_array_equal(back.epochs, cs.epochs)
    pd.testing.assert_frame_equal(back.configs, cs.configs)
    assert back.metric == "acc" and back.direction is Direction.MAXIMIZE
    assert back.provenance == cs.provenance
    assert not list(tmp_path.glob("*.tmp"))


@settings(max_examples=40, deadline=None)
@given(
    values=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)),
                      elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(values: np.ndarray, seed: int, tmp_path_factory: pytest.TempPathFactory
                             ) -> None:
    rng = np.random.default_rng(seed)
    observed = rng.random(values.shape) < 0.8
    cs = CurveSet(values=values, observed=observed, epochs=np.arange(values.shape[1]) * 2,
                  metric="loss", direction=Direction.MINIMIZE,
                  configs=pd.DataFrame({"x": rng.random(values.shape[0])}))
    back = CurveSet.load(cs.save(tmp_path_factory.mktemp("rt") / "c.parquet"))
    np.testing.assert_array_equal(back.observed, cs.observed)
    np.testing.assert_array_equal(back.values, cs.values)
    # the fill rule: every filled observed value is finite when any finite value exists
    if np.isfinite(cs.values[cs.observed]).any():
        assert np.isfinite(back.filled_values()[back.observed]).all()


def test_save_into_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make([[0.1]]).save(tmp_path / "nope" / "x.parquet")


def _long(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["config_id", "epoch", "value"])


@pytest.mark.parametrize(
    ("long", "configs", "direction", "message"),
    [
        (_long([("a", 1, 0.1), ("a", 1, 0.2)]), ["a"], "max", r"config 'a'.*epoch 1 appears"),
        (_long([("a", 1, 0.1), ("b", 1, 0.2)]), ["a"], "max", r"config 'b'.*no row in the config"),
        (_long([("a", 1, 0.1)]), [], "max", "empty CurveSet"),
        (_long([("a", 1, 0.1)]), ["a"], "sideways", r"field 'direction'.*unknown direction"),
        (pd.DataFrame({"config_id": ["a"], "value": [0.1]}), ["a"], "max", "missing column 'epoch'"),
    ],
)
def test_from_long_validation_names_config_and_field(
    long: pd.DataFrame, configs: list[str], direction: str, message: str
) -> None:
    table = pd.DataFrame({"lr": [0.1] * len(configs)}, index=configs)
    with pytest.raises(CurveSetFormatError, match=message):
        CurveSet.from_long(long, table, metric="acc", direction=direction, source="f.parquet")


def test_load_rejects_truncated_file(tmp_path: Path) -> None:
    path = make([[0.1, 0.2]]).save(tmp_path / "x.parquet")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CurveSetFormatError, match=r"x\.parquet: not a readable Parquet file"):
        CurveSet.load(path)


def test_load_rejects_foreign_parquet(tmp_path: Path) -> None:
    path = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    with pytest.raises(CurveSetFormatError, match="not a curvecast CurveSet file"):
        CurveSet.load(path)


def test_load_rejects_wrong_schema(tmp_path: Path) -> None:
    path = make([[0.1, 0.2]]).save(tmp_path / "x.parquet")
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["seconds"]), path)
    with pytest.raises(CurveSetFormatError, match=r"wrong schema.*seconds"):
        CurveSet.load(path)


def test_load_rejects_unknown_direction(tmp_path: Path) -> None:
    path = make([[0.1, 0.2]]).save(tmp_path / "x.parquet")
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"curvecast.direction"] = b"upwards"
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(CurveSetFormatError, match=r"x\.parquet: field 'direction'.*upwards"):
        CurveSet.load(path)


@pytest.mark.parametrize(("key", "stored", "message"), [
    ("diverged_value", b"[1]", r"field 'diverged_value': diverged_value must be None .* or a "
                               r"finite number, got \[1\]$"),
    ("diverged_value", b'"abc"', r"field 'diverged_value': diverged_value must be None .* got "
                                 r"'abc'$"),
    ("diverged_value", b"Infinity", r"field 'diverged_value': diverged_value must be .* got inf; "
                                    r"saved by a curvecast before stop 25, .* import the source"),
    ("epochs", b'{"a":1}', r"field 'epochs': not a list of whole numbers"),
    ("epochs", b"[1.5,2]", r"field 'epochs': not a list of whole numbers: \[1\.5, 2\]"),
    ("epochs", b'["1","2"]', r"field 'epochs': not a list of whole numbers"),
    ("provenance", b"[1,2]", r"field 'provenance': not a JSON object"),
    ("metric", b"\xff\xfe", r"corrupt curvecast metadata \('utf-8' codec"),
])
def test_load_names_the_file_and_field_of_tampered_metadata(tmp_path: Path, key: str,
                                                            stored: bytes, message: str) -> None:
    """Metadata edited by hand is refused with the file named, never a TypeError traceback."""
    path = make([[0.1, 0.2]]).save(tmp_path / "x.parquet")
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"curvecast." + key.encode()] = stored
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(CurveSetFormatError, match=r"x\.parquet: .*" + message):
        CurveSet.load(path)


def test_direction_helpers() -> None:
    assert Direction.parse("min") is Direction.MINIMIZE
    assert Direction.MINIMIZE.is_better(1.0, 2.0)
    assert Direction.MAXIMIZE.sign == 1.0
    with pytest.raises(ValueError, match="'up'"):
        Direction.parse("up")


def test_random_split_holds_out_complete_configs_reproducibly() -> None:
    rows = [[0.1 * i, 0.1 * i + 0.05] for i in range(10)]
    rows[3][1] = np.nan  # config c3 is not complete: in neither side
    cs = make(rows, observed=~np.isnan(np.array(rows)))
    held, rest = cs.random_split(0.3, seed=4)
    assert held.n_configs == 3 and rest.n_configs == 6  # round(0.3 * 9 complete configs)
    ids = set(held.config_ids) | set(rest.config_ids)
    assert not set(held.config_ids) & set(rest.config_ids) and ids == set(cs.config_ids) - {"c3"}
    for side in (held, rest):  # the original order is kept
        assert list(side.config_ids) == sorted(side.config_ids, key=lambda c: int(c[1:]))
    again, _ = cs.random_split(0.3, seed=4)
    assert list(again.config_ids) == list(held.config_ids)
    assert list(cs.random_split(0.3, seed=5)[0].config_ids) != list(held.config_ids)
    for bad in (0.0, 1.0, 0.01):
        with pytest.raises(ValueError, match="fraction"):
            cs.random_split(bad, seed=0)


def test_from_long_names_the_bad_cell_and_an_empty_set_is_not_saved(tmp_path: Path) -> None:
    """A user's review (stop 30): a text value gave numpy's "could not convert string to
    float", a test value of an unknown config a bare KeyError, ``metric=None`` became the
    metric "None", and an empty CurveSet was saved into a file ``load`` refuses."""
    configs = pd.DataFrame({"config_id": ["a", "b"], "lr": [0.1, 0.2]})
    long = pd.DataFrame({"config_id": ["a", "a", "b"], "epoch": [1, 2, 1],
                         "value": [0.1, 0.2, 0.3]})
    with pytest.raises(CurveSetFormatError, match=r"obs\.csv: config 'a': field 'value': 'oops' "
                                                  r"is not a number"):
        CurveSet.from_long(long.assign(value=["0.1", "oops", "0.3"]), configs, metric="acc",
                           direction="max", source="obs.csv")
    with pytest.raises(CurveSetFormatError, match="config 'zz': field 'test_values': a test "
                                                  "value of a config the curves do not have"):
        CurveSet.from_long(long, configs, metric="acc", direction="max", test_values={"zz": 0.5})
    with pytest.raises(CurveSetFormatError, match="metric must be a non-empty name, got None"):
        CurveSet.from_long(long, configs, metric=None, direction="max")  # type: ignore[arg-type]
    written = long.assign(value=["0.1", "nan", "inf"])  # a diverged run's values are numbers
    got = CurveSet.from_long(written, configs, metric="acc", direction="max")
    assert np.isnan(got.values[0, 1]) and got.values[1, 0] == np.inf
    empty = CurveSet(values=np.zeros((0, 3)), observed=np.zeros((0, 3), bool),
                     epochs=np.arange(1, 4), metric="acc", direction=Direction.MAXIMIZE,
                     configs=pd.DataFrame())
    with pytest.raises(ValueError, match=r"an empty CurveSet .* is not saved"):
        empty.save(tmp_path / "empty.parquet")
    assert not (tmp_path / "empty.parquet").exists()


def test_a_config_column_parquet_cannot_store_is_named(tmp_path: Path) -> None:
    """A user's review (stop 30): a complex-valued config column failed in ``save`` with
    Arrow's ArrowNotImplementedError."""
    cs = CurveSet(values=np.ones((3, 2)), observed=np.ones((3, 2), bool), epochs=np.arange(1, 3),
                  metric="acc", direction=Direction.MAXIMIZE,
                  configs=pd.DataFrame({"lr": [0.1, 0.2, 0.3], "z": [1 + 2j, 3j, 1 + 0j]},
                                       index=[f"c{i}" for i in range(3)]))
    with pytest.raises(ValueError, match="config column 'z' cannot be saved in Parquet"):
        cs.save(tmp_path / "c.parquet")
    assert list(tmp_path.iterdir()) == []


def test_a_config_table_that_is_not_a_dataframe_is_refused_by_name() -> None:
    """A user's review (stop 30): a dict or a list as ``configs`` gave pandas' AttributeError."""
    for configs in ({"lr": [0.1, 0.2]}, [[0.1], [0.2]], None):
        with pytest.raises(TypeError, match="configs must be a pandas DataFrame indexed by "
                                            "config id"):
            CurveSet(values=np.ones((2, 2)), observed=np.ones((2, 2), bool),
                     epochs=np.arange(1, 3), metric="acc", direction=Direction.MAXIMIZE,
                     configs=configs)  # type: ignore[arg-type]


def test_an_epoch_beyond_two_to_the_53_is_refused_not_wrapped() -> None:
    """A user's review (stop 30): epoch 1e23 in a file's metadata wrapped to
    -9223372036854775808 (``data summary`` showed it), and 1e19 in a long table was reported as
    that negative number."""
    for epochs in ([1, 2, 1e23], np.array([1, 2**62], dtype=np.int64)):
        with pytest.raises(ValueError, match=r"epochs must be at most 9\.01e\+15"):
            CurveSet(values=np.ones((1, 3 if len(epochs) == 3 else 2)),
                     observed=np.ones((1, 3 if len(epochs) == 3 else 2), bool), epochs=epochs,
                     metric="acc", direction=Direction.MAXIMIZE, configs=pd.DataFrame(index=["a"]))
    long = pd.DataFrame({"config_id": ["a", "a"], "epoch": [1, 1e19], "value": [0.1, 0.2]})
    with pytest.raises(CurveSetFormatError, match=r"the epoch \(1e\+19\) is not a whole number "
                                                  r"in 0\.\.9\.01e\+15"):
        CurveSet.from_long(long, pd.DataFrame(index=["a"]), metric="acc", direction="max")


def test_pandas_missing_values_read_as_nan_and_text_is_refused() -> None:
    table = pd.DataFrame({1: [0.5, 0.6], 2: [0.7, None]}, dtype="Float64")  # pd.NA, not NaN
    cs = CurveSet(values=table.to_numpy(), observed=table.notna().to_numpy(), epochs=[1, 2],
                  metric="acc", direction=Direction.MAXIMIZE, configs=pd.DataFrame(index=["a", "b"]))
    assert cs.values[0].tolist() == [0.5, 0.7] and np.isnan(cs.values[1, 1])
    assert cs.observed.tolist() == [[True, True], [True, False]]
    with pytest.raises(ValueError, match=r"values must be numbers .* got 'x' \(str\)"):
        CurveSet(values=[["x", 0.1]], observed=[[True, True]], epochs=[1, 2], metric="acc",
                 direction=Direction.MAXIMIZE, configs=pd.DataFrame(index=["a"]))


def test_a_long_table_without_a_config_table_takes_its_own_config_ids() -> None:
    long = pd.DataFrame({"config_id": ["b", "b", "a"], "epoch": [1, 2, 1], "value": [0.1, 0.2, 0.3]})
    cs = CurveSet.from_long(long, metric="acc", direction="maximize")
    assert cs.config_ids == ["b", "a"] and cs.configs.columns.empty
    assert cs.observed.tolist() == [[True, True], [True, False]]


def test_config_column_names_are_text_and_each_its_own() -> None:
    """A review (stop 34): a MultiIndex of columns and the names ``0`` and ``"0"`` were saved
    and then failed to load; duplicate names raised pandas' AttributeError; integer names came
    back from a file as text, so a model fitted on the loaded set matched no column."""
    v = np.array([[0.1, 0.2], [0.3, 0.4]])

    def made(columns: Any) -> CurveSet:
        return CurveSet(values=v, observed=np.ones((2, 2), bool), epochs=[1, 2], metric="acc",
                        direction="maximize",
                        configs=pd.DataFrame([[1, 2], [3, 4]], index=["a", "b"], columns=columns))

    with pytest.raises(ValueError, match="the config table's columns are a MultiIndex"):
        made(pd.MultiIndex.from_tuples([("opt", "lr"), ("opt", "wd")]))
    for columns in ([0, "0"], ["lr", "lr"]):
        with pytest.raises(ValueError, match=r"config column '(0|lr)' appears more than once"):
            made(columns)
    assert made([0, 1]).configs.columns.tolist() == ["0", "1"]


def test_a_position_that_is_not_a_whole_number_is_refused() -> None:
    """A review (stop 34): ``subset([0.5])`` and ``row(1.7)`` silently took configs 0 and 1."""
    cs = CurveSet(values=np.ones((3, 2)), observed=np.ones((3, 2), bool), epochs=[1, 2],
                  metric="acc", direction="maximize", configs=pd.DataFrame(index=["a", "b", "c"]))
    with pytest.raises(TypeError, match=r"config position must be a whole number, got 0\.5"):
        cs.subset([0.5])
    with pytest.raises(TypeError, match=r"config position must be a whole number, got 1\.7"):
        cs.row(1.7)  # type: ignore[arg-type]
    assert cs.subset([2.0, 0]).config_ids == ["c", "a"] and cs.row(-1) == 2


def test_machine_memory_is_the_containers_when_a_cgroup_limits_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A review of the security review: the footer checks compare with ``machine_memory()``,
    which read only the physical memory, so in a container limited to 2 GiB (a CI runner) on a
    64 GiB host a few KB declaring 30 GB of rows were decoded and the process was killed; the
    cgroup's limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``) is the memory there is,
    and "max" (no limit) or an unreadable file leaves the physical memory."""
    from curvecast.curves import long as long_module

    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    monkeypatch.setattr(long_module, "_CGROUP_LIMITS", (v2, v1))
    physical = long_module.machine_memory()
    assert physical > 0
    v2.write_text("2147483648\n")
    assert long_module.machine_memory() == min(physical, 2**31)
    v2.write_text("max\n")
    assert long_module.machine_memory() == physical
    v1.write_text("9223372036854771712\n")  # v1's "no limit"
    assert long_module.machine_memory() == physical
    v1.write_text("1073741824\n")
    assert long_module.machine_memory() == min(physical, 2**30)
