# directord: `make demo` to see it work, `make test` to prove it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test lint bench clean

# plugins-example/ is a separate, third-party-style package (ECHO verb + joblog hook),
# installed next to directord so its entry points are live in the tests.
EXAMPLE := plugins-example

$(STAMP): setup.cfg setup.py $(EXAMPLE)/setup.cfg $(EXAMPLE)/setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,redis]' -e ./$(EXAMPLE)
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/ruff check directord tests $(EXAMPLE)
	$(BIN)/python -m pytest -q tests $(EXAMPLE)/tests

lint: $(STAMP)
	$(BIN)/ruff check directord tests $(EXAMPLE)

clean:
	rm -rf $(VENV) build *.egg-info $(EXAMPLE)/build $(EXAMPLE)/*.egg-info
