# The two set-up-and-go commands: `make run` and `make test`.
# Each creates .venv when missing and (re)installs the project when pyproject.toml or the
# pinned versions in constraints.txt change, so a fresh machine gets the tested versions.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run window-libs test bench lock clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[test,cluster]"
	@touch $(STAMP)

run: $(STAMP) window-libs
	$(VENV)/bin/mlsys-studio

# Qt 6.5+ needs libxcb-cursor0 for a real X11 window, and a fresh Debian/Ubuntu lacks it:
# install it when running as root with apt-get, otherwise print the exact command.
window-libs:
	@if [ "$$(uname)" = Linux ] && ! ldconfig -p 2>/dev/null | grep -q 'libxcb-cursor\.so\.0'; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libxcb-cursor0 (Qt needs it for the window)"; \
	    apt-get install -y libxcb-cursor0 || { apt-get update && apt-get install -y libxcb-cursor0; }; \
	  else \
	    echo "The window needs libxcb-cursor0. Install it with:"; \
	    echo "    sudo apt-get install -y libxcb-cursor0"; \
	    exit 1; \
	  fi; \
	fi

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
