#!/usr/bin/env bash
# compose-certs.sh [DIR] — creates the certificates deploy/docker-compose.yml
# mounts: a cluster CA and one certificate per node (tokend1..tokend3 and the
# replicas tokend-replica1 and tokend-replica2 of the "replicas" profile, named
# by service name, localhost and 127.0.0.1 so that clients on the host can
# use the published ports). Existing files are kept. DIR defaults to
# $TOKEND_CERTS_DIR or deploy/certs.
#
# The containers run as uid 65532, which must read the keys: run as root,
# the keys are given to that uid (mode 0600); otherwise they are made
# readable by every local user (mode 0644), which is only fit for a trial.
# The CA key (ca.key) stays with whoever ran the script and is not mounted
# by any container: keep it offline once the nodes have their certificates.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-${TOKEND_CERTS_DIR:-$ROOT/deploy/certs}}
NODES=(tokend1 tokend2 tokend3 tokend-replica1 tokend-replica2)
RUNTIME_UID=65532

die() { echo "compose-certs.sh: $*" >&2; exit 1; }
command -v go >/dev/null || die "go is required (Go 1.26, see README)"

bin=$(mktemp -d "${TMPDIR:-/tmp}/tokend-certs.XXXXXX")
trap 'rm -rf "$bin"' EXIT
(cd "$ROOT" && go build -o "$bin/tokend" ./cmd/tokend) || die "go build failed"

mkdir -p "$DIR"
chmod 0755 "$DIR" # the bind mount's root: the containers' user must list it
[[ -f $DIR/ca.crt ]] || "$bin/tokend" certs ca --out "$DIR"
for n in "${NODES[@]}"; do
  [[ -f $DIR/$n.crt ]] || "$bin/tokend" certs node "$n" --out "$DIR" --dns "$n,localhost" --ip 127.0.0.1
  if [[ $(id -u) == 0 ]]; then
    chown "$RUNTIME_UID:$RUNTIME_UID" "$DIR/$n.key"
  else
    chmod 0644 "$DIR/$n.key"
    echo "compose-certs.sh: $DIR/$n.key is readable by every local user (not root: cannot give it to uid $RUNTIME_UID)" >&2
  fi
done
echo "certificates in $DIR; clients trust $DIR/ca.crt"
