#!/usr/bin/env bash
# Installs the Debian bookworm packages supportbot needs to build, test and run.
# Idempotent: when every package is present it only runs one dpkg-query (~1 s).
# Runs as root, or through sudo when not root.
set -euo pipefail

packages=(
  cmake g++ make pkg-config ccache
  libboost1.81-dev libboost-json1.81-dev
  libyaml-cpp-dev libre2-dev libsqlite3-dev sqlite3
  catch2 libssl-dev libbenchmark-dev
  python3 python3-websockets
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
