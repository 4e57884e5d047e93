#!/usr/bin/env bash
# Filing under load: residents sign in, browse and file through the real report form, then
# only file, while a bare INSERT view is measured in the same run, in alternating slices
# (locustfile.py).
# Starts gunicorn on loopback against its own PostgreSQL database (dropped and made afresh:
# migrated, the demo data, LOAD_USERS resident accounts), runs locust headless, then
# counts the rows against the answers (report.py) and profiles one filing in-process
# (profile_filing.py). `make bench-load` runs this; every process it starts is stopped on
# the way out, and the whole run is bounded by LOAD_TIMEOUT seconds.
#
# Variables: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/grid_load; its name
# must contain "load", as it is dropped), CACHE_URL (the server's cache; per process by
# default, e.g. redis://127.0.0.1:6379/5 as in production), LOAD_PORT (8771), LOAD_USERS
# (50), LOAD_SECONDS (60: the residents' time), LOAD_SLICE (10), LOAD_BARE_SLICE (5: both the
# filings alone and the bare inserts after each residents' slice), LOAD_WORKERS (2),
# LOAD_THREADS (1: sync workers), LOAD_TIMEOUT (600), LOAD_PROFILE (20 filings; 0: none),
# DATABASE_PREPARED_STATEMENTS (1; 0 measures the server without prepared statements).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${LOAD_BOUNDED:-}" ]; then
  export LOAD_BOUNDED=1
  exec timeout -k 10 "${LOAD_TIMEOUT:-600}" "$0" "$@"
fi

BIN=.venv/bin
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/grid_load}
DATABASE=${DATABASE_URL##*/}
DATABASE=${DATABASE%%\?*}
PORT=${LOAD_PORT:-8771}
ADDRESS=127.0.0.1:$PORT
USERS=${LOAD_USERS:-50}
WORKERS=${LOAD_WORKERS:-2}
THREADS=${LOAD_THREADS:-1}
case "$DATABASE" in
  *load*) ;;
  *) echo "load: refusing to drop database '$DATABASE': its name must contain 'load' (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/grid_load)" >&2; exit 2 ;;
esac
case "${DATABASE_URL#*://}" in
  *@127.0.0.1[:/]* | *@localhost[:/]* | 127.0.0.1[:/]* | localhost[:/]*) ;;
  *) echo "load: the database must be on this machine (127.0.0.1)" >&2; exit 2 ;;
esac
test -x "$BIN/locust" || { echo "load: locust is missing: make install" >&2; exit 2; }
command -v curl > /dev/null || { echo "load: needs curl" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/grid-load.XXXXXX")
server=""
failed=1
say() { echo "load: $*"; }

cleanup() {
  set +e
  trap - EXIT INT TERM
  trap '' PIPE
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null
    wait "$server" 2>/dev/null
  fi
  if [ "$failed" != 0 ]; then
    for log in "$WORK"/*.log; do
      [ -s "$log" ] || continue
      echo "----- $(basename "$log") (last 30 lines) -----" >&2
      tail -n 30 "$log" >&2
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'say "stopped: time limit (LOAD_TIMEOUT) or signal" >&2; exit 143' TERM

# Production settings (DEBUG off) on plain HTTP over loopback, plus the benchmark's bare
# view. The sign-in throttle stays on, as in production; its failure limit is raised so
# that a glitch cannot lock a resident out half-way through the run.
mkdir -p "$WORK/media" "$WORK/imports"
cat > "$WORK/server.env" <<EOF
DJANGO_SETTINGS_MODULE=config.bench_settings
DATABASE_URL=$DATABASE_URL
SECRET_KEY=$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(50))')
DEBUG=0
ALLOWED_HOSTS=127.0.0.1,testserver
SECURE_SSL_REDIRECT=0
SECURE_COOKIES=0
SECURE_HSTS_SECONDS=0
MEDIA_ROOT=$WORK/media
IMPORT_UPLOADS_ROOT=$WORK/imports
STATIC_ROOT=$WORK/static
EMAIL_URL=dummymail://
CACHE_URL=${CACHE_URL:-locmemcache://}
DATABASE_PREPARED_STATEMENTS=${DATABASE_PREPARED_STATEMENTS:-1}
AXES_ENABLED=1
AXES_FAILURE_LIMIT=1000
LOG_LEVEL=WARNING
EOF
mapfile -t SERVER_ENV < "$WORK/server.env"
with_env() { env "${SERVER_ENV[@]}" "$@"; }

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  say "$ADDRESS is already in use: stop what listens there, or set LOAD_PORT" >&2
  exit 1
fi
say "database $DATABASE (new): migrate, demo data, $USERS residents, static files"
with_env "$BIN/python" - "$DATABASE" <<'EOF'
import os, sys
import psycopg
server = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
with psycopg.connect(server, autocommit=True) as connection:
    connection.execute(f'DROP DATABASE IF EXISTS "{sys.argv[1]}" WITH (FORCE)')
    connection.execute(f'CREATE DATABASE "{sys.argv[1]}"')
EOF
with_env "$BIN/python" manage.py migrate --noinput > "$WORK/setup.log"
with_env "$BIN/python" manage.py seed_demo >> "$WORK/setup.log"
with_env "$BIN/python" -m bench.load.residents "$USERS" >> "$WORK/setup.log"
with_env "$BIN/python" manage.py collectstatic --noinput >> "$WORK/setup.log"

# `env` execs the server, so $! is its pid (a shell function would add a subshell).
# No control socket: another gunicorn on this machine would share its default path.
env "${SERVER_ENV[@]}" "$BIN/gunicorn" config.wsgi --bind "$ADDRESS" --workers "$WORKERS" \
  --threads "$THREADS" --timeout 30 --graceful-timeout 5 --no-control-socket \
  > "$WORK/gunicorn.log" 2>&1 &
server=$!
say "gunicorn on http://$ADDRESS, $WORKERS workers × $THREADS threads (pid $server)"
deadline=$((SECONDS + 30))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$ADDRESS/accounts/login/" || true)" = 200 ]; do
  kill -0 "$server" 2>/dev/null || { say "gunicorn exited at start" >&2; exit 1; }
  [ "$SECONDS" -lt "$deadline" ] || { say "http://$ADDRESS did not answer in 30 s" >&2; exit 1; }
  sleep 0.2
done

seconds=${LOAD_SECONDS:-60}
slice=${LOAD_SLICE:-10}
bare=${LOAD_BARE_SLICE:-5}
# A hard bound on locust besides its own clock: warm-up, the slices, their drains.
run_time=$($BIN/python -c "print(int(120 + $seconds * (1 + 2 * $bare / $slice) + 45 * ($seconds / $slice)))")
say "locust: $USERS residents, ${seconds} s of browsing and filing in ${slice} s slices," \
  "each followed by ${bare} s of filings alone and ${bare} s of bare inserts (at most ${run_time} s)"
# locust's own exit code knows nothing of lost rows or forms filed twice: report.py decides.
env LOAD_HOST="http://$ADDRESS" LOAD_USERS="$USERS" LOAD_SECONDS="$seconds" LOAD_SLICE="$slice" \
  LOAD_BARE_SLICE="$bare" LOAD_RESULTS="$WORK/results.json" \
  "$BIN/locust" -f bench/load/locustfile.py --headless --only-summary \
  --users "$USERS" --spawn-rate "$USERS" --run-time "${run_time}s" --stop-timeout 30 \
  --host "http://$ADDRESS" > "$WORK/locust.log" 2>&1 || true
test -s "$WORK/results.json" || { say "locust wrote no results" >&2; exit 1; }

status=0
with_env "$BIN/python" -m bench.load.report "$WORK/results.json" || status=$?
if [ "${LOAD_PROFILE:-20}" != 0 ]; then
  with_env "$BIN/python" -m bench.load.profile_filing --filings "${LOAD_PROFILE:-20}" || status=1
fi
failed=$status
exit "$status"
