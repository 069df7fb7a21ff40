#!/usr/bin/env bash
# Backup and restore times for a stated database size, on SQLite and on PostgreSQL, each next to a baseline measured
# in the same run: a plain file copy (SQLite) and a bare pg_dump / pg_restore (PostgreSQL). The figures are the RTO in
# docs/operations.md. Usage: bench/backup-restore.sh [USERS] [CONVERSATIONS_PER_USER] [MESSAGES_PER_CONVERSATION]
# Needs: the .NET SDK, python3, and for PostgreSQL the Debian postgresql package (a throw-away cluster is started).
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-10} per_user=${2:-500} per_conversation=${3:-20}
work=$(mktemp -d /tmp/agentry-bench-backup.XXXXXX)
chmod 755 "$work"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
cleanup() {
  [ -n "${pg_bin}" ] && [ -d "$work/pg" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

if [ -n "${PUBLISHED:-}" ]; then cp -r "$PUBLISHED" "$work/app"   # an existing 'dotnet publish' output
else
  echo "Publishing…" >&2
  dotnet publish src/Agentry/Agentry.csproj -c Release -o "$work/app" -nologo -v:q -p:UseAppHost=false >/dev/null
fi
mkdir -p "$work/users"
python3 bench/make-user-data.py "$work/users" "$users" "$per_user" "$per_conversation"
agentry() { (cd "$work/app" && env ASPNETCORE_ENVIRONMENT=Production Backup__RestoreTestEvery=1 "${extra_env[@]}" dotnet agentry.dll "$@"); }

fill() {
  for f in "$work"/users/*.json; do agentry import user "$f" >/dev/null; done
}

report() { # name rows size baseline-backup agentry-backup baseline-restore agentry-restore
  printf '| %s | %s | %s MB | %s s | %s s (×%s) | %s s | %s s (×%s) |\n' "$1" "$2" "$3" "$4" "$5" "$(ratio "$5" "$4")" "$6" "$7" "$(ratio "$7" "$6")"
}

echo "| database | rows | size | baseline backup | agentry backup (verified, restore-tested) | baseline restore | agentry restore (checked, switched) |"
echo "|---|---|---|---|---|---|---|"

# SQLite
extra_env=("AGENTRY_DATA_DIR=$work/sqlite")
fill
db="$work/sqlite/agentry.db"
size=$(awk -v b="$(stat -c %s "$db")" 'BEGIN { printf "%.0f", b / 1048576 }')
t0=$(now); cp "$db" "$work/copy.db"; sync "$work/copy.db"; t1=$(now)
out=$(agentry backup); t2=$(now)
rows=$(printf '%s\n' "$out" | grep -oE '[0-9]+ rows' | head -n 1 | cut -d' ' -f1)
id=$(printf '%s\n' "$out" | grep -oE 'backup-[0-9TZ]+' | head -n 1)
t3=$(now); cp "$work/copy.db" "$work/restored.db"; sync "$work/restored.db"; t4=$(now)
agentry restore "$id" >/dev/null; t5=$(now)
report SQLite "$rows" "$size" "$(seconds "$t0" "$t1")" "$(seconds "$t1" "$t2")" "$(seconds "$t3" "$t4")" "$(seconds "$t4" "$t5")"

# PostgreSQL
if [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]; then
  chown postgres "$work"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w start -o "-p $port -k $work -c listen_addresses=127.0.0.1" >/dev/null
  psql() { "$pg_bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qAt "$@"; }
  psql -c "CREATE DATABASE agentry"
  extra_env=("AGENTRY_DATA_DIR=$work/pgdata" "DATABASE_URL=postgres://postgres@127.0.0.1:$port/agentry" "Backup__PostgresBinDirectory=$pg_bin")
  fill
  size=$(psql -c "SELECT pg_database_size('agentry') / 1048576")
  t0=$(now); "$pg_bin/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc -f "$work/plain.dump" agentry; t1=$(now)
  out=$(agentry backup); t2=$(now)
  rows=$(printf '%s\n' "$out" | grep -oE '[0-9]+ rows' | head -n 1 | cut -d' ' -f1)
  id=$(printf '%s\n' "$out" | grep -oE 'backup-[0-9TZ]+' | head -n 1)
  psql -c "CREATE DATABASE plain_restore"
  t3=$(now); "$pg_bin/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d plain_restore "$work/plain.dump"; t4=$(now)
  agentry restore "$id" >/dev/null; t5=$(now)
  report PostgreSQL "$rows" "$size" "$(seconds "$t0" "$t1")" "$(seconds "$t1" "$t2")" "$(seconds "$t3" "$t4")" "$(seconds "$t4" "$t5")"
else
  echo "(PostgreSQL server binaries not found: apt-get install postgresql)" >&2
fi
