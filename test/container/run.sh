#!/usr/bin/env bash
# The container image's test (.ci/run runs it after the suites; not part of `npm test`,
# since it needs root and podman). Builds the base offline (base.sh), builds the image
# from the Dockerfile as a user would, then runs test/container/image.ts against it.
# Outside CI a machine where podman cannot run skips with one line; in CI (CI set) that
# is a failure.
# Usage: test/container/run.sh   (after `npm run build`)
set -euo pipefail
cd "$(dirname "$0")/../.."
skip() {
  if [ -n "${CI:-}" ] && [ "${CI}" != "false" ] && [ "${CI}" != "0" ]; then
    echo "container test: FAILED: $1 (CI is set: the image must be tested here)" >&2
    exit 1
  fi
  echo "container test: skipped: $1"
  exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (rootful podman)"
command -v podman >/dev/null || skip "podman is not installed (apt-get install podman runc mmdebstrap)"
command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed"
podman info >/dev/null 2>&1 || skip "podman cannot run here: $(podman info 2>&1 | tail -1)"

base="localhost/node:22-bookworm-slim"
image="localhost/harvester:ci-$$"
# Cache nothing between runs (every run builds its base and image from scratch), and leave
# nothing behind: the image, the base, and the untagged images this run made.
dangling_before="$(podman images -q -f dangling=true | sort)"
cleanup() {
  podman rmi -f "$image" "$base" >/dev/null 2>&1 || true
  comm -13 <(echo "$dangling_before") <(podman images -q -f dangling=true | sort) | xargs -r podman rmi -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

t0=$(date +%s)
test/container/base.sh "$base"
t1=$(date +%s)
# The CA this machine's TLS to the registries passes through, lent to the build stage only.
ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
ca_args=()
[ -f "$ca" ] && ca_args=(-v "$ca:/run/build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/build-ca.crt)
podman build --quiet --no-cache --layers=false --format docker --build-arg NODE_IMAGE="$base" "${ca_args[@]}" -t "$image" . >/dev/null
t2=$(date +%s)
echo "container test: base built in $((t1 - t0)) s, image in $((t2 - t1)) s"

HARVESTER_IMAGE="$image" HARVESTER_BASE_IMAGE="$base" \
  node --test --test-reporter=spec --test-timeout=600000 dist/test/container/image.js
echo "container test: $(( $(date +%s) - t0 )) s in all"
