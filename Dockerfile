# syntax=docker/dockerfile:1
# Multi-stage build of idvflow's two production binaries: static Go builds
# (CGO off; SQLite is pure Go) on a distroless base, running as non-root.
#   docker build --target receiver -t idvflow-receiver .
#   docker build --target worker   -t idvflow-worker .

# go.mod's toolchain line: the Go with every standard-library fix known
# (docs/production.md says why the go line stays lower).
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN sh deploy/build.sh /out

FROM gcr.io/distroless/static-debian12:nonroot AS receiver
COPY --from=build /out/receiver /usr/local/bin/receiver
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/usr/local/bin/receiver", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/receiver"]

FROM gcr.io/distroless/static-debian12:nonroot AS worker
COPY --from=build /out/worker /usr/local/bin/worker
USER nonroot:nonroot
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/usr/local/bin/worker", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/worker"]
