# Shell helpers for the OpenSSH, xinetd and fail2ban tests (tests/services_ssh.rs,
# tests/services_xinetd.rs, tests/probe_side_effects.rs). They run after
# tests/lab/daemon_fns.sh as PID 1 of real-root net + mount + pid namespaces: every mount below
# is in the private mount namespace, every daemon dies with the script, nothing touches the host.

# private_run: a fresh tmpfs (mode 755) over /run with /run/sshd in it: sshd needs /run/sshd
# (root-owned, not group/world-writable) and creating it on the host's /run would change the
# machine.
private_run() {
    mount -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p /run/sshd
}

# private_dev: a fresh tmpfs over /dev holding only the usual nodes, so that a syslog socket
# (/dev/log) can exist in this namespace alone.
private_dev() {
    nd="$LAB_DIR/.dev"
    mkdir -p "$nd"
    mount -t tmpfs -o mode=0755 tmpfs "$nd"
    for n in null zero full random urandom tty ptmx; do cp -a "/dev/$n" "$nd/"; done
    ln -s /proc/self/fd "$nd/fd"
    ln -s /proc/self/fd/0 "$nd/stdin"
    ln -s /proc/self/fd/1 "$nd/stdout"
    ln -s /proc/self/fd/2 "$nd/stderr"
    mkdir "$nd/pts" "$nd/shm"
    mount --move "$nd" /dev
}

# syslog_start FILE: a minimal syslog daemon on /dev/log (after private_dev) appending each
# message to FILE as rsyslog writes auth.log (`Mmm dd hh:mm:ss lab sshd[pid]: text`): libwrap's
# `refused connect from` goes to syslog(3) only, never to sshd's -E file.
syslog_start() {
    cat > "$LAB_DIR/syslogd.py" <<'PY'
import os, re, socket, sys, time
out = open(sys.argv[1], "a", buffering=1)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
open(sys.argv[1] + ".ready", "w").close()
while True:
    m = s.recv(65536).decode("utf-8", "replace").rstrip("\n\0")
    m = re.sub(r"^<\d+>", "", m)
    m = re.sub(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ", "", m)
    out.write(time.strftime("%b %e %H:%M:%S") + " lab " + m + "\n")
PY
    /usr/bin/python3 "$LAB_DIR/syslogd.py" "$1" &
    i=0
    while [ ! -e "$1.ready" ]; do
        i=$((i + 1))
        if [ "$i" -gt 200 ]; then echo "syslog receiver did not start" >&2; exit 95; fi
        sleep 0.05
    done
}

# sshd_conf NAME LISTEN...: write NAME.conf (its own ed25519 host key NAME.key, LogLevel
# VERBOSE, no PAM) listening on each LISTEN (`127.0.25.1:22`, `[::1]:22`). Append more
# options to NAME.conf before sshd_start.
sshd_conf() {
    name=$1
    shift
    rm -f "$LAB_DIR/$name.key" "$LAB_DIR/$name.key.pub"
    ssh-keygen -q -N '' -t ed25519 -f "$LAB_DIR/$name.key"
    {
        echo "HostKey $LAB_DIR/$name.key"
        for l in "$@"; do echo "ListenAddress $l"; done
        echo "PidFile /run/sshd-$name.pid"
        echo "LogLevel VERBOSE"
        echo "UsePAM no"
    } > "$LAB_DIR/$name.conf"
}

# sshd_start NAME ADDR PORT [syslog]: start `sshd -D` on NAME.conf (after private_run), its log
# in NAME.log (`-E`, an absolute path: the per-connection child re-opens it after chdir /), or
# to syslog with `syslog`; wait until it listens on ADDR:PORT.
sshd_start() {
    if [ "${4:-}" = syslog ]; then
        /usr/sbin/sshd -D -f "$LAB_DIR/$1.conf" &
    else
        /usr/sbin/sshd -D -f "$LAB_DIR/$1.conf" -E "$LAB_DIR/$1.log" &
    fi
    wait_port "$2" "$3"
}

# tcp_wrappers ALLOW-LINE DENY-LINE: private /etc/hosts.allow and /etc/hosts.deny.
tcp_wrappers() {
    printf '%s\n' "$1" > "$LAB_DIR/hosts.allow"
    printf '%s\n' "$2" > "$LAB_DIR/hosts.deny"
    private_file /etc/hosts.allow "$LAB_DIR/hosts.allow"
    private_file /etc/hosts.deny "$LAB_DIR/hosts.deny"
}

# ssh_try NAME ADDR: a real `ssh` login attempt (BatchMode, no keys: it fails at auth);
# stderr in NAME.err, exit code in NAME.rc.
ssh_try() {
    run_to "$1" timeout 15 ssh -F /dev/null -v -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -p 22 "nobody@$2" true
}

# hold_conns NAME ADDR PORT N: hold N connections open to ADDR:PORT (python, in the
# background, each reading what the server sends into NAME.held); `kill "$(cat NAME.pid)"`
# lets them go. Returns once all N are connected and have read the greeting.
hold_conns() {
    cat > "$LAB_DIR/hold.py" <<'PY'
import socket, sys, time
addr, port, n, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
socks = []
with open(out, "w") as f:
    for _ in range(n):
        s = socket.create_connection((addr, port))
        s.settimeout(10)
        f.write(s.recv(256).decode("utf-8", "replace"))
        socks.append(s)
open(out + ".ready", "w").close()
time.sleep(100)
PY
    rm -f "$LAB_DIR/$1.held.ready"
    /usr/bin/python3 "$LAB_DIR/hold.py" "$2" "$3" "$4" "$LAB_DIR/$1.held" &
    echo $! > "$LAB_DIR/$1.pid"
    i=0
    while [ ! -e "$LAB_DIR/$1.held.ready" ]; do
        i=$((i + 1))
        if [ "$i" -gt 200 ]; then echo "hold_conns $1 did not connect" >&2; exit 94; fi
        sleep 0.05
    done
}

# timed NAME CMD...: run_to NAME CMD..., and its wall time in whole milliseconds in NAME.ms.
timed() {
    t0=$(date +%s%N)
    run_to "$@"
    echo $((($(date +%s%N) - t0) / 1000000)) > "$LAB_DIR/$1.ms"
}
