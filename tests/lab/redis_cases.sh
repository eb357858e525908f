# Redis cases of tests/services_postgres_redis.rs (after tests/lab/daemon_fns.sh, as PID 1 of
# real-root net + mount + pid namespaces). One redis-server per case, each bound to its own
# address (the kernel uses the destination as the source, so each address is also the client
# the server sees; Redis counts only 127.0.0.1 and ::1 as loopback for protected mode):
#   127.0.28.2 protected mode, no password: `-DENIED` at accept
#   127.0.28.3 maxclients 1, one connection held: `-ERR max number of clients reached`
#   127.0.28.4 requirepass: silent until a command, then `-NOAUTH`
#   127.0.28.5 no password, protected mode off: `+PONG`
# Inputs (LAB_DIR): inv.yaml. Outputs: NAME.{out,err,rc} of each scan, redis_*.log.
A=127.0.28
addr_add $A.2 $A.3 $A.4 $A.5
chmod 755 "$LAB_DIR" # redis-server runs as root here, but keep its files readable
# redis_start NAME LAST-OCTET CONFIG-LINE...: a redis-server on $A.LAST:6379.
redis_start() {
    name=$1
    addr=$A.$2
    shift 2
    {
        echo "bind $addr"
        echo "port 6379"
        echo "daemonize no"
        echo "save \"\""
        echo "appendonly no"
        echo "dir $LAB_DIR"
        echo "logfile $LAB_DIR/redis_$name.log"
        for line in "$@"; do echo "$line"; done
    } > "redis_$name.conf"
    redis-server "redis_$name.conf" &
}
redis_start protected 2 "protected-mode yes"
redis_start full 3 "protected-mode no" "maxclients 1"
redis_start auth 4 "protected-mode yes" "requirepass lab-secret"
redis_start open 5 "protected-mode no"
for h in 2 3 4 5; do wait_port $A.$h 6379 30; done

# The one client `maxclients 1` allows: a real redis-cli, reading commands from a pipe.
sleep 30 | redis-cli -h $A.3 > holder.out 2>&1 &
i=0
until [ "$(ss -Htn state established "dst $A.3 and dport = :6379" | wc -l)" = 1 ]; do
    i=$((i + 1))
    [ $i -le 200 ] || { echo "the holder never connected" >&2; exit 95; }
    sleep 0.05
done
sleep 0.2 # accepted by the server, not only by the kernel

scan silent --format ndjson inv.yaml
scan hello --format ndjson --hello inv.yaml
