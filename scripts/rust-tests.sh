#!/usr/bin/env bash
# The Rust tests twice, side by side: on the embedded default (SQLite, the in-process bus) and on
# PostgreSQL + Redis (TEST_BACKEND=postgres). The tests mostly wait on servers and timers (one
# pass keeps about a third of two cores busy), so the second pass costs little wall time: one
# build, then both passes at once, each pass's output printed whole when both are done.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO="${CARGO:-cargo}"
$CARGO test --workspace --no-run --quiet

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
$CARGO test --workspace >"$logs/sqlite.log" 2>&1 &
sqlite=$!
TEST_BACKEND=postgres $CARGO test --workspace >"$logs/postgres.log" 2>&1 &
postgres=$!
if wait "$sqlite"; then sqlite_status=0; else sqlite_status=$?; fi
if wait "$postgres"; then postgres_status=0; else postgres_status=$?; fi

summary() { # name log status
  local passed failed
  passed="$(grep -E '^test result' "$2" | awk '{s += $4} END {print s + 0}')"
  failed="$(grep -E '^test result' "$2" | awk '{s += $6} END {print s + 0}')"
  echo "rust-tests: $1: $passed passed, $failed failed (exit $3)"
}
echo "===== SQLite and the in-process bus ====="
cat "$logs/sqlite.log"
echo "===== PostgreSQL and Redis ====="
cat "$logs/postgres.log"
summary "SQLite" "$logs/sqlite.log" "$sqlite_status"
summary "PostgreSQL + Redis" "$logs/postgres.log" "$postgres_status"
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]
