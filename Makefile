# The two commands of the README: `make demo` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
DEMO_ENV := DEBUG=1 DJANGO_SETTINGS_MODULE=moodlab.settings.base

.PHONY: demo test lint typecheck services install messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(RUNTIME_STAMP) $@

install: $(DEV_STAMP) messages

# Only the .po catalogues are committed; compilemessages skips .mo files that are up to date.
# It needs GNU gettext's msgfmt: without it the demo still runs, with English pages only.
messages: $(RUNTIME_STAMP)
	@if command -v msgfmt >/dev/null; then \
	  $(DEMO_ENV) $(BIN)/python manage.py compilemessages --ignore=".*" --ignore=var --verbosity=0; \
	else echo "GNU gettext (msgfmt) is missing: the participant pages stay in English."; fi

demo: $(RUNTIME_STAMP) messages
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py create_demo_study --with-admin
	@echo
	@echo "  Admin:        http://127.0.0.1:8000/admin/"
	@echo "  Participants: http://127.0.0.1:8000/study/demo/en-US/  (or fr-FR, es-MX, ko-KR, ar-EG)"
	@echo "  API docs:     http://127.0.0.1:8000/api/docs/"
	@echo "  Health:       http://127.0.0.1:8000/healthz"
	@echo
	$(DEMO_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

services:
	bash .ci/services

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy moodlab elicitation rating analysis

test: $(DEV_STAMP) services messages lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var
