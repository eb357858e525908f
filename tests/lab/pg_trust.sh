# PostgreSQL 15 `trust` for tests/services_postgres_redis.rs (after tests/lab/daemon_fns.sh and
# tests/lab/pg_fns.sh): the StartupMessage gets AuthenticationOk, then FATAL 28000 `role
# "telltale" does not exist` and a close. Outputs: trust.{out,err,rc,log}, pg.log.
addr_add 127.0.27.5
pg_start 127.0.27.5 3 << HBA
host all all 127.0.27.5/32 trust
HBA
pg_scan trust --format ndjson --hello inv.yaml
