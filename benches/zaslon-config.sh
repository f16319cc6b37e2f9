# Sourced by benches/load.sh and benches/cpu-ab.sh: the config both run
# `zaslon serve` with, so that their figures are of the same setup.
#
#   write_config LISTEN_PORT UPSTREAM_PORT DIR ROOT
#
# writes DIR/zaslon.toml (marketing client with API key
# `bench-marketing-key`, record-level consent on the patients list, the
# file consent journal and the file audit sink in DIR, the rules in
# ROOT/rules) and DIR/consent.jsonl. The pseudonym key is read from
# ZASLON_PSEUDONYM_KEY, which this file exports.

export ZASLON_PSEUDONYM_KEY="bench-pseudonym-key-0123456789abcdef"
BENCH_KEY="bench-marketing-key"

write_config() {
    local listen=$1 up=$2 dir=$3 root=$4 key_sha id
    key_sha=$(printf %s "$BENCH_KEY" | sha256sum | cut -d' ' -f1)
    mkdir -p "$dir"
    cat >"$dir/zaslon.toml" <<TOML
[listen]
address = "127.0.0.1:$listen"

[upstream]
url = "http://127.0.0.1:$up"

[pseudonymization]
key_env = "ZASLON_PSEUDONYM_KEY"

[[clients]]
id = "crm"
api_key_sha256 = "$key_sha"
purposes = ["marketing"]

# A list route: no single subject, so no consent lookup per request.
[[routes]]
path = "/api/patients"
records = "\$.items[*]"
record_subject = "id"

# Marketing is opt-in: the bench upstream's two patients have granted it,
# so their records stay in the list.
[consent]
backend = "file"
path = "$dir/consent.jsonl"

[audit]
sink = "file"
path = "$dir/audit/zaslon.jsonl"
TOML
    for id in 10234 10235; do
        printf '{"subject":"%s","purpose":"marketing","granted":true,"at":"2026-11-01T10:00:00Z","source":"bench"}\n' "$id"
    done >"$dir/consent.jsonl"
    if [ -d "$root/rules" ]; then
        printf '\n[rules]\ndir = "%s/rules"\n' "$root" >>"$dir/zaslon.toml"
    fi
}
