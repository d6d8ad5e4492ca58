# Sourced by bench.sh: issue 12's gateway rows (BENCH_ROWS=gateways runs
# only these). Introspection and /_tokend/auth on a follower against the
# bare handler, and nginx in front of the bare handler with and without
# auth_request (asking the follower), all with wrk at 64 connections, in
# turns, ROUNDS times; then, in each round, the same two checks and
# authenticate through tokend-bench, a Go client, at 64 connections.

# wrk_introspect OUT TOKEN: POST /oauth2/introspect on the follower as elastic.
wrk_introspect() {
  cat >"$DIR/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body = "token=$2"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf 'elastic:%s' "$PASSWORD" | base64)"
LUA
  wrk -t2 -c64 -d"${SECS}s" --latency -s "$DIR/introspect.lua" "$FOLLOWER/oauth2/introspect" >"$1"
}

# start_nginx NAME PORT AUTH: nginx on PORT proxying to the bare handler,
# with auth_request to the follower's /_tokend/auth when AUTH is 1.
start_nginx() {
  local name=$1 port=$2 auth=$3 prefix="$DIR/$1" check=""
  mkdir -p "$prefix"
  if [[ $auth == 1 ]]; then
    check="auth_request /_tokend_auth;
            auth_request_set \$tokend_user \$upstream_http_x_tokend_user;
            proxy_set_header X-Tokend-User \$tokend_user;"
  fi
  cat >"$prefix/nginx.conf" <<CONF
worker_processes auto;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $prefix/body;
    proxy_temp_path $prefix/proxy;
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    upstream app { server ${BARE#http://}; keepalive 64; }
    upstream tokend { server ${FOLLOWER#http://}; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        location = /_tokend_auth {
            internal;
            proxy_pass http://tokend/_tokend/auth;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location / {
            $check
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
    }
}
CONF
  "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g 'daemon off;' </dev/null >"$prefix/out.log" 2>&1 &
  PIDS+=($!)
}

gateway_rows() {
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  [[ -x $NGINX ]] || { apt-get install -y -qq nginx-light >/dev/null 2>&1 || die "nginx is missing"; NGINX=/usr/sbin/nginx; }
  local token i op plainport authport
  token=$(get_token "$FOLLOWER")
  [[ -n $token ]] || die "could not get a token from $FOLLOWER"
  plainport=$(free_port)
  start_nginx nginx-plain "$plainport" 0
  authport=$(free_port)
  start_nginx nginx-auth "$authport" 1
  wait_http "http://127.0.0.1:$plainport/_security/_authenticate"
  wait_http "http://127.0.0.1:$authport/_security/_authenticate" -H "Authorization: Bearer $token"
  for ((i = 1; i <= ROUNDS; i++)); do
    log "gateways round $i/$ROUNDS: bare handler, introspect, /_tokend/auth (follower), nginx without and with auth_request"
    wrk_auth "$DIR/gw-bare-$i.txt" "$BARE" "Authorization: Bearer x"
    wrk_introspect "$DIR/gw-introspect-$i.txt" "$token"
    wrk -t2 -c64 -d"${SECS}s" --latency -H "Authorization: Bearer $token" "$FOLLOWER/_tokend/auth" >"$DIR/gw-fwd-$i.txt"
    wrk_auth "$DIR/gw-nginx-plain-$i.txt" "http://127.0.0.1:$plainport" "Authorization: Bearer $token"
    wrk_auth "$DIR/gw-nginx-auth-$i.txt" "http://127.0.0.1:$authport" "Authorization: Bearer $token"
    for op in authenticate introspect forward_auth; do
      "$DIR/bin/tokend-bench" -targets "$FOLLOWER" -password "$PASSWORD" -mix "$op" -c 64 -d "${SECS}s" >"$DIR/gw-go-$op-$i.txt"
    done
  done
}

# go_rps FILE, go_p99 FILE: req/s and p99 (ms) of a tokend-bench run of one operation.
go_rps() { awk '$1 ~ /^(authenticate|introspect|forward_auth)$/ {print $3}' "$1"; }
go_p99() { awk '$1 ~ /^(authenticate|introspect|forward_auth)$/ {print $7}' "$1"; }
go_rps_p99() { echo "$(go_rps "$1")/$(go_p99 "$1")"; }

gateway_report() {
  local bare intro fwd plain auth
  bare=$(median_of wrk_rps gw-bare) intro=$(median_of wrk_rps gw-introspect) fwd=$(median_of wrk_rps gw-fwd)
  plain=$(median_of wrk_rps gw-nginx-plain) auth=$(median_of wrk_rps gw-nginx-auth)
  echo
  echo "== issue 12 gateway targets (medians of $ROUNDS rounds in turns; 2 shared cores) =="
  row target measured baseline ratio "target" verdict
  row "introspect, follower, wrk -c64" "$intro/s" "bare $bare/s" "$(ratio "$intro" "$bare")" ">= 0.80" \
    "$(at_least "$(ratio "$intro" "$bare")" 0.80)"
  row "  its p99" "$(median_of wrk_p99 gw-introspect) ms" "bare $(median_of wrk_p99 gw-bare) ms" "" "< 10 ms" \
    "$(at_least 10 "$(median_of wrk_p99 gw-introspect)")"
  row "/_tokend/auth, follower, wrk -c64" "$fwd/s" "bare $bare/s" "$(ratio "$fwd" "$bare")" ">= 0.85" \
    "$(at_least "$(ratio "$fwd" "$bare")" 0.85)"
  row "  its p99" "$(median_of wrk_p99 gw-fwd) ms" "" "" "< 10 ms" "$(at_least 10 "$(median_of wrk_p99 gw-fwd)")"
  row "nginx auth_request, wrk -c64" "$auth/s" "no auth $plain/s" "$(ratio "$auth" "$plain")" ">= 0.50" \
    "$(at_least "$(ratio "$auth" "$plain")" 0.50)"
  row "  its p99" "$(median_of wrk_p99 gw-nginx-auth) ms" "no auth $(median_of wrk_p99 gw-nginx-plain) ms" "" "< 10 ms" \
    "$(at_least 10 "$(median_of wrk_p99 gw-nginx-auth)")"
  echo "  (req/s and p99 per round: bare $(rounds_of wrk_rps_p99 gw-bare | paste -sd' '), introspect" \
    "$(rounds_of wrk_rps_p99 gw-introspect | paste -sd' '), auth $(rounds_of wrk_rps_p99 gw-fwd | paste -sd' ')," \
    "nginx $(rounds_of wrk_rps_p99 gw-nginx-plain | paste -sd' '), nginx+auth $(rounds_of wrk_rps_p99 gw-nginx-auth | paste -sd' '))"
  echo "  (errors: introspect $(wrk_errors "$DIR/gw-introspect-1.txt"), auth $(wrk_errors "$DIR/gw-fwd-1.txt")," \
    "nginx+auth $(wrk_errors "$DIR/gw-nginx-auth-1.txt"))"
  local goauth gointro gofwd
  goauth=$(median_of go_rps gw-go-authenticate) gointro=$(median_of go_rps gw-go-introspect) gofwd=$(median_of go_rps gw-go-forward_auth)
  echo "  Go client (tokend-bench -c64, follower), no target; baseline: authenticate (Bearer) in the same rounds:"
  row "    introspect" "$gointro/s" "auth'e $goauth/s" "$(ratio "$gointro" "$goauth")" "" \
    "p99 $(median_of go_p99 gw-go-introspect) ms, authenticate $(median_of go_p99 gw-go-authenticate) ms"
  row "    /_tokend/auth" "$gofwd/s" "auth'e $goauth/s" "$(ratio "$gofwd" "$goauth")" "" "p99 $(median_of go_p99 gw-go-forward_auth) ms"
  echo "    (req/s and p99 per round: authenticate $(rounds_of go_rps_p99 gw-go-authenticate | paste -sd' ')," \
    "introspect $(rounds_of go_rps_p99 gw-go-introspect | paste -sd' '), /_tokend/auth $(rounds_of go_rps_p99 gw-go-forward_auth | paste -sd' '))"
}
