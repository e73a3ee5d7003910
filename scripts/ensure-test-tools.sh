#!/usr/bin/env bash
# Installs what the tests need besides the databases: moto's EC2/STS server (a real wire peer for
# aws-sdk-ec2) and the buf CLI from npm. Nothing is installed when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import moto.server" 2>/dev/null; then
  echo "ensure-test-tools: installing moto[server]"
  python3 -m pip install --quiet 'moto[server]>=5.1,<6'
fi

# The browser tests drive Debian's Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-test-tools: installing Debian's chromium"
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    sudo apt-get install -y -q chromium >/dev/null
  fi
fi
