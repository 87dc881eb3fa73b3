#!/usr/bin/env bash
# What the deploy tests (tests/deploy) need beyond the Python packages, installed only when missing:
#   - Debian packages: prometheus (prometheus, promtool), prometheus-alertmanager (amtool), kcat;
#   - the Compose Specification JSON schema, inside check-jsonschema's wheel (downloaded, hash-checked, not
#     installed: check-jsonschema needs a newer click than Faust allows) into .cache/check-jsonschema/.
# Idempotent and quiet; uses sudo only when not root. PYTHON names the interpreter whose pip downloads
# the wheel (default: python3; the Makefile passes the project's virtualenv).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
CHECK_JSONSCHEMA="check-jsonschema==0.39.0"
CHECK_JSONSCHEMA_SHA256="14ce5c94871c551268ea948ffe21e9f1464dc48fb20bf9a4c13deeaaf756cf9b"
WHEEL_DIR=".cache/check-jsonschema"
WHEEL="$WHEEL_DIR/check_jsonschema-0.39.0-py3-none-any.whl"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get; install these yourself: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-system-deps: installing ${missing[*]}"
  # The packages ship services (Prometheus on :9090, Alertmanager on :9093). The tests start their own
  # Prometheus on a free port, so keep the packaged services from starting: a temporary policy-rc.d
  # covers sysvinit and containers, and systemd units are disabled afterwards.
  policy=/usr/sbin/policy-rc.d
  added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    added_policy=yes
  fi
  trap '[ -n "$added_policy" ] && as_root rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl disable --now prometheus.service prometheus-alertmanager.service >/dev/null 2>&1 || true
  fi
fi

if [ ! -f "$WHEEL" ]; then
  echo "install-system-deps: downloading $CHECK_JSONSCHEMA (for its vendored Compose schema)"
  mkdir -p "$WHEEL_DIR"
  requirements="$(mktemp)"
  echo "$CHECK_JSONSCHEMA --hash=sha256:$CHECK_JSONSCHEMA_SHA256" >"$requirements"
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$requirements" -d "$WHEEL_DIR"
  rm -f "$requirements"
fi
