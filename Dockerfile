# A single-architecture image of leaderhub-apiserver for those who build with
# Docker (docker build -t leaderhub-apiserver .). The tested, released image
# is built by `make image` without a Docker daemon: the same static binary on
# an empty base, for linux/amd64 and linux/arm64 in one OCI index.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
# The API types and the edge client are modules of their own that go.mod
# replaces with these directories.
COPY api/go.mod api/go.sum ./api/
COPY client/go.mod client/go.sum ./client/
RUN go mod download
COPY . .
ARG VERSION=v0.0.0-docker
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/leaderhub/leaderhub/pkg/version.gitVersion=${VERSION} -X github.com/leaderhub/leaderhub/pkg/version.gitCommit=${REVISION}" \
      -o /out/leaderhub-apiserver ./cmd/leaderhub-apiserver

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/leaderhub-apiserver /leaderhub-apiserver
USER 65532:65532
ENTRYPOINT ["/leaderhub-apiserver"]
