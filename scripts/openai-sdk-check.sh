#!/usr/bin/env bash
# The official OpenAI JavaScript SDK (npm `openai`) against the built service, changed only in base URL and key:
# models, chat completions (plain, streamed with usage, a client-side tool round trip), responses (streamed, stored,
# background) and error types. Starts the service on a free loopback port with a throw-away data folder and the offline
# model. Run after ./scripts/test.sh (it uses the Release build). CI runs it from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

configuration="${CONFIGURATION:-Release}"
work="$(mktemp -d)"
. "$(dirname "$0")/built-service.sh"

tools="${AGENTRY_TOOLS_HOME:-$HOME/.cache/agentry-tools}/openai-sdk"
if [ ! -f "$tools/node_modules/openai/package.json" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --silent openai@6.49.0 >/dev/null
fi

key="agk_openai-sdk-check-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
start_built_service AGENTRY_ADMIN_KEY="$key"

cp scripts/openai-sdk-check.mjs "$tools/check.mjs" # resolved from there, beside its node_modules
AGENTRY_BASE_URL="$address" AGENTRY_KEY="$key" node "$tools/check.mjs" || { echo "--- service log" >&2; tail -n 50 "$work/service.log" >&2; exit 1; }
