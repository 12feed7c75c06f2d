# syntax=docker/dockerfile:1
#
# The test and demo broker's image: tansu 0.6.0 (https://github.com/tansu-io/tansu), a
# Kafka-protocol broker with SQLite storage. tansu is AGPL-3.0: Weir runs it as a separate
# program and never links it. From the repository root:
#
#   docker build -f deploy/tansu.Dockerfile -t weir-tansu:0.6.0 .
#
# Where no registry is reachable, scripts/images assembles the same image from the binary
# scripts/test-broker installs, with deploy/image/tansu.Containerfile. Everything from the
# "runtime image" line down is identical in both files.

ARG RUST_VERSION=1.95
ARG TANSU_VERSION=0.6.0
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
ARG TANSU_VERSION
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo install tansu --version "${TANSU_VERSION}" --features dynostore,libsql --locked \
        --root /opt/tansu
COPY deploy/image/rootfs /usr/local/bin/rootfs
RUN rootfs /rootfs /opt/tansu/bin/tansu:/usr/local/bin/tansu && mkdir /empty

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /empty/ /var/lib/tansu
# --- runtime image ---
USER 65532:65532
WORKDIR /var/lib/tansu
# SQLite storage in the volume: topics, records and committed offsets survive a restart.
# ADVERTISED_LISTENER_URL must be an address the clients can reach: set it per deployment.
ENV LISTENER_URL=tcp://0.0.0.0:9092 \
    ADVERTISED_LISTENER_URL=tcp://localhost:9092 \
    STORAGE_ENGINE=sqlite://tansu.db
EXPOSE 9092
VOLUME /var/lib/tansu
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tansu"]
CMD ["broker"]
LABEL org.opencontainers.image.title="tansu" \
      org.opencontainers.image.description="tansu 0.6.0, a Kafka-protocol broker (test and demo use)" \
      org.opencontainers.image.licenses="AGPL-3.0-only" \
      org.opencontainers.image.source="https://github.com/tansu-io/tansu"
