#!/usr/bin/env bash
# Resident memory of the published build with the local embedding model loaded: start it from its own folder on a new
# data folder, wait for /health/ready (the help-center indexed), send TURNS concierge turns with distinct messages
# (each routed by meaning: one sentence embedded per turn), and read VmRSS before and after (docs/performance.md).
#
#   bench/rss-routed.sh PUBLISHED_DIR [TURNS] [NAME=VALUE ...]    e.g. bench/rss-routed.sh /tmp/pub 200 Models__LocalEmbeddingWeights=Float32
set -euo pipefail
published=$(cd "$1" && pwd); turns=${2:-200}; shift $(( $# >= 2 ? 2 : 1 ))
data=$(mktemp -d); key=bench-rss-admin-key-0123456789abcdef
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
(cd "$published" && exec env AGENTRY_DATA_DIR="$data" AGENTRY_ADMIN_KEY=$key ASPNETCORE_URLS=$url RateLimit__Enabled=false "$@" dotnet agentry.dll >"$data/out.log" 2>&1) &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
until curl -sf "$url/health/ready" >/dev/null; do
  kill -0 $pid 2>/dev/null || { cat "$data/out.log"; exit 1; }
  sleep 0.2
done
rss() { awk '/^VmRSS/ {printf "%d", $2/1024}' "/proc/$pid/status"; } # exec above: $pid is the dotnet process
echo "RSS when ready: $(rss) MB"
start=$(date +%s.%N)
topics=("I was charged twice" "my router keeps dropping wifi" "what plans do you sell" "refund my last invoice" "the app crashes on login")
for i in $(seq 1 "$turns"); do
  body=$(printf '{"agentId":"concierge","message":"%s, case %d"}' "${topics[$((i % 5))]}" "$i")
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/chat" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$body")
  [[ $code == 200 ]] || { echo "turn $i answered $code"; exit 1; }
done
echo "RSS after $turns routed turns: $(rss) MB ($(echo "$(date +%s.%N) - $start" | bc) s)"
