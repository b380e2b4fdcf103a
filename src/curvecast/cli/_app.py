"""The ``curvecast`` Typer applications the command modules register with."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Predict where learning curves end; stop the runs that will not win.")
data_app = typer.Typer(add_completion=False, help="Learning-curve data sets: import, inspect.")
import_app = typer.Typer(add_completion=False, help="Import learning curves (a table, an Optuna "
                                                    "study, a Ray Tune experiment, the paper's "
                                                    "files) as a CurveSet Parquet file.")
app.add_typer(data_app, name="data")
data_app.add_typer(import_app, name="import")
