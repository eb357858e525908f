# Shell helpers shared by the test scripts (after tests/lab/ns_prelude.sh in a namespace, or
# alone on the host loopback). Expects `set -e` and, in the environment, TELLTALE (the
# binary) and LAB_READY_SECS (how long lab_start waits for `ready`; 20 if unset).

# lab_start NAME LAB-ARGS...: start `telltale lab` in the background and wait
# for its `ready` line (services listed in NAME.lab, stderr in NAME.laberr, pid in NAME.pid).
lab_start() {
    name=$1
    shift
    "$TELLTALE" lab "$@" > "$name.lab" 2> "$name.laberr" &
    echo $! > "$name.pid"
    i=0
    while ! grep -qx ready "$name.lab" 2>/dev/null; do
        if ! kill -0 "$(cat "$name.pid")" 2>/dev/null; then
            echo "lab $name exited before ready: $*" >&2
            cat "$name.laberr" >&2
            exit 97
        fi
        i=$((i + 1))
        if [ "$i" -gt $((${LAB_READY_SECS:-20} * 20)) ]; then
            echo "lab $name not ready after ${LAB_READY_SECS:-20} s: $*" >&2
            cat "$name.laberr" >&2
            exit 98
        fi
        sleep 0.05
    done
}

# lab_stop NAME: stop a lab started by lab_start (its ports now refuse connections).
lab_stop() {
    kill "$(cat "$1.pid")"
    wait "$(cat "$1.pid")" 2>/dev/null || true
}

# run_to NAME CMD...: run CMD; stdout -> NAME.out, stderr -> NAME.err,
# exit code -> NAME.rc. Never aborts the script.
run_to() {
    name=$1
    shift
    set +e
    "$@" > "$name.out" 2> "$name.err"
    echo $? > "$name.rc"
    set -e
}

# scan NAME SCAN-ARGS...: `telltale scan SCAN-ARGS...` via run_to.
scan() {
    name=$1
    shift
    run_to "$name" "$TELLTALE" scan "$@"
}
