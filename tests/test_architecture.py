"""The package's shape: imports run one way (DESIGN.md), and the core imports without extras."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "curvecast"

#: DESIGN.md's layer order, lowest first.  A module may import its own layer or a lower one.
LAYERS = [
    "defaults", "curves", "space", "datasets", "features", "predictors", "stopping", "search",
    "workloads", "store", "execution", "integrations", "registry", "experiments", "report", "cli",
]


def _layer(module: str) -> str | None:
    """Layer of ``curvecast.x.y`` (its first component after the package), None for the root."""
    parts = module.split(".")
    if parts[0] != "curvecast" or len(parts) < 2:
        return None
    if parts[1] in ("__main__", "_entry"):  # ``python -m curvecast``, the ``curvecast``
        return "cli"  # script: the command line's entry points
    return parts[1]


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        out.append((name, path))
    return out


def _imports(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                found.append(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.append(node.module)
    return [f for f in found if f.split(".")[0] == "curvecast"]


def test_every_module_belongs_to_a_known_layer() -> None:
    for module, _ in _modules():
        layer = _layer(module)
        assert layer is None or layer in LAYERS, f"{module}: layer {layer!r} is not in {LAYERS}"


def test_imports_run_one_way() -> None:
    violations = []
    for module, path in _modules():
        own = _layer(module)
        if own is None:
            continue
        for target in _imports(path, module):
            other = _layer(target)
            if other is not None and LAYERS.index(other) > LAYERS.index(own):
                violations.append(f"{module} imports {target} ({own} < {other})")
    assert not violations, "imports against DESIGN.md's layer order:\n" + "\n".join(violations)


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "curves.py"
    bad.write_text("from curvecast.cli import app\n")
    assert _imports(bad, "curvecast.curves") == ["curvecast.cli"]


BLOCK_EXTRAS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'optuna', 'ray', 'mnist1d'}:
            raise ImportError(f'blocked: {name}')
        return None
sys.meta_path.insert(0, Block())
"""


@pytest.mark.parametrize("statement", [
    "import curvecast",
    "import curvecast.workloads",
    "import curvecast.execution",
    "import curvecast.cli",
])
def test_core_imports_without_torch_optuna_ray(statement: str) -> None:
    code = BLOCK_EXTRAS + statement + "\nassert 'torch' not in sys.modules\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_an_integration_without_its_framework_names_the_extra() -> None:
    code = BLOCK_EXTRAS + "import curvecast.integrations.optuna\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "pip install 'curvecast[optuna]'" in proc.stderr.strip().splitlines()[-1]


MISSING = """
import sys
class Missing:  # what Python raises when a package is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Missing())
from curvecast.cli import app
app({args!r})
"""


@pytest.mark.parametrize(("blocked", "args", "extra"), [
    ("torch", ["search", "--workload", "digits-metaqnn", "--trials", "1", "--epochs", "2"],
     "torch"),
    ("optuna", ["search", "--workload", "friedman-sgd", "--trials", "1", "--epochs", "2",
                "--searcher", "tpe"], "optuna"),
    ("optuna", ["data", "import", "optuna", "sqlite:///{db}", "--study", "s", "--out", "{out}"],
     "optuna"),
    ("matplotlib", ["data", "plot", "{data}", "--out", "{png}"], "plot"),
])
def test_a_command_without_its_extra_says_which_to_install(tmp_path: Path, blocked: str,
                                                          args: list[str], extra: str) -> None:
    names = {"db": tmp_path / "o.db", "out": tmp_path / "o.parquet", "png": tmp_path / "p.png",
             "data": Path(__file__).resolve().parents[1] / "data" / "friedman-sgd.parquet"}
    args = [a.format(**names) for a in args]
    if args[0] == "search":
        args += ["--storage", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.run([sys.executable, "-c", MISSING.format(blocked=blocked, args=args)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pip install 'curvecast[{extra}]'" in lines[0], proc.stderr


def test_the_cli_starts_without_the_prediction_stack() -> None:
    """A regression of stop 33: catching the training pool's WorkerDied at module level made
    ``import curvecast.cli`` load the execution package, the stoppers, the predictors and
    scikit-learn (2.5 s instead of 0.6 s, in every CLI process).  A command loads them when it
    runs."""
    code = ("import sys\nfrom curvecast.cli import app\n"
            "heavy = [m for m in ('curvecast.execution', 'curvecast.stopping', "
            "'curvecast.predictors', 'sklearn') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
