#!/usr/bin/env bash
# `pnpm test:setup`: installs what `pnpm test` drives and the preflight (scripts/preflight.mjs)
# asks for — Debian's chromium (the browser tests, through playwright-core; no browser
# download) and prometheus (promtool, and the Prometheus server the example's test runs).
# Does nothing when both are there; as root it runs apt-get, otherwise it prints the line to run.
set -euo pipefail

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
if ! command -v promtool >/dev/null || [ ! -x /usr/bin/prometheus ]; then packages+=(prometheus); fi

if [ ${#packages[@]} -eq 0 ]; then
  echo "test:setup: chromium and prometheus are installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "test:setup: run as root: sudo apt-get install -y ${packages[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "test:setup: no apt-get here; install Debian's equivalents of: ${packages[*]} (/usr/bin/chromium, promtool, /usr/bin/prometheus)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
