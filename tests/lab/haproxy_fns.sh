# HAProxy for the real-daemon tests (tests/services_web.rs; after tests/lab/daemon_fns.sh, as
# real root in the test's net + mount + pid namespaces).

# haproxy_start NAME CFG ADDR:PORT...: check CFG (a file in $LAB_DIR; `haproxy -c`, exit 95
# with its words if bad), run `haproxy -db -f CFG` (foreground, no fork) as a background job
# with its output (a `log stderr` line per connection) in NAME.log, and wait until each
# ADDR:PORT listens.
haproxy_start() {
    hap_name=$1
    hap_cfg=$2
    shift 2
    if ! haproxy -c -q -f "$LAB_DIR/$hap_cfg" > "$LAB_DIR/$hap_name.check" 2>&1; then
        echo "haproxy -c refused $hap_cfg:" >&2
        cat "$LAB_DIR/$hap_name.check" >&2
        exit 95
    fi
    haproxy -db -f "$LAB_DIR/$hap_cfg" > "$LAB_DIR/$hap_name.log" 2>&1 &
    for hap_ap in "$@"; do
        wait_port "${hap_ap%:*}" "${hap_ap##*:}"
    done
}
