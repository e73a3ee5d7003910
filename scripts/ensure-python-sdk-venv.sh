#!/usr/bin/env bash
# The Python SDK's virtualenv (generator, type checker, test runner): created under
# $HOME/.cache/spot-optimizer/ with exactly the pins of sdk/python/requirements-dev.txt, and
# created again only when those pins change. Prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${SPOT_PYTHON_SDK_VENV:-$HOME/.cache/spot-optimizer/python-sdk-venv}"
REQUIREMENTS="sdk/python/requirements-dev.txt"
WANT="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"

if [ "$(cat "$VENV/.requirements-sha256" 2>/dev/null)" != "$WANT" ]; then
  echo "ensure-python-sdk-venv: installing $REQUIREMENTS into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" >&2
  echo "$WANT" >"$VENV/.requirements-sha256"
fi
echo "$VENV"
