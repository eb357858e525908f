# MariaDB 10.11 cases of tests/services_mariadb.rs (after tests/lab/daemon_fns.sh, as PID 1 of
# real-root net + mount + pid namespaces). One mariadbd, name resolution ON (MariaDB's default;
# `hosts` maps every case address to a name, so reverse lookups answer at once),
# max_connect_errors=3, performance_schema=ON. Case addresses (the kernel uses the destination
# as the source, so each is also the client the server sees):
#   127.0.26.2 granted.lab  grant: the 20 default scans, then a real login
#   127.0.26.3 nogrant.lab  no grant: ERR 1130
#   127.0.26.4 blocked.lab  grant, blocked first by 3 greeting-then-FIN connections: ERR 1129
#   127.0.26.5 linger.lab   grant: 3 `--style linger` scans (the old probe)
#   127.0.26.6 connect.lab  grant: 5 `--style connect` scans (connect-only RST)
#   127.0.26.7 holder.lab   grant: the real clients that fill max_connections
#   127.0.26.8 full.lab     grant: scanned while max_connections + 1 are in use: ERR 1040
# Inputs (LAB_DIR): hosts, inv_*.yaml. Outputs: NAME.{out,err,rc} of each scan, hc_*.tsv
# (performance_schema.host_cache), login.{out,err,rc}, err.log (mariadbd's error log).
A=127.0.26
addr_add $A.2 $A.3 $A.4 $A.5 $A.6 $A.7 $A.8
private_dir /var/lib/mysql
chown mysql:mysql /var/lib/mysql
private_dir /run/mysqld
chown mysql:mysql /run/mysqld
mariadb-install-db --no-defaults --datadir=/var/lib/mysql/d --user=mysql --skip-test-db \
    > install.log 2>&1
mariadbd --no-defaults --datadir=/var/lib/mysql/d --socket=/run/mysqld/s --port=3306 \
    --bind-address=$A.2,$A.3,$A.4,$A.5,$A.6,$A.7,$A.8 --user=mysql \
    --max-connect-errors=3 --performance-schema=ON --max-connections=10 \
    --log-error=/var/lib/mysql/err.log > mariadbd.out 2>&1 &
for h in 2 3 4 5 6 7 8; do wait_port $A.$h 3306 30; done

sql() { mariadb --no-defaults -S /run/mysqld/s -u root -N -B -e "$1"; }
for h in granted blocked linger connect holder full; do
    sql "CREATE USER 'tt'@'$h.lab'; GRANT USAGE ON *.* TO 'tt'@'$h.lab'"
done
# host_cache NAME: the counters of every host, tab-separated, into hc_NAME.tsv.
host_cache() {
    sql "SELECT HOST, SUM_CONNECT_ERRORS, COUNT_HANDSHAKE_ERRORS, COUNT_HOST_BLOCKED_ERRORS,
        COUNT_HOST_ACL_ERRORS, COUNT_AUTHENTICATION_ERRORS FROM performance_schema.host_cache
        ORDER BY HOST" > "hc_$1.tsv"
}
host_cache start

# The key side-effect case: 20 consecutive default scans of a granted host, then a real login.
i=1
while [ $i -le 20 ]; do
    scan "key$i" --format ndjson inv_granted.yaml
    i=$((i + 1))
done
host_cache after_key
run_to login mariadb --no-defaults -h $A.2 -u tt -N -B -e "SELECT CURRENT_USER()"
host_cache after_login

# No grant: ERR 1130, with and without name resolution's help.
scan nogrant --format ndjson inv_nogrant.yaml

# Blocked: 3 connections that read the greeting and close (FIN) block the host; the scan then
# reads ERR 1129.
for _ in 1 2 3; do
    timeout 5 bash -c "exec 3<>/dev/tcp/$A.4/3306; head -c 4 <&3 > /dev/null"
done
scan blocked --format ndjson inv_blocked.yaml

# The alternatives, measured by the same counters: the old probe (linger, then RST) three
# times, and connect-only RST five times.
for n in 1 2 3; do scan "linger$n" --format ndjson --style linger inv_linger.yaml; done
scan linger_after --format ndjson inv_linger.yaml
for n in 1 2 3 4 5; do scan "connect$n" --format ndjson --style connect inv_connect.yaml; done
host_cache alternatives

# Capacity: 10 real clients (max_connections) plus root (the one extra connection MariaDB keeps
# for SUPER) hold every slot; the next connection gets ERR 1040 before any greeting. A holder
# that lost a slot to a connection still closing retries; the count of holders' connections
# must then stay at 10 for a while (a refused login closes at once) before root takes its slot.
for _ in 1 2 3 4 5 6 7 8 9 10; do
    (until mariadb --no-defaults -h $A.7 -u tt -N -B -e "SELECT SLEEP(15)" > /dev/null 2>&1; do
        sleep 0.1
    done) &
done
i=0
stable=0
until [ $stable -ge 10 ]; do
    if [ "$(ss -Htn state established "dst $A.7 and dport = :3306" | wc -l)" = 10 ]; then
        stable=$((stable + 1))
    else
        stable=0
    fi
    i=$((i + 1))
    [ $i -le 400 ] || { echo "holders did not connect" >&2; ss -tn >&2; exit 95; }
    sleep 0.05
done
mariadb --no-defaults -S /run/mysqld/s -u root -N -B -e "SELECT SLEEP(15)" > /dev/null 2>&1 &
root_holder=$!
# Full once a raw connection reads ERR 1040 (sent at accept, to any host) instead of what
# nogrant.lab gets otherwise, ERR 1130 (an ACL error, which never blocks a host; a granted host
# would read the handshake, and three such reads and closes would block it).
i=0
until timeout 5 bash -c "exec 3<>/dev/tcp/$A.3/3306; head -c 27 <&3" | grep -q "Too many connections"; do
    i=$((i + 1))
    [ $i -le 200 ] || { echo "max_connections never filled" >&2; exit 95; }
    sleep 0.05
done
scan full --format ndjson inv_full.yaml
kill $root_holder # SUPER's slot again free for the last look at the counters
i=0
until sql "SELECT 1" > /dev/null 2>&1; do
    i=$((i + 1))
    [ $i -le 200 ] || { echo "the SUPER slot never freed" >&2; exit 95; }
    sleep 0.05
done
host_cache end
cp /var/lib/mysql/err.log err.log
