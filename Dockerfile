# zaslon: multi-stage build, small non-root runtime.
#
# No Docker engine runs on the development machines of this project, so this
# file is not built in CI there; keep it simple and check it by reading.
#
#   docker build -t zaslon .
#   docker run -p 8443:8443 -v /srv/zaslon:/etc/zaslon:ro \
#     -e ZASLON_PSEUDONYM_KEY=... -e ZASLON_ADMIN_TOKEN=... zaslon

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not refetch them.
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY src ./src
COPY rules ./rules
RUN cargo build --locked --release --bin zaslon \
 && strip target/release/zaslon

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin zaslon
COPY --from=build /src/target/release/zaslon /usr/local/bin/zaslon
# Default rules; a mounted config may point `[rules] dir` elsewhere.
COPY --from=build /src/rules /usr/share/zaslon/rules
# zaslon.toml, certificates and rules come from this volume, read-only.
VOLUME ["/etc/zaslon"]
USER 10001:10001
EXPOSE 8443 9901
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/zaslon"]
CMD ["serve", "--config", "/etc/zaslon/zaslon.toml"]
