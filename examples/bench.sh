#!/usr/bin/env bash
# examples/bench.sh — rerunnable benchmark: telltale vs a lean epoll loop vs `nmap -sT`.
#
# Usage:  examples/bench.sh [N...] [--runs R] [--chunk K] [--filtered] [--million] [--nmap-runs K]
#   N...          ports mode, one lab of N ports per N (default 30000 when no mode is named)
#   --runs R      rounds per mode, interleaved, medians reported (default 3)
#   --chunk K     ports mode: ports per lab chunk (default 10)
#   --filtered    the all-filtered case: 127.0.1.0/24 (.1-.254) x 10 ports = 2,540 probes
#   --nmap-runs K --filtered: nmap rounds (default 1; nmap takes minutes there), K <= R
#   --million     127.0.0.0/12 x 1 port (1,048,574 probes, everything refused)
#   quick check of every mode (about 1 min; nmap skipped in --filtered, a /20 for --million):
#     BENCH_MILLION_CIDR=127.0.0.0/20 examples/bench.sh 2000 --filtered --nmap-runs 0 --million --runs 1
#   the full run (about 15 min on 2 cores: nmap ~256 s in --filtered, ~100 s per --million run):
#     examples/bench.sh 30000 --filtered --million --runs 3
#
# Every mode runs in ONE fresh user+network namespace (`unshare -rn`): every packet stays on
# that namespace's private loopback; nothing is sent to any other address.
#
# Ports mode: N ports from 1025 on 127.0.0.1, in chunks of K ports cycling through 4 kinds:
#   open            `telltale lab --open`     accept and hold       telltale/floor open,  nmap open
#   closed-by-peer  `telltale lab --closed`   accept, close at once telltale/floor open*, nmap open
#   refused         nothing listening                               telltale/floor refused, nmap closed
#   filtered        nft input `tcp dport {...} drop`                telltale/floor filtered, nmap filtered
#   (* with --linger 0 telltale only connects, like nmap -sT and the floor.)
# Columns, C = 1000, T = 1 s:
#   tt-fixed  telltale scan INV --timing fixed --timeout 1000ms --retries 0 --linger 0 -c 1000
#             --per-host 1000
#             --format ndjson --no-progress -o OUT        (the issue's measurement)
#   tt-auto   the same plus --timing auto and $BENCH_AUTO_ARGS, whose flags replace the same
#             flags above (skipped, loudly, when `telltale scan --help` has no --timing)
#   floor     examples/floor.c (built with gcc -O2 into the results dir), same C and T
#   nmap      nmap -sT -T4 --max-retries 1 --min-rate 20000 -Pn -n --min-parallelism 1000
# (`--timing fixed` is left out for a telltale without --timing, which is fixed anyway.)
# Filtered mode: every probe dropped by nft; tt-fixed = telltale at its defaults plus
# --timing fixed, tt-auto =
# defaults plus --timing auto $BENCH_AUTO_ARGS, nmap -sT -T4 --max-retries 1 -Pn -n.
# Million mode: tt-fixed flags as above (ndjson to a file), records/s and peak RSS.
#
# Each run is timed by `/usr/bin/time -f '%e %U %S %M'` (wall s, user s, sys s, peak RSS KiB)
# and every verdict is checked against the lab truth. Markdown tables (medians, the issue's
# ratios: reported, not enforced) go to stdout and $BENCH_OUT/summary.md. A wrong verdict or a
# failed run is reported loudly and makes the script exit 1. Nothing is installed: a missing
# tool (nmap, nft, ip, /usr/bin/time, python3, unshare, gcc) stops it with the apt-get command.
# Per-run files (outputs, stderr, *.time, *.wrong) stay in $BENCH_OUT/{nN,filtered,million}/.
#
# Environment: BENCH_OUT (results dir, default target/bench); BENCH_AUTO_ARGS (extra flags for
# tt-auto, e.g. "-c 4000"); BENCH_LAB_MAX (listeners per lab process, default 4000: the fd hard
# limit here is 20000 and cannot be raised in a user namespace); BENCH_MILLION_CIDR (default
# 127.0.0.0/12; a smaller 127/8 block to test the script); BENCH_TT (use this binary instead of
# target/release/telltale and skip the build: for testing this script only).
set -euo pipefail

CONC=1000          # -c / --per-host of telltale and the floor, nmap --min-parallelism
TIMEOUT_MS=1000    # connect timeout of tt-fixed, tt-auto's upper bound, the floor's
BASE_PORT=1025     # first port of ports mode; targets must stay below the ephemeral range
FILT_NET=127.0.1   # --filtered: .1 to .254 of this /24 ...
FILT_PORTS=21,22,23,25,80,110,143,443,3306,5432   # ... times these 10 ports
MILLION_PORT=1025

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/examples/$(basename "${BASH_SOURCE[0]}")"
REPORT="$ROOT/examples/bench/report.py"
TT=${BENCH_TT:-$ROOT/target/release/telltale}
OUT_ROOT=${BENCH_OUT:-$ROOT/target/bench}
LAB_MAX=${BENCH_LAB_MAX:-4000}
MILLION_CIDR=${BENCH_MILLION_CIDR:-127.0.0.0/12}
read -r -a AUTO_ARGS <<<"${BENCH_AUTO_ARGS:-}"
TT_FIXED=(--timeout "${TIMEOUT_MS}ms" --retries 0 --linger 0 -c "$CONC" --per-host "$CONC"
  --format ndjson --no-progress)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,50p' "$SELF" | sed 's/^# \{0,1\}//'; }

# =============================================================================================
# Inner side: runs as "root" of a fresh user+net namespace.
# =============================================================================================
LAB_PIDS=()
inner_cleanup() {
  local pid
  for pid in "${LAB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${LAB_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# Appends "a-b" (or "a") to the comma list held in the variable named $1.
append_range() {
  local -n list=$1
  local r=$2
  [[ $3 == "$2" ]] || r="$2-$3"
  list+="${list:+,}$r"
}

# Waits until lab output file $1 has a `ready` line; $2 is the lab pid.
wait_ready() {
  local file=$1 pid=$2 i
  for ((i = 0; i < 600; i++)); do
    grep -qx 'ready' "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "${file%.out}.err" >&2 || true; die "lab $pid died before ready"; }
    sleep 0.1
  done
  die "lab $pid not ready after 60 s"
}

# Drops TCP to the ports in comma list $1 (and daddr match $2, optional) on the input hook.
nft_drop() {
  cat >"$DIR/nft.conf" <<EOF
table inet bench {
  chain input {
    type filter hook input priority 0; policy accept;
    $2 tcp dport { ${1//,/, } } drop
  }
}
EOF
  nft -f "$DIR/nft.conf"
}

# Records column $1's command (array $2...) in meta, with paths shortened, once per column.
note_cmd() {
  local col=$1 s
  shift
  grep -q "^cmd=$col: " "$DIR/meta" && return 0
  s="$*"; s=${s//"$TT"/telltale}; s=${s//"$FLOOR_BIN"/floor}; s=${s//"$DIR/"/}
  printf 'cmd=%s: %s\n' "$col" "$s" >>"$DIR/meta"
}

# Prints (NUL-separated) the telltale flags "$@" less those that AUTO_ARGS sets again (clap
# refuses a repeated option), then AUTO_ARGS: BENCH_AUTO_ARGS="-c 4000" replaces -c 1000.
with_auto_args() {
  local -A over=()
  local a i
  for a in "${AUTO_ARGS[@]}"; do
    a=${a%%=*}; [[ $a != --concurrency ]] || a=-c
    [[ $a != -* ]] || over[$a]=1
  done
  local -a flags=("$@")
  for ((i = 0; i < ${#flags[@]}; i++)); do
    a=${flags[i]}
    if [[ -n ${over[$a]:-} ]]; then
      [[ ${flags[i + 1]:--} == -* ]] || i=$((i + 1))   # skip its value too
      continue
    fi
    printf '%s\0' "$a"
  done
  printf '%s\0' --timing auto "${AUTO_ARGS[@]}"
}

BAD=0
# run_one COLUMN ROUND OUTFILE CMD...: one timed run, its verdicts checked; appends to runs.tsv.
run_one() {
  local col=$1 r=$2 outf=$3 rc res wrong recs okrc=0 base="$DIR/$1.$2"
  shift 3
  note_cmd "$col" "${@//"$outf"/"{out}"}"
  sleep 1   # let the previous run's connections drain
  set +e
  /usr/bin/time -f '%e %U %S %M' -o "$base.time" "$@" >"$base.stdout" 2>"$base.err"
  rc=$?
  set -e
  if [[ $MODE == million ]]; then
    res=$(python3 "$REPORT" verify-million "$outf" "$MILLION_CIDR" "$MILLION_PORT" "$base.wrong")
    head -3 "$outf" >"$outf.head" 2>/dev/null || true
    rm -f "$outf"   # ~650 MB; the first records are kept in $outf.head
  else
    res=$(python3 "$REPORT" verify "$col" "$DIR/truth.tsv" "$outf" "$base.wrong")
  fi
  wrong=${res%% *}; wrong=${wrong#wrong=}; recs=${res##*records=}
  [[ $col != tt-* ]] || okrc=1   # telltale exits 1 for results not as expected (expect: open)
  if ((rc != 0 && rc != okrc)); then
    log "!!!!! $col round $r exited $rc; stderr:"; head -5 "$base.err" | sed 's/^/    /' >&2
    ((wrong > 0)) || wrong=1   # a failed run counts as wrong even if its output looked fine
  fi
  printf '%s %d %s %s %d %s\n' "$col" "$r" "$(tail -1 "$base.time")" "$wrong" "$rc" "$recs" >>"$DIR/runs.tsv"
  log "round $r $(printf '%-8s' "$col") $(tail -1 "$base.time") (wall user sys rssKiB) rc=$rc $res"
  if ((wrong > 0)); then
    BAD=1
    log "!!!!! $col round $r: $wrong WRONG verdict(s); first ones (all in $base.wrong):"
    head -5 "$base.wrong" | sed 's/^/[bench] !!!!!     /' >&2 || true
  fi
}

# Writes the common meta lines: title, note, columns, and why tt-auto is skipped if it is.
meta_head() {
  {
    printf 'title=%s\nnote=%s\ncolumns=%s\n' "$1" "$2" "$3"
    [[ $HAVE_AUTO == 1 ]] || echo "skip_tt-auto=this telltale has no --timing (scan --help)"
  } >"$DIR/meta"
}

inner_ports() {
  local n=$1 runs=$2 chunk=$3 last=$((BASE_PORT + $1 - 1)) eph_lo eph_hi
  local -a auto
  read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
  if ((last >= eph_lo)); then
    ((last < 40000)) || die "N=$n too large: ports $BASE_PORT-$last would reach 40000"
    sysctl -q -w net.ipv4.ip_local_port_range="40000 60999" || die "cannot move the ephemeral range"
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
  fi
  log "N=$n: ports $BASE_PORT-$last, ephemeral $eph_lo-$eph_hi, fd limit $(ulimit -n), chunk $chunk"

  # ---- lay out the four kinds in chunks; split open+closed listeners over lab processes ----
  local filtered_l="" g=0 g_count=0 i=0 a b kind nf=0 k want got r
  local -a g_open=("") g_closed=("") args
  : >"$DIR/truth.tsv"
  for ((a = BASE_PORT; a <= last; a += chunk, i++)); do
    b=$((a + chunk - 1)); ((b <= last)) || b=$last
    case $((i % 4)) in 0) kind=open ;; 1) kind=closed ;; 2) kind=refused ;; 3) kind=filtered ;; esac
    printf '127.0.0.1 %d %d %s\n' "$a" "$b" "$kind" >>"$DIR/truth.tsv"
    case $kind in
      open | closed)
        if ((g_count + b - a + 1 > LAB_MAX && g_count > 0)); then
          g=$((g + 1)); g_count=0; g_open[g]=""; g_closed[g]=""
        fi
        g_count=$((g_count + b - a + 1))
        if [[ $kind == open ]]; then append_range "g_open[$g]" "$a" "$b"
        else append_range "g_closed[$g]" "$a" "$b"; fi ;;
      refused) ;;
      filtered) append_range filtered_l "$a" "$b"; nf=$((nf + b - a + 1)) ;;
    esac
  done
  [[ -z $filtered_l ]] || nft_drop "$filtered_l" ""
  for ((k = 0; k <= g; k++)); do
    args=(lab --ip 127.0.0.1)
    [[ -z ${g_open[k]} ]] || args+=(--open "${g_open[k]}")
    [[ -z ${g_closed[k]} ]] || args+=(--closed "${g_closed[k]}")
    "$TT" "${args[@]}" >"$DIR/lab$k.out" 2>"$DIR/lab$k.err" &
    LAB_PIDS+=("$!")
  done
  for ((k = 0; k <= g; k++)); do wait_ready "$DIR/lab$k.out" "${LAB_PIDS[k]}"; done
  want=$(awk '$4=="open"||$4=="closed"{s+=$3-$2+1} END{print s+0}' "$DIR/truth.tsv")
  got=$(cat "$DIR"/lab*.out | grep -Ec '^(open|closed)[a-z-]* ' || true)
  [[ $got == "$want" ]] || die "labs announced $got listeners, expected $want"
  log "N=$n: ${#LAB_PIDS[@]} lab process(es) serving $want listeners; $nf ports dropped by nft"
  printf 'targets:\n  - host: 127.0.0.1\n    ports: "%d-%d"\n' "$BASE_PORT" "$last" >"$DIR/inv.yaml"

  mapfile -d '' -t auto < <(with_auto_args "${TT_FIXED[@]}")
  meta_head "N = $n ports on 127.0.0.1: open / closed-by-peer / refused / nft-dropped, 25 % each (chunks of $chunk), C = $CONC, timeout $TIMEOUT_MS ms, $runs round(s), interleaved" \
    "tt-auto extra flags (BENCH_AUTO_ARGS): ${AUTO_ARGS[*]:-none}." "tt-fixed tt-auto floor nmap"
  for ((r = 1; r <= runs; r++)); do
    run_one tt-fixed "$r" "$DIR/tt-fixed.$r.ndjson" \
      "$TT" scan "$DIR/inv.yaml" "${FIXED_MODE[@]}" "${TT_FIXED[@]}" -o "$DIR/tt-fixed.$r.ndjson"
    [[ $HAVE_AUTO != 1 ]] || run_one tt-auto "$r" "$DIR/tt-auto.$r.ndjson" \
      "$TT" scan "$DIR/inv.yaml" "${auto[@]}" -o "$DIR/tt-auto.$r.ndjson"
    run_one floor "$r" "$DIR/floor.$r.txt" \
      "$FLOOR_BIN" 127.0.0.1 "$BASE_PORT-$last" "$CONC" "$TIMEOUT_MS" "$DIR/floor.$r.txt"
    run_one nmap "$r" "$DIR/nmap.$r.xml" nmap -sT -T4 --max-retries 1 --min-rate 20000 -Pn -n \
      --min-parallelism "$CONC" -p "$BASE_PORT-$last" 127.0.0.1 -oX "$DIR/nmap.$r.xml"
  done
}

inner_filtered() {
  local runs=$1 nmap_runs=$2 h p r
  local -a auto
  mapfile -d '' -t auto < <(with_auto_args --format ndjson --no-progress)
  nft_drop "$FILT_PORTS" "ip daddr $FILT_NET.0/24"
  : >"$DIR/truth.tsv"
  for ((h = 1; h <= 254; h++)); do
    for p in ${FILT_PORTS//,/ }; do printf '%s.%d %d %d filtered\n' "$FILT_NET" "$h" "$p" "$p"; done
  done >"$DIR/truth.tsv"
  printf 'targets:\n  - host: %s.0/24\n    ports: "%s"\n' "$FILT_NET" "$FILT_PORTS" >"$DIR/inv.yaml"
  log "filtered: $FILT_NET.1-254 x ports $FILT_PORTS ($(wc -l <"$DIR/truth.tsv") probes), all dropped by nft"
  meta_head "All filtered: $FILT_NET.0/24 (.1-.254) x 10 ports = $(wc -l <"$DIR/truth.tsv") probes, every SYN dropped by nft; $runs round(s) of telltale, $nmap_runs of nmap (--nmap-runs), interleaved" \
    "telltale at its defaults (timeout 3s, retries 1, -c 1024, --per-host 256); tt-auto extra flags (BENCH_AUTO_ARGS): ${AUTO_ARGS[*]:-none}." \
    "tt-fixed tt-auto nmap"
  ((nmap_runs > 0)) || echo "skip_nmap=--nmap-runs 0" >>"$DIR/meta"
  for ((r = 1; r <= runs; r++)); do
    run_one tt-fixed "$r" "$DIR/tt-fixed.$r.ndjson" \
      "$TT" scan "$DIR/inv.yaml" "${FIXED_MODE[@]}" --format ndjson --no-progress -o "$DIR/tt-fixed.$r.ndjson"
    [[ $HAVE_AUTO != 1 ]] || run_one tt-auto "$r" "$DIR/tt-auto.$r.ndjson" \
      "$TT" scan "$DIR/inv.yaml" "${auto[@]}" -o "$DIR/tt-auto.$r.ndjson"
    ((r > nmap_runs)) || run_one nmap "$r" "$DIR/nmap.$r.xml" nmap -sT -T4 --max-retries 1 -Pn -n \
      -p "$FILT_PORTS" "$FILT_NET.1-254" -oX "$DIR/nmap.$r.xml"
  done
}

inner_million() {
  local runs=$1 r
  log "million: $MILLION_CIDR port $MILLION_PORT, nothing listens (all refused)"
  meta_head "Million: $MILLION_CIDR x port $MILLION_PORT (network and broadcast address skipped), nothing listening (every probe refused), $runs round(s)" \
    "tt-fixed flags as in ports mode; the ndjson output is counted and checked, then deleted." "tt-fixed"
  for ((r = 1; r <= runs; r++)); do
    run_one tt-fixed "$r" "$DIR/tt-fixed.$r.ndjson" "$TT" scan "$MILLION_CIDR:$MILLION_PORT" \
      "${FIXED_MODE[@]}" "${TT_FIXED[@]}" -o "$DIR/tt-fixed.$r.ndjson"
  done
}

# Args: MODE DIR MODE-ARGS...
inner() {
  MODE=$1 DIR=$2
  shift 2
  trap inner_cleanup EXIT
  trap 'exit 130' INT TERM
  ip link set lo up
  ulimit -n "$(ulimit -Hn)"
  : >"$DIR/runs.tsv"
  FIXED_MODE=()
  [[ $HAVE_AUTO != 1 ]] || FIXED_MODE=(--timing fixed)
  "inner_$MODE" "$@"
  python3 "$REPORT" table "$MODE" "$DIR" | tee "$DIR/table.md"
  return "$BAD"
}

# =============================================================================================
# Outer side: dependencies, build, one namespace per mode / N, final verdict.
# =============================================================================================
check_deps() {
  local -a pkgs=()
  command -v nmap >/dev/null || pkgs+=(nmap)
  command -v nft >/dev/null || pkgs+=(nftables)
  command -v ip >/dev/null || pkgs+=(iproute2)
  [[ -x /usr/bin/time ]] || pkgs+=(time)
  command -v python3 >/dev/null || pkgs+=(python3)
  command -v unshare >/dev/null || pkgs+=(util-linux)
  command -v gcc >/dev/null || pkgs+=(gcc)
  ((${#pkgs[@]} == 0)) || die "missing tools; install them with: sudo apt-get install ${pkgs[*]}"
}

# Runs one mode in its own namespace: MODE DIR ARGS...; appends its table to the summary.
run_ns() {
  local mode=$1 dir=$2 child rc=0
  rm -rf "$dir"; mkdir -p "$dir"
  unshare -rn "$SELF" --inner "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; exit 130' INT TERM
  wait "$child" || rc=$?
  trap - INT TERM
  if [[ -s $dir/table.md ]]; then
    { cat "$dir/table.md"; echo; } >>"$SUMMARY"
  else
    log "$mode: benchmark did not complete"; echo "$mode ($dir): did not complete" >>"$SUMMARY"
    rc=1
  fi
  return "$rc"
}

main() {
  if [[ ${1:-} == --inner ]]; then
    shift
    inner "$@"
    return
  fi
  local -a ns=()
  local runs=3 chunk=10 nmap_runs=1 filtered=0 million=0 n status=0
  while (($#)); do
    case $1 in
      --runs) runs=${2:?--runs needs a value}; shift 2 ;;
      --chunk) chunk=${2:?--chunk needs a value}; shift 2 ;;
      --nmap-runs) nmap_runs=${2:?--nmap-runs needs a value}; shift 2 ;;
      --filtered) filtered=1; shift ;;
      --million) million=1; shift ;;
      -h | --help) usage; return 0 ;;
      *[!0-9]* | "") die "bad argument '$1' (see --help)" ;;
      *) ns+=("$1"); shift ;;
    esac
  done
  ((${#ns[@]} || filtered || million)) || ns=(30000)
  [[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
  [[ $chunk =~ ^[1-9][0-9]*$ ]] || die "--chunk must be a positive integer"
  [[ $nmap_runs =~ ^[0-9]+$ ]] || die "--nmap-runs must be a number"
  ((nmap_runs <= runs)) || die "--nmap-runs ($nmap_runs) must not exceed --runs ($runs)"

  check_deps
  if [[ -z ${BENCH_TT:-} ]]; then
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
  fi
  [[ -x $TT ]] || die "no binary at $TT"
  mkdir -p "$OUT_ROOT"
  export FLOOR_BIN="$OUT_ROOT/floor" HAVE_AUTO=0
  gcc -O2 -Wall -o "$FLOOR_BIN" "$ROOT/examples/floor.c" || die "gcc examples/floor.c failed"
  if "$TT" scan --help | grep -q -- '--timing'; then HAVE_AUTO=1; else
    log "!!!!! this telltale has no --timing: the tt-auto column is SKIPPED in every table"
  fi
  export SUMMARY="$OUT_ROOT/summary.md"
  local cmdline="examples/bench.sh ${ns[*]}"
  ((!filtered)) || cmdline+=" --filtered --nmap-runs $nmap_runs"
  ((!million)) || cmdline+=" --million"
  cmdline+=" --runs $runs --chunk $chunk"
  {
    echo "# telltale benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs (shared), $(uname -r)"
    echo
    echo "$("$TT" --version), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?');" \
      "$(nmap --version | head -1)."
    echo "Command: \`$cmdline\`${BENCH_AUTO_ARGS:+ with BENCH_AUTO_ARGS=\"$BENCH_AUTO_ARGS\"}." \
      "Noisy: the CPUs are shared with other work."
    echo
  } >"$SUMMARY"
  for n in "${ns[@]}"; do
    ((n >= 4)) || die "N must be >= 4"
    run_ns ports "$OUT_ROOT/n$n" "$n" "$runs" "$chunk" || status=1
  done
  ((!filtered)) || run_ns filtered "$OUT_ROOT/filtered" "$runs" "$nmap_runs" || status=1
  ((!million)) || run_ns million "$OUT_ROOT/million" "$runs" || status=1

  log "results in $OUT_ROOT (summary: $SUMMARY)"
  if ((status != 0)); then
    printf '\n%s\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    printf '%s\n' "!!! WRONG VERDICTS or FAILED RUNS — see the tables above and $OUT_ROOT/*/*.wrong" >&2
    printf '%s\n\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    return 1
  fi
}

main "$@"
