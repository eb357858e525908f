#!/bin/bash
# hold_fds.sh N CMD...: open fds 3..N+2 on /dev/null, then exec CMD, which
# inherits them. Under a small RLIMIT_NOFILE this leaves CMD only a few free
# fds, so its socket()/getaddrinfo() calls hit EMFILE (tests/local_errors.rs).
# bash, not sh: dash only knows single-digit fds in redirections.
n=$1
shift
for ((i = 3; i < n + 3; i++)); do
    eval "exec $i</dev/null"
done
exec "$@"
