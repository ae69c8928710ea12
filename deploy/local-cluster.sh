#!/usr/bin/env bash
# The production shape of docker-compose.yml, run for real without Docker:
# PostgreSQL (Debian's package), Temporal's schemas set up by the official
# schema tool, the official Temporal server binary on PostgreSQL with 4
# history shards, the Web UI, two receivers and two workers as separate
# processes of cmd/receiver and cmd/worker (the user store on the same
# PostgreSQL), and the provider emulator in place of Veriff and Passbase.
# The server and the schema tool are Go tools pinned in go.mod (`tool`
# directives, go.temporal.io/server v1.32.1); they read the same variables
# as the compose file's temporal and temporal-schema services.
#
#   deploy/local-cluster.sh up                 build, set up and start everything
#                          (IDV_NOTIFY_URL, IDV_NOTIFY_SECRET, IDV_REVIEW_STATUSES
#                          and IDV_ONBOARDING_IDLE pass through to the workers)
#   deploy/local-cluster.sh down               stop everything it started
#   deploy/local-cluster.sh status             what runs
#   deploy/local-cluster.sh kill-worker N      SIGKILL worker N (1 or 2)
#   deploy/local-cluster.sh start-worker N     start worker N again
#   deploy/local-cluster.sh restart-temporal   stop the server process and start it again
#   deploy/local-cluster.sh restart-postgres   restart the PostgreSQL cluster
#   deploy/local-cluster.sh start-version N BUILD
#                          start worker version-N as build BUILD of the Worker
#                          Deployment "idvflow" (admin API 127.0.0.1:1810N);
#                          IDV_NOTIFY_URL, IDV_NOTIFY_SECRET, IDV_REVIEW_STATUSES
#                          and IDV_ONBOARDING_IDLE pass through to it
#   deploy/local-cluster.sh stop-version N     stop worker version-N
#   deploy/local-cluster.sh set-current BUILD  make BUILD the current version
#                          ("" sends new work to unversioned workers again)
#
# Runs as root (it manages the Debian PostgreSQL cluster through
# pg_ctlcluster and psql as the postgres user). State, logs and binaries live
# in IDV_CLUSTER_DIR (default /tmp/idvflow-cluster; a new one starts with
# empty databases, since it gets a new payload key); $IDV_CLUSTER_DIR/env
# describes the running stack to the fault test:
#   IDV_CLUSTER_ENV=/tmp/idvflow-cluster/env go test -run TestCluster ./integration/
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dir=${IDV_CLUSTER_DIR:-/tmp/idvflow-cluster}
bin=$dir/bin
mkdir -p "$dir/logs" "$dir/pids" "$bin"

# The compose file's variables (docker-compose.yml: x-temporal-db and the
# temporal service), with local values.
export DB=postgres12 DB_PORT=5432 POSTGRES_SEEDS=127.0.0.1
export POSTGRES_USER=temporal POSTGRES_PWD=${POSTGRES_PASSWORD:-temporal-local} SQL_PASSWORD=${POSTGRES_PASSWORD:-temporal-local}
export DYNAMIC_CONFIG_FILE_PATH=$repo/deploy/temporal/dynamicconfig.yaml
export BIND_ON_IP=127.0.0.1 TEMPORAL_BROADCAST_ADDRESS=127.0.0.1 NUM_HISTORY_SHARDS=4 LOG_LEVEL=warn
export TEMPORAL_ADDRESS=127.0.0.1:7233 TEMPORAL_NAMESPACE=default
idvflow_db_password=${IDVFLOW_DB_PASSWORD:-idvflow-local}
idvflow_db_url="postgres://idvflow:${idvflow_db_password}@127.0.0.1:5432/idvflow?sslmode=disable"
emulator_addr=127.0.0.1:18090
ui_addr=127.0.0.1:18233

log() { printf 'local-cluster: %s\n' "$*" >&2; }

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }

pg_up() {
  local v
  v=$(pg_version)
  if [ -z "$v" ]; then
    log "PostgreSQL is not installed: apt-get install -y postgresql"
    exit 1
  fi
  pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$v main$" || pg_createcluster "$v" main >/dev/null
  pg_ctlcluster "$v" main start 2>/dev/null || true
  wait_for "PostgreSQL" 60 pg_isready -q -h 127.0.0.1
}

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt $*"; }

# wait_for NAME SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
  local name=$1 limit=$2
  shift 2
  for _ in $(seq 1 "$limit"); do
    "$@" >/dev/null && return 0
    sleep 1
  done
  log "$name did not come up in ${limit}s"
  return 1
}

# alive_and_open NAME ADDR: NAME's process runs (else fail at once, with
# its log) and ADDR accepts connections.
alive_and_open() {
  if ! running "$1"; then
    tail -5 "$dir/logs/$1.log" >&2
    log "$1 exited"
    exit 1
  fi
  port_open "$2"
}

port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

# start NAME COMMAND...: a background process, its pid in pids/NAME.
start() {
  local name=$1
  shift
  if running "$name"; then return 0; fi
  setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name"
}

running() { [ -f "$dir/pids/$1" ] && kill -0 "$(cat "$dir/pids/$1")" 2>/dev/null; }

stop() {
  local name=$1 sig=${2:-TERM} pid
  [ -f "$dir/pids/$name" ] || return 0
  pid=$(cat "$dir/pids/$name")
  kill -"$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/pids/$name"
}

build() {
  log "building the server, the schema tool and idvflow's binaries"
  # On go.mod's toolchain line, as deploy/build.sh builds what ships.
  GOTOOLCHAIN=$(sed -n 's/^toolchain //p' go.mod)
  export GOTOOLCHAIN
  go build -o "$bin/" go.temporal.io/server/cmd/server go.temporal.io/server/cmd/tools/sql \
    ./cmd/receiver ./cmd/worker ./deploy/localcluster
}

databases() {
  log "databases and schemas"
  if [ ! -f "$dir/payload-key" ]; then
    # A new state directory gets a new payload key: runs that an earlier
    # stack left in Temporal's databases could not be decoded with it, and
    # its workers would spend their tasks failing on them. Start afresh.
    for db in temporal temporal_visibility idvflow; do
      psql_admin "-c 'DROP DATABASE IF EXISTS $db WITH (FORCE)'"
    done
  fi
  psql_admin "-c \"DO \\\$\\\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') THEN CREATE ROLE temporal LOGIN CREATEDB PASSWORD '$POSTGRES_PWD'; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'idvflow') THEN CREATE ROLE idvflow LOGIN PASSWORD '$idvflow_db_password'; END IF;
    END \\\$\\\$;\""
  if [ -z "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = 'idvflow'\"")" ]; then
    psql_admin "-c 'CREATE DATABASE idvflow OWNER idvflow'"
  fi
  # deploy/temporal-setup.sh's steps, with the schemas embedded in the tool.
  local tool=("$bin/sql" --plugin postgres12 --ep 127.0.0.1 -p 5432 -u temporal --pw "$POSTGRES_PWD")
  for db in temporal temporal_visibility; do
    "${tool[@]}" --db "$db" create-database >/dev/null 2>&1 || true
  done
  "${tool[@]}" --db temporal setup-schema -v 0.0 >/dev/null 2>&1 || true
  "${tool[@]}" --db temporal update-schema --schema-name postgresql/v12/temporal >"$dir/logs/schema.log" 2>&1
  "${tool[@]}" --db temporal_visibility setup-schema -v 0.0 >/dev/null 2>&1 || true
  "${tool[@]}" --db temporal_visibility update-schema --schema-name postgresql/v12/visibility >>"$dir/logs/schema.log" 2>&1
}

temporal_up() {
  # No --config-file: the server reads the same variables as the image in
  # docker-compose.yml, through its embedded config template.
  start temporal "$bin/server" start
  wait_for "Temporal frontend" 120 alive_and_open temporal "$TEMPORAL_ADDRESS"
}

# idvflow's variables, shared by every receiver and worker: the compose
# file's x-temporal-client, the dev credentials (the emulator's), and
# short session timings so the fault test's sessions close within minutes.
idv_env() {
  cat <<EOF
TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS
TEMPORAL_NAMESPACE=$TEMPORAL_NAMESPACE
IDV_TASK_QUEUE=idv-verification
IDV_LOG_FORMAT=json
IDV_PAYLOAD_KEYS=$(cat "$dir/payload-key")
VERIFF_API_KEY=8e4f7cd8-7a19-4d7d-971f-a076407ee03c
VERIFF_SHARED_SECRETS=abcdef12-abcd-abcd-abcd-abcdef012345
PASSBASE_WEBHOOK_SECRETS=passbase-demo-webhook-secret-32b
PASSBASE_API_KEY=dev-passbase-secret-api-key
VERIFF_BASE_URL=http://$emulator_addr
PASSBASE_BASE_URL=http://$emulator_addr/verification/v2
IDV_DATABASE_URL=$idvflow_db_url
IDV_PROCESSED_GRACE=${IDV_PROCESSED_GRACE:-2s}
IDV_DECISION_POLL_AFTER=${IDV_DECISION_POLL_AFTER:-10s}
IDV_POLL_INTERVAL=${IDV_POLL_INTERVAL:-5s}
IDV_LATE_EVENT_WINDOW=${IDV_LATE_EVENT_WINDOW:-5s}
IDV_ACTIVITY_TIMEOUT=${IDV_ACTIVITY_TIMEOUT:-10s}
EOF
}

# onboarding_env: the onboarding variables the caller set, for a worker.
onboarding_env() {
  for v in IDV_NOTIFY_URL IDV_NOTIFY_SECRET IDV_REVIEW_STATUSES IDV_ONBOARDING_IDLE; do
    [ -n "${!v:-}" ] && echo "$v=${!v}"
  done
  return 0
}

worker_up() {
  local n=$1
  # The admin API listens on loopback only, so it needs no token here.
  start "worker$n" env $(idv_env) $(onboarding_env) IDV_ADMIN_ADDR="127.0.0.1:1808$n" \
    IDV_CODEC_CORS_ORIGINS="http://$ui_addr" "$bin/worker"
  wait_for "worker $n" 60 alive_and_open "worker$n" "127.0.0.1:1808$n"
}

# version_up N BUILD: a worker of BUILD as a version of the deployment,
# with the onboarding variables the caller set.
version_up() {
  local n=$1 build=$2
  start "version-$n" env $(idv_env) $(onboarding_env) IDV_ADMIN_ADDR="127.0.0.1:1810$n" \
    IDV_WORKER_DEPLOYMENT=idvflow IDV_WORKER_BUILD_ID="$build" "$bin/worker"
  wait_for "worker version-$n ($build)" 60 alive_and_open "version-$n" "127.0.0.1:1810$n"
}

receiver_up() {
  local n=$1
  start "receiver$n" env $(idv_env) IDV_HTTP_ADDR="127.0.0.1:1807$n" IDV_METRICS_ADDR="127.0.0.1:1809$((n + 1))" "$bin/receiver"
  wait_for "receiver $n" 60 alive_and_open "receiver$n" "127.0.0.1:1807$n"
}

up() {
  pg_up
  build
  databases
  [ -f "$dir/payload-key" ] || "$bin/localcluster" payload-key >"$dir/payload-key"
  temporal_up
  "$bin/localcluster" namespace
  start emulator env EMULATOR_ADDR=$emulator_addr EMULATOR_STATE="$dir/emulator.json" "$bin/localcluster" emulator
  start ui env UI_ADDR=$ui_addr UI_CODEC_ENDPOINT=http://127.0.0.1:18081/codec "$bin/localcluster" ui
  worker_up 1
  worker_up 2
  receiver_up 1
  receiver_up 2
  cat >"$dir/env" <<EOF
IDV_CLUSTER_SCRIPT=$repo/deploy/local-cluster.sh
IDV_CLUSTER_RECEIVERS=http://127.0.0.1:18071,http://127.0.0.1:18072
IDV_CLUSTER_EMULATOR=http://$emulator_addr
IDV_CLUSTER_ADMIN=http://127.0.0.1:18081
IDV_CLUSTER_DATABASE_URL=$idvflow_db_url
TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS
TEMPORAL_NAMESPACE=$TEMPORAL_NAMESPACE
IDV_PAYLOAD_KEYS=$(cat "$dir/payload-key")
EOF
  log "up: receivers http://127.0.0.1:18071 and :18072, Web UI http://$ui_addr, Temporal $TEMPORAL_ADDRESS, state $dir/env"
}

down() {
  for name in receiver1 receiver2 worker1 worker2 $(cd "$dir/pids" && ls -d version-* 2>/dev/null) ui emulator temporal; do
    stop "$name"
  done
  rm -f "$dir/env"
  log "down (PostgreSQL keeps running; its data stays)"
}

status() {
  for name in temporal emulator ui worker1 worker2 receiver1 receiver2; do
    if running "$name"; then echo "$name running (pid $(cat "$dir/pids/$name"))"; else echo "$name stopped"; fi
  done
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
kill-worker) stop "worker${2:?worker number}" KILL ;;
start-worker) worker_up "${2:?worker number}" ;;
restart-temporal)
  stop temporal
  temporal_up
  ;;
restart-postgres) pg_ctlcluster "$(pg_version)" main restart ;;
start-version) version_up "${2:?version number}" "${3:?build id}" ;;
stop-version) stop "version-${2:?version number}" ;;
set-current) "$bin/localcluster" set-current "${2?build id, or \"\" for unversioned}" ;;
*)
  sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
