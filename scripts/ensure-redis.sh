#!/usr/bin/env bash
# Makes sure redis-server and redis-cli are installed and, unless --install-only is given, that a
# Redis answers on 127.0.0.1:6379. Installs (apt-get) and starts what is missing when run as root;
# otherwise says what is missing and fails.
#
#   bash scripts/ensure-redis.sh                  # installed and running on 127.0.0.1:6379
#   bash scripts/ensure-redis.sh --install-only   # installed (scripts/demo.mjs starts its own server)
#
# scripts/test-deps.sh sources this file: it then only defines ensure_redis_installed and
# ensure_redis_running, and uses the caller's fail and apt_install.
set -uo pipefail

declare -F fail >/dev/null || fail() { echo "ensure-redis: $*" >&2; exit 1; }
declare -F as_root >/dev/null || as_root() { [ "$(id -u)" = 0 ]; }
declare -F apt_install >/dev/null || apt_install() {
  as_root || fail "missing $*: install them with apt-get install -y $* (as root)"
  command -v apt-get >/dev/null || fail "missing $*: install Redis with your package manager"
  echo "ensure-redis: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${WFCTL_APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null || fail "apt-get update failed"; export WFCTL_APT_UPDATED=1; fi
  apt-get install -y -qq "$@" >/dev/null || fail "apt-get install $* failed"
}

ensure_redis_installed() {
  command -v redis-server >/dev/null || apt_install redis-server redis-tools
}

ensure_redis_running() {
  if ! timeout 3 redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    as_root || fail "no Redis on 127.0.0.1:6379"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || fail "could not start redis-server"
    for _ in $(seq 1 50); do timeout 1 redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
    timeout 3 redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || fail "Redis did not come up"
  fi
}

# Run (not sourced): do the work.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    "") ensure_redis_installed; ensure_redis_running ;;
    --install-only) ensure_redis_installed ;;
    *) fail "usage: $0 [--install-only]" ;;
  esac
  command -v redis-server >/dev/null || fail "redis-server is still not on PATH"
fi
