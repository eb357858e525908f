# A delayed, lossy link between the scanner and its targets, for kernels without sch_netem
# (after tests/lab/ns_prelude.sh and tests/lab/lab_fns.sh; tests/timing_netem.rs).
#
# The script's namespace (A) is the scanner's; `link_up` makes a second network namespace (B)
# for the targets and joins them with two TUN devices and tests/lab/netem_link.py, which
# delays / drops every packet as `tc qdisc add dev lo root netem ...` would on `lo`. Only
# 127.0.0.0/8 is used: A is 127.3.0.1 (on tA), B answers for 127.2.0.0/24 (local on its lo);
# the broad `local 127.0.0.0/8` routes are trimmed so those two ranges go over the link
# (route_localnet allows 127/8 on the TUN devices). Nothing leaves the two namespaces.
#
# After `link_up`: `in_b CMD...` runs CMD in B (a script in $LAB_DIR), `lab_b NAME ARGS...` is
# `lab_start` in B, `link_profile N DELAY_MS JITTER_MS LOSS_PCT` switches the link (each
# answer of B is logged to link.log, see netem_link.py; `mark N` separates the runs).

link_up() {
    ip tuntap add dev tA mode tun
    ip tuntap add dev tB mode tun
    /usr/bin/python3 "$LAB_DIR/netem_link.py" tA tB "$LAB_DIR/link.ctl" "$LAB_DIR/link.log" \
        > link.out 2> link.err &
    LINK_PID=$!
    i=0
    until grep -qx ready link.out 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 200 ] || ! kill -0 "$LINK_PID" 2>/dev/null; then
            echo "netem_link.py did not start" >&2
            cat link.err >&2
            exit 96
        fi
        sleep 0.05
    done
    unshare -n sleep 100000 &
    B_PID=$!
    i=0
    while [ "$(readlink /proc/$B_PID/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do
        i=$((i + 1))
        [ "$i" -lt 200 ] || { echo "namespace B not made" >&2; exit 96; }
        sleep 0.01
    done
    ip link set tB netns "$B_PID"
    printf '#!/bin/sh\nexec nsenter -t %s -n "$@"\n' "$B_PID" > in_b
    chmod +x in_b

    sysctl -qw net.ipv4.conf.all.route_localnet=1
    ip link set tA up txqueuelen 10000
    sysctl -qw net.ipv4.conf.tA.route_localnet=1
    ip addr add 127.3.0.1/32 dev tA
    ip route del local 127.0.0.0/8 dev lo table local
    ip route add 127.2.0.0/24 dev tA src 127.3.0.1

    ./in_b ip link set lo up
    ./in_b sysctl -qw net.ipv4.conf.all.route_localnet=1
    ./in_b ip link set tB up txqueuelen 10000
    ./in_b sysctl -qw net.ipv4.conf.tB.route_localnet=1
    ./in_b ip route del local 127.0.0.0/8 dev lo table local
    ./in_b ip route add local 127.2.0.0/24 dev lo table local
    ./in_b ip route add 127.3.0.0/24 dev tB
    # ICMP errors leave B over tB, not lo: lift the per-peer and global ICMP rate limits
    # (per-namespace sysctls) so every reject is answered, as on lo.
    ./in_b sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000 \
        net.ipv4.icmp_msgs_burst=1000000
}

in_b() {
    "$LAB_DIR/in_b" "$@"
}

# lab_b NAME LAB-ARGS...: `lab_start` with the lab in namespace B.
lab_b() {
    t_saved=$TELLTALE
    printf '#!/bin/sh\nexec "%s/in_b" "%s" "$@"\n' "$LAB_DIR" "$t_saved" > telltale_b
    chmod +x telltale_b
    TELLTALE="$LAB_DIR/telltale_b"
    lab_start "$@"
    TELLTALE=$t_saved
}

# link_profile N DELAY_MS JITTER_MS LOSS_PCT: switch the link, wait until the relay applied it.
link_profile() {
    echo "$1 $2 $3 $4" > link.ctl.tmp
    mv link.ctl.tmp link.ctl
    kill -USR1 "$LINK_PID"
    i=0
    until grep -q "^mark $1 " link.log 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 500 ] || { echo "netem_link.py did not apply profile $1" >&2; exit 96; }
        sleep 0.01
    done
}
