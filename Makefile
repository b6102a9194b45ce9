# The two set-up-and-go commands: `make run` and `make test`.
# Each creates .venv when missing and (re)installs the project when pyproject.toml or the
# pinned versions in constraints.txt change, so a fresh machine gets the tested versions.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lock clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[test]"
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/mlsys-studio

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) benchmarks/bench_analysis.py

# Pin what the venv holds now (after an upgrade that passed make test).
lock: $(STAMP)
	@{ sed -n '1,2p' constraints.txt; $(PY) -m pip freeze --exclude-editable --disable-pip-version-check; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
