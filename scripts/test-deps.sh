#!/usr/bin/env bash
# Makes sure what the test tiers need is here: Debian's Celery (for the interop tier), tmux (for the
# terminal tests), openssl (for the TLS tests), a Redis on
# 127.0.0.1:6379 and a RabbitMQ on 127.0.0.1:5672. Installs and starts what is missing when run as
# root; otherwise says what is missing and fails. A missing broker or Celery is never skipped.
set -uo pipefail

fail() { echo "test-deps: $*" >&2; exit 1; }
as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  as_root || fail "missing $*: install them with apt-get install -y $* (as root)"
  echo "test-deps: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${WFCTL_APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null || fail "apt-get update failed"; export WFCTL_APT_UPDATED=1; fi
  apt-get install -y -qq "$@" >/dev/null || fail "apt-get install $* failed"
}

/usr/bin/python3 -c 'import celery, redis, amqp' 2>/dev/null || apt_install python3-celery python3-redis python3-amqp
/usr/bin/python3 -c 'import celery, redis, amqp' 2>/dev/null || fail "Celery is not importable by /usr/bin/python3"

command -v tmux >/dev/null || apt_install tmux   # the terminal tests drive wfctl's prompts in tmux
command -v openssl >/dev/null || apt_install openssl   # the TLS tests make their CA and certificates
# Shared with scripts/demo.mjs: installs redis-server (apt, as root) and starts it on 127.0.0.1:6379.
. "$(dirname "${BASH_SOURCE[0]}")/ensure-redis.sh"
ensure_redis_installed
ensure_redis_running

command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  as_root || fail "no RabbitMQ on 127.0.0.1:5672"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  timeout 120 rabbitmqctl -q await_startup >/dev/null 2>&1 || fail "RabbitMQ did not come up"
fi
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || fail "RabbitMQ is not listening on 127.0.0.1:5672"
echo "test-deps: Celery $(/usr/bin/python3 -c 'import celery; print(celery.__version__)'), Redis and RabbitMQ ready"
