#!/usr/bin/env bash
# Lints the OpenAPI document the service serves with Redocly CLI (npm @redocly/cli): starts the built service on a free
# loopback port with a throw-away data folder, fetches /openapi/v1.json, stops it, lints. Exit code 1 on any error.
# Run after ./scripts/test.sh (it uses the Release build). CI runs it from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

configuration="${CONFIGURATION:-Release}"
work="$(mktemp -d)"
. "$(dirname "$0")/built-service.sh"

tools="${REDOCLY_HOME:-$HOME/.cache/agentry-tools}"
if [ ! -x "$tools/node_modules/.bin/redocly" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --silent @redocly/cli@2.77.0 >/dev/null
fi

start_built_service
curl -fsS "$address/openapi/v1.json" -o "$work/openapi.json"
kill "$service"; wait "$service" 2>/dev/null || true; service=""

"$tools/node_modules/.bin/redocly" lint "$work/openapi.json" --config redocly.yaml --format=stylish
