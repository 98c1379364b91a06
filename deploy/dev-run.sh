#!/usr/bin/env bash
# Development: the web server and one Celery worker with embedded beat on the embedded defaults
# (SQLite, filesystem broker, e-mail files in var/mail). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
mkdir -p var
"$BIN/celery" -A oligami_site worker --beat --pool=solo -l warning \
  --schedule var/celery/beat-schedule > var/celery-worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
echo
echo "OLIGAMI site manager: http://$HOST:$PORT/  (log in with a demo user above)"
echo "Celery worker + beat: pid $worker, log var/celery-worker.log; e-mails are written to var/mail/"
echo
"$BIN/python" manage.py runserver "$HOST:$PORT" --noreload
