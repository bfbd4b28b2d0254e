#!/bin/bash
# tests/systemd/run.sh: boots a real systemd in a throw-away container and
# runs checks.sh inside it, against `make install` of this tree.
#
# The container's root is an overlay of this machine's / on a tmpfs, so the
# compilers and tools here are there too and nothing written inside lasts.
# It shares the host's network (the checks use loopback ports of their own).
# systemd never boots on the real root. Everything is removed on exit.
set -uo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "systemd: skipped: booting a container needs root"
    exit 0
fi
top=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v systemd-nspawn >/dev/null 2>&1; then
    # The same version as the installed systemd, or apt refuses the pair.
    ver=$(dpkg-query -W -f='${Version}' systemd)
    { apt-get install -y -qq "systemd-container=$ver" ||
      { apt-get update -qq && apt-get install -y -qq "systemd-container=$ver"; }; } >/dev/null 2>&1 ||
        { echo "systemd: cannot install systemd-container $ver"; exit 1; }
fi

run=nd$$
work=$(mktemp -d /tmp/netdemo-systemd.XXXXXX)
cgroups=()
nspawn=
leader=

cleanup() {
    if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
        kill -TERM "$nspawn" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn" 2>/dev/null
        wait "$nspawn" 2>/dev/null
    fi
    for cg in "${cgroups[@]}"; do
        [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nspawn wants a cgroup of its own; PID 1 here is not systemd to give one.
for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
    if [ -e "$h/cgroup.procs" ] && mkdir "$h/$run" 2>/dev/null; then
        cgroups+=("$h/$run")
        [ "$h" = /sys/fs/cgroup ] && break
    fi
done

# Boot only what the checks need: basic system setup and sockets.
cat >"$work/target" <<'UNIT'
[Unit]
Description=netdemo systemd checks
Requires=sysinit.target
Wants=sockets.target
After=sysinit.target sockets.target
AllowIsolate=yes
UNIT

unshare --mount --propagation private -- bash -c '
    set -e
    work=$1 top=$2 run=$3; shift 3
    mkdir -p "$work/mem" "$work/root"
    mount -t tmpfs -o size=4g tmpfs "$work/mem"
    mkdir -p "$work/mem/upper" "$work/mem/work"
    mount -t overlay overlay \
        -o "lowerdir=/,upperdir=$work/mem/upper,workdir=$work/mem/work" "$work/root"
    root=$work/root
    mount -t tmpfs tmpfs "$root/run"
    mount -t tmpfs tmpfs "$root/tmp"
    rm -f "$root/etc/machine-id"
    head -c16 /dev/urandom | od -An -tx1 | tr -d " \n" >"$root/etc/machine-id"
    echo >>"$root/etc/machine-id"
    mkdir -p "$root/etc/systemd/system"
    cp "$work/target" "$root/etc/systemd/system/netdemo-checks.target"
    for cg in "$@"; do echo $$ >"$cg/cgroup.procs"; done
    exec systemd-nspawn --quiet --directory="$root" --machine="$run" --register=no \
        --keep-unit --link-journal=no --resolv-conf=off --timezone=off \
        --system-call-filter=bpf --bind-ro="$top:/src" --boot -- \
        systemd.unit=netdemo-checks.target
' _ "$work" "$top" "$run" "${cgroups[@]}" >"$work/boot.log" 2>&1 </dev/null &
nspawn=$!

# The container's systemd is a descendant of nspawn.
below() { local c; for c in $(pgrep -P "$1"); do echo "$c"; below "$c"; done; }
for _ in $(seq 300); do
    for p in $(below "$nspawn"); do
        case $(readlink "/proc/$p/exe" 2>/dev/null) in
            */systemd/systemd) leader=$p; break 2 ;;
        esac
    done
    kill -0 "$nspawn" 2>/dev/null || break
    sleep 0.05
done
if [ -z "$leader" ]; then
    echo "systemd: the container did not boot:"
    tail -n 20 "$work/boot.log"
    exit 1
fi

inside() {
    nsenter --target "$leader" --mount --uts --ipc --pid --cgroup -- \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

state=
for _ in $(seq 300); do
    state=$(inside timeout 60 systemctl is-system-running --wait 2>&1)
    case $state in *"connect to bus"*|*"Failed to"*) sleep 0.1 ;; *) break ;; esac
done
case $state in
    running|degraded) ;;
    *) echo "systemd: systemd in the container did not come up ($state)"; exit 1 ;;
esac

# A copy of the tree without its build directory, built and installed inside.
inside bash -c 'mkdir -p /root/src && cd /src && tar --exclude=./build -cf - . | tar -C /root/src -xf -'
inside bash -c 'cd /root/src && exec bash tests/systemd/checks.sh'
