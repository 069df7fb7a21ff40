#!/usr/bin/env bash
# Lints the OpenAPI document the service serves with Redocly CLI (npm @redocly/cli): starts the built service on a free
# loopback port with a throw-away data folder, fetches /openapi/v1.json, stops it, lints. Exit code 1 on any error.
# Run after ./scripts/test.sh (it uses the Release build). CI runs it from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

configuration="${CONFIGURATION:-Release}"
work="$(mktemp -d)"
service=""
cleanup() { [ -n "$service" ] && kill "$service" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

tools="${REDOCLY_HOME:-$HOME/.cache/agentry-tools}"
if [ ! -x "$tools/node_modules/.bin/redocly" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --silent @redocly/cli@2.77.0 >/dev/null
fi

ASPNETCORE_URLS="http://127.0.0.1:0" AGENTRY_DATA_DIR="$work/data" Observability__JsonLogs=false \
  dotnet "src/Agentry/bin/$configuration/net10.0/agentry.dll" > "$work/service.log" 2>&1 &
service=$!
address=""
for _ in $(seq 1 300); do
  address=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$work/service.log" | head -n 1 | sed 's/listening on //') || true
  [ -n "$address" ] && break
  kill -0 "$service" 2>/dev/null || { cat "$work/service.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$address" ] || { echo "The service did not start:" >&2; cat "$work/service.log" >&2; exit 1; }
curl -fsS "$address/openapi/v1.json" -o "$work/openapi.json"
kill "$service"; wait "$service" 2>/dev/null || true; service=""

"$tools/node_modules/.bin/redocly" lint "$work/openapi.json" --config redocly.yaml --format=stylish
