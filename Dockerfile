# syntax=docker/dockerfile:1
# One image for the four services and standalone mode. Pick the service with
# SERVICE (catalog | ingestor | thredds-proxy | scratch-quota | standalone) or by
# passing `node dist/apps/<service>/src/main.js` as the command (the Helm chart does).
# Size budget: runtime image <= 500 MB: node:20-bookworm-slim ~200 MB, plus the app tree
# (production node_modules + dist) <= 300 MB — measured 253 MB, of which node-red brings 53 MB
# and npm 19 MB, and i18next (through node-red) typescript 23 MB. test/deploy/image.e2e-spec.ts
# replays the stages without a container engine and checks the app tree against that budget.

ARG NODE_VERSION=20

# --- build: dev dependencies, TypeScript to dist/ ---
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

# --- deps: production dependencies only ---
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime: non-root, read-only friendly, no compilers ---
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 climcat \
 && useradd --uid 10001 --gid climcat --home-dir /var/lib/climcat --create-home --shell /usr/sbin/nologin climcat
WORKDIR /app
ENV NODE_ENV=production \
    SERVICE=standalone \
    STATE_DIR=/var/lib/climcat \
    HOST=0.0.0.0
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The Node-RED node package is plain JavaScript loaded from the tree, beside the code.
COPY apps/ingestor/node-red ./apps/ingestor/node-red
# The Helm chart's purge CronJob runs this.
COPY scripts/purge-run.js ./scripts/purge-run.js
USER 10001:10001
# standalone 8080; catalog 3000, ingestor 3001, thredds-proxy 3002, scratch-quota 3003.
EXPOSE 8080 3000 3001 3002 3003
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const p=process.env.PORT||{standalone:8080,catalog:3000,ingestor:3001,'thredds-proxy':3002,'scratch-quota':3003}[process.env.SERVICE];fetch('http://127.0.0.1:'+p+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini forwards SIGTERM to node (which drains and closes) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["sh", "-c", "exec node dist/apps/${SERVICE}/src/main.js"]
