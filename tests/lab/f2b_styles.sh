# tests/probe_side_effects.rs (after ssh_fns.sh and f2b_fns.sh): what each probe style costs on
# a real sshd + fail2ban. A syslog receiver on a private /dev/log writes auth.log as rsyslog
# would (sshd's own lines and libwrap's `refused connect from`, which only goes to syslog(3));
# two sshds log there, one at LogLevel VERBOSE, one at INFO; fail2ban (polling auth.log) runs
# one jail per filter mode. Style number S (1..4, styles.txt) scans its own four addresses five
# times: plain sshd 127.0.25.2S (VERBOSE) and 127.0.25.4S (INFO), libwrap-denied 127.0.25.3S
# (VERBOSE) and 127.0.25.5S (INFO). Styles run side by side; each one's scans run in turn.
private_dev
private_run
syslog_start "$LAB_DIR/auth.log"
deny=""
for s in 1 2 3 4; do
    addr_add "127.0.25.2$s" "127.0.25.3$s" "127.0.25.4$s" "127.0.25.5$s"
    deny="$deny 127.0.25.3$s 127.0.25.5$s"
done
tcp_wrappers '' "sshd:$deny"
sshd_conf sv 127.0.25.21:22 127.0.25.22:22 127.0.25.23:22 127.0.25.24:22 \
    127.0.25.31:22 127.0.25.32:22 127.0.25.33:22 127.0.25.34:22
sshd_conf si 127.0.25.41:22 127.0.25.42:22 127.0.25.43:22 127.0.25.44:22 \
    127.0.25.51:22 127.0.25.52:22 127.0.25.53:22 127.0.25.54:22
sed -i 's/^LogLevel VERBOSE$/LogLevel INFO/' si.conf
sshd_start sv 127.0.25.34 22 syslog
sshd_start si 127.0.25.54 22 syslog
f2b_start "$LAB_DIR/auth.log" normal ddos aggressive
s=0
pids=""
while read -r style flags; do
    s=$((s + 1))
    {
        echo "targets:"
        echo "  - {name: plain-verbose, host: 127.0.25.2$s, ports: [22]}"
        echo "  - {name: denied-verbose, host: 127.0.25.3$s, ports: [22]}"
        echo "  - {name: plain-info, host: 127.0.25.4$s, ports: [22]}"
        echo "  - {name: denied-info, host: 127.0.25.5$s, ports: [22]}"
    } > "style$s.yaml"
    (
        for i in 1 2 3 4 5; do
            # shellcheck disable=SC2086
            scan "$style.$i" "style$s.yaml" --format ndjson --no-progress --no-detect-wildcard $flags
        done
    ) &
    pids="$pids $!"
done < styles.txt
# shellcheck disable=SC2086
wait $pids
# A libwrap-denied child sleeps 5 s before it exits; let the last ones log, then let fail2ban
# read everything.
sleep 5.5
f2b_settle
f2b banned > banned.txt
