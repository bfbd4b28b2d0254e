#!/bin/sh
# What `make test` needs, installed with apt-get when we are root and it is
# missing; otherwise a clear list of what to install.
set -u
missing=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
[ -f /usr/include/criterion/criterion.h ] || missing="$missing libcriterion-dev"
have_pkg netcat-openbsd || missing="$missing netcat-openbsd"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v ab >/dev/null 2>&1 || missing="$missing apache2-utils"
command -v slowhttptest >/dev/null 2>&1 || missing="$missing slowhttptest"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v prlimit >/dev/null 2>&1 || missing="$missing util-linux"
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/deps.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null &&
        apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        { echo "tests/deps.sh: apt-get install$missing failed" >&2; exit 1; }
    # The tests start their own haproxy; the package's may have started too.
    case "$missing" in *haproxy*)
        if [ -f /run/haproxy.pid ]; then kill "$(cat /run/haproxy.pid)" 2>/dev/null; fi ;;
    esac
    # promtool comes with the server, whose postinst starts it where
    # invoke-rc.d may (a policy-rc.d that says 101, as in containers, stops
    # that): stop the one the install started, by its pid file, else by
    # its binary (nothing ran /usr/bin/prometheus before the install).
    case "$missing" in *prometheus*)
        if [ -f /run/prometheus/prometheus.pid ]; then
            kill "$(cat /run/prometheus/prometheus.pid)" 2>/dev/null
        fi
        start-stop-daemon --stop --quiet --oknodo --retry 5 --exec /usr/bin/prometheus ;;
    esac
    # The Redis client's tests start their own redis-server on a free
    # port; the package's daemon, if its install started one, is stopped:
    # by its unit where systemd runs it (Restart=always would bring it
    # back), else by its pid file.
    case "$missing" in *redis-server*)
        if [ -d /run/systemd/system ]; then
            systemctl stop redis-server 2>/dev/null
        elif [ -f /run/redis/redis-server.pid ]; then
            kill "$(cat /run/redis/redis-server.pid)" 2>/dev/null
        fi ;;
    esac
    exit 0
fi
echo "tests/deps.sh: missing:$missing" >&2
echo "  install with: sudo apt-get install$missing" >&2
exit 1
