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
ENTRYPOINT ["iotcore-local"]
CMD ["serve", "--data", "/data", "--mqtt-addr", "0.0.0.0:8883", "--alpn-addr", "0.0.0.0:443", "--https-addr", "0.0.0.0:8443", "--api-addr", "0.0.0.0:4580"]
