#!/usr/bin/env bash
# disk-soak.sh — shows that a node's data dir stays bounded under steady load.
#
# Starts a three-node cluster (scripts/cluster.sh, on its own ports and
# directory), issues client_credentials tokens through all nodes for
# SOAK_DURATION with the bounded load tool, and every SOAK_INTERVAL prints one
# CSV line per node: elapsed seconds, node, data dir bytes, raft.db bytes,
# snapshot dir bytes, the Raft applied index and the token records in the
# node's state (tokend_token_records). Tokens live
# TOKEND_TOKEN_TIMEOUT (default 2m here), so expired ones leave the state
# through the leader's purge entries during the run, and Raft compacts its log
# after each snapshot (TOKEND_RAFT_SNAPSHOT_THRESHOLD, _INTERVAL and
# _TRAILING_LOGS apply as they do to `tokend serve`). The cluster is stopped
# at the end, also on Ctrl-C.
#
# Environment:
#   SOAK_DURATION      load duration (default 600s)
#   SOAK_INTERVAL      seconds between samples (default 30)
#   SOAK_CONCURRENCY   load tool workers (default 8)
#   TOKEND_CLUSTER_DIR cluster directory (default /tmp/tokend-soak, wiped first)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${SOAK_DURATION:-600s}
INTERVAL=${SOAK_INTERVAL:-30}
CONC=${SOAK_CONCURRENCY:-8}
export TOKEND_CLUSTER_DIR=${TOKEND_CLUSTER_DIR:-/tmp/tokend-soak}
export TOKEND_CLUSTER_HTTP_PORT=${TOKEND_CLUSTER_HTTP_PORT:-9410}
export TOKEND_CLUSTER_RAFT_PORT=${TOKEND_CLUSTER_RAFT_PORT:-9510}
export TOKEND_TOKEN_TIMEOUT=${TOKEND_TOKEN_TIMEOUT:-2m}
export ELASTIC_PASSWORD=${ELASTIC_PASSWORD:-changeme}
# Plain http: this measures disk use, and the probes below stay simple.
export TOKEND_CLUSTER_TLS=0
DIR=$TOKEND_CLUSTER_DIR

rm -rf "$DIR"
"$ROOT/scripts/cluster.sh" start >/dev/null
LOAD_PID=
cleanup() {
  [[ -n $LOAD_PID ]] && kill "$LOAD_PID" 2>/dev/null || true
  "$ROOT/scripts/cluster.sh" stop >/dev/null || true
}
trap cleanup EXIT

urls=""
for i in 0 1 2; do urls+="${urls:+,}http://127.0.0.1:$((TOKEND_CLUSTER_HTTP_PORT + i))"; done
(cd "$ROOT" && go build -o "$DIR/load" ./cmd/tokend-bench)
"$DIR/load" -mix client_credentials -targets "$urls" -c "$CONC" -n 100000000 -d "$DURATION" -json >"$DIR/load.json" &
LOAD_PID=$!

bytes() { du -sb "$@" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
applied() {
  curl -fsS --max-time 2 -u "elastic:$ELASTIC_PASSWORD" "http://127.0.0.1:$1/_cluster/health" 2>/dev/null |
    sed -n 's/.*"applied_index":\([0-9]*\).*/\1/p'
}

records() {
  curl -fsS --max-time 2 -u "elastic:$ELASTIC_PASSWORD" "http://127.0.0.1:$1/_prometheus/metrics" 2>/dev/null |
    awk '/^tokend_token_records[{ ]/ {s += $NF} END {print s + 0}'
}

echo "elapsed_s,node,data_dir_bytes,raft_db_bytes,snapshots_bytes,applied_index,token_records"
start=$SECONDS
sample() {
  for n in 1 2 3; do
    d="$DIR/node$n"
    echo "$((SECONDS - start)),node$n,$(bytes "$d"),$(bytes "$d"/raft*.db),$(bytes "$d"/snapshots),$(applied $((TOKEND_CLUSTER_HTTP_PORT + n - 1))),$(records $((TOKEND_CLUSTER_HTTP_PORT + n - 1)))"
  done
}
while kill -0 "$LOAD_PID" 2>/dev/null; do
  sample
  for ((i = 0; i < INTERVAL * 10; i++)); do
    kill -0 "$LOAD_PID" 2>/dev/null || break
    sleep 0.1
  done
done
wait "$LOAD_PID" || true
LOAD_PID=
sample
echo "# load: $(tr -d " \n" <"$DIR/load.json")"
