#!/usr/bin/env bash
# The official OpenAI JavaScript SDK (npm `openai`) against the built service, changed only in base URL and key:
# models, chat completions (plain, streamed with usage, a client-side tool round trip), responses (streamed, stored,
# background) and error types. Starts the service on a free loopback port with a throw-away data folder and the offline
# model. Run after ./scripts/test.sh (it uses the Release build). CI runs it from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

configuration="${CONFIGURATION:-Release}"
work="$(mktemp -d)"
service=""
cleanup() { [ -n "$service" ] && kill "$service" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

tools="${AGENTRY_TOOLS_HOME:-$HOME/.cache/agentry-tools}/openai-sdk"
if [ ! -f "$tools/node_modules/openai/package.json" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --silent openai@6.49.0 >/dev/null
fi

key="agk_openai-sdk-check-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ASPNETCORE_URLS="http://127.0.0.1:0" AGENTRY_DATA_DIR="$work/data" AGENTRY_ADMIN_KEY="$key" Observability__JsonLogs=false \
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

cp scripts/openai-sdk-check.mjs "$tools/check.mjs" # resolved from there, beside its node_modules
AGENTRY_BASE_URL="$address" AGENTRY_KEY="$key" node "$tools/check.mjs" || { echo "--- service log" >&2; tail -n 50 "$work/service.log" >&2; exit 1; }
