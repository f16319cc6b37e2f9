#!/usr/bin/env bash
# Redacts every official FHIR R4 example (../shared/conformance/fhir-r4/examples)
# for each of the nine purposes with the release binary, then checks inputs
# and outputs with the FHIR R4 (4.0.1) models of PyPI's fhir.resources:
# does redaction keep valid resources valid? Not part of CI (it needs PyPI);
# issue 19 asks for its verdicts.
#
#   scripts/fhir-validate.sh [PURPOSE...]      (default: all nine)
#
# The venv is made once under /tmp (FHIR_VENV overrides). fhir.resources
# 6.4.0 is the last release whose models are R4 4.0.1 (6.5.0 moved to R4B
# 4.3.0, 7.x to R5), and it needs pydantic 1. The binary is
# $CARGO_TARGET_DIR/release/zaslon (or target/release/zaslon), built when
# missing. analytics pseudonymizes, so a synthetic ZASLON_PSEUDONYM_KEY is
# set when none is given.
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${FHIR_EXAMPLES:-../shared/conformance/fhir-r4/examples}
venv=${FHIR_VENV:-/tmp/zaslon-fhir-venv}
bin=${ZASLON_BIN:-${CARGO_TARGET_DIR:-target}/release/zaslon}
export ZASLON_PSEUDONYM_KEY=${ZASLON_PSEUDONYM_KEY:-fhir-validate-synthetic-key-0123456789}

if [ ! -d "$examples" ]; then
  echo "fhir-validate: $examples not found" >&2
  exit 1
fi
if [ $# -gt 0 ]; then
  purposes=("$@")
else
  purposes=(auth appointments care documents support feedback analytics marketing legal)
fi

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import fhir.resources as f; assert f.__fhir_version__ == "4.0.1"' 2>/dev/null; then
  "$venv/bin/pip" install -q "fhir.resources==6.4.0" "pydantic>=1.10,<2"
fi

if [ ! -x "$bin" ]; then
  cargo build --release --locked
fi

out=$(mktemp -d /tmp/zaslon-fhir-validate.XXXXXX)
trap 'rm -rf "$out"' EXIT
for p in "${purposes[@]}"; do
  mkdir -p "$out/$p"
  for f in "$examples"/*.json; do
    name=$(basename "$f")
    # A refusal leaves incomplete output: its exit status is what the
    # validator reports instead.
    "$bin" redact --rules rules --purpose "$p" <"$f" >"$out/$p/$name" 2>/dev/null \
      || echo "$?" >"$out/$p/$name.exit"
  done
done

"$venv/bin/python" scripts/fhir_validate.py "$examples" "$out" "${purposes[@]}"
