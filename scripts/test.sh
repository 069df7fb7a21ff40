#!/usr/bin/env bash
# Builds and runs every test. The same command runs in CI (.ci/run) and on a developer's machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests start PostgreSQL, Redis, Chromium and Node.js programs themselves; a fresh machine gets them first.
"$(dirname "$0")/install-test-dependencies.sh"

configuration="${CONFIGURATION:-Release}"
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

dotnet build Agentry.slnx -c "$configuration" -nologo -v:q
set +e
dotnet test Agentry.slnx -c "$configuration" --no-build -nologo \
  --logger "console;verbosity=normal" --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@"
status=$?
set -e

# One plain summary line that any CI can read: "N passed, N failed, N skipped".
if trx=$(find "$results" -name '*.trx' | head -n 1) && [ -n "$trx" ]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { printf '%s' "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$(get passed); failed=$(get failed); total=$(get total); executed=$(get executed)
  skipped=$(( ${total:-0} - ${executed:-0} ))
  # CI keeps only the tail of the output, so the failures are repeated here, last, with their first lines.
  if [ "${failed:-0}" -gt 0 ]; then
    python3 - "$trx" <<'PY' || true
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for result in ET.parse(sys.argv[1]).getroot().iterfind(".//t:UnitTestResult", ns):
    if result.get("outcome") != "Failed":
        continue
    message = result.findtext(".//t:Message", default="", namespaces=ns).strip().splitlines()
    trace = result.findtext(".//t:StackTrace", default="", namespaces=ns).strip().splitlines()
    print(f"FAILED {result.get('testName')}")
    for line in (message[:12] + trace[:6]):
        print(f"    {line}")
PY
  fi
  echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped} skipped"
  if [ "${executed:-0}" -eq 0 ]; then echo "No test ran." >&2; exit 1; fi
fi
exit $status
