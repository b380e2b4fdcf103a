# Two entry points a fresh machine needs: `make run` (the main job) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[torch,plot,optuna,ray,dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p runs
	$(BIN)/curvecast search --workload digits-metaqnn --searcher random --stopper predictive \
	    --trials 30 --epochs 20 --prior data/digits-metaqnn.parquet \
	    --storage sqlite:///runs/curvecast.db --study demo --seed 1

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	@# One pytest worker per core, each test file on one worker (its module fixtures set up once).
	@# pytest exits 5 when it collected no tests: a suite that tests nothing fails.
	$(BIN)/pytest -q -n auto --dist loadfile; rc=$$?; if [ $$rc -eq 5 ]; then echo 'pytest collected no tests' >&2; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) runs
