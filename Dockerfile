# harvester's container image (README "In a container").
#   podman build --format docker -t harvester .        (docker build -t harvester .)
# An offline build passes a base it made itself (.ci/run: test/container/base.sh):
#   --build-arg NODE_IMAGE=localhost/node:22-bookworm-slim
# Behind a TLS-inspecting proxy, lend its CA to the build stage only:
#   -v /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro --build-arg NODE_EXTRA_CA_CERTS=/run/build-ca.crt
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: every dependency, tsc, the worker bundle; then only what runs ----
FROM ${NODE_IMAGE} AS build
# Read by node and npm in this stage's RUN steps only: an ARG is not kept in the final image.
ARG NODE_EXTRA_CA_CERTS
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing is compiled. better-sqlite3 12 (the store's driver on Node 20
# only) would be built from source, and node-gyp cannot fetch Node's headers offline;
# on Node 22 the store loads better-sqlite3 13, whose binaries come in the package
# (src/transfers/store/driver.ts), and esbuild's binary is its platform package.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/bundle-workers.js scripts/
COPY src src
COPY workers workers
RUN npm run build
# The production tree: no devDependencies, no better-sqlite3 12 (never loaded on Node 22),
# and of better-sqlite3 13 only this platform's binary (not the sources, not other platforms').
RUN npm pkg delete dependencies.better-sqlite3 \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && node -e "process.exit(require('./dist/src/transfers/store/driver.js').DRIVER === 'better-sqlite3@13' ? 0 : 1)" \
 && cd node_modules/better-sqlite3-napi \
 && find prebuilds -type f ! -name "linux-$(node -p process.arch).node" -delete \
 && rm -rf deps src build binding.gyp

# ---- the image: node, the production node_modules, dist/ ----
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HARVESTER_LOG_FORMAT=json \
    DOWNLOAD_DIR=/downloads \
    LOCAL_SEEDBOX_DIR=/seedbox \
    DB_PATH=/config/harvester.db \
    WEB_BIND_ADDRESS=0.0.0.0:9091 \
    HTTP_BIND=0.0.0.0:9092 \
    PUID=1000 \
    PGID=1000 \
    UMASK=002
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist/src dist/src
COPY --from=build /app/dist/workers dist/workers
# `docker exec <name> harvester status|login putio|...` goes through the same entrypoint
# (as PUID:PGID); new named volumes start owned by the default 1000:1000.
RUN printf '#!/bin/sh\nexec node /app/dist/src/container/entrypoint.js "$@"\n' > /usr/local/bin/harvester \
 && chmod 755 /usr/local/bin/harvester \
 && mkdir -p /config /downloads /seedbox \
 && chown 1000:1000 /config /downloads /seedbox
EXPOSE 9091 9092
VOLUME /config /downloads
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/dist/src/container/healthcheck.js"]
# Node is PID 1 and handles SIGTERM itself: every loop stops gracefully, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/src/container/entrypoint.js"]
CMD ["run"]
