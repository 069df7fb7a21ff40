# Sourced by scripts that need the built service running: starts it on a free loopback port with a throw-away data
# folder (and the offline model), sets $address and $service, and stops it and removes $work on exit.
# Expects $work (a temporary folder) and $configuration; extra environment may be passed as arguments (NAME=value).
service=""
cleanup() { [ -n "$service" ] && kill "$service" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start_built_service() {
  env ASPNETCORE_URLS="http://127.0.0.1:0" AGENTRY_DATA_DIR="$work/data" Observability__JsonLogs=false "$@" \
    dotnet "src/Agentry/bin/$configuration/net10.0/agentry.dll" > "$work/service.log" 2>&1 &
  service=$!
  address=""
  for _ in $(seq 1 300); do
    address=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$work/service.log" | head -n 1 | sed 's/listening on //') || true
    [ -n "$address" ] && return 0
    kill -0 "$service" 2>/dev/null || { cat "$work/service.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "The service did not start:" >&2; cat "$work/service.log" >&2; exit 1
}
