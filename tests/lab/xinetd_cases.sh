# tests/services_xinetd.rs (after ssh_fns.sh): one xinetd with five services, each bound to its
# own address: sshd -i allowed (only_from the client), sshd -i denied by only_from (accept,
# then a FIN), the same with `banner_fail` text, a `421` banner_fail on the FTP port, and a
# denied service on a port with no protocol (2300).
addr_add 127.0.25.11 127.0.25.12 127.0.25.13 127.0.25.14 127.0.25.15
private_run
tcp_wrappers '' ''
sshd_conf xs 127.0.25.11:22
printf 'Access denied by xinetd\r\n' > banner_fail.txt
printf '421 Service not available: access denied\r\n' > banner_fail_421.txt
# svc NAME ADDR PORT ONLY_FROM [BANNER_FAIL-FILE]
svc() {
    echo "service $1"
    echo "{"
    echo "    type = UNLISTED"
    echo "    socket_type = stream"
    echo "    protocol = tcp"
    echo "    wait = no"
    echo "    user = root"
    echo "    bind = $2"
    echo "    port = $3"
    echo "    only_from = $4"
    echo "    server = /usr/sbin/sshd"
    echo "    server_args = -i -f $LAB_DIR/xs.conf -E $LAB_DIR/xs.log"
    if [ -n "${5:-}" ]; then echo "    banner_fail = $LAB_DIR/$5"; fi
    echo "}"
}
{
    echo "defaults"
    echo "{"
    echo "    log_type = FILE $LAB_DIR/xinetd.svc.log"
    echo "    log_on_success = HOST PID"
    echo "    log_on_failure = HOST"
    echo "}"
    svc ssh_ok 127.0.25.11 22 127.0.25.11
    svc ssh_denied 127.0.25.12 22 127.0.25.99
    svc ssh_banner 127.0.25.13 22 127.0.25.99 banner_fail.txt
    svc ftp_421 127.0.25.14 21 127.0.25.99 banner_fail_421.txt
    svc tcp_denied 127.0.25.15 2300 127.0.25.99
} > xinetd.conf
xinetd -dontfork -stayalive -filelog "$LAB_DIR/xinetd.log" -f "$LAB_DIR/xinetd.conf" \
    -pidfile /run/xinetd.pid &
wait_port 127.0.25.15 2300
wait_port 127.0.25.11 22
cat > inv.yaml <<'I'
targets:
  - {name: ssh_ok, host: 127.0.25.11, ports: [22]}
  - {name: ssh_denied, host: 127.0.25.12, ports: [22]}
  - {name: ssh_banner, host: 127.0.25.13, ports: [22]}
  - {name: ftp_421, host: 127.0.25.14, ports: [21]}
  - {name: tcp_denied, host: 127.0.25.15, ports: [2300]}
I
timed x "$TELLTALE" scan inv.yaml --format ndjson --no-progress --no-detect-wildcard
ssh_try ssh_client 127.0.25.11
