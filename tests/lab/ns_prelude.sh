# Prelude for tests/netns_lab.rs. The Rust test writes this file, followed by the
# test's own commands, into a temp dir and runs it as PID 1 of a fresh
# `unshare -rnmpf` namespace set (user + net + mount + pid): only `lo` exists,
# so no packet can leave, and every process here dies with the script.
#
# Inputs (environment): LAB_DIR (the temp dir), TELLTALE (the binary).
# Optional files in LAB_DIR: rules.nft (loaded with `nft -f`), hosts (bind-mounted
# on /etc/hosts). resolv.conf is always bind-mounted so that even an unknown
# name is only ever asked of 127.0.0.1 *inside* the namespace (nothing listens:
# getaddrinfo fails at once with EAI_AGAIN).
set -eu
export PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"
cd "$LAB_DIR"

ip link set lo up
if [ -f rules.nft ]; then nft -f rules.nft; fi
if [ -f hosts ]; then mount --bind hosts /etc/hosts; fi
printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' > resolv.conf
mount --bind resolv.conf /etc/resolv.conf

# lab_start NAME LAB-ARGS...: start `telltale lab` in the background and wait
# for its `ready` line (services listed in NAME.out, stderr in NAME.err).
lab_start() {
    name=$1
    shift
    "$TELLTALE" lab "$@" > "$name.out" 2> "$name.err" &
    pid=$!
    i=0
    while ! grep -qx ready "$name.out" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "lab $name exited before ready: $*" >&2
            cat "$name.err" >&2
            exit 97
        fi
        i=$((i + 1))
        if [ "$i" -gt 400 ]; then
            echo "lab $name not ready after 20 s: $*" >&2
            cat "$name.err" >&2
            exit 98
        fi
        sleep 0.05
    done
}

# run_to NAME CMD...: run CMD; stdout -> NAME.ndjson, stderr -> NAME.err,
# exit code -> NAME.rc. Never aborts the script.
run_to() {
    name=$1
    shift
    set +e
    "$@" > "$name.ndjson" 2> "$name.err"
    echo $? > "$name.rc"
    set -e
}

# scan NAME SCAN-ARGS...: `telltale scan SCAN-ARGS...` via run_to.
scan() {
    name=$1
    shift
    run_to "$name" "$TELLTALE" scan "$@"
}

# ---- test body follows ----
