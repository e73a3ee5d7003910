#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis the tests use, when they are not already answering.
# Set TEST_POSTGRES_URL / TEST_REDIS_URL to use other servers; then nothing is started.
set -euo pipefail

wait_for() { # name host port
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/$2/$3") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "ensure-backends: $1 is not answering on $2:$3" >&2
  return 1
}

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if [ -z "${TEST_POSTGRES_URL:-}" ] && ! answers 127.0.0.1 5432; then
  echo "ensure-backends: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  wait_for PostgreSQL 127.0.0.1 5432
fi

if [ -z "${TEST_REDIS_URL:-}" ] && ! answers 127.0.0.1 6379; then
  echo "ensure-backends: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
  wait_for Redis 127.0.0.1 6379
fi
