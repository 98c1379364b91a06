#!/usr/bin/env bash
# Backup and restore drill: dump the PostgreSQL database of DATABASE_URL, restore it into a new empty
# database, and compare the row count of every table (clinical, audit history and access records alike).
# Exits non-zero on any difference. Usage: DATABASE_URL=postgres://user:pw@host:port/db deploy/backup_drill.sh
set -euo pipefail
: "${DATABASE_URL:?DATABASE_URL must point at the PostgreSQL database to back up}"
py=${PYTHON:-.venv/bin/python}
read -r user password host port db < <("$py" - <<'PY'
import os
from urllib.parse import urlsplit, unquote
u = urlsplit(os.environ["DATABASE_URL"])
print(unquote(u.username or "postgres"), unquote(u.password or "-"), u.hostname or "127.0.0.1", u.port or 5432,
      u.path.lstrip("/"))
PY
)
[ "$password" != "-" ] && export PGPASSWORD="$password"
export PGHOST="$host" PGPORT="$port" PGUSER="$user"
restored="${db}_restore_drill"
dump=$(mktemp --suffix=.dump)
trap 'rm -f "$dump"; dropdb --if-exists "$restored" >/dev/null 2>&1 || true' EXIT

counts() {
  psql -X -A -t -d "$1" -c "SELECT table_name FROM information_schema.tables
      WHERE table_schema='public' AND table_type='BASE TABLE' ORDER BY table_name" |
  while read -r table; do
    printf '%s %s\n' "$table" "$(psql -X -A -t -d "$1" -c "SELECT count(*) FROM \"$table\"")"
  done
}

started=$(date +%s)
pg_dump -Fc -d "$db" -f "$dump"
dropdb --if-exists "$restored"
createdb "$restored"
pg_restore --no-owner -d "$restored" "$dump"
before=$(counts "$db")
after=$(counts "$restored")
if [ "$before" != "$after" ]; then
  echo "BACKUP DRILL FAILED: row counts differ"; diff <(echo "$before") <(echo "$after") || true; exit 1
fi
tables=$(echo "$before" | wc -l)
rows=$(echo "$before" | awk '{s+=$2} END {print s}')
history=$(echo "$before" | awk '$1 ~ /_historical/ {s+=$2} END {print s+0}')
echo "backup drill OK: $tables tables, $rows rows ($history history rows) identical after restore;" \
     "dump $(du -h "$dump" | cut -f1), $(( $(date +%s) - started )) s"
