# Two commands do all the set-up on a fresh machine:
#   make demo   -- create .venv, install nuisance-zoo, run the demo
#   make test   -- create .venv, install nuisance-zoo with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/nuisance-zoo demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --timeout 900 -q

clean:
	rm -rf $(VENV) build *.egg-info
