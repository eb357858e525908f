# tests/services_ssh.rs, `sshd_open_and_libwrap_denied` (after ssh_fns.sh): one sshd on
# 127.0.25.1:22, [::1]:22 and 127.0.25.3:22; tcp_wrappers deny clients from 127.0.25.3 (libwrap
# sleeps 5 s, then the child exits: a FIN 5.0 s after accept, nothing sent).
addr_add 127.0.25.1 127.0.25.3
private_run
tcp_wrappers '' 'sshd: 127.0.25.3'
sshd_conf a 127.0.25.1:22 '[::1]:22' 127.0.25.3:22
sshd_start a 127.0.25.3 22
wait_port 127.0.25.1 22
wait_port ::1 22
cat > normal.yaml <<'I'
targets:
  - {name: v4, host: 127.0.25.1, ports: [22]}
  - {name: v6, host: "::1", ports: [22]}
I
cat > denied.yaml <<'I'
targets:
  - {name: denied, host: 127.0.25.3, ports: [22]}
I
# The default scan of a plain sshd, timed alone.
timed normal "$TELLTALE" scan normal.yaml --format ndjson --no-progress
# The denied one, while a real ssh client (the truth) tries the same address.
ssh_try ssh_denied 127.0.25.3 &
client=$!
timed denied "$TELLTALE" scan denied.yaml --format ndjson --no-progress
wait "$client"
ssh_try ssh_open 127.0.25.1
