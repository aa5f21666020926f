# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MEDSPACY := medspacy==1.3.1 PyRuSH==1.0.13
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: demo test install browser clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: any torch-dependent package must not pull a CUDA one.
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	# medspaCy's own pins (spacy<3.8 on Python 3.11) would downgrade numpy; its code runs on spaCy 3.8.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt $(MEDSPACY)
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Debian's chromium for the browser tests (never a downloaded browser); needs root, else those tests skip.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will be skipped"; }

demo: $(STAMP)
	$(BIN)/openmaker up

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
