# The README's commands. `make run` runs the platform; `make test` runs every check CI runs.

CARGO ?= cargo

.PHONY: run serve web test lint fmt check-fmt clippy buf-lint check-sdk python-sdk-generate check-deploy rust-tests fault-tests unit-tests backend-tests browser-tests python-sdk-tests build

## The demo: the platform embedded (SQLite, in-process bus, simulated cloud) with three simulated
## clusters, and the web app, on http://127.0.0.1:8080. The login is printed at start.
run: web
	$(CARGO) run -p spot-server --bin spot -- demo

## The platform alone (no simulated clusters), serving the web app when it is built.
serve:
	SPOT_WEB_DIR=$(if $(wildcard web/dist/index.html),web/dist,) $(CARGO) run -p spot-server --bin spot -- serve

## The web app, built into web/dist.
web:
	cd web && npm ci --no-audit --no-fund --silent && npm run build --silent

build:
	$(CARGO) build --workspace --all-targets

## Everything CI checks: formatting, clippy, buf lint, and the tests on SQLite and on PostgreSQL + Redis,
## the fault test, the browser tests and the Python SDK's tests.
test: lint rust-tests fault-tests browser-tests python-sdk-tests

lint: check-fmt clippy buf-lint check-sdk check-deploy

check-fmt:
	$(CARGO) fmt --all -- --check

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

node_modules/.bin/buf: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

buf-lint: node_modules/.bin/buf
	npx --no-install buf lint

## The TypeScript and Python clients are what the contracts generate: regenerated, then compared
## with git (the Python package's version too, which is the workspace's).
check-sdk: node_modules/.bin/buf
	cd sdk/typescript && npm ci --no-audit --no-fund --silent && npm run generate --silent
	@test -z "$$(git status --porcelain -- sdk/typescript/src/gen)" || { git status --short -- sdk/typescript/src/gen; echo "sdk/typescript/src/gen is stale: run 'npm run generate' in sdk/typescript and commit it" >&2; exit 1; }
	"$$(./scripts/ensure-python-sdk-venv.sh)/bin/python" sdk/python/generate.py >/dev/null
	@test -z "$$(git status --porcelain -- sdk/python/src/spot_sdk/gen sdk/python/src/spot_sdk/_version.py)" || { git status --short -- sdk/python/src/spot_sdk/gen sdk/python/src/spot_sdk/_version.py; echo "sdk/python is stale: run 'make python-sdk-generate' and commit it" >&2; exit 1; }

## The Python client's generated modules (sdk/python/src/spot_sdk/gen), from proto/.
python-sdk-generate:
	"$$(./scripts/ensure-python-sdk-venv.sh)/bin/python" sdk/python/generate.py >/dev/null

## The two passes below side by side (one build; each pass's output printed whole at the end).
rust-tests:
	./scripts/ensure-backends.sh
	./scripts/ensure-test-tools.sh
	CARGO="$(CARGO)" ./scripts/rust-tests.sh

## The step runner's fault test (services/spot/tests/faults.rs), alone: two replicas SIGKILLed at
## random while plans, hibernations and interruption responses run.
fault-tests:
	./scripts/ensure-backends.sh
	./scripts/ensure-test-tools.sh
	$(CARGO) test --workspace --test faults -- --ignored

## Embedded default: SQLite and the in-process bus (the contract suites also hit PostgreSQL and Redis).
unit-tests:
	./scripts/ensure-backends.sh
	./scripts/ensure-test-tools.sh
	$(CARGO) test --workspace

## The same tests with servers on PostgreSQL and Redis. (The whole workspace: `cargo test -p` a few
## crates would resolve other features and compile every crate again, which costs more than the
## tests it skips.)
backend-tests:
	./scripts/ensure-backends.sh
	./scripts/ensure-test-tools.sh
	TEST_BACKEND=postgres $(CARGO) test --workspace

## Playwright in Debian's Chromium against `spot demo` (screenshots in web/test-output/).
browser-tests:
	./scripts/ensure-test-tools.sh
	./scripts/browser-tests.sh

## The Python SDK (sdk/python) against `spot demo`: mypy --strict, the example, pytest. Uses the
## `spot` binary the Rust tests built.
python-sdk-tests:
	./scripts/python-sdk-tests.sh

## The Helm charts rendered with Helm's engine for every ci/*.yaml values file and validated against
## the Kubernetes schemas (strict), and docker-compose.yml's settings: offline, no cluster or Docker.
check-deploy:
	./scripts/check-deploy.sh
