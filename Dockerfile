# syntax=docker/dockerfile:1
#
# Vigil's production image. Multi-stage: the TypeScript build and the development dependencies
# never reach the runtime image, which holds only production dependencies, dist/, the built web
# console (console/dist), migrations/,
# the CLI launcher and package.json, and runs as the unprivileged "node" user.
#
#   docker build -t vigil .
#   docker run --rm -p 8080:8080 --env-file .env vigil         (see .env.example)
#
# The base is the current Node.js LTS line on Debian bookworm, slim variant, pinned by major
# version; pin a digest (node:26-bookworm-slim@sha256:…) where builds must be reproducible.
ARG NODE_IMAGE=node:26-bookworm-slim

# --- deps: every dependency, exactly as locked -------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# npm ci runs the `prepare` script, which builds the web console (console/ → console/dist).
COPY console ./console
RUN npm ci --no-audit --no-fund

# --- build: TypeScript → dist/ (tsconfig.build.json, relative .ts imports rewritten to .js) ----
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: production dependencies only ---------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the console is built in the deps stage; its build tools are dev dependencies.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/vigil \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
# Code and dependencies belong to root and are read-only for the service user; only DATA_DIR
# (the embedded database when DATABASE_URL is not set) is writable.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=deps /app/console/dist ./console/dist
COPY package.json ./
COPY migrations ./migrations
COPY bin ./bin
COPY scripts/healthcheck.mjs ./scripts/healthcheck.mjs
RUN mkdir -p /var/lib/vigil && chown node:node /var/lib/vigil
VOLUME ["/var/lib/vigil"]
USER node
EXPOSE 8080
# Ready = the database (and Redis when configured) answers a real query: GET /health/ready.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "scripts/healthcheck.mjs"]
CMD ["node", "dist/main.js"]
