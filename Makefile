# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
PORT ?= 8000
# The staff console's browser code, from npm by its lock file (see orders_service/console).
CONSOLE := orders_service/console
CONSOLE_STAMP := $(CONSOLE)/node_modules/.installed-stamp
# The example storefront client and the API document's linter, from npm by their lock file.
CLIENT := clients/typescript
CLIENT_STAMP := $(CLIENT)/node_modules/.installed-stamp
DEV := APP_ENV=development PAYMENT_PROVIDER=local

.PHONY: install run test reliability lint format migrate token serve lock bench bench-console screenshots clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CONSOLE_STAMP): $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	npm ci --prefix $(CONSOLE) --no-audit --no-fund --loglevel=error
	touch $@

$(CLIENT_STAMP): $(CLIENT)/package.json $(CLIENT)/package-lock.json
	npm ci --prefix $(CLIENT) --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) $(CONSOLE_STAMP) $(CLIENT_STAMP)

run: $(STAMP) $(CONSOLE_STAMP)
	@$(DEV) $(BIN)/flask --app wsgi db upgrade
	@$(DEV) $(BIN)/flask --app wsgi seed
	@echo
	@echo "orders-service on http://127.0.0.1:$(PORT) (SQLite in instance/, local payments). Try:"
	@echo "  curl -s http://127.0.0.1:$(PORT)/products"
	@echo "  curl -s -X POST http://127.0.0.1:$(PORT)/orders/new \\"
	@echo "       -H 'Authorization: Bearer $$($(DEV) $(BIN)/flask --app wsgi token --user-id 7 --ttl 86400)' \\"
	@echo "       -H 'Content-Type: application/json' -d '[\"3\", \"3\", \"8\"]'"
	@echo "  admin token: $$($(DEV) $(BIN)/flask --app wsgi token --user-id 1 --admin --ttl 86400)"
	@echo "  staff console (signs admin 1 in): http://127.0.0.1:$(PORT)/console#token=$$($(DEV) $(BIN)/flask --app wsgi token --user-id 1 --admin --ttl 86400)"
	@echo "  API docs: http://127.0.0.1:$(PORT)/docs"
	@echo "  webhooks: a deliverer runs beside the server (flask --app wsgi events deliver)"
	@echo
	$(DEV) $(BIN)/flask --app wsgi events deliver & deliverer=$$!; \
	trap 'kill $$deliverer 2>/dev/null; wait $$deliverer' EXIT; \
	$(DEV) $(BIN)/flask --app wsgi run --port $(PORT)

test: $(STAMP) $(CONSOLE_STAMP) $(CLIENT_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Live gunicorn under concurrency, faults, fuzzing and hostile input; prints the table.
# PostgreSQL: TEST_DATABASE_URL when set, else a private cluster (so is the stopped one).
reliability: $(STAMP)
	$(BIN)/pytest tests/reliability -m reliability -p no:cacheprovider $(PYTEST_ARGS)

# The console's screenshots in docs/console (README), taken by its browser tests.
screenshots: $(STAMP) $(CONSOLE_STAMP)
	CONSOLE_SCREENSHOTS=docs/console $(BIN)/pytest tests/console $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# migrate and token use the development defaults unless APP_ENV (and its keys) are set.
migrate: $(STAMP)
	APP_ENV=$${APP_ENV:-development} $(BIN)/flask --app wsgi db upgrade

token: $(STAMP)
	@APP_ENV=$${APP_ENV:-development} $(BIN)/flask --app wsgi token --user-id $${USER_ID:-1} $${ADMIN:+--admin}

serve: $(STAMP)
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# The service and a bare Flask baseline side by side under wrk, on PostgreSQL (see README,
# Performance); BENCH_ARGS passes options, e.g. BENCH_ARGS='--rounds 1 --profile 1'.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The console's orders page on 1,000,000 orders in Chromium: how soon after the API's answer
# the first page is drawn (README, Staff console); BENCH_ARGS e.g. '--loads 50'.
bench-console: $(STAMP) $(CONSOLE_STAMP)
	$(BIN)/python -m bench.console $(BENCH_ARGS)

# The image's pinned, hashed dependencies from setup.cfg; UPGRADE=1 moves every pin to the newest.
lock: $(STAMP)
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --strip-extras \
		--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
		--output-file requirements.lock setup.cfg

clean:
	rm -rf $(VENV) instance .pytest_cache .reliability $(CONSOLE)/node_modules \
		$(CLIENT)/node_modules $(CLIENT)/build $(CLIENT)/src/generated
