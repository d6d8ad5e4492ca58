#!/usr/bin/env bash
# bench.sh — issue 6's measurements in one run: the baselines (raw Raft
# apply throughput, a bare httprouter handler, the data disk's fsync) and
# tokend on a three-node local cluster, side by side, then a table of each
# target with the measured figure, its baseline, the ratio and whether it is
# met. Everything listens on 127.0.0.1 only and is stopped on exit.
#
# Environment:
#   BENCH_SECONDS   length of each load measurement (default 8)
#   BENCH_DIR       binaries, data, logs and raw outputs (default a new /tmp/tokend-bench.*;
#                   removed on exit unless BENCH_KEEP=1)
#   BENCH_KEEP      1 keeps BENCH_DIR
#   BENCH_ONLY      formation: measure only raw Raft and client_credentials
#                   through a follower of three clusters formed without a
#                   secret flag, with --node-secret, and by enrollment tokens
#   BENCH_ROWS      "gateways" runs only issue 12's gateway rows (bench-gateways.inc.sh);
#                   default: everything
#
# Needs Go, curl and wrk (installed with apt-get when missing).
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${BENCH_SECONDS:-8}
# More users than bcrypt can check in a flood's SECS+2 s on this machine
# (~25 checks/s on 2 cores), so that every grant of the flood runs bcrypt.
FLOOD_USERS=${BENCH_FLOOD_USERS:-400}
# ROUNDS: how many times the throughput baselines and the figures compared
# with them are measured (the bare handler and Bearer authenticate in turns),
# so that one noisy window does not decide a ratio; the report takes the
# medians. Raw Raft at 64 appliers ranged from 9,000 to 16,100 applies/s
# between single runs on this machine.
ROUNDS=3
DIR=${BENCH_DIR:-$(mktemp -d /tmp/tokend-bench.XXXXXX)}
PASSWORD=bench-password
SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PIDS=()
BARE_PID=
# NODE_SECRET is the --node-secret of the nodes started (empty: none, the
# generated credential); ENROLL_TOKEN, when set, makes a node enroll with it.
NODE_SECRET=$SECRET
ENROLL_TOKEN=

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}" $BARE_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}" $BARE_PID; do wait "$pid" 2>/dev/null || true; done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "outputs kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_tools() {
  command -v curl >/dev/null || die "curl is required"
  if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  fi
}

build() {
  mkdir -p "$DIR/bin"
  (cd "$ROOT" && for p in cmd/tokend cmd/tokend-bench scripts/bench/rawraft scripts/bench/barehttp scripts/bench/fsync \
    scripts/bench/bigstate; do
    go build -o "$DIR/bin/$(basename "$p")" "./$p"
  done) || die "build failed"
}

# free_port prints a TCP port on 127.0.0.1 nothing listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# wait_http URL [curl args]: poll until URL answers 2xx (60 s at most).
wait_http() {
  local url=$1 deadline=$((SECONDS + 60))
  shift
  until curl -fsS -o /dev/null --max-time 2 "$@" "$url" 2>/dev/null; do
    ((SECONDS < deadline)) || die "$url not ready after 60s (logs in $DIR)"
    sleep 0.3
  done
}

# start_tokend NAME HTTP_PORT [serve flags...]: start a node in the background.
start_tokend() {
  local name=$1 port=$2
  shift 2
  TOKEND_NODE_SECRET=$NODE_SECRET TOKEND_ENROLLMENT_TOKEN=$ENROLL_TOKEN ELASTIC_PASSWORD=$PASSWORD \
    "$DIR/bin/tokend" serve --node-id "$name" \
    --http-addr "127.0.0.1:$port" --raft-addr "127.0.0.1:$(free_port)" --data-dir "$DIR/data/$name" \
    "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  PIDS+=($!)
}

# wait_up PID URL: poll until URL answers 2xx (0), or PID exits (1); 60 s at most.
wait_up() {
  local pid=$1 url=$2 deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null --max-time 2 "${CURL_TLS[@]}" "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || die "$url not ready after 60s (logs in $DIR)"
    sleep 0.3
  done
}

# launch NAME [serve flags...]: start a node on fresh ports until it is up,
# retrying when another process took a port in the meantime; sets PORT.
# SCHEME and CURL_TLS say how to reach it.
launch() {
  local name=$1 try
  shift
  for try in 1 2 3; do
    PORT=$(free_port)
    rm -rf "$DIR/data/$name"
    start_tokend "$name" "$PORT" "$@"
    wait_up "${PIDS[-1]}" "$SCHEME://127.0.0.1:$PORT/_tokend/readyz" && return
    grep -q "address already in use" "$DIR/$name.log" || die "$name exited; see $DIR/$name.log"
    log "$name: a port was taken meanwhile (try $try), retrying"
  done
  die "$name: no free port after 3 tries"
}
SCHEME=http
CURL_TLS=()

# --- parsing helpers --------------------------------------------------------

# wrk_rps FILE: Requests/sec of a wrk output. wrk_p99 FILE: its p99 in ms.
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_p99() {
  awk '$1 == "99%" {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
    print (u == "us" ? v / 1000 : u == "s" ? v * 1000 : u == "m" ? v * 60000 : v)}' "$1"
}
wrk_rps_p99() { echo "$(wrk_rps "$1")/$(wrk_p99 "$1")"; }
wrk_errors() { awk '/Non-2xx|Socket errors/ {print; found = 1} END {if (!found) print "none"}' "$1" | paste -sd';'; }
# bench_field FILE OP COLUMN: a column of tokend-bench's text table (3 req/s, 4 errors, 7 p99 ms).
bench_field() { awk -v op="$2" -v c="$3" '$1 == op {print $c}' "$1"; }
# rawraft_rps FILE APPLIERS: applies/s of that run; raft1_rps, raft64_rps
# and raft256_rps FILE: the same at 1, 64 and 256 appliers.
rawraft_rps() { awk -v a="$2" '$1 == "appliers" && $2 == a {for (i = 1; i < NF; i++) if ($(i + 1) == "applies/s") print $i}' "$1"; }
raft1_rps() { rawraft_rps "$1" 1; }
raft64_rps() { rawraft_rps "$1" 64; }
raft256_rps() { rawraft_rps "$1" 256; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN {print (a >= b ? "met" : "NOT met")}'; }

status_field() {
  curl -fsS --max-time 2 -u "elastic:$PASSWORD" "$1/_tokend/cluster/status" |
    grep -o "\"$2\":[^,}]*" | head -1 | cut -d: -f2 | tr -d '"'
}

# get_token URL: a client_credentials access token from URL.
get_token() {
  curl -fsS --max-time 10 -u "elastic:$PASSWORD" -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials"}' "$1/_security/oauth2/token" | grep -o '"access_token":"[^"]*"' | cut -d'"' -f4
}

# wrk_auth OUT URL HEADER: wrk at 64 connections on URL's authenticate path.
wrk_auth() {
  wrk -t2 -c64 -d"${SECS}s" --latency -H "$3" "$2/_security/_authenticate" >"$1"
}

# wrk_grant FILE CONNECTIONS: client_credentials grants through the follower,
# each with the elastic user's Basic credentials (a Lua script sets the POST).
wrk_grant() {
  cat >"$DIR/grant.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"grant_type":"client_credentials"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic $(printf 'elastic:%s' "$PASSWORD" | base64)"
LUA
  wrk -t"$(($2 > 1 ? 2 : 1))" -c"$2" -d"${SECS}s" --latency -s "$DIR/grant.lua" "$FOLLOWER/_security/oauth2/token" >"$1"
}

# add_flood_users N: creates users flood0..flood<N-1>, all with $PASSWORD, so
# that password grants spread over them miss the credential cache.
add_flood_users() {
  seq 0 $(($1 - 1)) | xargs -P 4 -I{} curl -fsS -o /dev/null --max-time 30 -u "elastic:$PASSWORD" \
    -H 'Content-Type: application/json' -X PUT -d "{\"password\":\"$PASSWORD\",\"roles\":[]}" \
    "$LEADER/_security/user/flood{}" || die "could not create the flood users"
}

# --- baselines --------------------------------------------------------------

baselines() {
  log "baseline: fsync of $DIR's disk"
  "$DIR/bin/fsync" -dir "$DIR" -d 2s | tee "$DIR/fsync.txt" >&2
  log "baseline: raw hashicorp/raft, 3 nodes over TCP, 200-byte entries"
  local i
  for ((i = 1; i <= ROUNDS; i++)); do
    "$DIR/bin/rawraft" -dir "$DIR" -appliers 1,64,256 -d "${SECS}s" | tee "$DIR/rawraft-$i.txt" >&2
  done
  # The bare handler is measured later, in turns with tokend (bearer_rounds).
  log "baseline: starting the bare httprouter handler"
  local port
  port=$(free_port)
  "$DIR/bin/barehttp" -addr "127.0.0.1:$port" &
  # Kept apart from PIDS: stop_cluster, run between the formation rows,
  # stops every process in PIDS, and the bare handler must outlive them.
  BARE_PID=$!
  BARE="http://127.0.0.1:$port"
  wait_http "$BARE/_security/_authenticate"
}

# --- tokend -------------------------------------------------------------------

start_cluster() {
  log "starting a three-node tokend cluster"
  local p n
  HTTP=()
  launch node1 --bootstrap
  HTTP[1]=$PORT
  for n in 2 3; do
    launch "node$n" --join "http://127.0.0.1:${HTTP[1]}"
    HTTP[n]=$PORT
  done
  await_followers
}

# await_followers: wait for a leader and two voting followers among HTTP[1..3];
# sets LEADER and FOLLOWER.
await_followers() {
  # Health counts voters only, so first wait until both joiners are promoted
  # (each reports itself a follower), then for green health.
  local deadline=$((SECONDS + 60)) followers
  while :; do
    followers=0 FOLLOWER='' LEADER=''
    for n in 1 2 3; do
      p="http://127.0.0.1:${HTTP[n]}"
      case $(status_field "$p" state) in
        follower) FOLLOWER=$p followers=$((followers + 1)) ;;
        leader) LEADER=$p ;;
      esac
    done
    [[ $followers == 2 && -n $LEADER ]] && break
    ((SECONDS < deadline)) || die "no leader and two voting followers after 60s (logs in $DIR)"
    sleep 0.3
  done
  wait_http "$LEADER/_cluster/health?wait_for_status=green&timeout=30s" -u "elastic:$PASSWORD"
  log "leader $LEADER, measuring through follower $FOLLOWER"
}

# formation MODE: a three-node cluster formed the MODE way, then
# client_credentials through a follower (wrk -c64, ROUNDS runs) and the
# follower's batching metrics. MODE: noflags (no secret flag: node1 generates
# the credential, the others join with the elastic password), secret
# (--node-secret on every node), enroll (no secret flag: node2 and node3 join
# with tokens from tokend enroll, without the password).
formation() {
  local mode=$1 n i
  log "formation $mode: starting a three-node cluster"
  NODE_SECRET='' HTTP=()
  [[ $mode == secret ]] && NODE_SECRET=$SECRET
  launch node1 --bootstrap
  HTTP[1]=$PORT
  for n in 2 3; do
    if [[ $mode == enroll ]]; then
      ENROLL_TOKEN=$(ELASTIC_PASSWORD=$PASSWORD "$DIR/bin/tokend" enroll --addr "http://127.0.0.1:${HTTP[1]}") ||
        die "tokend enroll failed"
      launch "node$n"
      ENROLL_TOKEN=
    else
      launch "node$n" --join "http://127.0.0.1:${HTTP[1]}"
    fi
    HTTP[n]=$PORT
  done
  await_followers
  for ((i = 1; i <= ROUNDS; i++)); do
    log "formation $mode: client_credentials through the follower, wrk -c64, round $i/$ROUNDS"
    wrk_grant "$DIR/form-$mode-$i.txt" 64
  done
  curl -fsS --max-time 5 -u "elastic:$PASSWORD" "$FOLLOWER/_prometheus/metrics" |
    grep -E '^tokend_token_(batches_forwarded|grants_unbatched)_total ' >"$DIR/form-$mode-metrics.txt" || true
  stop_cluster
  NODE_SECRET=$SECRET
}

# formation_report: the formation rows against raw Raft at 64 appliers.
formation_report() {
  local raft64 mode cc b u
  raft64=$(median_of raft64_rps rawraft)
  echo
  echo "== issue 16: grants through a follower by how the cluster was formed (same run) =="
  row "cluster formed" "grants/s" "raft 64 appliers" "ratio" "batches/unbatched" ""
  for mode in noflags secret enroll; do
    cc=$(median_of wrk_rps "form-$mode")
    b=$(awk '$1 == "tokend_token_batches_forwarded_total" {print $2}' "$DIR/form-$mode-metrics.txt")
    u=$(awk '$1 == "tokend_token_grants_unbatched_total" {print $2}' "$DIR/form-$mode-metrics.txt")
    row "$mode" "$cc/s" "$raft64/s" "$(ratio "$cc" "$raft64")" "${b:-?}/${u:-?}" \
      "rounds: $(rounds_of wrk_rps "form-$mode" | paste -sd' ')"
  done
}

# settle: wait until the cluster is green again (a leader, every voter caught
# up), so a measurement does not start inside an election.
settle() {
  wait_http "$FOLLOWER/_cluster/health?wait_for_status=green&timeout=30s" -u "elastic:$PASSWORD"
}

# bearer_rounds TOKEN: the bare handler and Bearer authenticate on the
# follower with wrk at 64 connections, ROUNDS times each, alternating.
bearer_rounds() {
  local i
  for ((i = 1; i <= ROUNDS; i++)); do
    log "round $i/$ROUNDS: bare handler, then authenticate (Bearer) on the follower, wrk at 64 connections"
    wrk_auth "$DIR/bare-$i.txt" "$BARE" "Authorization: Bearer x"
    wrk_auth "$DIR/bearer-$i.txt" "$FOLLOWER" "Authorization: Bearer $1"
  done
}

# rounds_of FUNC NAME: FUNC of each round's file NAME-1.txt ..., one per line.
rounds_of() {
  local i
  for ((i = 1; i <= ROUNDS; i++)); do "$1" "$DIR/$2-$i.txt"; done
}

# median_of FUNC NAME: the median of rounds_of FUNC NAME.
median_of() { rounds_of "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

tokend_workloads() {
  local token basic i
  token=$(get_token "$FOLLOWER")
  [[ -n $token ]] || die "could not get a token from $FOLLOWER"
  bearer_rounds "$token"
  log "authenticate (Basic) on the follower, wrk at 64 connections"
  basic=$(printf 'elastic:%s' "$PASSWORD" | base64)
  curl -fsS -o /dev/null -H "Authorization: Basic $basic" "$FOLLOWER/_security/_authenticate"
  wrk_auth "$DIR/basic.txt" "$FOLLOWER" "Authorization: Basic $basic"
  for c in 64 1; do
    settle
    log "client_credentials through the follower, $c client(s), wrk"
    for ((i = 1; i <= ROUNDS; i++)); do wrk_grant "$DIR/issue$c-wrk-$i.txt" "$c"; done
    settle
    log "client_credentials through the follower, $c client(s), tokend-bench"
    "$DIR/bin/tokend-bench" -targets "$FOLLOWER" -password "$PASSWORD" -mix client_credentials \
      -c "$c" -d "${SECS}s" >"$DIR/issue$c.txt"
  done
  settle
  log "authenticate p99 at 8 clients, idle"
  "$DIR/bin/tokend-bench" -targets "$FOLLOWER" -password "$PASSWORD" -mix authenticate -c 8 -d "${SECS}s" >"$DIR/auth-idle.txt"
  settle
  # Write floods, for comparison with the bcrypt flood below: one user's
  # password grants, which the credential cache answers, and client_credentials.
  local mix flood
  TERM_BEFORE=$(status_field "$LEADER" term)
  for mix in password client_credentials; do
    log "authenticate p99 at 8 clients during a $mix write flood (32 clients)"
    "$DIR/bin/tokend-bench" -targets "$FOLLOWER" -password "$PASSWORD" -mix "$mix" -c 32 \
      -d "$((SECS + 2))s" >"$DIR/flood-$mix.txt" &
    flood=$!
    sleep 1 # let the flood reach the leader before measuring
    "$DIR/bin/tokend-bench" -targets "$FOLLOWER" -password "$PASSWORD" -mix authenticate -c 8 -d "${SECS}s" \
      >"$DIR/auth-flood-$mix.txt"
    wait "$flood"
    settle
  done
  TERM_AFTER=$(status_field "$LEADER" term)
  log "creating $FLOOD_USERS users for a bcrypt flood"
  add_flood_users "$FLOOD_USERS"
  settle
  log "authenticate p99 at 8 clients during a bcrypt flood (32 clients, $FLOOD_USERS users, cold credential cache)"
  BCRYPT_TERM_BEFORE=$(status_field "$LEADER" term)
  "$DIR/bin/tokend-bench" -targets "$FOLLOWER" -password "$PASSWORD" -mix password -user flood -users "$FLOOD_USERS" \
    -c 32 -d "$((SECS + 2))s" >"$DIR/bcrypt-flood.txt" &
  flood=$!
  sleep 1
  "$DIR/bin/tokend-bench" -targets "$FOLLOWER" -password "$PASSWORD" -mix authenticate -c 8 -d "${SECS}s" >"$DIR/auth-bcrypt.txt"
  wait "$flood"
  BCRYPT_TERM_AFTER=$(status_field "$LEADER" term)
}

stop_cluster() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

# tls_cost: authenticate on a single node over http, then over https.
tls_cost() {
  log "TLS cost: single-node tokend over http and over https, wrk at 64 connections"
  "$DIR/bin/tokend" certs ca --out "$DIR/certs" >/dev/null
  "$DIR/bin/tokend" certs node bench --out "$DIR/certs" --ip 127.0.0.1 >/dev/null
  local plain tls token
  launch plain --bootstrap
  plain=$PORT
  token=$(get_token "http://127.0.0.1:$plain")
  wrk_auth "$DIR/tls-plain.txt" "http://127.0.0.1:$plain" "Authorization: Bearer $token"
  stop_cluster
  SCHEME=https CURL_TLS=(--cacert "$DIR/certs/ca.crt")
  launch tls --bootstrap --tls-cert "$DIR/certs/bench.crt" --tls-key "$DIR/certs/bench.key"
  tls=$PORT
  token=$(curl -fsS --cacert "$DIR/certs/ca.crt" -u "elastic:$PASSWORD" -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials"}' "https://127.0.0.1:$tls/_security/oauth2/token" |
    grep -o '"access_token":"[^"]*"' | cut -d'"' -f4)
  wrk_auth "$DIR/tls-https.txt" "https://127.0.0.1:$tls" "Authorization: Bearer $token"
  stop_cluster
}

# start_big1: restore the 1M-token snapshot offline into a fresh node big1
# on fresh ports and start it, retrying when a port was taken meanwhile;
# sets BIG1_HTTP.
start_big1() {
  local try raft1
  for try in 1 2 3; do
    raft1=$(free_port) BIG1_HTTP=$(free_port)
    rm -rf "$DIR/data/big1"
    "$DIR/bin/tokend" snapshot restore --offline --data-dir "$DIR/data/big1" --node-id big1 \
      --raft-addr "127.0.0.1:$raft1" "$DIR/big.snapshot" >"$DIR/big-restore.txt" 2>&1 || die "offline restore failed"
    TOKEND_NODE_SECRET=$SECRET "$DIR/bin/tokend" serve --node-id big1 --http-addr "127.0.0.1:$BIG1_HTTP" \
      --raft-addr "127.0.0.1:$raft1" --data-dir "$DIR/data/big1" >"$DIR/big1.log" 2>&1 </dev/null &
    PIDS+=($!)
    wait_up "${PIDS[-1]}" "http://127.0.0.1:$BIG1_HTTP/_tokend/readyz" && return
    grep -q "address already in use" "$DIR/big1.log" || die "big1 exited; see $DIR/big1.log"
    log "big1: a port was taken meanwhile (try $try), retrying"
  done
  die "big1: no free port after 3 tries"
}

# join_at_scale: how long a node joining a cluster that holds 1M tokens
# takes to answer a check of one of them. The first node is restored
# offline from a generated 1M-token snapshot; the second starts empty with
# --join, receives the state as a Raft snapshot and restores it. Sets
# JOIN_SECONDS.
join_at_scale() {
  log "a node joining a cluster of 1M tokens"
  "$DIR/bin/bigstate" -n 1000000 -out "$DIR/big.snapshot" -tokens "$DIR/big-tokens.txt" >"$DIR/bigstate.txt" ||
    die "bigstate failed"
  SCHEME=http CURL_TLS=()
  start_big1
  local token start deadline http2 try
  token=$(sed -n 50p "$DIR/big-tokens.txt")
  log "authenticate (Bearer) on a single node holding 1M tokens, wrk at 64 connections"
  wrk_auth "$DIR/big-bearer.txt" "http://127.0.0.1:$BIG1_HTTP" "Authorization: Bearer $token"
  for try in 1 2 3; do
    http2=$(free_port)
    rm -rf "$DIR/data/big2"
    start=$(date +%s%N) deadline=$((SECONDS + 120))
    start_tokend big2 "$http2" --join "http://127.0.0.1:$BIG1_HTTP"
    until curl -fsS -o /dev/null --max-time 2 -H "Authorization: Bearer $token" \
      "http://127.0.0.1:$http2/_security/_authenticate" 2>/dev/null; do
      if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
        grep -q "address already in use" "$DIR/big2.log" || die "big2 exited; see $DIR/big2.log"
        log "big2: a port was taken meanwhile (try $try), retrying"
        continue 2
      fi
      ((SECONDS < deadline)) || die "big2 does not serve 120 s after it started; see $DIR/big2.log"
      sleep 0.05
    done
    JOIN_SECONDS=$(awk -v ns="$(($(date +%s%N) - start))" 'BEGIN {printf "%.2f", ns / 1e9}')
    stop_cluster
    return
  done
  die "big2: no free port after 3 tries"
}

go_benchmarks() {
  log "Go benchmarks: rate limiter check, 1M-token state"
  (cd "$ROOT" && go test -run '^$' -bench 'AuthLimits' -benchmem -count 1 ./api/credentials/) >"$DIR/gobench-ratelimit.txt"
  (cd "$ROOT" && go test -run '^$' -bench 'MillionTokens/access_only' -benchtime 1x -count 1 -timeout 5m ./fsm/) >"$DIR/gobench-million.txt"
}

# --- report -------------------------------------------------------------------

# row NAME MEASURED BASELINE RATIO TARGET VERDICT
row() { printf '%-44s %-16s %-16s %-7s %-20s %s\n' "$@"; }

report() {
  local bare bare99 bearer bearer99 basic raft1 raft64 raft256 cc64 cc1 idle99 bcrypt99 plain https big mix f99
  bare=$(median_of wrk_rps bare) bare99=$(median_of wrk_p99 bare)
  bearer=$(median_of wrk_rps bearer) bearer99=$(median_of wrk_p99 bearer)
  basic=$(wrk_rps "$DIR/basic.txt")
  raft1=$(median_of raft1_rps rawraft) raft64=$(median_of raft64_rps rawraft) raft256=$(median_of raft256_rps rawraft)
  cc64=$(median_of wrk_rps issue64-wrk) cc1=$(median_of wrk_rps issue1-wrk)
  idle99=$(bench_field "$DIR/auth-idle.txt" authenticate 7)
  bcrypt99=$(bench_field "$DIR/auth-bcrypt.txt" authenticate 7)
  plain=$(wrk_rps "$DIR/tls-plain.txt") https=$(wrk_rps "$DIR/tls-https.txt") big=$(wrk_rps "$DIR/big-bearer.txt")

  echo
  echo "== baselines (same run) =="
  cat "$DIR/fsync.txt" "$DIR"/rawraft-*.txt
  echo "raw raft, median of $ROUNDS runs: 1 applier $raft1/s, 64 appliers $raft64/s, 256 appliers $raft256/s"
  echo "bare httprouter handler, wrk -c64 (median of $ROUNDS rounds): $bare req/s, p99 $bare99 ms"
  echo
  echo "== issue 6 targets (2 cores shared by the 3 nodes and the load generator) =="
  row target measured baseline ratio "target" verdict
  row "authenticate Bearer, follower, wrk -c64" "$bearer/s" "bare $bare/s" "$(ratio "$bearer" "$bare")" ">= 0.80" \
    "$(at_least "$(ratio "$bearer" "$bare")" 0.80)"
  row "  its p99" "$bearer99 ms" "bare $bare99 ms" "$(ratio "$bearer99" "$bare99")" "< 10 ms" "$(at_least 10 "$bearer99")"
  echo "  (medians of $ROUNDS rounds in turns with the bare handler; req/s and p99 of each round:" \
    "bare $(rounds_of wrk_rps_p99 bare | paste -sd' '), Bearer $(rounds_of wrk_rps_p99 bearer | paste -sd' '))"
  row "client_credentials via follower, wrk -c64" "$cc64/s" "raft $raft64/s" "$(ratio "$cc64" "$raft64")" ">= 0.70" \
    "$(at_least "$(ratio "$cc64" "$raft64")" 0.70)"
  row "  its p99" "$(median_of wrk_p99 issue64-wrk) ms" "" "" "" ""
  echo "  (client_credentials medians of $ROUNDS wrk runs each; req/s of each: 64 clients" \
    "$(rounds_of wrk_rps issue64-wrk | paste -sd' '), 1 client $(rounds_of wrk_rps issue1-wrk | paste -sd' '))"
  row "client_credentials via follower, wrk -c1" "$cc1/s" "raft $raft1/s" "$(ratio "$cc1" "$raft1")" ">= 0.50" \
    "$(at_least "$(ratio "$cc1" "$raft1")" 0.50)"
  echo "  (the same through tokend-bench, a Go client sharing the cores: 64 clients" \
    "$(bench_field "$DIR/issue64.txt" client_credentials 3)/s, 1 client $(bench_field "$DIR/issue1.txt" client_credentials 3)/s)"
  row "authenticate Basic (cached), follower, -c64" "$basic/s" "Bearer $bearer/s" "$(ratio "$basic" "$bearer")" ">= 0.50" \
    "$(at_least "$(ratio "$basic" "$bearer")" 0.50)"
  row "authenticate p99 under password-grant flood" "$bcrypt99 ms" "idle $idle99 ms" "$(ratio "$bcrypt99" "$idle99")" "<= 2.00" \
    "$(at_least 2 "$(ratio "$bcrypt99" "$idle99")")"
  row "  elections during it (leader term)" "$BCRYPT_TERM_BEFORE -> $BCRYPT_TERM_AFTER" "" "" "unchanged" \
    "$([[ $BCRYPT_TERM_BEFORE == "$BCRYPT_TERM_AFTER" ]] && echo met || echo "NOT met")"
  echo "  (32 clients over $FLOOD_USERS users, so every grant runs bcrypt: $(bench_field "$DIR/bcrypt-flood.txt" password 2) grants," \
    "$(bench_field "$DIR/bcrypt-flood.txt" password 3)/s, errors $(bench_field "$DIR/bcrypt-flood.txt" password 4);" \
    "authenticate $(bench_field "$DIR/auth-bcrypt.txt" authenticate 3)/s, idle $(bench_field "$DIR/auth-idle.txt" authenticate 3)/s)"
  echo "  write floods, no target: 32 clients of grants answered without bcrypt take CPU from the 8 closed-loop"
  echo "  authenticate clients, whose p99 follows their throughput (Little's law):"
  for mix in password client_credentials; do
    f99=$(bench_field "$DIR/auth-flood-$mix.txt" authenticate 7)
    row "    during a $mix flood" "$f99 ms" "idle $idle99 ms" "$(ratio "$f99" "$idle99")" "" ""
    echo "      ($mix grants $(bench_field "$DIR/flood-$mix.txt" "$mix" 3)/s, errors $(bench_field "$DIR/flood-$mix.txt" "$mix" 4);" \
      "authenticate $(bench_field "$DIR/auth-flood-$mix.txt" authenticate 3)/s)"
  done
  row "  elections during them (leader term)" "$TERM_BEFORE -> $TERM_AFTER" "" "" "unchanged" \
    "$([[ $TERM_BEFORE == "$TERM_AFTER" ]] && echo met || echo "NOT met")"
  echo "  (raw raft at 256 appliers: $raft256/s; errors: bearer $(wrk_errors "$DIR/bearer-1.txt"), basic $(wrk_errors "$DIR/basic.txt")," \
    "issue64 $(wrk_errors "$DIR/issue64-wrk-1.txt"), issue1 $(wrk_errors "$DIR/issue1-wrk-1.txt"))"
  echo
  echo "== state at 1M tokens (go test -bench MillionTokens ./fsm) =="
  grep -E '^Benchmark' "$DIR/gobench-million.txt" || cat "$DIR/gobench-million.txt"
  echo "targets: <= 250 heap-B/token, snapshot < 2 s, restore < 3 s"
  row "joining node serves, cluster of 1M tokens" "$JOIN_SECONDS s" "" "" "<= 10 s" "$(at_least 10 "$JOIN_SECONDS")"
  row "authenticate Bearer, 1M tokens, wrk -c64" "$big/s" "empty $plain/s" "$(ratio "$big" "$plain")" "" \
    "p99 $(wrk_p99 "$DIR/big-bearer.txt") ms, empty $(wrk_p99 "$DIR/tls-plain.txt") ms (single node)"
  echo
  echo "== issue 4 note: cost of TLS and of the rate limiter =="
  echo "single node, authenticate Bearer, wrk -c64: http $plain/s, https $https/s (https/http $(ratio "$https" "$plain"))"
  grep -E '^Benchmark' "$DIR/gobench-ratelimit.txt" || cat "$DIR/gobench-ratelimit.txt"
  echo "(the limiter is consulted only for passwords: Basic authentication and the password grant, not Bearer)"
}

# shellcheck source=bench-gateways.inc.sh
source "$ROOT/scripts/bench-gateways.inc.sh"

cd "$ROOT"
mkdir -p "$DIR/data"
need_tools
log "building into $DIR/bin"
build
if [[ ${BENCH_ONLY:-} == formation ]]; then
  for ((i = 1; i <= ROUNDS; i++)); do
    "$DIR/bin/rawraft" -dir "$DIR" -appliers 64 -d "${SECS}s" | tee "$DIR/rawraft-$i.txt" >&2
  done
  for mode in noflags secret enroll; do formation "$mode"; done
  formation_report
  exit 0
fi
if [[ ${BENCH_ROWS:-all} == gateways ]]; then
  port=$(free_port)
  "$DIR/bin/barehttp" -addr "127.0.0.1:$port" &
  PIDS+=($!)
  BARE="http://127.0.0.1:$port"
  wait_http "$BARE/_security/_authenticate"
  start_cluster
  gateway_rows
  gateway_report
  exit 0
fi
baselines
for mode in noflags secret enroll; do formation "$mode"; done
start_cluster
tokend_workloads
gateway_rows
stop_cluster
tls_cost
join_at_scale
go_benchmarks
report
formation_report
gateway_report
