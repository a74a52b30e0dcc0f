# Multi-stage build of the iotcore-local binary; state lives in the /data volume.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/iotcore-local ./cmd/iotcore-local

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 iotcore && mkdir /data && chown iotcore /data
COPY --from=build /out/iotcore-local /usr/local/bin/iotcore-local
USER iotcore
VOLUME /data
EXPOSE 8883 443 8443 4580
# The binary checks itself: "health" GETs /health on the API (the slim image has no curl).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["iotcore-local", "health"]
ENTRYPOINT ["iotcore-local"]
# --endpoint iotcore-local: the server certificate also names the compose service, so devices in
# other containers verify it as iotcore-local (localhost and 127.0.0.1 stay named for the host).
CMD ["serve", "--data", "/data", "--endpoint", "iotcore-local", "--mqtt-addr", "0.0.0.0:8883", "--alpn-addr", "0.0.0.0:443", "--https-addr", "0.0.0.0:8443", "--api-addr", "0.0.0.0:4580"]
