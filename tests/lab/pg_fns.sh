# PostgreSQL 15 helpers for tests/services_postgres_redis.rs (after tests/lab/daemon_fns.sh, as
# PID 1 of real-root net + mount + pid namespaces).

# pg_start LISTEN-ADDRESSES MAX-CONNECTIONS < PG_HBA: a fresh cluster (data and socket dirs
# on private tmpfs, owned by postgres) whose pg_hba.conf is stdin after `local all all trust`,
# started with its log in pg.log; returns once it answers on the socket.
pg_start() {
    private_dir /var/lib/postgresql
    chown postgres:postgres /var/lib/postgresql
    private_dir /run/postgresql
    chown postgres:postgres /run/postgresql
    PGDATA=/var/lib/postgresql/15
    runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D $PGDATA -A trust \
        > initdb.log 2>&1
    { echo "local all all trust"; cat; } > $PGDATA/pg_hba.conf
    runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D $PGDATA \
        -k /run/postgresql -c listen_addresses="$1" -c max_connections="$2" \
        -c superuser_reserved_connections=0 > pg.log 2>&1 &
    i=0
    until psql -h /run/postgresql -U postgres -d postgres -Atc "SELECT 1" > /dev/null 2>&1; do
        i=$((i + 1))
        [ $i -le 400 ] || { echo "postgres did not start" >&2; cat pg.log >&2; exit 96; }
        sleep 0.05
    done
}

# pg_scan NAME SCAN-ARGS...: `scan` and the postgres log lines it added, in NAME.log.
pg_scan() {
    before=$(wc -l < pg.log)
    scan "$@"
    sleep 0.3 # the backends log their last words
    tail -n +$((before + 1)) pg.log > "$1.log"
}
