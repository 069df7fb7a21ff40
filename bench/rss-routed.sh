#!/usr/bin/env bash
# Resident memory of the published build with the local embedding model loaded: start it from its own folder on a new
# data folder, wait for /health/ready (the help-center indexed), send TURNS concierge turns with distinct messages
# (each routed by meaning: one sentence embedded per turn), and read VmRSS before and after, and the peak (VmHWM)
# (docs/performance.md).
#
#   bench/rss-routed.sh PUBLISHED_DIR [TURNS] [NAME=VALUE ...]    e.g. bench/rss-routed.sh /tmp/pub 200 Models__LocalEmbeddingWeights=Int8
set -euo pipefail
usage="usage: $0 PUBLISHED_DIR [TURNS] [NAME=VALUE ...]"
[[ $# -ge 1 && -f $1/agentry.dll ]] || { echo "$usage (a 'dotnet publish' output holding agentry.dll)" >&2; exit 2; }
published=$(cd "$1" && pwd); shift
turns=200
if [[ $# -ge 1 && $1 != *=* ]]; then
  [[ $1 =~ ^[0-9]+$ ]] || { echo "$usage (TURNS is a number)" >&2; exit 2; }
  turns=$1; shift
fi
data=$(mktemp -d); key=bench-rss-admin-key-0123456789abcdef; pid=
trap '[[ -n $pid ]] && { kill $pid 2>/dev/null; wait $pid 2>/dev/null; }; rm -rf "$data"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
(cd "$published" && exec env AGENTRY_DATA_DIR="$data" AGENTRY_ADMIN_KEY=$key ASPNETCORE_URLS=$url RateLimit__Enabled=false "$@" dotnet agentry.dll >"$data/out.log" 2>&1) &
pid=$! # exec above: the dotnet process itself
for _ in $(seq 1 600); do # up to two minutes: the warm-up indexes the help-center and loads the model
  curl -sf "$url/health/ready" >/dev/null && break
  kill -0 $pid 2>/dev/null || { echo "agentry exited before it was ready:" >&2; cat "$data/out.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf "$url/health/ready" >/dev/null || { echo "agentry was not ready within two minutes:" >&2; tail -20 "$data/out.log" >&2; exit 1; }
status() { awk -v field="$1" '$1 == field":" {printf "%d", $2/1024}' "/proc/$pid/status"; }
echo "RSS when ready: $(status VmRSS) MB"
start=$EPOCHREALTIME
topics=("I was charged twice" "my router keeps dropping wifi" "what plans do you sell" "refund my last invoice" "the app crashes on login")
for i in $(seq 1 "$turns"); do
  body=$(printf '{"agentId":"concierge","message":"%s, case %d"}' "${topics[$((i % 5))]}" "$i")
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/chat" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$body") || code=000
  [[ $code == 200 ]] || { echo "turn $i answered $code" >&2; tail -20 "$data/out.log" >&2; exit 1; }
done
echo "RSS after $turns routed turns: $(status VmRSS) MB, peak $(status VmHWM) MB ($(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s)"
