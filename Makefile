# directord: `make demo` to see it work, `make test` to prove it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test lint bench bench-compare clean redis sshd facter podman chromium

# plugins-example/ is a separate, third-party-style package (ECHO verb + joblog hook),
# installed next to directord so its entry points are live in the tests.
EXAMPLE := plugins-example

$(STAMP): setup.cfg setup.py $(EXAMPLE)/setup.cfg $(EXAMPLE)/setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,redis,podman,metrics,dashboard]' -e ./$(EXAMPLE)
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# The datastore tests start their own redis-server on a private port (the Debian
# service is never needed, nor started); install the binary when it is missing.
redis:
	@command -v redis-server >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server)

# The bootstrap tests start their own sshd on a private port (never the system service).
sshd:
	@test -x /usr/sbin/sshd || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server)

# The FACTER tests run the real facter on the clients.
facter:
	@command -v facter >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q facter)

# The POD and CONTAINER_IMAGE tests start their own `podman system service` on a private
# socket and storage, and a docker-registry on a private port (no system service is used).
# A policy-rc.d answering 101 keeps the packages' own services from starting during the install.
podman:
	@command -v podman >/dev/null && command -v docker-registry >/dev/null || ( \
	  guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=1; printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; fi; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman docker-registry; status=$$?; \
	  if [ -n "$$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi; exit $$status)

# The tests start hundreds of directord processes: byte-compile once, as pip does for an
# installed package, rather than in every process (the environment may forbid writing .pyc).
# The dashboard tests drive a real headless Chromium through chromedriver.
chromium:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)

test: $(STAMP) redis sshd facter podman chromium
	$(BIN)/ruff check directord tests bench $(EXAMPLE)
	$(BIN)/python -m compileall -q directord $(EXAMPLE)/directord_example >/dev/null
	$(BIN)/python -m pytest -q tests $(EXAMPLE)/tests

lint: $(STAMP)
	$(BIN)/ruff check directord tests bench $(EXAMPLE)

# Real server + real clients on 127.0.0.1; prints the table and targets, writes bench/results.json.
# Not part of `make test` (tests/e2e/test_bench_smoke.py runs the harness at tiny sizes).
bench: $(STAMP)
	$(BIN)/python bench/run.py

# The same workloads, plus the original directord 0.12.0 (installed from PyPI into bench/.venv-upstream).
bench-compare: $(STAMP)
	$(BIN)/python bench/run.py --compare

clean:
	rm -rf $(VENV) build *.egg-info $(EXAMPLE)/build $(EXAMPLE)/*.egg-info
