# Reference image for benchmarks/compare_images.py, NOT used by generated services.
# It follows the pattern `docker init` writes for a Go service (our own text): a
# build stage on the official image with the module cache and the sources as
# BuildKit mounts, and a small final stage running as a non-root user. `docker
# init` ends on alpine; the reference ends on keelson's distroless static base
# so that both images differ only in how they are built.
ARG GO_VERSION=1.27
FROM golang:${GO_VERSION}-trixie AS build
WORKDIR /src

# go.mod and go.sum are bind-mounted, so this layer is reused until they change
RUN --mount=type=cache,target=/go/pkg/mod/ \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=bind,source=go.mod,target=go.mod \
    go mod download -x

RUN --mount=type=cache,target=/go/pkg/mod/ \
    --mount=type=bind,target=. \
    CGO_ENABLED=0 go build -o /bin/server .

FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /bin/server /bin/

ARG PORT=8080
ENV PORT=${PORT}
EXPOSE ${PORT}
ENTRYPOINT ["/bin/server"]
