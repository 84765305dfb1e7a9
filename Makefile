# Every set-up step the project needs lives here or in infra/: a fresh machine needs only python3, java 17 and mvn.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test demo up down bench-device sim clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)
	bash infra/install-tools.sh
	$(BIN)/qmux kafka fetch

test: install
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/qmux up
	$(BIN)/qmux demo

up: install
	$(BIN)/qmux up

down:
	$(BIN)/qmux down

bench-device: install
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m bench.device

sim: install
	$(BIN)/qmux sim

clean:
	-$(BIN)/qmux down
	rm -rf .qmux
