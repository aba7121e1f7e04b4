# kirana: multi-stage build. The runtime image holds the binary, the
# plugins and their shared libraries, and runs as a non-root user.
FROM debian:bookworm-slim AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ca-certificates nodejs npm \
      libh2o-evloop-dev libssl-dev libjansson-dev libyaml-dev libpq-dev libhiredis-dev \
      libmsgpack-dev libsodium-dev libcurl4-openssl-dev libjwt-dev libmongoc-dev libbson-dev libcmocka-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=/opt/kirana \
    && cmake --build /build -j"$(nproc)" \
    && cmake --install /build

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl libh2o-evloop0.13 libssl3 libjansson4 libyaml-0-2 libpq5 libhiredis0.14 \
      libmsgpackc2 libsodium23 libcurl4 libjwt0 libmongoc-1.0-0 libbson-1.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin kirana
COPY --from=build /opt/kirana /opt/kirana
COPY config/production.yaml /etc/kirana/kirana.yaml
USER kirana
# libmongoc: no /dev/shm counters file per process (see docs/kirana.service)
ENV MONGOC_DISABLE_SHM=1
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --retries=3 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/opt/kirana/bin/kirana"]
CMD ["--config", "/etc/kirana/kirana.yaml"]
