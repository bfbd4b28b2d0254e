#!/bin/bash
# tests/systemd/checks.sh: runs inside the container booted by run.sh, as
# root, from a copy of the tree. Installs netdemo and checks its units under
# a real systemd, one PASS or FAIL line per check. Every wait is bounded.
set -u
cd "$(dirname "$0")/../.."
passed=0 failed=0
pass() { echo "PASS systemd.$1"; passed=$((passed + 1)); }
fail() { echo "FAIL systemd.$1: $2"; failed=$((failed + 1)); }

# Ports of our own: the container shares the host's network.
P_ECHO=17711 P_WEB=17712 P_WEB2=17713 P_HTTP=17714 P_WEB3=17715

wait_for() {    # wait_for SECONDS CMD...: until CMD succeeds
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}

make -s install PREFIX=/usr/local >/tmp/install.log 2>&1 ||
    { echo "FAIL systemd.install: $(tail -5 /tmp/install.log)"; echo "systemd: 0 passed, 1 failed"; exit 1; }
# 0. the installed binary is the hardened release build: PIE, RELRO with
#    BIND_NOW, stack canaries, fortified calls, and no sanitizer runtime.
#    Its path is the one the installed unit runs.
bin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' /usr/local/lib/systemd/system/netdemo@.service)
if [ -x "$bin" ]; then
    type=$(readelf -hW "$bin" | sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p')
    relro=$(readelf -lW "$bin" | grep -c GNU_RELRO)
    now=$(readelf -dW "$bin" | grep -cE '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW')
    chk=$(readelf --dyn-syms -W "$bin" | grep -o '__[a-z0-9_]*_chk[a-z_]*' | sort -u | tr '\n' ' ')
    san=$(readelf --dyn-syms -W "$bin" | grep -c '__asan_\|__ubsan_')
    echo "hardening of $bin: type $type, GNU_RELRO $relro, BIND_NOW $now, sanitizer symbols $san, $chk"
    why=
    [ "$type" = DYN ] || why="$why not PIE (type $type);"
    [ "$relro" -ge 1 ] || why="$why no GNU_RELRO segment;"
    [ "$now" -ge 1 ] || why="$why no BIND_NOW;"
    case " $chk" in *" __stack_chk_fail "*) ;; *) why="$why no __stack_chk_fail;" ;; esac
    [ "$(echo "$chk" | tr ' ' '\n' | grep -v '^__stack_chk_fail$' | grep -c _chk)" -ge 1 ] ||
        why="$why no fortified __*_chk calls;"
    [ "$san" = 0 ] || why="$why a sanitizer build;"
    if [ -z "$why" ]; then pass hardened_binary; else fail hardened_binary "$why"; fi
else
    fail hardened_binary "no installed binary at '$bin'"
fi

conf=/etc/netdemo/netdemo.ini
write_conf() {
    cat >$conf <<INI
[echo]
module = echo
listen = tcp://127.0.0.1:$P_ECHO

[web]
module = http
listen = tcp://127.0.0.1:$P_WEB$1

[http]
module = http
listen = tcp://127.0.0.1:$P_HTTP
INI
}
write_conf ""
# The example socket unit listens on 8080; here it must match [http] above.
mkdir -p /etc/systemd/system/netdemo-http.socket.d /etc/systemd/system/netdemo@.service.d
cat >/etc/systemd/system/netdemo-http.socket.d/ports.conf <<INI
[Socket]
ListenStream=
ListenStream=127.0.0.1:$P_HTTP
INI
# A short watchdog so that two intervals fit in the test.
cat >/etc/systemd/system/netdemo@.service.d/watchdog.conf <<INI
[Service]
WatchdogSec=2s
INI
systemctl daemon-reload

# 1. start returns only when the port answers
if systemctl start netdemo@echo; then
    out=$(printf ready | timeout 5 nc -q1 127.0.0.1 $P_ECHO)
    if [ "$out" = ready ]; then pass start_is_ready; else fail start_is_ready "probe got '$out'"; fi
else
    fail start_is_ready "systemctl start failed: $(journalctl -u netdemo@echo -n 5 --no-pager)"
fi
status=$(systemctl show -p StatusText --value netdemo@echo)
if [ -n "$status" ]; then pass status_text; else fail status_text "empty StatusText"; fi

# 2. http answers; a reload adds a listener while a keep-alive connection
#    opened before it still gets answers; a broken file leaves it serving.
systemctl start netdemo@web
if curl -sf http://127.0.0.1:$P_WEB/health | grep -q ok; then pass web_answers; else fail web_answers "no /health"; fi
python3 - $P_WEB >/tmp/keepalive.log 2>&1 <<'PY' &
import http.client, sys, time, os
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
ok = 0
for i in range(40):                       # about 4 s, across the reloads
    c.request("GET", "/health"); r = c.getresponse(); r.read()
    ok += r.status == 200
    time.sleep(0.1)
print("ok", ok)
PY
ka=$!
write_conf ", tcp://127.0.0.1:$P_WEB2"
systemctl reload netdemo@web
if curl -sf http://127.0.0.1:$P_WEB2/health >/dev/null; then pass reload_adds_listener
else fail reload_adds_listener "new port $P_WEB2 does not answer once reload returned"; fi
line=$(wc -l <$conf)
echo "bogus_key = 1" >>$conf
systemctl reload netdemo@web 2>/dev/null; rc=$?
sleep 0.5   # let the reload's log lines reach the journal (the file check follows)
if [ $rc != 0 ] && systemctl is-active -q netdemo@web &&
   curl -sf http://127.0.0.1:$P_WEB/health >/dev/null; then
    pass bad_reload_keeps_serving
else
    fail bad_reload_keeps_serving "reload exited $rc, unit $(systemctl is-active netdemo@web)"
fi
if wait_for 5 sh -c "journalctl -u netdemo@web -p err --no-pager | grep -q 'netdemo.ini:$((line + 1)):'"; then
    pass journal_err_has_file_line
else
    fail journal_err_has_file_line "$(journalctl -u netdemo@web -p err --no-pager | tail -3)"
fi
wait $ka
if grep -q "ok 40" /tmp/keepalive.log; then pass keepalive_across_reload
else fail keepalive_across_reload "$(cat /tmp/keepalive.log | tail -2)"; fi
write_conf ", tcp://127.0.0.1:$P_WEB2"

# 2b. a refused reload fails, whatever refused it, the old configuration
#     serving on and StatusText saying why; a good one then returns only once
#     it is live, and clears that. Running now: $P_WEB and $P_WEB2.
status_of() { systemctl show -p StatusText --value "$1"; }
write_conf ""
echo "bogus_key = 1" >>$conf
bad=$(wc -l <$conf)
out=$(systemctl reload netdemo@web 2>&1); rc=$?
st=$(status_of netdemo@web)
if [ $rc = 0 ]; then
    fail reload_unknown_key_fails "systemctl reload exited 0"
elif ! systemctl is-active -q netdemo@web || ! curl -sf http://127.0.0.1:$P_WEB2/health >/dev/null; then
    fail reload_unknown_key_fails "the old configuration ($P_WEB2) no longer serves: $(systemctl is-active netdemo@web)"
else
    case $st in
        "reload failed: $conf:$bad: unknown key 'bogus_key'"*) pass reload_unknown_key_fails ;;
        *) fail reload_unknown_key_fails "StatusText '$st'" ;;
    esac
fi
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("held", flush=True); time.sleep(60)' $P_WEB3 >/tmp/holder.log 2>&1 &
holder=$!
wait_for 5 grep -q held /tmp/holder.log
write_conf ", tcp://127.0.0.1:$P_WEB3"
ln=$(grep -n "^listen = tcp://127.0.0.1:$P_WEB," $conf | cut -d: -f1)
out=$(systemctl reload netdemo@web 2>&1); rc=$?
st=$(status_of netdemo@web)
kill $holder; wait $holder 2>/dev/null
if [ $rc = 0 ]; then
    fail reload_bind_failure_fails "systemctl reload exited 0 with $P_WEB3 taken"
elif ! curl -sf http://127.0.0.1:$P_WEB2/health >/dev/null; then
    fail reload_bind_failure_fails "the old configuration ($P_WEB2) no longer serves"
else
    case $st in
        "reload failed: $conf:$ln: [web] listen tcp://127.0.0.1:$P_WEB3: cannot bind: Address already in use"*)
            pass reload_bind_failure_fails ;;
        *) fail reload_bind_failure_fails "StatusText '$st'" ;;
    esac
fi
if journalctl -u netdemo@web --no-pager | grep -q "reload refused.*$conf:$ln: \[web\] listen tcp://127.0.0.1:$P_WEB3: cannot bind"; then
    pass reload_refusal_in_journal
else
    fail reload_refusal_in_journal "$(journalctl -u netdemo@web -n 5 --no-pager)"
fi
# The port is free now: the same file is taken, and answers at once.
out=$(systemctl reload netdemo@web 2>&1); rc=$?
st=$(status_of netdemo@web)
if [ $rc != 0 ]; then
    fail good_reload_succeeds "systemctl reload exited $rc: $out"
elif ! curl -sf http://127.0.0.1:$P_WEB3/health >/dev/null; then
    fail good_reload_succeeds "new port $P_WEB3 does not answer once reload returned"
elif curl -sf --max-time 2 http://127.0.0.1:$P_WEB2/health >/dev/null; then
    fail good_reload_succeeds "removed port $P_WEB2 still answers"
else
    case $st in
        *failed*|"") fail good_reload_succeeds "StatusText '$st'" ;;
        *) pass good_reload_succeeds ;;
    esac
fi
# A plain kill -HUP: the same verdict in StatusText, nothing waits for it.
pid=$(systemctl show -p MainPID --value netdemo@web)
echo "bogus_key = 1" >>$conf
kill -HUP "$pid"
wait_for 5 sh -c "systemctl show -p StatusText --value netdemo@web | grep -q '^reload failed: $conf:'"
st1=$(status_of netdemo@web)
write_conf ""
kill -HUP "$pid"
wait_for 5 sh -c "! systemctl show -p StatusText --value netdemo@web | grep -q 'failed\|reloading'"
st2=$(status_of netdemo@web)
if [ "${st1#reload failed: $conf:}" != "$st1" ] && [ "${st2#*failed}" = "$st2" ] &&
   systemctl is-active -q netdemo@web; then
    pass kill_hup_status
else
    fail kill_hup_status "after a bad HUP '$st1', after a good one '$st2'"
fi
# 2c. drain = on shows in StatusText (and /health says 503); off again, not.
write_conf $'\ndrain = on'
out=$(systemctl reload netdemo@web 2>&1); rc=$?
st1=$(status_of netdemo@web)
code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$P_WEB/health)
write_conf ""
systemctl reload netdemo@web
st2=$(status_of netdemo@web)
case "$rc|$st1|$code|$st2" in
    "0|1 service (web: draining),"*"|503|1 service (web),"*) pass drain_in_status_text ;;
    *) fail drain_in_status_text "reload $rc ($out), with drain '$st1' /health $code, without '$st2'" ;;
esac
write_conf ", tcp://127.0.0.1:$P_WEB2"

# 3. socket activation: the first connection starts the service; a restart
#    refuses no connection attempt.
systemctl start netdemo-http.socket
if systemctl is-active -q netdemo@http; then
    fail socket_activation "service running before any connection"
elif curl -sf --max-time 10 http://127.0.0.1:$P_HTTP/health | grep -q ok &&
     systemctl is-active -q netdemo@http; then
    pass socket_activation
else
    fail socket_activation "$(journalctl -u netdemo@http -n 5 --no-pager)"
fi
python3 - $P_HTTP >/tmp/restart.log 2>&1 <<'PY' &
import socket, sys, time
refused = ok = 0
kinds = {}
end = time.time() + 4
while time.time() < end:
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d: break
            data += d
        ok += data.startswith(b"HTTP/1.1 200")
        s.close()
    except OSError as e:
        refused += 1
        kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
print("ok", ok, "refused", refused, kinds)
PY
loop=$!
sleep 1
systemctl restart netdemo@http
wait $loop
if grep -q "refused 0" /tmp/restart.log; then pass restart_refuses_nothing
else fail restart_refuses_nothing "$(cat /tmp/restart.log)"; fi

# 4. watchdog: set, and no restart during two intervals of normal running
wd=$(systemctl show -p WatchdogUSec --value netdemo@echo)
pid=$(systemctl show -p MainPID --value netdemo@echo)
sleep 4.5   # two 2 s watchdog intervals of normal running: the check itself
if [ "$wd" != 0 ] && [ -n "$wd" ] &&
   [ "$(systemctl show -p NRestarts --value netdemo@echo)" = 0 ] &&
   [ "$(systemctl show -p MainPID --value netdemo@echo)" = "$pid" ]; then
    pass watchdog
else
    fail watchdog "WatchdogUSec=$wd NRestarts=$(systemctl show -p NRestarts --value netdemo@echo)"
fi

# 5. stop ends with Result=success
systemctl stop netdemo@echo netdemo@web netdemo@http netdemo-http.socket
r=$(systemctl show -p Result --value netdemo@echo)
if [ "$r" = success ]; then pass stop_success; else fail stop_success "Result=$r"; fi

# 5b. a configuration error at start fails the unit with 78 at once: no
#     restart (RestartSec=1s would have made three by now)
write_conf ""
echo "bogus_key = 1" >>$conf
systemctl start netdemo@echo 2>/dev/null
sleep 3.5
st=$(systemctl show -p ActiveState -p NRestarts -p ExecMainStatus -p Result netdemo@echo | sort | tr '\n' ' ')
if [ "$st" = "ActiveState=failed ExecMainStatus=78 NRestarts=0 Result=exit-code " ]; then
    pass config_error_not_restarted
else
    fail config_error_not_restarted "$st"
fi
systemctl reset-failed netdemo@echo
write_conf ""

# 6. systemd-analyze: verify prints nothing; exposure at most 1.5
out=$(systemd-analyze verify /usr/local/lib/systemd/system/netdemo@.service \
      /usr/local/lib/systemd/system/netdemo-http.socket 2>&1)
if [ -z "$out" ]; then pass analyze_verify; else fail analyze_verify "$out"; fi
exp=$(systemd-analyze security netdemo@echo.service 2>/dev/null |
      sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$exp" ] && awk "BEGIN { exit !($exp <= 1.5) }"; then pass "security_exposure_$exp"
else fail security_exposure "exposure '$exp'"; fi

# 7. README.md's command blocks ("Running under systemd"), as they stand,
#    line by line, from a clean state: each line must succeed, then what it
#    promises must hold. The editor line gets an EDITOR that writes our ports.
readme_block() {    # readme_block NAME: the lines of <!-- systemd-block: NAME -->
    awk -v name="$1" '
        index($0, "<!-- systemd-block: " name " ") == 1 { inb = 1; next }
        inb && /^<!-- \/systemd-block -->/ { exit }
        inb && !/^```/ && NF { print }' README.md
}
run_block() {       # run_block NAME: 0 if every line succeeded, else FAIL names it
    local n=0 cmd out
    while IFS= read -r cmd; do
        n=$((n + 1))
        echo "README $1: $cmd"
        if ! out=$(EDITOR=/tmp/readme-editor timeout 60 bash -c "$cmd" 2>&1 </dev/null); then
            fail "readme_$1" "line $n: '$cmd' failed: $(echo "$out" | tail -3 | tr '\n' ' ')"
            return 1
        fi
        printf '%s\n' "$out" >"/tmp/readme-$1.$n.out"
    done < <(readme_block "$1")
    [ $n -gt 0 ] || { fail "readme_$1" "no systemd-block '$1' in README.md"; return 1; }
}
inherited() {       # inherited UNIT ADDR: its current run took ADDR from systemd
    journalctl --no-pager _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value "$1")" |
        grep -q "inherited $2 "
}
cat >/tmp/readme.ini <<INI
[netdemo]
log_level = info

[echo]
module = echo
listen = tcp://127.0.0.1:$P_ECHO

[http]
module = http
listen = tcp://127.0.0.1:$P_HTTP
INI
printf '#!/bin/sh\ncp /tmp/readme.ini "$1"\n' >/tmp/readme-editor
chmod +x /tmp/readme-editor
systemctl stop netdemo@echo netdemo@web netdemo@http netdemo-http.socket 2>/dev/null
systemctl reset-failed 2>/dev/null
if run_block setup; then
    why=
    for u in netdemo@echo netdemo-http.socket netdemo@http; do
        [ "$(systemctl is-enabled $u)" = enabled ] || why="$why $u not enabled;"
        systemctl is-active -q $u || why="$why $u not active;"
    done
    [ "$(printf ready | timeout 5 nc -q1 127.0.0.1 $P_ECHO)" = ready ] || why="$why echo does not answer;"
    curl -sf http://127.0.0.1:$P_HTTP/health | grep -q ok || why="$why http does not answer;"
    inherited netdemo@http tcp://127.0.0.1:$P_HTTP || why="$why netdemo@http did not take the socket unit's socket;"
    grep -q 'Status: "1 service (http), 1 listener' /tmp/readme-setup.*.out || why="$why no Status: line;"
    if [ -z "$why" ]; then pass readme_setup; else fail readme_setup "$why"; fi
fi
# The README's claim, then its remedy: systemd will not start the socket
# unit while netdemo@http runs on sockets of its own; stopping it first works.
systemctl disable -q --now netdemo-http.socket
systemctl restart netdemo@http
if systemctl enable -q --now netdemo-http.socket 2>/dev/null; then
    fail readme_socket_after_service "enable --now netdemo-http.socket worked while netdemo@http held the port: the README says it fails"
elif ! journalctl -u netdemo-http.socket --no-pager | grep -q "already active, refusing"; then
    fail readme_socket_after_service "failed, but not as the README says: $(journalctl -u netdemo-http.socket -n 3 --no-pager)"
elif ! systemctl is-active -q netdemo@http; then
    fail readme_socket_after_service "netdemo@http is $(systemctl is-active netdemo@http) after it"
else
    pass readme_socket_after_service
fi
systemctl disable -q netdemo-http.socket; systemctl reset-failed netdemo-http.socket 2>/dev/null
if run_block switch; then
    if systemctl is-active -q netdemo-http.socket && systemctl is-active -q netdemo@http &&
       inherited netdemo@http tcp://127.0.0.1:$P_HTTP &&
       curl -sf http://127.0.0.1:$P_HTTP/health | grep -q ok; then
        pass readme_switch
    else
        fail readme_switch "socket $(systemctl is-active netdemo-http.socket), service $(systemctl is-active netdemo@http)"
    fi
fi
systemctl disable -q --now netdemo@echo netdemo@http netdemo-http.socket

# 8. a unix socket shared with a group (README "Sharing a unix socket"):
#    under /run/netdemo/NAME/ with socket_mode = 0660 and socket_group, a
#    member of the group connects and another user does not; a socket put
#    in /tmp is logged with the path it really has (the unit's /tmp is
#    private), and the file is there.
groupadd -f nd-clients
id ndalice >/dev/null 2>&1 || useradd -M -N -G nd-clients ndalice
id ndbob >/dev/null 2>&1 || useradd -M -N ndbob
cat >$conf <<INI
[sock]
module = echo
listen = unix:/run/netdemo/shared.sock
socket_mode = 0660
socket_group = nd-clients

[tmpsock]
module = echo
listen = unix:/tmp/nd-private.sock
INI
mkdir -p /etc/systemd/system/netdemo@sock.service.d
printf '[Service]\nSupplementaryGroups=nd-clients\n' >/etc/systemd/system/netdemo@sock.service.d/group.conf
systemctl daemon-reload
as_user() {     # as_user USER: what the echo socket sends back to USER, or nc's error
    runuser -u "$1" -- sh -c 'printf shared | timeout 5 nc -q1 -U /run/netdemo/shared.sock' 2>&1
}
if systemctl start netdemo@sock; then
    why=
    perm=$(stat -c '%a %G' /run/netdemo/shared.sock 2>&1)
    [ "$perm" = "660 nd-clients" ] || why="$why file is '$perm', want '660 nd-clients';"
    got=$(as_user ndalice)
    [ "$got" = shared ] || why="$why group member ndalice ($(id ndalice)) got '$got';"
    got=$(as_user ndbob)
    case "$got" in *"ermission denied"*) ;; *) why="$why ndbob (not in the group) got '$got';" ;; esac
    if [ -z "$why" ]; then pass unix_socket_group; else fail unix_socket_group "$why"; fi
else
    fail unix_socket_group "start failed: $(journalctl -u netdemo@sock -n 5 --no-pager)"
fi
if systemctl start netdemo@tmpsock; then
    line=$(journalctl -u netdemo@tmpsock --no-pager -o cat | grep 'listening on unix:/tmp/nd-private.sock' | tail -1)
    real=$(echo "$line" | sed -n 's/.*for other processes the file is \(.*\))$/\1/p')
    echo "log: $line"
    if [ -z "$real" ]; then
        fail unix_socket_private_tmp "the log does not say where the file is: '$line'"
    elif [ -e /tmp/nd-private.sock ]; then
        fail unix_socket_private_tmp "/tmp/nd-private.sock is in the host's /tmp: PrivateTmp= is off?"
    elif ! [ -S "$real" ]; then
        fail unix_socket_private_tmp "no socket at the logged path '$real'"
    else
        pass unix_socket_private_tmp
    fi
else
    fail unix_socket_private_tmp "start failed: $(journalctl -u netdemo@tmpsock -n 5 --no-pager)"
fi
systemctl stop netdemo@sock netdemo@tmpsock

echo "systemd: $passed passed, $failed failed"
[ $failed = 0 ]
