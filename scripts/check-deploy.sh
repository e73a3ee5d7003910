#!/usr/bin/env bash
# Renders and validates the Helm charts and docker-compose.yml offline (scripts/check-deploy.py)
# with its tools in a virtualenv of their own, created or updated only when the pinned
# requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${SPOT_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-optimizer/deploy-venv}"
requirements=scripts/check-deploy-requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  echo "check-deploy: installing $(grep -v '^#' "$requirements" | tr '\n' ' ')into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi
exec "$venv/bin/python" scripts/check-deploy.py
