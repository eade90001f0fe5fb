#!/usr/bin/env bash
# Builds the local test images, idempotently, into the engine at $DOCKER_HOST (the default one when
# unset). No public registry is reachable from the test machines, so each image is a rootfs tarball
# holding Debian's static busybox, imported with `docker import`:
#   kubernease-test/web:1, :2  — `httpd -f -p 8080 -h /www` serving /_health ("ok"), /index.html ("web N") and
#                                /cgi-bin/whoami (the pod's name),
#                                under a shell that exits on SIGTERM (httpd as PID 1 would ignore it, and every
#                                graceful stop would last its whole grace period)
#   kubernease-test/web:bad    — the same server without /_health, so a health check on it fails (404)
#   kubernease-test/redis:1    — this machine's Debian redis-server (with the libraries it links) beside busybox,
#                                for TCP Services between pods (`redis-master:6379`); built only where
#                                redis-server is installed, and never pushed
# and, when REGISTRY_URL / REGISTRY_AUTH_URL are set (scripts/services.sh, ensure_registry), pushes all three
# to those registries under the same names (`$REGISTRY_URL/kubernease-test/web:1`).
# An image is rebuilt only when missing or when this script's recipe changed (the recipe hash is a label).
# `IMAGES_FORCE=1` rebuilds all of them.
set -euo pipefail

BUSYBOX="${BUSYBOX:-/bin/busybox}"
# The applets a test or probe may run inside the containers (sh for exec probes, nc for reachability).
APPLETS=(sh ash httpd nc sleep cat echo ls ps kill true false env id hostname ip ifconfig wget mkdir rm touch test)

log() { printf 'images: %s\n' "$*" >&2; }

[[ -x "$BUSYBOX" ]] || {
  log "FAILED: $BUSYBOX is missing: apt-get install busybox-static"
  exit 1
}
recipe="$(cat "${BASH_SOURCE[0]}" "$BUSYBOX" | sha256sum | cut -c1-16)"

build() {
  local tag="$1" version="$2" health="$3"
  local have
  have="$(docker image inspect -f '{{index .Config.Labels "kubernease.recipe"}}' "$tag" 2>/dev/null || true)"
  if [[ "$have" == "$recipe" && -z "${IMAGES_FORCE:-}" ]]; then
    log "$tag is up to date"
    return 0
  fi
  local root
  root="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" RETURN
  mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc" "$root/data"
  chmod 1777 "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  local applet
  for applet in "${APPLETS[@]}"; do ln -s busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf '%s\n' "$version" >"$root/www/index.html"
  [[ "$health" == yes ]] && printf 'ok\n' >"$root/www/_health"
  # /cgi-bin/whoami answers the pod's name (its hostname), so a test tells replicas apart behind a proxy.
  mkdir -p "$root/www/cgi-bin"
  printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nhostname\n' >"$root/www/cgi-bin/whoami"
  chmod 755 "$root/www/cgi-bin/whoami"
  log "building $tag"
  tar -C "$root" --owner=0 --group=0 -c . | docker import \
    --change 'CMD ["/bin/sh", "-c", "trap \"exit 0\" TERM; /bin/httpd -f -p 8080 -h /www & wait"]' \
    --change 'EXPOSE 8080' \
    --change 'ENV PATH=/bin' \
    --change "LABEL kubernease.recipe=$recipe" \
    - "$tag" >/dev/null
}

# The redis image: busybox as above (sh, nc), plus redis-server and what `ldd` says it links.
build_redis() {
  local tag=kubernease-test/redis:1 server
  server="$(command -v redis-server || true)"
  [[ -n "$server" ]] || {
    log "no redis-server on this machine: $tag is not built"
    return 0
  }
  local recipe_redis have
  recipe_redis="$(printf '%s' "$recipe" | cat - "$server" | sha256sum | cut -c1-16)"
  have="$(docker image inspect -f '{{index .Config.Labels "kubernease.recipe"}}' "$tag" 2>/dev/null || true)"
  if [[ "$have" == "$recipe_redis" && -z "${IMAGES_FORCE:-}" ]]; then
    log "$tag is up to date"
    return 0
  fi
  local root lib
  root="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" RETURN
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/data"
  chmod 1777 "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  local applet
  for applet in "${APPLETS[@]}"; do ln -s busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/:/bin/sh\n' >"$root/etc/passwd"
  cp "$server" "$root/bin/redis-server"
  for lib in $(ldd "$server" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  log "building $tag"
  tar -C "$root" --owner=0 --group=0 -c . | docker import \
    --change 'CMD ["/bin/redis-server", "--port", "6379", "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", "/data"]' \
    --change 'EXPOSE 6379' \
    --change 'ENV PATH=/bin' \
    --change "LABEL kubernease.recipe=$recipe_redis" \
    - "$tag" >/dev/null
}

build kubernease-test/web:1 "web 1" yes
build kubernease-test/web:2 "web 2" yes
build kubernease-test/web:bad "web bad" no
build_redis

# Pushes one image to one registry (host:port) under the same name: `127.0.0.1:5000/kubernease-test/web:1`.
# Quick when pushed already: the registry has every layer, and the push only checks that it does.
push() {
  local tag="$1" registry="$2"
  docker tag "$tag" "$registry/$tag"
  docker push -q "$registry/$tag" >/dev/null || {
    log "FAILED: docker push $registry/$tag"
    return 1
  }
}

# The local registries of scripts/services.sh (ensure_registry), when they are set: the open one as is,
# the one with auth through a login kept in a config folder of this run's own, so the machine's own
# Docker credentials are neither used nor changed.
if [[ -n "${REGISTRY_URL:-}" || -n "${REGISTRY_AUTH_URL:-}" ]]; then
  DOCKER_CONFIG="$(mktemp -d)"
  export DOCKER_CONFIG
  trap 'rm -rf "$DOCKER_CONFIG"' EXIT
  if [[ -n "${REGISTRY_AUTH_URL:-}" ]]; then
    printf '%s' "${REGISTRY_AUTH_PASSWORD:-}" |
      docker login -u "${REGISTRY_AUTH_USER:-}" --password-stdin "$REGISTRY_AUTH_URL" >/dev/null 2>&1 || {
      log "FAILED: docker login $REGISTRY_AUTH_URL as ${REGISTRY_AUTH_USER:-}"
      exit 1
    }
  fi
  for registry in ${REGISTRY_URL:-} ${REGISTRY_AUTH_URL:-}; do
    for tag in kubernease-test/web:1 kubernease-test/web:2 kubernease-test/web:bad; do push "$tag" "$registry"; done
    log "pushed the test images to $registry"
  done
fi
