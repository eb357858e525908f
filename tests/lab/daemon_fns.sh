# Shell helpers for the real-daemon tests (tests/common/daemons.rs): they run after
# tests/lab/ns_prelude.sh as PID 1 of fresh net + mount + pid namespaces *as real root* (no user
# namespace: daemons switch users, bind privileged ports and read their own config dirs), so
# every daemon started here dies with the script and listens only inside the namespace.

# addr_add ADDR...: put case addresses on lo (127.0.2x.y/32, or an IPv6 /128). The kernel then
# uses the destination address as the source, so per-client rules see a known client address.
addr_add() {
    for a in "$@"; do
        case $a in
            *:*) ip -6 addr add "$a/128" dev lo ;;
            *) ip addr add "$a/32" dev lo ;;
        esac
    done
}

# wait_port ADDR PORT [SECS]: wait until something listens on ADDR:PORT (ss), or fail the
# script (exit 96) after SECS seconds (default 20).
wait_port() {
    i=0
    while ! ss -Hltn "sport = :$2" | grep -q -- "$1:$2\|\[$1\]:$2\|\*:$2\|0.0.0.0:$2"; do
        i=$((i + 1))
        if [ "$i" -gt $((${3:-20} * 20)) ]; then
            echo "nothing listens on $1:$2 after ${3:-20} s" >&2
            ss -ltnp >&2
            exit 96
        fi
        sleep 0.05
    done
}

# private_file PATH CONTENT-FILE: bind-mount CONTENT-FILE over PATH (e.g. /etc/hosts.allow),
# for this namespace only.
private_file() {
    [ -e "$1" ] || : > "$1"
    mount --bind "$2" "$1"
}

# private_dir PATH: a fresh empty tmpfs over PATH (e.g. /run/sshd, /var/spool/postfix).
private_dir() {
    mkdir -p "$1"
    mount -t tmpfs tmpfs "$1"
}
