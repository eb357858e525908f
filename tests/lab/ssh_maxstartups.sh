# tests/services_ssh.rs, `sshd_max_startups` (after ssh_fns.sh): sshd with `MaxStartups
# 3:100:3` on 127.0.25.2:22 (a 4th unauthenticated connection gets `Exceeded MaxStartups` and
# a FIN). The run dir's `hosts` names ssh0.lab .. ssh9.lab all 127.0.25.2.
addr_add 127.0.25.2
private_run
sshd_conf ms 127.0.25.2:22
echo 'MaxStartups 3:100:3' >> ms.conf
sshd_start ms 127.0.25.2 22
{
    echo 'targets:'
    for i in 0 1 2 3 4 5 6 7 8 9; do echo "  - {host: ssh$i.lab, ports: [22]}"; done
} > ten.yaml
# Ten records on one address:port, and a real ssh login attempt started during the scan.
timed ten "$TELLTALE" scan ten.yaml --format ndjson --no-progress &
scanner=$!
sleep 0.5
ssh_try ssh_during 127.0.25.2
wait "$scanner"
grep -c 'past MaxStartups' ms.log > drops_ten || true
# Three outside connections hold every pre-auth slot: the probe is turned away in words.
hold_conns held 127.0.25.2 22 3
printf 'targets:\n  - {name: full, host: 127.0.25.2, ports: [22]}\n' > full.yaml
scan full full.yaml --format ndjson --no-progress
kill "$(cat held.pid)"
