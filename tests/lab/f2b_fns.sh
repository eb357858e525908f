# fail2ban helpers for tests/probe_side_effects.rs (after tests/lab/daemon_fns.sh and
# tests/lab/ssh_fns.sh, in a real-root namespace): a fail2ban-server with its own config dir,
# socket, pid file, in-memory database and log, the dummy ban action (no firewall is touched),
# and one jail per sshd filter mode on one auth log.

# f2b_start LOGPATH MODE...: copy /etc/fail2ban to f2b/, enable one jail `sshd-MODE` per MODE
# (normal, ddos, extra, aggressive) on LOGPATH (polling backend, maxretry 5, findtime and
# bantime 1 h, ignoreself off: the namespace's 127.0.25.x addresses are the server's own), and
# start fail2ban-server in the foreground; returns once every jail answers `status`.
f2b_start() {
    logpath=$1
    shift
    cp -a /etc/fail2ban "$LAB_DIR/f2b"
    rm -f "$LAB_DIR"/f2b/jail.d/*
    cat > "$LAB_DIR/f2b/fail2ban.local" <<EOF
[Definition]
loglevel = INFO
logtarget = $LAB_DIR/f2b.log
socket = $LAB_DIR/f2b.sock
pidfile = $LAB_DIR/f2b.pid
dbfile = :memory:
EOF
    {
        echo "[DEFAULT]"
        echo "backend = polling"
        echo "banaction = dummy"
        echo "banaction_allports = dummy"
        echo "maxretry = 5"
        echo "findtime = 1h"
        echo "bantime = 1h"
        echo "ignoreself = false"
        echo "ignoreip ="
        for m in "$@"; do
            echo "[sshd-$m]"
            echo "enabled = true"
            echo "filter = sshd[mode=$m]"
            echo "port = ssh"
            echo "logpath = $logpath"
        done
    } > "$LAB_DIR/f2b/jail.local"
    : >> "$logpath"
    fail2ban-server -f -x -c "$LAB_DIR/f2b" -s "$LAB_DIR/f2b.sock" -p "$LAB_DIR/f2b.pid" \
        > "$LAB_DIR/f2b.stdout" 2>&1 &
    i=0
    for m in "$@"; do
        until f2b status "sshd-$m" > /dev/null 2>&1; do
            i=$((i + 1))
            if [ "$i" -gt 400 ]; then
                echo "fail2ban jail sshd-$m not up after 20 s" >&2
                cat "$LAB_DIR/f2b.stdout" "$LAB_DIR/f2b.log" >&2 || true
                exit 93
            fi
            sleep 0.05
        done
    done
}

# f2b ARGS...: fail2ban-client on this test's server.
f2b() {
    fail2ban-client -c "$LAB_DIR/f2b" -s "$LAB_DIR/f2b.sock" "$@"
}

# f2b_settle: wait until fail2ban has read the whole log (two polling cycles with no new
# `Found` line in f2b.log).
f2b_settle() {
    last=-1
    same=0
    while [ "$same" -lt 3 ]; do
        sleep 1
        n=$(grep -c ' Found ' "$LAB_DIR/f2b.log" || true)
        if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0; fi
        last=$n
    done
}
