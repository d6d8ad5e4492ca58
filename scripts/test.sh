#!/usr/bin/env bash
# The project's test command (README "Test"): formatting, vet, then every
# package's tests with the race detector, including the in-process Raft
# cluster tests and the end-to-end tests against built tokend binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 -timeout 20m "$@" ./...
# The 1M-token backup test skips itself under -race (too slow there); run it plainly.
go test -count=1 -timeout 10m -run '^TestBackup_MillionTokens' ./raftnode/
# Short fuzz runs over the committed seed corpora (testdata/fuzz): hostile
# request bodies, Authorization headers, Raft commands and snapshot streams.
# One target per invocation, as go test -fuzz requires. Each runs a fixed
# number of executions (about 8 s here) rather than a duration: Go 1.26's
# fuzz coordinator can fail a duration-bounded run with a spurious "context
# deadline exceeded" at the deadline (go.dev/issue/75804, fixed in Go 1.27).
# FUZZTIME (e.g. 10m) replaces every budget for a longer local run.
for target in api:FuzzDecodeTokenRequest:20000x api:FuzzDecodeInvalidateRequest:20000x \
  api:FuzzDecodeUserRequest:40000x api:FuzzParseAuthorization:80000x fsm:FuzzDecode:150000x \
  snapshot:FuzzReader:200000x; do
  IFS=: read -r pkg name budget <<<"$target"
  go test -count=1 -run '^$' -fuzz "^${name}\$" -fuzztime "${FUZZTIME:-$budget}" "./$pkg/"
done
