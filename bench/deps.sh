#!/bin/sh
# Installs what `make bench` needs from Debian when it is missing (as root),
# or says what to install. If installing nginx started Debian's own nginx
# service (port 80), that service is stopped again: the bench runs its own.
set -u

need=""
command -v nginx >/dev/null 2>&1 || need="$need nginx-light"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v ab >/dev/null 2>&1 || need="$need apache2-utils"
/usr/bin/python3 -c 'import tornado' >/dev/null 2>&1 || need="$need python3-tornado"
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
command -v taskset >/dev/null 2>&1 || need="$need util-linux"
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"

# The broadcast bench's peer: the npm package ws, in a directory of the
# bench's own (NODE_PATH points there), installed once.
ws_modules() {
    [ -d build/bench/node_modules/ws ] && return 0
    command -v npm >/dev/null 2>&1 || return 0
    echo "bench: npm install --prefix build/bench ws"
    mkdir -p build/bench
    npm install --prefix build/bench --no-audit --no-fund ws >/dev/null || exit 1
}

[ -z "$need" ] && { ws_modules; exit 0; }


if [ "$(id -u)" != 0 ]; then
    echo "make bench needs:$need" >&2
    echo "install them as root: apt-get install -y$need" >&2
    exit 1
fi

# The pid of a Debian nginx service running before the install, if any: that
# one is not ours to stop.
before=""
[ -r /run/nginx.pid ] && before=$(cat /run/nginx.pid 2>/dev/null)

echo "bench: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need || exit 1

after=""
[ -r /run/nginx.pid ] && after=$(cat /run/nginx.pid 2>/dev/null)
if [ -n "$after" ] && [ "$after" != "$before" ] &&
   [ "$(cat /proc/"$after"/comm 2>/dev/null)" = nginx ]; then
    echo "bench: stopping the nginx service the install started (pid $after)"
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl stop nginx
    elif command -v invoke-rc.d >/dev/null 2>&1; then
        invoke-rc.d nginx stop
    else
        kill "$after"
    fi
    # bounded wait for it to go
    i=0
    while [ $i -lt 50 ] && [ -d /proc/"$after" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if [ -d /proc/"$after" ] && [ "$(cat /proc/"$after"/comm 2>/dev/null)" = nginx ]; then
        kill "$after"
    fi
fi
# The cross-instance broadcast runs its own redis-server on a free port;
# the package's daemon, if its install started one, is stopped: by its
# unit where systemd runs it (Restart=always would bring it back), else by
# its pid file.
case "$need" in *redis-server*)
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl stop redis-server 2>/dev/null
    elif [ -f /run/redis/redis-server.pid ]; then
        kill "$(cat /run/redis/redis-server.pid)" 2>/dev/null
    fi ;;
esac
ws_modules
exit 0
