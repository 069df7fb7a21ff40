#!/usr/bin/env bash
# What the tests start besides the .NET SDK, from Debian's packages when missing: PostgreSQL (initdb, pg_ctl, pg_dump),
# redis-server, headless Chromium, and Node.js with npm (an MCP server, Portkey and Redocly come from npm).
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

echo "Installing what the tests need: ${missing[*]} (apt-get)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q >/dev/null
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
