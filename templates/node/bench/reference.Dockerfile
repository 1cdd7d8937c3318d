# Reference image for benchmarks/compare_images.py, NOT used by generated services.
# It follows the pattern `docker init` writes for a Node.js service (our own text):
# a single stage on the official image (slim Debian here, as keelson's), the
# manifest, lockfile and npm's cache as BuildKit mounts, `npm ci --omit=dev`,
# the image's non-root user, the sources copied last.
ARG NODE_VERSION=24
FROM node:${NODE_VERSION}-trixie-slim

ENV NODE_ENV=production
WORKDIR /usr/src/app

# package.json and package-lock.json are bind-mounted, so this layer is reused
# until they change
RUN --mount=type=bind,source=package.json,target=package.json \
    --mount=type=bind,source=package-lock.json,target=package-lock.json \
    --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev

USER node
COPY . .

ARG PORT=3000
ENV PORT=${PORT}
EXPOSE ${PORT}
CMD ["node", "src/server.js"]
