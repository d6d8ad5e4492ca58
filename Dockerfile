# tokend in an image built FROM scratch: no base image is pulled, so the
# build works on a machine without registry access. The build context is not
# the repository: scripts/docker-build.sh prepares a directory holding
#   tokend   the static binary (CGO_ENABLED=0 go build ./cmd/tokend)
#   data/    an empty directory, copied as /data owned by the runtime user
# and runs `docker build -f Dockerfile <that directory>`.
#
# scratch has no shell, no CA certificates and no time zone data; tokend
# needs none of them: it trusts the cluster CA named by --cluster-ca (mounted
# with the node certificates, see deploy/docker-compose.yml) and logs in UTC.
FROM scratch

COPY tokend /tokend
# /data is created here, owned by the runtime user: Docker copies that
# ownership into a named volume the first time it is mounted on /data.
# A bind-mounted host directory must be writable by uid 65532 instead.
COPY --chown=65532:65532 data /data

# Numeric, so no /etc/passwd is needed. 65532 is the usual "nonroot" uid.
USER 65532:65532

# Listen on every interface inside the container; the advertised addresses
# (--advertise-http, --advertise-raft) must still name this container.
ENV TOKEND_HTTP_ADDR=0.0.0.0:9200 \
    TOKEND_RAFT_ADDR=0.0.0.0:9300 \
    TOKEND_DATA_DIR=/data

VOLUME ["/data"]
EXPOSE 9200 9300

# `tokend probe` asks this container's node for GET /_tokend/readyz (no
# credentials): over https when TOKEND_TLS_CERT is set, trusting
# TOKEND_CLUSTER_CA (or TOKEND_CA_CERT). Healthy once the node is in a
# cluster with a leader and has applied the log it holds.
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 CMD ["/tokend", "probe"]

ENTRYPOINT ["/tokend"]
CMD ["serve"]
