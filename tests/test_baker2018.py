"""Loading the paper's published learning curves (Baker et al. 2018, MITAutoML/accelerating_nas)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curvecast.curves import CurveSet, CurveSetFormatError, Direction
from curvecast.datasets import load_baker2018, lstm_n_params, resnet_n_params

# The ``baker2018`` fixture (tests/conftest.py) is ../shared/data/baker2018 from the repo root;
# it skips the test, saying where it looked, when the paper's files are absent.


@pytest.fixture(scope="module")
def metaqnn(baker2018: Path) -> CurveSet:
    return load_baker2018(baker2018 / "metaqnn_cifar10.csv")


@pytest.fixture(scope="module")
def resnet(baker2018: Path) -> CurveSet:
    return load_baker2018(baker2018 / "deep_resnets_tinyimagenet.csv")


@pytest.fixture(scope="module")
def lstm(baker2018: Path) -> CurveSet:
    return load_baker2018(baker2018 / "lstm_ptb.csv")


def test_metaqnn_shape_direction_and_values(metaqnn: CurveSet) -> None:
    assert metaqnn.values.shape == (1000, 20)
    assert metaqnn.epochs.tolist() == list(range(1, 21))
    assert not metaqnn.has_untrained_epoch
    assert metaqnn.metric == "val_accuracy" and metaqnn.direction is Direction.MAXIMIZE
    assert metaqnn.is_complete().all()
    assert metaqnn.config_ids[0] == "metaqnn-0000" and metaqnn.config_ids[-1] == "metaqnn-0999"
    assert metaqnn.values[0, 0] == pytest.approx(0.3152)
    assert metaqnn.values[0, -1] == pytest.approx(0.5672)
    assert metaqnn.values[1, -1] == pytest.approx(0.5186)
    assert metaqnn.diverged_value == pytest.approx(0.1)


def test_metaqnn_config_table(metaqnn: CurveSet) -> None:
    row = metaqnn.configs.loc["metaqnn-0000"]
    assert row["net"].startswith("[C(64,1,1), C(128,1,1), D(1,3), P(2,2)")
    assert row["lr"] == pytest.approx(0.001)
    assert row["n_params"] == 370112
    assert (row["n_layers"], row["n_conv"], row["n_pool"], row["n_fc"], row["gap"]) == (8, 5, 1, 0,
                                                                                         1)
    # our layer count equals the published depth on every row
    assert (metaqnn.configs["n_layers"] == metaqnn.configs["depth"]).all()
    assert (metaqnn.configs["n_params"] == metaqnn.configs["num_params"]).all()
    assert metaqnn.configs["n_fc"].sum() == 319 and metaqnn.configs["gap"].sum() == 297


def test_resnet_shape_direction_and_untrained_epoch(resnet: CurveSet) -> None:
    assert resnet.values.shape == (684, 141)
    assert resnet.has_untrained_epoch and resnet.epochs[-1] == 140
    assert resnet.direction is Direction.MAXIMIZE and resnet.metric == "val_accuracy"
    assert resnet.values[0, 0] == pytest.approx(0.0046)
    assert resnet.values[0, 1] == pytest.approx(0.0171)
    row = resnet.configs.loc["resnet-0000"]
    assert (row["num_blocks"], row["num_filters"], row["filter_size"]) == (1, 4, 3)
    assert row["n_layers"] == 8
    assert row["n_params"] == resnet_n_params(1, 4, 3)
    assert (resnet.configs["n_layers"] == 6 * resnet.configs["num_blocks"] + 2).all()
    assert resnet.without_untrained_epoch().values.shape == (684, 140)


def test_lstm_shape_direction_and_untrained_epoch(lstm: CurveSet) -> None:
    assert lstm.values.shape == (280, 60)
    assert lstm.has_untrained_epoch and lstm.epochs[-1] == 59
    assert lstm.metric == "val_perplexity" and lstm.direction is Direction.MINIMIZE
    assert lstm.diverged_value is None
    assert lstm.values[0, 0] == pytest.approx(296.0)
    assert lstm.values[0, -1] == pytest.approx(87.01)
    row = lstm.configs.loc["lstm-0000"]
    assert (row["n_layer"], row["n_inputs"], row["n_layers"]) == (2, 90, 2)
    assert row["n_params"] == 202720
    # perplexity falls over training for the typical curve
    assert np.median(lstm.values[:, -1]) < np.median(lstm.values[:, 0])


def test_provenance_and_parquet_round_trip(lstm: CurveSet, tmp_path: Path) -> None:
    prov = lstm.provenance
    assert prov["repository"] == "MITAutoML/accelerating_nas"
    assert prov["commit"] == "82ed099d8ef1c8b2f4b362232be72cbc55c36d69"
    assert prov["license"] == "MIT" and prov["source"] == "lstm_ptb.csv"
    assert len(prov["sha256"]) == 64
    assert prov["columns"] == {"architecture": ["n_params", "n_layers"],
                               "hyperparameters": ["base_lr", "ss"]}
    back = CurveSet.load(lstm.save(tmp_path / "lstm.parquet"))
    np.testing.assert_array_equal(back.values, lstm.values)
    assert back.direction is Direction.MINIMIZE and back.has_untrained_epoch


def test_parameter_formulas_by_hand() -> None:
    # ResNet n=1, F=4, k=3: stem 3*4*9+8=116; stage widths 4, 8, 16:
    # (4*4*9+8)*2=304; (4*8*9+16)+(8*8*9+16)=896; (8*16*9+32)+(16*16*9+32)=3520;
    # classifier 16*200+200=3400
    assert resnet_n_params(1, 4, 3) == 116 + 304 + 896 + 3520 + 3400
    # LSTM L=2, H=90, V=400: 400*90 + 2*(8*8100 + 360) + 90*400 + 400
    assert lstm_n_params(2, 90) == 36000 + 2 * (64800 + 360) + 36000 + 400
    with pytest.raises(ValueError, match="num_blocks"):
        resnet_n_params(0, 4, 3)
    with pytest.raises(ValueError, match="n_inputs"):
        lstm_n_params(2, 0)


def test_unknown_schema_names_file_and_missing_columns(tmp_path: Path) -> None:
    bad = tmp_path / "other.csv"
    pd.DataFrame({"net": ["[C(8,1,1), SM(10)]"], "lr": [0.1], "acc_1": [0.5]}).to_csv(bad,
                                                                                   index=False)
    with pytest.raises(CurveSetFormatError, match=r"other\.csv") as info:
        load_baker2018(bad)
    message = str(info.value)
    assert "metaqnn lacks ['num_params', 'depth']" in message
    assert "lstm lacks" in message and "ep_<epoch> curve columns" in message


def test_small_metaqnn_file_and_bad_cells(tmp_path: Path) -> None:
    good = tmp_path / "tiny.csv"
    table = pd.DataFrame({"net": ["[C(64,1,1), GAP(10), SM(10)]", "[C(64,3,1), SM(10)]"],
                          "training_dataset": ["cifar10"] * 2, "num_params": [832, 1728 + 4096],
                          "depth": [3, 2], "lr": [1e-3, 1e-4],
                          "acc_1": [0.2, 0.3], "acc_2": [0.4, np.nan]})
    table.to_csv(good, index=False)
    curves = load_baker2018(good)
    assert curves.config_ids == ["metaqnn-0000", "metaqnn-0001"]
    assert curves.observed.tolist() == [[True, True], [True, False]]
    assert curves.configs["n_layers"].tolist() == [3, 2]

    table.loc[1, "net"] = "[C(64,3,1), Q(1), SM(10)]"
    table.to_csv(good, index=False)
    # rows count data rows from 1, as every importer's messages do (the second row is row 2)
    with pytest.raises(CurveSetFormatError, match=r"row 2 \(line 3\), column 'net'.*'Q\(1\)'"):
        load_baker2018(good)

    table.loc[1, "net"] = "[C(64,3,1), SM(10)]"
    table["lr"] = table["lr"].astype(object)
    table.loc[1, "lr"] = "fast"  # a hyperparameter that is not a number: not kept as text
    table.to_csv(good, index=False)
    with pytest.raises(CurveSetFormatError, match=r"tiny\.csv: row 2 \(line 3\), column 'lr': "
                                                  r"'fast' is not a number"):
        load_baker2018(good)


def test_a_perplexity_that_is_not_positive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lstm.csv"
    pd.DataFrame({"n_layer": [1, 2], "n_inputs": [100, 200], "base_lr": [1.0, 0.5],
                  "ss": [0.5, 0.5], "ep_1": [300.0, 250.0], "ep_2": [200.0, -5.0]}
                 ).to_csv(path, index=False)
    with pytest.raises(CurveSetFormatError, match=r"row 2 \(line 3\), column 'ep_2': "
                                                  r"val_perplexity -5\.0 is not > 0"):
        load_baker2018(path)


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError, match=r"no-such\.csv"):
        load_baker2018("no-such.csv")


@pytest.mark.parametrize(("kind", "value", "shown"), [
    ("resnet", "1000000000000", "1000000000000"), ("resnet", "inf", "inf"),
    ("resnet", "2.5", "2.5"), ("lstm", "1e30", "1e+30"), ("lstm", "0", "0")])
def test_an_architecture_size_out_of_range_is_refused_by_row(tmp_path: Path, kind: str,
                                                               value: str, shown: str) -> None:
    """A user's review (stop 30): num_blocks=1e12 hung (a loop over the blocks), inf and
    n_inputs=1e30 gave OverflowError tracebacks, and 2.5 blocks were read as 2."""
    path = tmp_path / f"{kind}.csv"
    if kind == "resnet":
        path.write_text("base_model,training_dataset,num_blocks,num_filters,filter_size,lr,ss,"
                        f"acc_0,acc_1,acc_2\nresnet,tiny,{value},16,3,0.1,1,0.1,0.3,0.5\n"
                        "resnet,tiny,2,16,3,0.1,1,0.1,0.35,0.55\n")
        column = "num_blocks"
    else:
        path.write_text("base_model,training_dataset,n_layer,n_inputs,base_lr,ss,ep_0,ep_1,ep_2\n"
                        f"lstm,ptb,2,{value},0.1,1,300,200,150\nlstm,ptb,2,200,0.1,1,300,210,160\n")
        column = "n_inputs"
    with pytest.raises(CurveSetFormatError, match=rf"row 1 \(line 2\), column '{column}': "
                                                  rf"{re.escape(shown)} is not a whole number"):
        load_baker2018(path)
