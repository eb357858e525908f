# Shell helpers for namespace scripts that run several scans at once or count packets (after
# tests/lab/lab_fns.sh; tests/common/netns.rs, `ns_with_jobs`).

# bg_scan NAME SCAN-ARGS...: `scan` in the background; `join` waits for all of them (a bare
# `wait` would also wait for the labs).
PIDS=""
bg_scan() {
    scan "$@" &
    PIDS="$PIDS $!"
}
join() {
    # shellcheck disable=SC2086
    wait $PIDS
    PIDS=""
}

# packets COUNTER: packets of a named counter of table `inet cnt`, as JSON, into COUNTER.<n>.json
# (n = how many times it was read before).
packets() {
    n=0
    while [ -e "$1.$n.json" ]; do n=$((n + 1)); done
    nft -j list counter inet cnt "$1" > "$1.$n.json"
}
