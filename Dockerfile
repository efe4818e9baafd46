# syntax=docker/dockerfile:1
#
# preview-bot image: Node 24, production dependencies only, non-root (uid 1000), with the PostgreSQL client tools
# (pg_dump/pg_restore for backups), kustomize and helm (for repositories whose previews are kustomizations or charts),
# both at the versions the tests build from the Go module proxy (tools/kustomize/go.mod, tools/helm/go.mod), and
# preview-sandbox, the renderer's process sandbox, built from tools/sandbox with the modules its go.sum pins.
#
#   docker build -t preview-bot .
#   docker build --build-arg PG_MAJOR=16 -t preview-bot:pg16 .      # pg_dump must be >= your servers' major
#
# Build arguments:
#   GO_IMAGE            the Go toolchain image for the sandbox stage (default: the Go release tools/sandbox/go.mod names).
#   PG_MAJOR            PostgreSQL client major from the PGDG apt repository (default 17).
#   KUSTOMIZE_VERSION   kustomize release (default 5.8.1). When you change it, change both checksums too:
#   KUSTOMIZE_SHA256_AMD64 / KUSTOMIZE_SHA256_ARM64
#                       sha256 of kustomize_v<version>_linux_<arch>.tar.gz, from the release's checksums.txt:
#                         curl -fsSL https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv<version>/checksums.txt | grep linux_
#   HELM_VERSION        helm release (default 3.22.0). When you change it, change both checksums too:
#   HELM_SHA256_AMD64 / HELM_SHA256_ARM64
#                       sha256 of helm-v<version>-linux-<arch>.tar.gz: https://get.helm.sh/helm-v<version>-linux-<arch>.tar.gz.sha256sum
#                       (written here, not fetched beside the archive: a checksum from the same host proves nothing)
# The build fails if a download does not match its checksum or the PGDG key does not have the expected fingerprint.

ARG NODE_IMAGE=node:24-bookworm-slim
ARG GO_IMAGE=golang:1.26-bookworm

# ---- build: compile TypeScript ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production node_modules only ------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- tools: fetch and verify kustomize and the PGDG signing key -------------------------------------------------
FROM ${NODE_IMAGE} AS tools
ARG TARGETARCH
ARG KUSTOMIZE_VERSION=5.8.1
ARG KUSTOMIZE_SHA256_AMD64=029a7f0f4e1932c52a0476cf02a0fd855c0bb85694b82c338fc648dcb53a819d
ARG KUSTOMIZE_SHA256_ARM64=0953ea3e476f66d6ddfcd911d750f5167b9365aa9491b2326398e289fef2c142
ARG HELM_VERSION=3.22.0
ARG HELM_SHA256_AMD64=1e4ab49e429626cf6c6958d914248b78c9730803c2751b87627e171dc800e7bb
ARG HELM_SHA256_ARM64=f14e804dfee240f55525b667488fe9adca349e63e00c9af634c0beb1421ac310
# https://www.postgresql.org/download/linux/debian/ — the repository key ACCC4CF8, checked by full fingerprint.
ARG PGDG_KEY_FINGERPRINT=B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl gnupg; \
    rm -rf /var/lib/apt/lists/*
RUN set -eux; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    case "$arch" in \
      amd64) sum="$KUSTOMIZE_SHA256_AMD64" ;; \
      arm64) sum="$KUSTOMIZE_SHA256_ARM64" ;; \
      *) echo "no kustomize checksum for architecture $arch" >&2; exit 1 ;; \
    esac; \
    curl -fsSL -o /tmp/kustomize.tar.gz \
      "https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv${KUSTOMIZE_VERSION}/kustomize_v${KUSTOMIZE_VERSION}_linux_${arch}.tar.gz"; \
    echo "${sum}  /tmp/kustomize.tar.gz" | sha256sum -c -; \
    tar -xzf /tmp/kustomize.tar.gz -C /usr/local/bin kustomize; \
    chmod 0755 /usr/local/bin/kustomize; \
    /usr/local/bin/kustomize version
RUN set -eux; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    case "$arch" in \
      amd64) sum="$HELM_SHA256_AMD64" ;; \
      arm64) sum="$HELM_SHA256_ARM64" ;; \
      *) echo "no helm checksum for architecture $arch" >&2; exit 1 ;; \
    esac; \
    curl -fsSL -o /tmp/helm.tar.gz "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${arch}.tar.gz"; \
    echo "${sum}  /tmp/helm.tar.gz" | sha256sum -c -; \
    tar -xzf /tmp/helm.tar.gz -C /tmp "linux-${arch}/helm"; \
    install -m 0755 "/tmp/linux-${arch}/helm" /usr/local/bin/helm; \
    /usr/local/bin/helm version --short
RUN set -eux; \
    curl -fsSL -o /tmp/pgdg.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    fpr="$(gpg --batch --show-keys --with-colons /tmp/pgdg.asc | awk -F: '$1 == "fpr" { print $10; exit }')"; \
    if [ "$fpr" != "$PGDG_KEY_FINGERPRINT" ]; then echo "PGDG key fingerprint $fpr != $PGDG_KEY_FINGERPRINT" >&2; exit 1; fi

# ---- sandbox: build preview-sandbox (tools/sandbox), static, with the modules tools/sandbox/go.sum pins ---------
FROM ${GO_IMAGE} AS sandbox
WORKDIR /src
COPY tools/sandbox/go.mod tools/sandbox/go.sum ./
RUN go mod download && go mod verify
COPY tools/sandbox/ ./
RUN set -eux; \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/preview-sandbox .; \
    /out/preview-sandbox --help >/dev/null

# ---- runtime ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG PG_MAJOR=17
LABEL org.opencontainers.image.title="preview-bot" \
      org.opencontainers.image.description="Preview environments on Kubernetes for every pull request, with a database each" \
      org.opencontainers.image.licenses="MIT"

# PostgreSQL client tools from PGDG, the suite pinned to bookworm-pgdg and trusted only through its own key.
COPY --from=tools /tmp/pgdg.asc /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
    rm -rf /var/lib/apt/lists/*; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump" --version
COPY --from=tools /usr/local/bin/kustomize /usr/local/bin/kustomize
COPY --from=tools /usr/local/bin/helm /usr/local/bin/helm
COPY --from=sandbox /out/preview-sandbox /usr/local/bin/preview-sandbox

WORKDIR /app
COPY --chown=root:root package.json package-lock.json app.yml ./
# The bot's RBAC as shipped: `preview-bot render` checks a render's kinds against it (src/services/preview/preflight).
COPY --chown=root:root deploy/base/rbac.yaml ./deploy/base/rbac.yaml
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# `docker run <image> preview-bot render …` works like `npx preview-bot` (the CLI resolves the link).
RUN chmod 0755 /app/dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/preview-bot

# Settings the app reads (src/env.ts, backups): the exact client binaries, and scratch space on a writable volume.
ENV NODE_ENV=production \
    PORT=3000 \
    PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin \
    WORK_DIR=/tmp/preview-bot

# The image's own `node` user (uid/gid 1000); the app's files stay root-owned and read-only to it.
USER 1000:1000
EXPOSE 3000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server.js"]
