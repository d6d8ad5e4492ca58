#!/usr/bin/env bash
# docker-build.sh — builds the tokend image (Dockerfile, FROM scratch) in one
# command: a static binary (CGO_ENABLED=0) for the Docker engine's
# architecture, then `docker build` over a context directory that holds only
# that binary and an empty data/ directory. Nothing is pulled from a registry.
#
# Environment:
#   TOKEND_IMAGE   tag to build (default tokend:dev)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${TOKEND_IMAGE:-tokend:dev}

die() { echo "docker-build.sh: $*" >&2; exit 1; }

command -v go >/dev/null || die "go is required (Go 1.26, see README)"
command -v docker >/dev/null || die "docker is required"
arch=$(docker version --format '{{.Server.Arch}}') || die "the Docker engine does not answer"

ctx=$(mktemp -d "${TMPDIR:-/tmp}/tokend-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT

(cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch \
  go build -trimpath -ldflags='-s -w' -o "$ctx/tokend" ./cmd/tokend) || die "go build failed"
mkdir -m 0700 "$ctx/data"

docker build --quiet -f "$ROOT/Dockerfile" -t "$IMAGE" "$ctx" >/dev/null || die "docker build failed"
echo "built $IMAGE"
