#!/usr/bin/env bash
# Browser tests: builds the web app, starts `spot demo` on a free port with a known password,
# waits until it is ready, runs the Playwright suite in web/ against it, then stops the demo.
# Screenshots and the demo's log land in web/test-output/.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO="${CARGO:-cargo}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
OUT="web/test-output"
mkdir -p "$OUT"

# The `spot` binary as the test pass builds it (`cargo test --workspace` leaves it in
# target/debug): after `make unit-tests` nothing is rebuilt, where `cargo build -p spot-server`
# would compile every crate again with the features of a build without tests.
$CARGO test --workspace --no-run --quiet
(cd web && npm ci --no-audit --no-fund --silent && npm run build --silent)

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PASSWORD="Browser-Tests-$(date +%s)-Pw"
DATA_DIR="$(mktemp -d)/demo"
# No random capacity shortage: a launch that finds its pool dry would fail a UI flow by chance.
"$TARGET_DIR/debug/spot" demo --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR" --no-capacity-shortages \
  --password "$PASSWORD" >"$OUT/demo.log" 2>&1 &
DEMO_PID=$!
trap 'kill "$DEMO_PID" 2>/dev/null || true; wait "$DEMO_PID" 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && grep -q "spot demo is running" "$OUT/demo.log"; then
    break
  fi
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then
    echo "browser-tests: spot demo exited; its log:" >&2
    cat "$OUT/demo.log" >&2
    exit 1
  fi
  sleep 0.5
done

cd web
SPOT_E2E_URL="http://127.0.0.1:$PORT" \
SPOT_E2E_ADMIN_EMAIL="admin@spot.local" \
SPOT_E2E_ADMIN_PASSWORD="$PASSWORD" \
SPOT_E2E_DEMO_EMAIL="demo@spot.local" \
SPOT_E2E_DEMO_PASSWORD="$PASSWORD" \
SPOT_E2E_DEMO_LOG="$(pwd)/test-output/demo.log" \
  npm run test:e2e
