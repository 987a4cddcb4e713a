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
    -o /out/root/usr/local/bin/orgtoken-bot ./cmd/orgtoken-bot
# The runtime image is scratch plus the one file the bot reads from the OS, the CA bundle (TLS
# to Slack and Astro), a name for its non-root uid and a /tmp for SQLite's spill files. No
# shell, no package database, nothing to patch but the binary, and no base image to pull.
RUN mkdir -p /out/root/etc/ssl/certs /out/root/tmp /out/data \
 && cp /etc/ssl/certs/ca-certificates.crt /out/root/etc/ssl/certs/ \
 && echo 'nonroot:x:65532:65532:nonroot:/data:/sbin/nologin' > /out/root/etc/passwd \
 && echo 'nonroot:x:65532:' > /out/root/etc/group \
 && chmod 1777 /out/root/tmp

FROM scratch
COPY --from=build /out/root/ /
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
ENV ORGTOKEN_DATABASE_URL=/data/orgtoken.db \
    ORGTOKEN_HTTP_ADDR=:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/orgtoken-bot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/orgtoken-bot"]
