# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --always --dirty) -t orgtoken-bot .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Static binary (no cgo: SQLite is modernc.org/sqlite), stripped, version stamped.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
    -ldflags "-s -w -X main.version=${VERSION}" \
    -o /out/orgtoken-bot ./cmd/orgtoken-bot \
 && mkdir -p /out/data

# distroless/static: CA certificates and tzdata, no shell, runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/orgtoken-bot /usr/local/bin/orgtoken-bot
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
ENV ORGTOKEN_DATABASE_URL=/data/orgtoken.db \
    ORGTOKEN_HTTP_ADDR=:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/orgtoken-bot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/orgtoken-bot"]
