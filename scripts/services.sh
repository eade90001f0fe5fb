#!/usr/bin/env bash
# Finds or starts the servers the tests run against, so that `npm test` is self-sufficient on a
# fresh Debian machine (DESIGN.md, "Running it"). One `ensure_<service>` function per service;
# `ensure_services` runs them all. Each one either leaves its service answering, with its URL
# exported, or prints one line saying what is missing and how to provide it, and returns non-zero.
#
# Use it either way:
#   source scripts/services.sh && ensure_services   # exports DATABASE_URL, REDIS_URL, DOCKER_HOST, REGISTRY_URL… to the caller
#   bash scripts/services.sh                         # checks/starts, then prints `export …` lines for eval
#
# A service is installed (Debian packages) and started only when its URL points at this machine
# on the service's default port; anything else is the caller's server, which we never touch.
# Every wait is bounded. Progress goes to stderr.

SERVICES_WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"
_SERVICES_APT_UPDATED=""

_svc_log() { printf 'services: %s\n' "$*" >&2; }
_svc_fail() {
  printf 'services: FAILED: %s\n' "$*" >&2
  return 1
}

# Host of a URL such as scheme://user:pass@host:port/path?query (IPv6 hosts in brackets).
_svc_url_host() {
  local rest="${1#*://}"
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  rest="${rest##*@}"
  if [[ "$rest" == \[* ]]; then
    rest="${rest#\[}"
    printf '%s' "${rest%%\]*}"
  else
    printf '%s' "${rest%%:*}"
  fi
}

# Port of such a URL, or $2 when the URL names none.
_svc_url_port() {
  local rest="${1#*://}" port=""
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  rest="${rest##*@}"
  if [[ "$rest" == \[* ]]; then
    [[ "$rest" == *\]:* ]] && port="${rest##*\]:}"
  elif [[ "$rest" == *:* ]]; then
    port="${rest##*:}"
  fi
  printf '%s' "${port:-$2}"
}

_svc_is_local_host() {
  case "$1" in
    127.0.0.1 | localhost | ::1 | "") return 0 ;;
    *) return 1 ;;
  esac
}

# True when something accepts TCP connections on host:port (bounded to 3 s).
_svc_tcp_open() {
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# Runs a command as root: directly, or through password-less sudo.
_svc_as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    _svc_fail "need root (or password-less sudo) to run: $*"
  fi
}

# Installs Debian packages; `apt-get update` runs at most once per run.
_svc_apt_install() {
  command -v apt-get >/dev/null 2>&1 || {
    _svc_fail "apt-get not found: install $* with this system's package manager"
    return 1
  }
  if [[ -z "$_SERVICES_APT_UPDATED" ]]; then
    _svc_log "apt-get update"
    _svc_as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q >&2 || return 1
    _SERVICES_APT_UPDATED=1
  fi
  _svc_log "apt-get install $*"
  _svc_as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends "$@" >&2
}

# Polls `$@` once a second until it succeeds or SERVICES_WAIT_SECONDS have passed.
_svc_wait_until() {
  local i
  for ((i = 0; i < SERVICES_WAIT_SECONDS; i++)); do
    "$@" && return 0
    sleep 1
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

_pg_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$1" -p "$2" -t 3
  else
    _svc_tcp_open "$1" "$2"
  fi
}

# Puts trust rules for the local socket and loopback first in a cluster's pg_hba.conf. Only
# for clusters this script installed or created: a test database with no password, on loopback.
_pg_trust_loopback() {
  local hba="/etc/postgresql/$1/$2/pg_hba.conf" marker="# added by kubernease scripts/services.sh"
  [[ -f "$hba" ]] || return 0
  grep -qF "$marker" "$hba" && return 0
  _svc_log "trusting local and loopback connections in $hba"
  _svc_as_root bash -c 'f="$1"; m="$2"; tmp="$(mktemp)";
    { printf "%s\nlocal all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n\n" "$m"; cat "$f"; } >"$tmp" &&
    cat "$tmp" >"$f" && rm -f "$tmp"' _ "$hba" "$marker"
}

# Prints "version name status" of the cluster configured for port $1, if any.
_pg_cluster_on_port() {
  pg_lsclusters --no-header 2>/dev/null | awk -v port="$1" '$3 == port { print $1, $2, $4; exit }'
}

ensure_postgres() {
  export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  local host port
  host="$(_svc_url_host "$DATABASE_URL")"
  port="$(_svc_url_port "$DATABASE_URL" 5432)"

  if _pg_ready "$host" "$port"; then
    _svc_log "postgres answers at $host:$port"
    _pg_check_login
    return
  fi
  if _svc_tcp_open "$host" "$port"; then
    # Listening but not accepting yet: a server that is still starting up (or not PostgreSQL).
    _svc_log "waiting for the server on $host:$port to accept connections"
    if _svc_wait_until _pg_ready "$host" "$port"; then
      _svc_log "postgres answers at $host:$port"
      _pg_check_login
      return
    fi
    _svc_fail "something listens on $host:$port but PostgreSQL does not accept connections there (pg_isready). Stop it or point DATABASE_URL at a PostgreSQL server."
    return 1
  fi
  if ! _svc_is_local_host "$host" || [[ "$port" != 5432 ]]; then
    _svc_fail "PostgreSQL does not answer at $host:$port (DATABASE_URL=$DATABASE_URL). Start it, or unset DATABASE_URL to let this script install and start a local one on 127.0.0.1:5432."
    return 1
  fi

  local fresh=""
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    _svc_apt_install postgresql || {
      _svc_fail "PostgreSQL is not installed and could not be installed: run 'apt-get install postgresql' as root, or set DATABASE_URL to a running server."
      return 1
    }
    fresh=1
  fi

  local cluster version name status
  cluster="$(_pg_cluster_on_port "$port")"
  if [[ -z "$cluster" ]]; then
    version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$version" ]] || {
      _svc_fail "no PostgreSQL server binaries under /usr/lib/postgresql: run 'apt-get install postgresql' as root."
      return 1
    }
    # Debian's first cluster is called main; another one on our port gets its own name.
    name=main
    [[ -d "/etc/postgresql/$version/main" ]] && name=kubernease
    _svc_log "creating PostgreSQL cluster $version/$name on port $port"
    _svc_as_root pg_createcluster --port "$port" "$version" "$name" >&2 || {
      _svc_fail "pg_createcluster $version $name failed; see the output above."
      return 1
    }
    fresh=1
    cluster="$version $name down"
  fi
  read -r version name status <<<"$cluster"
  [[ -n "$fresh" ]] && { _pg_trust_loopback "$version" "$name" || return 1; }

  if [[ "$status" != online* ]]; then
    _svc_log "starting PostgreSQL cluster $version/$name"
    _svc_as_root install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    _svc_as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >&2 || {
      _svc_fail "pg_ctlcluster $version $name start failed; see /var/log/postgresql/postgresql-$version-$name.log."
      return 1
    }
  elif [[ -n "$fresh" ]]; then
    # Online already (the package's own start): load the pg_hba.conf rules just written.
    _svc_as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" reload >&2 || true
  fi

  if ! _svc_wait_until _pg_ready "$host" "$port"; then
    _svc_fail "PostgreSQL cluster $version/$name did not answer on $host:$port within ${SERVICES_WAIT_SECONDS}s; see /var/log/postgresql/postgresql-$version-$name.log."
    return 1
  fi
  _svc_log "postgres answers at $host:$port (cluster $version/$name)"
  _pg_check_login "/etc/postgresql/$version/$name/pg_hba.conf"
}

# A server that answers may still refuse our user or password; say so here rather than
# through a hundred failing tests. Skipped when psql is not installed.
# $1 names the local cluster's pg_hba.conf when known, for the hint.
_pg_check_login() {
  command -v psql >/dev/null 2>&1 || return 0
  local out hba="${1:-pg_hba.conf on the server}"
  # Without the query string: it may carry options for the app's driver that psql does not know.
  if ! out="$(PGCONNECT_TIMEOUT=5 psql -w "${DATABASE_URL%%\?*}" -XAtqc 'select 1' 2>&1)"; then
    _svc_fail "PostgreSQL answers but refuses DATABASE_URL=$DATABASE_URL: ${out//$'\n'/ } — put the right user/password in DATABASE_URL, or allow it in $hba (e.g. 'host all all 127.0.0.1/32 trust' first, then reload)."
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------

_redis_ping() {
  local url="$1" host="$2" port="$3" reply
  if command -v redis-cli >/dev/null 2>&1; then
    reply="$(timeout 5 redis-cli -u "$url" ping 2>/dev/null)"
  else
    # RESP inline PING over bash's /dev/tcp: the server answers "+PONG".
    reply="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "PING\r\n" >&3 && head -c 5 <&3' _ "$host" "$port" 2>/dev/null)"
  fi
  [[ "$reply" == *PONG* ]]
}

ensure_redis() {
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
  local host port
  host="$(_svc_url_host "$REDIS_URL")"
  port="$(_svc_url_port "$REDIS_URL" 6379)"

  if _redis_ping "$REDIS_URL" "$host" "$port"; then
    _svc_log "redis answers at $host:$port"
    return
  fi
  if _svc_tcp_open "$host" "$port"; then
    # Listening but no PONG: still loading its data set, a password is missing, or not Redis.
    _svc_log "waiting for the server on $host:$port to answer PING"
    if _svc_wait_until _redis_ping "$REDIS_URL" "$host" "$port"; then
      _svc_log "redis answers at $host:$port"
      return
    fi
    _svc_fail "something listens on $host:$port but does not answer Redis PING with PONG (wrong password in REDIS_URL=$REDIS_URL, or not Redis)."
    return 1
  fi
  if ! _svc_is_local_host "$host" || [[ "$port" != 6379 ]]; then
    _svc_fail "Redis does not answer at $host:$port (REDIS_URL=$REDIS_URL). Start it, or unset REDIS_URL to let this script install and start a local one on 127.0.0.1:6379."
    return 1
  fi

  if ! command -v redis-server >/dev/null 2>&1; then
    _svc_apt_install redis-server || {
      _svc_fail "Redis is not installed and could not be installed: run 'apt-get install redis-server' as root, or set REDIS_URL to a running server."
      return 1
    }
    # The package starts its own server where an init system lets it (not in most containers).
    if _redis_ping "$REDIS_URL" "$host" "$port"; then
      _svc_log "redis answers at $host:$port (started by the package)"
      return
    fi
  fi

  _svc_log "starting redis-server on 127.0.0.1:$port"
  _svc_as_root mkdir -p /var/lib/redis /var/log/redis
  _svc_as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2 || {
    _svc_fail "redis-server failed to start; see /var/log/redis/ci.log."
    return 1
  }
  if ! _svc_wait_until _redis_ping "$REDIS_URL" "$host" "$port"; then
    _svc_fail "redis-server did not answer on $host:$port within ${SERVICES_WAIT_SECONDS}s; see /var/log/redis/ci.log."
    return 1
  fi
  _svc_log "redis answers at $host:$port"
}

# ---------------------------------------------------------------------------------------------
# Docker Engine (the first engine, on /var/run/docker.sock) and the local test images
# ---------------------------------------------------------------------------------------------

DOCKER_SOCKET="${DOCKER_SOCKET:-/var/run/docker.sock}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/kubernease-dockerd.log}"

_docker_ready() {
  timeout 5 docker -H "unix://$DOCKER_SOCKET" version >/dev/null 2>&1
}

# Finds or starts the Docker Engine the provider tests use, then builds the test images
# (scripts/images.sh). Started here with dockerd's defaults (overlay2, iptables, the docker0
# bridge) because this machine supports them; the extra engines that stand in for nodes are the
# tests' own (test/helpers/docker.ts), with their own bridges and no iptables rules of theirs.
ensure_docker() {
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1 || [[ ! -x /bin/busybox ]]; then
    _svc_apt_install docker.io busybox-static || {
      _svc_fail "Docker is not installed and could not be installed: run 'apt-get install docker.io busybox-static' as root."
      return 1
    }
  fi
  if ! _docker_ready; then
    # The first engine's pid file (dockerd's default), not `pgrep dockerd`: the tests' node engines are dockerds too.
    if [[ -f /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
      _svc_log "waiting for the running dockerd to answer on $DOCKER_SOCKET"
    else
      _svc_log "starting dockerd on $DOCKER_SOCKET (log: $DOCKERD_LOG)"
      _svc_as_root bash -c 'setsid dockerd --host "unix://$1" >>"$2" 2>&1 </dev/null &' _ "$DOCKER_SOCKET" "$DOCKERD_LOG"
    fi
    if ! _svc_wait_until _docker_ready; then
      _svc_fail "dockerd did not answer on $DOCKER_SOCKET within ${SERVICES_WAIT_SECONDS}s; see $DOCKERD_LOG."
      return 1
    fi
  fi
  _svc_log "docker answers on $DOCKER_SOCKET"
  export DOCKER_HOST="unix://$DOCKER_SOCKET"
  bash "$(dirname "${BASH_SOURCE[0]}")/images.sh" || {
    _svc_fail "building the local test images failed (scripts/images.sh); see the output above."
    return 1
  }
}

# ---------------------------------------------------------------------------------------------
# Local image registries (Debian's docker-registry): an open one and one with htpasswd auth
# ---------------------------------------------------------------------------------------------

# Registries are named host:port, as they appear in image names (`127.0.0.1:5000/kubernease-test/web:1`).
# The open one serves every pull; the one with auth answers 401 without the test user's credentials
# (the `imagePullSecrets` tests). The test user is fixed and no secret: tests read these variables
# (test/helpers/docker.ts, with the same defaults). Docker trusts registries on 127.0.0.0/8 over
# plain HTTP by default, so neither needs TLS or an `insecure-registries` entry.
export REGISTRY_AUTH_USER="${REGISTRY_AUTH_USER:-kubernease}"
export REGISTRY_AUTH_PASSWORD="${REGISTRY_AUTH_PASSWORD:-kubernease-registry-test}"
REGISTRY_DIR="${REGISTRY_DIR:-/var/lib/kubernease-registry}"

# The HTTP status of GET /v2/ on host:port (200 open, 401 auth required), or nothing (bounded to 5 s).
_registry_status() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" &&
    printf "GET /v2/ HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$1" "$2" >&3 && head -n 1 <&3' _ "$1" "$2" 2>/dev/null |
    awk '{ print $2 }' || true
}

_registry_answers() {
  [[ "$(_registry_status "$1" "$2")" == "$3" ]]
}

# Done waiting for a registry started as pid $4: it answers as it should, or its process is gone.
_registry_settled() {
  _registry_answers "$1" "$2" "$3" || [[ ! -d "/proc/$4" ]]
}

# Writes the config of one instance ($1: open | auth) listening on 127.0.0.1:$2; prints its path.
_registry_config() {
  local name="$1" port="$2" dir="$REGISTRY_DIR/$1" auth=""
  _svc_as_root mkdir -p "$dir/data" || return 1
  if [[ "$name" == auth ]]; then
    # bcrypt (-B): the only hash docker-registry's htpasswd accepts.
    _svc_as_root bash -c 'htpasswd -Bbn "$1" "$2" >"$3"' _ "$REGISTRY_AUTH_USER" "$REGISTRY_AUTH_PASSWORD" \
      "$dir/htpasswd" || return 1
    auth="auth: { htpasswd: { realm: kubernease-test, path: $dir/htpasswd } }"
  fi
  _svc_as_root bash -c 'cat >"$1"' _ "$dir/config.yml" <<CONFIG || return 1
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $dir/data }
  delete: { enabled: true }
http: { addr: "127.0.0.1:$port" }
$auth
CONFIG
  printf '%s' "$dir/config.yml"
}

# Finds or starts one instance: $1 its name (open | auth), $2 the variable holding its host:port,
# $3 its default port, $4 the status GET /v2/ must answer with (200 open, 401 auth).
_ensure_registry_instance() {
  local name="$1" var="$2" default_port="$3" want="$4"
  local address="${!var:-127.0.0.1:$default_port}"
  export "$var=$address"
  local host="${address%:*}" port="${address##*:}" got
  got="$(_registry_status "$host" "$port")"
  if [[ "$got" == "$want" ]]; then
    _svc_log "registry ($name) answers at $address"
    return 0
  fi
  if [[ -n "$got" ]] || _svc_tcp_open "$host" "$port"; then
    _svc_fail "something on $address answers GET /v2/ with '${got:-nothing}', not $want as the $name test registry must. Stop it, or point $var at a registry that does."
    return 1
  fi
  if ! _svc_is_local_host "$host" || [[ "$port" != "$default_port" ]]; then
    _svc_fail "no registry answers at $address ($var). Start one, or unset $var to let this script start one on 127.0.0.1:$default_port."
    return 1
  fi
  local config log="/var/log/kubernease-registry-$name.log"
  config="$(_registry_config "$name" "$port")" || {
    _svc_fail "could not write the $name registry's configuration under $REGISTRY_DIR."
    return 1
  }
  _svc_log "starting docker-registry ($name) on $address (log: $log)"
  # A clean environment: the registry reads REGISTRY_<SECTION>_<KEY> variables as configuration, and
  # ours (REGISTRY_URL, REGISTRY_AUTH_USER, …) are not its.
  local pid
  pid="$(_svc_as_root env -i PATH="$PATH" bash -c 'setsid docker-registry serve "$1" >>"$2" 2>&1 </dev/null & echo $!' \
    _ "$config" "$log")" || return 1
  _svc_wait_until _registry_settled "$host" "$port" "$want" "$pid" || true
  if ! _registry_answers "$host" "$port" "$want"; then
    _svc_fail "docker-registry ($name) did not answer on $address within ${SERVICES_WAIT_SECONDS}s; see $log."
    return 1
  fi
  _svc_log "registry ($name) answers at $address"
}

# Finds or starts the two test registries (REGISTRY_URL, open, on 127.0.0.1:5000; REGISTRY_AUTH_URL,
# htpasswd, on 127.0.0.1:5001), then pushes the test images to both (scripts/images.sh).
ensure_registry() {
  if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1; then
    _svc_apt_install docker-registry apache2-utils || {
      _svc_fail "docker-registry is not installed and could not be installed: run 'apt-get install docker-registry apache2-utils' as root."
      return 1
    }
  fi
  _ensure_registry_instance open REGISTRY_URL 5000 200 || return 1
  _ensure_registry_instance auth REGISTRY_AUTH_URL 5001 401 || return 1
  bash "$(dirname "${BASH_SOURCE[0]}")/images.sh" || {
    _svc_fail "pushing the test images to the local registries failed (scripts/images.sh); see the output above."
    return 1
  }
}

# ---------------------------------------------------------------------------------------------
# HAProxy (the binary only: every test starts and stops its own instance, test/helpers/haproxy.ts)
# ---------------------------------------------------------------------------------------------

_haproxy_usable() {
  command -v haproxy >/dev/null 2>&1 && timeout 5 haproxy -v >/dev/null 2>&1
}

# Stops and disables the system haproxy that the Debian package may just have started (with systemd,
# or with sysvinit where policy-rc.d allows it): the tests start their own instances on free ports,
# and a system one would hold port 80 and the package's sockets for nothing. Called only right after
# this script installed the package, so it never stops an haproxy the machine already ran.
_haproxy_stop_packaged() {
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    _svc_as_root systemctl disable --now haproxy >/dev/null 2>&1 || true
  elif [[ -f /run/haproxy.pid ]] && kill -0 "$(cat /run/haproxy.pid)" 2>/dev/null; then
    _svc_as_root invoke-rc.d haproxy stop >/dev/null 2>&1 || _svc_as_root kill "$(cat /run/haproxy.pid)" || true
  fi
}

# Makes sure the `haproxy` binary (Debian's package, 2.6 on bookworm) is installed. Nothing is
# started: the routing tests run their own master-worker instances in temp dirs.
ensure_haproxy() {
  if ! _haproxy_usable; then
    _svc_apt_install haproxy || {
      _svc_fail "HAProxy is not installed and could not be installed: run 'apt-get install haproxy' as root."
      return 1
    }
    _haproxy_stop_packaged
    _haproxy_usable || {
      _svc_fail "haproxy was installed but 'haproxy -v' does not run; see the apt output above."
      return 1
    }
  fi
  _svc_log "haproxy found: $(haproxy -v 2>/dev/null | head -n 1)"
}

# ---------------------------------------------------------------------------------------------

# Every service the tests need.
ensure_services() {
  ensure_postgres || return 1
  ensure_redis || return 1
  # Without CI=true a machine without Docker still runs everything else; its Docker tests say they were skipped.
  if ensure_docker; then
    ensure_registry || [[ "${CI:-}" != true ]] || return 1
  elif [[ "${CI:-}" == true ]]; then
    return 1
  fi
  # The same rule for HAProxy: without it (and without CI=true) its tests say they were skipped.
  ensure_haproxy || [[ "${CI:-}" != true ]] || return 1
}

# Executed rather than sourced: check/start, then print the URLs for `eval "$(bash scripts/services.sh)"`.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  ensure_services || exit 1
  printf 'export DATABASE_URL=%q\nexport REDIS_URL=%q\nexport DOCKER_HOST=%q\n' "$DATABASE_URL" "$REDIS_URL" "${DOCKER_HOST:-}"
  printf 'export REGISTRY_URL=%q\nexport REGISTRY_AUTH_URL=%q\n' "${REGISTRY_URL:-}" "${REGISTRY_AUTH_URL:-}"
  printf 'export REGISTRY_AUTH_USER=%q\nexport REGISTRY_AUTH_PASSWORD=%q\n' "$REGISTRY_AUTH_USER" "$REGISTRY_AUTH_PASSWORD"
fi
