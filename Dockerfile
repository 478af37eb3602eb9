# syntax=docker/dockerfile:1
# DotMac Ledger: one small image for every role. The same image runs
#   dotmac serve --role command | query | projector    (Deployments, compose services)
#   dotmac migrate up                                  (the one-shot migration job)
# Build: make image (podman, buildah or docker, whichever is installed).

# GO_IMAGE and RUNTIME_IMAGE may name a mirror; the defaults are the public images.
ARG GO_IMAGE=docker.io/library/golang:1.26
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# VERSION is what `dotmac --version` prints (git describe, passed by make image).
ARG VERSION=dev
# A static binary (no cgo, no libc), without the builder's paths or symbol tables.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
    -ldflags="-s -w -X main.version=${VERSION}" -o /out/dotmac ./cmd/dotmac

# distroless/static: CA certificates, /etc/passwd with nonroot (65532), tzdata; no shell.
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/dotmac /usr/local/bin/dotmac
# Local state (only used without DATABASE_URL or without a JWT key, i.e. never in production)
# goes under the nonroot user's home, not the read-only root.
WORKDIR /home/nonroot
ENV DOTMAC_DATA_DIR=/home/nonroot/var \
    LOG_FORMAT=json
USER 65532:65532
# Command API, query API, admin listener (metrics, health, readiness).
EXPOSE 8080 8081 9090
ENTRYPOINT ["/usr/local/bin/dotmac"]
CMD ["serve"]
