#!/usr/bin/env bash
# Two app hosts on this machine, as production runs N of them: gunicorn on 127.0.0.1:8761
# and 127.0.0.1:8762, one PostgreSQL database (dropped and made afresh), one media folder,
# one shared cache and a task worker. Host B also reads its dashboards, public pages and
# API lists through DATABASE_REPLICA_URL, here the same database under a role that may only
# read (as a standby refuses writes). Then the tests in tests/cluster/ drive both hosts
# over HTTP. `make test-cluster` runs this; every process it starts is stopped on the way
# out, whatever happens, and the whole run is bounded by CLUSTER_TIMEOUT seconds.
#
# Variables: CLUSTER_POSTGRES (server URL, default postgres://postgres@127.0.0.1:5432),
# CLUSTER_DATABASE (default grid_cluster; its name must contain "cluster", as it is
# dropped), CLUSTER_READER (the read-only role, default grid_cluster_reader),
# CLUSTER_PORT_A / CLUSTER_PORT_B, CLUSTER_TIMEOUT (seconds, default 170).
# Arguments are passed to pytest (e.g. -k sweep).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Bound the run: timeout signals this script's whole process group, and the trap below
# stops the servers.
if [ -z "${CLUSTER_BOUNDED:-}" ]; then
  export CLUSTER_BOUNDED=1
  exec timeout -k 10 "${CLUSTER_TIMEOUT:-170}" "$0" "$@"
fi

BIN=.venv/bin
SERVER=${CLUSTER_POSTGRES:-postgres://postgres@127.0.0.1:5432}
DATABASE=${CLUSTER_DATABASE:-grid_cluster}
READER=${CLUSTER_READER:-grid_cluster_reader}
HOST_A=127.0.0.1:${CLUSTER_PORT_A:-8761}
HOST_B=127.0.0.1:${CLUSTER_PORT_B:-8762}
case "$DATABASE" in
  *cluster*) ;;
  *) echo "cluster: refusing to drop database '$DATABASE' (its name must contain 'cluster')" >&2; exit 2 ;;
esac

command -v curl > /dev/null || { echo "cluster: needs curl" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grid-cluster.XXXXXX")
pids=()
failed=1

say() { echo "cluster: $*"; }

cleanup() {
  # Nothing stops the cleaning: not a failing command, nor a reader of the output gone.
  set +e
  trap - EXIT INT TERM
  trap '' PIPE
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$failed" != 0 ]; then
    for log in "$WORK"/*.log; do
      [ -s "$log" ] || continue
      echo "----- $(basename "$log") (last 40 lines) -----" >&2
      tail -n 40 "$log" >&2
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'say "stopped: time limit (CLUSTER_TIMEOUT) or signal" >&2; exit 143' TERM

# What every host, the worker and the sweep see: production settings (DEBUG off), plain
# HTTP on loopback, the shared database, media folder, cache and mail folder.
mkdir -p "$WORK/media" "$WORK/imports" "$WORK/mail"
cat > "$WORK/hosts.env" <<EOF
DJANGO_SETTINGS_MODULE=config.settings
DATABASE_URL=$SERVER/$DATABASE
SECRET_KEY=$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(50))')
DEBUG=0
ALLOWED_HOSTS=127.0.0.1
SECURE_SSL_REDIRECT=0
SECURE_COOKIES=0
SECURE_HSTS_SECONDS=0
MEDIA_ROOT=$WORK/media
IMPORT_UPLOADS_ROOT=$WORK/imports
STATIC_ROOT=$WORK/static
CACHE_URL=dbcache://cluster_cache
EMAIL_URL=filemail:///$WORK/mail
LOG_LEVEL=WARNING
EOF
# (filemail:// with one more slash: django-environ drops the first slash of the path.)
mapfile -t HOST_ENV < "$WORK/hosts.env"
host() { env "${HOST_ENV[@]}" "$@"; }

say "database $DATABASE (new), media $WORK/media"
host "$BIN/python" - "$DATABASE" <<'EOF'
import os, sys
import psycopg
server = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
with psycopg.connect(server, autocommit=True) as connection:
    connection.execute(f'DROP DATABASE IF EXISTS "{sys.argv[1]}" WITH (FORCE)')
    connection.execute(f'CREATE DATABASE "{sys.argv[1]}"')
EOF
say "migrate, cache table, demo data (seed_demo), static files (setup.log on failure)"
host "$BIN/python" manage.py migrate --noinput > "$WORK/setup.log"
host "$BIN/python" manage.py createcachetable >> "$WORK/setup.log"
host "$BIN/python" manage.py seed_demo >> "$WORK/setup.log"
host "$BIN/python" manage.py collectstatic --noinput >> "$WORK/setup.log"
say "role $READER may only read $DATABASE (host B's replica)"
host "$BIN/python" - "$DATABASE" "$READER" <<'EOF'
import os, sys
import psycopg
from psycopg import sql
database, reader = sys.argv[1], sys.argv[2]
role = sql.Identifier(reader)
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
    connection.execute(
        sql.SQL(
            "DO $$ BEGIN CREATE ROLE {} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ).format(role)
    )
    connection.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role)
    )
    connection.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
    connection.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role))
EOF
# The server's URL with the reader as its user.
REPLICA_URL="$(echo "$SERVER" | sed -E "s#^([a-z]+://)([^@/]*@)?#\1$READER@#")/$DATABASE?application_name=grid_replica"

port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

declare -A names=()  # pid -> what it is, for the messages
started() {  # what, pid
  pids+=("$2")
  names[$2]=$1
  say "$1 (pid $2)"
}

start_host() {  # name, address, more environment
  port_free "$2" || { say "$2 is already in use: stop what listens there" >&2; exit 1; }
  # `env` execs the server, so $! is its pid (a shell function would add a subshell).
  # No control socket: two masters on one machine would share its default path.
  env "${HOST_ENV[@]}" "${@:3}" "$BIN/gunicorn" config.wsgi --bind "$2" --workers 2 --timeout 30 \
    --graceful-timeout 5 --no-control-socket > "$WORK/$1.log" 2>&1 &
  started "host $1 on http://$2" $!
}

start_host a "$HOST_A"
start_host b "$HOST_B" "DATABASE_REPLICA_URL=$REPLICA_URL"
env "${HOST_ENV[@]}" "$BIN/python" manage.py db_worker --no-reload > "$WORK/worker.log" 2>&1 &
started "task worker" $!

# Both hosts serve the sign-in page within 30 s, or the run stops here and says why.
deadline=$((SECONDS + 30))
for address in "$HOST_A" "$HOST_B"; do
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$address/accounts/login/" || true)
    [ "$code" = 200 ] && break
    if [ "$code" != 000 ]; then say "http://$address answers $code, not 200" >&2; exit 1; fi
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { say "${names[$pid]} exited at start" >&2; exit 1; }
    done
    if [ "$SECONDS" -ge "$deadline" ]; then say "http://$address did not answer in 30 s" >&2; exit 1; fi
    sleep 0.2
  done
done
say "both hosts answer"

env CLUSTER_HOST_A="http://$HOST_A" CLUSTER_HOST_B="http://$HOST_B" \
  CLUSTER_ENV="$WORK/hosts.env" CLUSTER_MEDIA_ROOT="$WORK/media" CLUSTER_MAIL="$WORK/mail" \
  CLUSTER_READER="$READER" \
  DATABASE_URL="$SERVER/$DATABASE" \
  "$BIN/pytest" -p no:cacheprovider -m cluster tests/cluster "$@"
failed=0
