#!/usr/bin/env bash
# cluster.sh start|stop|status|restart N — a three-node tokend cluster on
# 127.0.0.1 for development. Every node starts with the same
# --bootstrap-expect 3 and --join listing all three: the first time, node1
# forms the cluster once all three answer and the others join it; later, a
# node that lost its data dir joins the existing cluster instead of founding
# a second one.
#
# The nodes serve https and talk to each other over mutual TLS: on the first
# start the script creates a cluster CA and a certificate per node with
# `tokend certs` under $TOKEND_CLUSTER_DIR/certs (kept across restarts).
# Clients trust certs/ca.crt (curl --cacert).
#
# No secret is configured: node1 generates the cluster's node credential when
# it bootstraps, and the others receive it in the answer to their join (made
# with the elastic password); each keeps it in its data dir (node-credential,
# mode 0600). To add a fourth node without the password, print a one-time
# token with `tokend enroll` and start it with --enrollment-token (see
# README, Run). A directory made by an older version of this script holds a
# node-secret file, which is still passed to its nodes.
#
# Environment:
#   TOKEND_CLUSTER_DIR        binary, data, logs and pid files (default /tmp/tokend-cluster)
#   TOKEND_CLUSTER_HTTP_PORT  first HTTP port (default 9200; nodes use 9200-9202)
#   TOKEND_CLUSTER_RAFT_PORT  first Raft port (default 9300; nodes use 9300-9302)
#   TOKEND_CLUSTER_TIMEOUT    seconds to wait for readiness or shutdown (default 60)
#   ELASTIC_PASSWORD          elastic password when the cluster is created (default changeme)
#   TOKEND_CLUSTER_TLS        1 (default): https and mutual TLS; 0: plain http and TCP
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${TOKEND_CLUSTER_DIR:-/tmp/tokend-cluster}
HTTP_BASE=${TOKEND_CLUSTER_HTTP_PORT:-9200}
RAFT_BASE=${TOKEND_CLUSTER_RAFT_PORT:-9300}
TIMEOUT=${TOKEND_CLUSTER_TIMEOUT:-60}
TLS=${TOKEND_CLUSTER_TLS:-1}
CERTS=$DIR/certs
NODES=(1 2 3)

die() { echo "cluster.sh: $*" >&2; exit 1; }
http_port() { echo $((HTTP_BASE + $1 - 1)); }
raft_port() { echo $((RAFT_BASE + $1 - 1)); }
scheme() { if [[ $TLS == 1 ]]; then echo https; else echo http; fi; }
url() { echo "$(scheme)://127.0.0.1:$(http_port "$1")"; }
# curl_tls prints curl's option trusting the cluster CA, when the nodes serve https.
curl_tls() { [[ $TLS == 1 ]] && echo "--cacert $CERTS/ca.crt" || true; }

# running N prints node N's pid if that process is alive and is our binary.
running() {
  local pidfile="$DIR/node$1.pid" pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  ps -p "$pid" -o args= 2>/dev/null | grep -qF "$DIR/tokend serve" || return 1
  echo "$pid"
}

# shellcheck disable=SC2046 # curl_tls is one option and a path without spaces
ready() { curl -fsS -o /dev/null --max-time 2 $(curl_tls) "$(url "$1")/_tokend/readyz" 2>/dev/null; }

# keep PATH VALUE: write VALUE to PATH (mode 600) unless it exists; print PATH's content.
keep() {
  local path=$1 value=$2
  if [[ ! -s $path ]]; then
    (umask 077 && printf '%s\n' "$value" >"$path")
  fi
  cat "$path"
}

build() {
  mkdir -p "$DIR"
  (cd "$ROOT" && go build -o "$DIR/tokend" ./cmd/tokend) || die "build failed"
}

# certs creates the cluster CA and the nodes' certificates unless they exist.
certs() {
  [[ -f $CERTS/ca.crt ]] || "$DIR/tokend" certs ca --out "$CERTS" >/dev/null || die "cannot create the cluster CA"
  local n
  for n in "${NODES[@]}"; do
    [[ -f $CERTS/node$n.crt ]] || "$DIR/tokend" certs node "node$n" --out "$CERTS" >/dev/null ||
      die "cannot create node$n's certificate"
  done
}

# tls_flags N prints node N's TLS flags.
tls_flags() {
  [[ $TLS == 1 ]] || return 0
  echo "--tls-cert $CERTS/node$1.crt --tls-key $CERTS/node$1.key --cluster-ca $CERTS/ca.crt"
}

# start_node N [serve flags...]: start node N in the background unless it runs.
start_node() {
  local n=$1
  shift
  if running "$n" >/dev/null; then
    echo "node$n already running (pid $(running "$n"))"
    return
  fi
  # shellcheck disable=SC2046 # tls_flags are words without spaces
  TOKEND_NODE_SECRET=$SECRET ELASTIC_PASSWORD=$PASSWORD nohup "$DIR/tokend" serve $(tls_flags "$n") \
    --node-id "node$n" \
    --http-addr "127.0.0.1:$(http_port "$n")" \
    --raft-addr "127.0.0.1:$(raft_port "$n")" \
    --data-dir "$DIR/node$n" "$@" >>"$DIR/node$n.log" 2>&1 </dev/null &
  echo $! >"$DIR/node$n.pid"
  echo "node$n started (pid $!, $(url "$n"), log $DIR/node$n.log)"
}

# wait_ready N...: poll until every named node is ready, or fail with its log.
wait_ready() {
  local deadline=$((SECONDS + TIMEOUT)) n pending
  while :; do
    pending=()
    for n in "$@"; do
      # Liveness by pid, not running(): a node started a moment ago may not
      # have exec'd the binary yet on a busy machine.
      kill -0 "$(<"$DIR/node$n.pid")" 2>/dev/null ||
        { tail -n 20 "$DIR/node$n.log" >&2 || true; die "node$n exited; see $DIR/node$n.log"; }
      ready "$n" || pending+=("$n")
    done
    ((${#pending[@]} == 0)) && return
    ((SECONDS < deadline)) || die "node(s) ${pending[*]} not ready after ${TIMEOUT}s; see $DIR/node*.log"
    sleep 0.5
  done
}

# members prints the --join list: every node's URL.
members() {
  local n urls=()
  for n in "${NODES[@]}"; do urls+=("$(url "$n")"); done
  (IFS=,; echo "${urls[*]}")
}

# prepare builds the binary and loads the cluster's secrets and certificates.
prepare() {
  command -v curl >/dev/null || die "curl is required"
  build
  [[ $TLS == 1 ]] && certs
  # Only a directory made by an older version of this script has one; an
  # empty TOKEND_NODE_SECRET is no secret, and the generated credential rules.
  SECRET=""
  [[ -s $DIR/node-secret ]] && SECRET=$(<"$DIR/node-secret")
  PASSWORD=$(keep "$DIR/elastic-password" "${ELASTIC_PASSWORD:-changeme}")
}

# start_member N: start node N with the flags every member shares.
start_member() { start_node "$1" --bootstrap-expect "${#NODES[@]}" --join "$(members)"; }

cmd_start() {
  prepare
  echo "cluster directory: $DIR"
  local n
  for n in "${NODES[@]}"; do start_member "$n"; done
  wait_ready "${NODES[@]}"
  cat <<EOF

cluster ready: $(url 1) $(url 2) $(url 3)
elastic password: $PASSWORD (kept in $DIR/elastic-password; ELASTIC_PASSWORD only counts when the cluster is created)
$([[ $TLS == 1 ]] && echo "cluster CA: $CERTS/ca.crt (nodes use mutual TLS between them)")

  curl $(curl_tls) -u elastic:$PASSWORD $(url 1)/
  curl $(curl_tls) -u elastic:$PASSWORD -H 'Content-Type: application/json' \\
    -d '{"grant_type":"password","username":"elastic","password":"$PASSWORD"}' $(url 1)/_security/oauth2/token
  ELASTIC_PASSWORD=$PASSWORD $DIR/tokend nodes --addr $(url 1)$([[ $TLS == 1 ]] && echo " --ca-cert $CERTS/ca.crt")
  TOKEND_CLUSTER_DIR=$DIR $0 stop
EOF
}

# stop_nodes N...: SIGTERM the named nodes and wait until each has exited.
stop_nodes() {
  local n pid entry pids=() deadline=$((SECONDS + TIMEOUT))
  for n in "$@"; do
    if pid=$(running "$n"); then
      kill -TERM "$pid"
      pids+=("$n:$pid")
    else
      rm -f "$DIR/node$n.pid"
      echo "node$n not running"
    fi
  done
  for entry in "${pids[@]}"; do
    n=${entry%%:*} pid=${entry#*:}
    while kill -0 "$pid" 2>/dev/null; do
      ((SECONDS < deadline)) || die "node$n (pid $pid) still running after ${TIMEOUT}s"
      sleep 0.2
    done
    rm -f "$DIR/node$n.pid"
    echo "node$n stopped"
  done
}

cmd_stop() { stop_nodes "${NODES[@]}"; }

cmd_restart() {
  local n=${1:-}
  [[ $n =~ ^[1-3]$ ]] || die "usage: $0 restart N (N is 1, 2 or 3)"
  prepare
  stop_nodes "$n"
  start_member "$n"
  wait_ready "$n"
  echo "node$n ready: $(url "$n")"
}

cmd_status() {
  local n pid state
  for n in "${NODES[@]}"; do
    if ! pid=$(running "$n"); then
      state="stopped"
    elif ready "$n"; then
      state="ready (pid $pid)"
    else
      state="running, not ready (pid $pid)"
    fi
    printf 'node%s  %-22s %s\n' "$n" "$(url "$n")" "$state"
  done
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_restart "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|restart N" >&2; exit 2 ;;
esac
