"""A search's warm-start prior: where it is read from (``search --prior``) and how it is checked."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from curvecast.curves import CurveSet
from curvecast.store import Store


def load_prior(spec: str) -> CurveSet:
    """A CurveSet Parquet file, or ``STORAGE#STUDY``, a study in an Optuna storage URL
    (``sqlite:///last.db#name``, ``postgresql://…#name``) or in an SQLite file (``last.db#name``:
    an Optuna database or curvecast's own study database).

    Raises:
        ValueError: a malformed spec; FileNotFoundError: no such file.
    """
    if Path(spec).is_file() or "#" not in spec:
        return CurveSet.load(Path(spec))
    storage, study = _split(spec)
    if not storage or not study:
        raise ValueError(f"--prior {spec!r}: expected a Parquet file or STORAGE#STUDY, e.g. "
                         "last.db#study or sqlite:///last.db#study")
    plain = storage.removeprefix("sqlite:///")
    if "://" not in plain:  # an SQLite file, named as a path or as a sqlite:/// URL
        path = Path(plain)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such study database (--prior {spec})")
        if is_curvecast_store(path):
            with Store(f"sqlite:///{path}", read_only=True) as db:
                info = db.study_info(study)
                return db.to_curveset(study, epochs=info["settings"].get("epochs"))
        storage = f"sqlite:///{path}"
    from curvecast.datasets import from_optuna

    return from_optuna(storage, study)


def _split(spec: str) -> tuple[str, str]:
    """``STORAGE#STUDY`` split at the first ``#`` whose left part is an existing SQLite file
    (plain or ``sqlite:///``), so that a study name may hold ``#`` (curvecast's names may);
    else at the first ``#`` (in a URL a raw ``#`` begins the fragment: a password's is ``%23``)."""
    marks = [i for i, ch in enumerate(spec) if ch == "#"]
    for i in marks:
        left = spec[:i]
        path = left.removeprefix("sqlite:///") if left.startswith("sqlite:///") else left
        if "://" not in path and Path(path).is_file():
            return left, spec[i + 1:]
    return spec[:marks[0]], spec[marks[0] + 1:]


def is_curvecast_store(path: Path) -> bool:
    """Whether the SQLite file at ``path`` is a curvecast study database (not an Optuna one)."""
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError:
        return False
    return {"studies", "observations", "decisions"} <= tables
