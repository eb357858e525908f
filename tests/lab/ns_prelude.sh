# Namespace set-up shared by every `unshare -rnmpf` test script (tests/common/mod.rs,
# `NsSpec`): the Rust side writes this file, then tests/lab/lab_fns.sh, then the test's own
# commands into a temp dir and runs it as PID 1 of a fresh user + net + mount + pid namespace
# set: only `lo` exists, so no packet can leave, and every process here dies with the script.
#
# Inputs (environment): LAB_DIR (the temp dir), TELLTALE (the binary),
# LAB_TELLTALE_ON_PATH=1 to put `$LAB_DIR/bin` (a `telltale` symlink) first on PATH.
# Optional files in LAB_DIR: rules.nft (loaded with `nft -f`), hosts (bind-mounted
# on /etc/hosts). resolv.conf is always bind-mounted so that even an unknown
# name is only ever asked of 127.0.0.1 *inside* the namespace (nothing listens:
# getaddrinfo fails at once with EAI_AGAIN).
set -eu
export PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"
cd "$LAB_DIR"
T="$TELLTALE"

ip link set lo up
if [ -f rules.nft ]; then nft -f rules.nft; fi
if [ -f hosts ]; then mount --bind hosts /etc/hosts; fi
printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' > resolv.conf
mount --bind resolv.conf /etc/resolv.conf

# `telltale` as an installed binary would be: in bin/, on PATH when asked for.
mkdir -p bin
ln -sf "$TELLTALE" bin/telltale
if [ "${LAB_TELLTALE_ON_PATH:-0}" = 1 ]; then export PATH="$LAB_DIR/bin:$PATH"; fi
