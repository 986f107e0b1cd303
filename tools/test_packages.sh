#!/usr/bin/env bash
# The Debian packages the system tests need: Chromium for the web chat's browser tests (Playwright
# drives this one and never downloads its own), PostgreSQL, Redis and nginx for the scale-out
# tests (they start their own servers on loopback, not the Debian services). Installs what is
# missing when run as root; otherwise says what to install and fails, so that no test is
# silently skipped.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "The system tests need Debian packages: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing the Debian packages the tests need: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d tells the packages not to start their system services on install.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq "${missing[@]}" >/dev/null
