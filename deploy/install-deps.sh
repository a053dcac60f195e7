#!/usr/bin/env bash
# Installs the Debian bookworm packages supportbot needs to build, test and run,
# then the browser tests' npm packages (tests/e2e, pinned by its package-lock.json).
# Idempotent: when everything is present it only runs one dpkg-query and two
# file tests (~1 s).
# Runs as root, or through sudo when not root.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  cmake g++ make pkg-config ccache
  libboost1.81-dev libboost-json1.81-dev
  libyaml-cpp-dev libre2-dev libsqlite3-dev sqlite3
  catch2 libssl-dev libbenchmark-dev
  python3 python3-websockets
  chromium
)
# The browser tests run on Node.js. A node from outside Debian (on PATH
# already) is used as it is; Debian's is installed only when there is none.
if ! command -v node >/dev/null; then
  packages+=(nodejs npm)
elif ! command -v npm >/dev/null; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm keeps node_modules/.package-lock.json in step with what it installed:
# a lock file newer than that (or none installed) means install again.
e2e="$root/tests/e2e"
if [ ! -f "$e2e/node_modules/.package-lock.json" ] || [ "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci in tests/e2e" >&2
  npm ci --prefix "$e2e" --no-audit --no-fund --loglevel=error
fi
