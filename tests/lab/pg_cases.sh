# PostgreSQL 15 cases of tests/services_postgres_redis.rs (after tests/lab/daemon_fns.sh and
# tests/lab/pg_fns.sh, as PID 1 of real-root net + mount + pid namespaces). One postgres,
# max_connections 3 with no reserved slots, logging to pg.log. pg_hba.conf per case address
# (the kernel uses the destination as the source, so each address is also the client the
# server sees):
#   127.0.27.2 reject           127.0.27.3 scram-sha-256     127.0.27.4 md5
#   127.0.27.5 trust (scanned while every slot is held: SQLSTATE 53300)
#   127.0.27.6 scram-sha-256, scanned with each close style for the log lines
# Inputs (LAB_DIR): inv_*.yaml. Outputs: NAME.{out,err,rc} of each scan, NAME.log (the
# postgres log lines that scan added), pg.log.
A=127.0.27
addr_add $A.2 $A.3 $A.4 $A.5 $A.6
pg_start $A.2,$A.3,$A.4,$A.5,$A.6 3 << EOF
host all all $A.2/32 reject
host all all $A.3/32 scram-sha-256
host all all $A.4/32 md5
host all all $A.5/32 trust
host all all $A.6/32 scram-sha-256
EOF

# With the StartupMessage: ErrorResponse 28000 / an authentication request, all at once.
pg_scan hello --format ndjson --hello inv_hello.yaml
# Without it: PostgreSQL waits for the client; the probe sees silence.
pg_scan silent --format ndjson inv_silent.yaml
# The close styles against a password host: the default (FIN), connect-only RST, the old probe.
pg_scan style_default --format ndjson inv_style.yaml
pg_scan style_connect --format ndjson --style connect inv_style.yaml
pg_scan style_linger --format ndjson --style linger inv_style.yaml

# Capacity: every slot held by a real session; the next StartupMessage gets SQLSTATE 53300.
for _ in 1 2 3; do
    psql -h /run/postgresql -U postgres -d postgres -Atc "SELECT pg_sleep(20)" > /dev/null 2>&1 &
done
# Count the busy backends by their process titles: a connection to ask would take a slot.
i=0
until [ "$(ps -eo args | grep -c '^postgres: postgres postgres \[local\] SELECT')" = 3 ]; do
    i=$((i + 1))
    [ $i -le 200 ] || { echo "the slots never filled" >&2; ps -eo args >&2; exit 95; }
    sleep 0.05
done
pg_scan full --format ndjson --hello inv_full.yaml
