#!/usr/bin/env bash
# Python SDK tests: installs the SDK from sdk/python (a real wheel build, as a user gets it) into
# its pinned venv, type-checks it, starts `spot demo` (three simulated clusters, so lists and
# plans hold real things) on a free port with a known password and a temporary data dir, waits
# until it is ready, runs the example and the pytest suite against it, then stops the demo.
# Nothing is built here: the `spot` binary is the one the Rust tests left (make rust-tests).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
SPOT="$TARGET_DIR/debug/spot"
if [ ! -x "$SPOT" ]; then
  echo "python-sdk-tests: $SPOT is missing; build it first (make rust-tests)" >&2
  exit 1
fi

VENV="$(./scripts/ensure-python-sdk-venv.sh)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
  --no-build-isolation --force-reinstall sdk/python
(cd sdk/python && "$VENV/bin/mypy" --cache-dir=/dev/null src examples tests)

WORK="$(mktemp -d)"
LOG="$WORK/demo.log"
# Below the kernel's ephemeral range, as shared/testkit's free_port: no outgoing connection can
# take it between this pick and the demo's bind.
PORT="$(python3 -c '
import random, socket
for _ in range(1000):
    port = random.randrange(20000, 32000)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
')"
PASSWORD="Python-Sdk-$(date +%s)-Pw"
# No random capacity shortage (a plan would fail by chance) and no admin port (a second demo or
# a developer's `make run` may hold the default one).
SPOT_ADMIN_LISTEN=off "$SPOT" demo --listen "127.0.0.1:$PORT" --data-dir "$WORK/demo" \
  --no-capacity-shortages --password "$PASSWORD" >"$LOG" 2>&1 &
DEMO_PID=$!
trap 'kill "$DEMO_PID" 2>/dev/null || true; wait "$DEMO_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && grep -q "spot demo is running" "$LOG"; then
    break
  fi
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then
    echo "python-sdk-tests: spot demo exited; its log:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  sleep 0.5
done

export SPOT_URL="http://127.0.0.1:$PORT"
export SPOT_EMAIL="demo@spot.local"
export SPOT_PASSWORD="$PASSWORD"
export SPOT_ADMIN_EMAIL="admin@spot.local"
export SPOT_DEMO_LOG="$LOG"

# The example, as the README runs it.
"$VENV/bin/python" sdk/python/examples/list_clusters.py

cd sdk/python
status=0
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@" || status=$?
if [ "$status" != 0 ]; then
  cp "$LOG" /tmp/python-sdk-tests-demo.log
  echo "python-sdk-tests: failed; the demo's log is in /tmp/python-sdk-tests-demo.log" >&2
fi
exit "$status"
