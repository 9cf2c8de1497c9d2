# Every target creates and uses .venv itself; nothing else needs to be installed first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9
PYTEST := $(PY) -m pytest -n 2 --dist loadfile -q

.PHONY: demo test test-sqlite test-postgres bench lint docs clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync -q --python $(PY) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $(STAMP)

## demo: deploy, break, refuse and roll back the bundled demo service (embedded default)
demo: $(STAMP)
	$(PY) -m rollgate.demo.scenario

## test: the whole suite on SQLite, then on PostgreSQL (127.0.0.1:5432)
test: $(STAMP) test-sqlite test-postgres

test-sqlite: $(STAMP)
	ROLLGATE_TEST_DB=sqlite $(PYTEST)

test-postgres: $(STAMP)
	@$(PY) -c "import psycopg; psycopg.connect('postgresql://postgres@127.0.0.1:5432/postgres').close()" \
	  || { echo "PostgreSQL does not answer on 127.0.0.1:5432 (start it, or run make test-sqlite)"; exit 1; }
	ROLLGATE_TEST_DB=postgres $(PYTEST)

## bench: engine and proxy overhead vs the direct path; canary analysis vs the anchors' rules; backup and restore vs pg_dump/pg_restore; API latency with 100,000 runs vs the store; notification outbox throughput and delivery latency vs a direct POST
bench: $(STAMP)
	$(PY) bench/engine.py
	$(PY) bench/canary.py
	$(PY) bench/canary_live.py
	$(PY) bench/backup.py
	$(PY) bench/api.py
	$(PY) bench/notify.py

## lint: ruff and mypy --strict on src
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/mypy src

## docs: regenerate the spec reference from the schema
docs: $(STAMP)
	$(PY) scripts/gen_spec_reference.py

lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 -q -o requirements.lock --generate-hashes

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
