# trainpilot sidecar image.
#
#   DOCKER_BUILDKIT=1 docker build -t trainpilot .
#
# Behind a TLS-intercepting proxy, hand npm the proxy's CA bundle as a build
# secret (it never lands in a layer):
#
#   DOCKER_BUILDKIT=1 docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt -t trainpilot .
#
# No "# syntax=" line on purpose: the builtin Dockerfile frontend is enough, and
# naming one makes BuildKit pull a frontend image, which fails offline.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: compile better-sqlite3 and the TypeScript, then drop dev dependencies
FROM ${NODE_IMAGE} AS build

# better-sqlite3's prebuilt binaries come from GitHub releases, which a build
# that reaches only the npm registry cannot download; compiling from source
# works everywhere and needs python3, make and g++.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# build_from_source: skip the doomed prebuilt download. nodedir: the headers
# that ship with Node under /usr/local/include/node, so node-gyp does not
# download them from nodejs.org.
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

WORKDIR /app

# Dependencies first, in their own layer, so a source change does not
# recompile SQLite. --ignore-scripts skips `prepare` (the sources are not here
# yet); the one dependency with an install script is rebuilt explicitly.
# The `ca` secret is optional: NODE_EXTRA_CA_CERTS adds it to Node's own roots.
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --ignore-scripts \
 && npm rebuild better-sqlite3

COPY . .
# The same `files` as the npm package: bin, dist, dashboards, clients/python.
# Of better-sqlite3's build, only the addon itself is needed at run time (its
# SQLite sources and object files are ~27 MB).
RUN npm run build \
 && npm prune --omit=dev \
 && rm -f dist/.tsbuildinfo \
 && mkdir -p dashboards clients/python \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node . \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv better_sqlite3.node build/Release/

# ---- runtime: production dependencies and built output only
FROM ${NODE_IMAGE}

# A fixed numeric id, so Kubernetes' runAsNonRoot can verify it and a host
# directory mounted at /data can be chowned to it.
RUN groupadd --system --gid 10001 trainpilot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin trainpilot \
 && mkdir /data \
 && chown 10001:10001 /data

WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/dashboards ./dashboards
COPY --from=build /app/clients/python ./clients/python
RUN ln -s /app/bin/trainpilot.js /usr/local/bin/trainpilot

# Defaults as environment (TRAINPILOT_<FLAG>), so `docker run -e` overrides
# them without restating the command. The API stays on the container's
# loopback (a trainer sharing the network namespace reaches it, as in a
# Kubernetes pod); only /metrics and /healthz listen on every interface. To
# publish the API itself, set TRAINPILOT_HOST=0.0.0.0 and a token
# (TRAINPILOT_TOKEN_FILE): the server refuses a non-loopback host without one.
ENV NODE_ENV=production \
    TRAINPILOT_HOST=127.0.0.1 \
    TRAINPILOT_PORT=9477 \
    TRAINPILOT_METRICS_LISTEN=0.0.0.0:9478 \
    TRAINPILOT_DB=/data/trainpilot.db

VOLUME ["/data"]
USER 10001:10001
EXPOSE 9477 9478

# Node's fetch: no curl or wget in the image. 127.0.0.1 answers whether the API
# is bound to loopback or to every interface.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TRAINPILOT_PORT||9477)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# trainpilot is PID 1 and handles SIGTERM itself (graceful shutdown, exit 0).
# node's V8 flags for this image's Node (22, V8 12), which V8 reads only at start:
# a 2 MB young generation and a late TurboFan tier-up during start-up, for the
# 80 MB budget. cli/v8-settings.ts says why and what each measured;
# test/kubernetes.test.ts and test/docker.test.ts hold this line to it, and
# deploy/kubernetes/ repeats it as the containers' command.
ENTRYPOINT ["node", "--max-semi-space-size=2", "--invocation-count-for-turbofan=96000", "/app/bin/trainpilot.js"]
CMD ["serve"]
