#!/usr/bin/env bash
# examples/bench.sh — rerunnable benchmark: telltale vs `nmap -sT` on a loopback lab.
#
# Usage:  examples/bench.sh [N...] [--runs R] [--chunk K]
#         (defaults: N = 10000 30000, R = 3, K = 10; quick smoke test: examples/bench.sh 2000 --runs 1)
#
# For every N the script re-invokes itself inside ONE fresh user+network namespace
# (`unshare -rn`), so every packet stays on that namespace's private loopback. Nothing is ever
# sent to any other address. Inside, N ports starting at 1025 on 127.0.0.1 are laid out in
# chunks of K consecutive ports that cycle through four behaviours (25% each):
#
#   open            `telltale lab --open`   accept and hold          truth: telltale open,  nmap open
#   closed-by-peer  `telltale lab --closed` accept, close at once    truth: telltale open*, nmap open
#   refused         nothing listening                                truth: telltale refused, nmap closed
#   filtered        nft input `tcp dport {...} drop`                 truth: telltale filtered, nmap filtered
#   (* with --linger 0 telltale only connects, so a closed-by-peer port is `open`;
#      nmap -sT cannot tell closed-by-peer from open either.)
#
# Then R rounds run, interleaved (telltale, nmap, telltale, nmap, ...), each under
# `/usr/bin/time -f '%e %U %S %M'` (wall s, user s, sys s, peak RSS KiB). Every verdict of every
# run is checked against the lab truth. A markdown table per N is printed (and saved to
# $BENCH_OUT/summary.md). Any wrong verdict is reported loudly and makes the script exit 1.
#
# The product goal the table is compared with (reported, not enforced):
#   telltale wall <= 1.05 x bound, where bound = ceil(filtered / concurrency) x timeout,
#   telltale CPU <= nmap CPU, telltale peak RSS <= nmap peak RSS.
#
# Environment knobs: BENCH_OUT (results dir, default target/bench), BENCH_LAB_MAX (max listeners
# per lab process, default 4000: the fd hard limit here is 20000 and cannot be raised inside a
# user namespace, so large N is served by several lab processes), BENCH_TT (use this binary instead
# of target/release/telltale and skip the build: only for testing this script).
set -euo pipefail

# ---- fixed scan parameters (the commands under test) ----------------------------------------
CONC=1000          # telltale -c / --per-host, nmap --min-parallelism
TIMEOUT_MS=1000    # connect timeout for both tools
BASE_PORT=1025     # first target port; targets must stay below the ephemeral range

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/examples/$(basename "${BASH_SOURCE[0]}")"
TT=${BENCH_TT:-$ROOT/target/release/telltale}   # BENCH_TT: another binary (harness testing only)
OUT_ROOT=${BENCH_OUT:-$ROOT/target/bench}
LAB_MAX=${BENCH_LAB_MAX:-4000}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 2; }

usage() { sed -n '2,30p' "$SELF" | sed 's/^# \{0,1\}//'; }

# =============================================================================================
# Python helper: verification of one run's output against the truth, and the summary table.
# Written once per invocation into the results directory.
# =============================================================================================
write_helper() {
  cat >"$1" <<'PY'
import json, math, statistics, sys
import xml.etree.ElementTree as ET

def load_truth(path):
    """truth.tsv: 'start end kind' lines -> {port: kind}"""
    truth = {}
    with open(path) as f:
        for line in f:
            a, b, kind = line.split()
            for p in range(int(a), int(b) + 1):
                truth[p] = kind
    return truth

# What each tool must answer for each lab behaviour.
EXPECT = {
    "telltale": {"open": "open", "closed": "open", "refused": "refused", "filtered": "filtered"},
    "nmap":     {"open": "open", "closed": "open", "refused": "closed",  "filtered": "filtered"},
}

def parse_ports(spec):
    for part in spec.split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-")
            yield from range(int(a), int(b) + 1)
        else:
            yield int(part)

def read_telltale(path):
    got = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            got.append((r["port"], r["verdict"]))
    return got

def read_nmap(path):
    got = []
    root = ET.parse(path).getroot()
    for port in root.iter("port"):
        got.append((int(port.get("portid")), port.find("state").get("state")))
    # nmap folds large same-state groups into <extraports>; the port list is in <extrareasons>.
    for ep in root.iter("extraports"):
        state = ep.get("state")
        listed = 0
        for er in ep.iter("extrareasons"):
            for p in parse_ports(er.get("ports", "")):
                got.append((p, state)); listed += 1
        if listed != int(ep.get("count")):
            print(f"nmap extraports {state}: count={ep.get('count')} but {listed} ports listed",
                  file=sys.stderr)
    return got

def verify(tool, truth_path, out_path, detail_path):
    truth = load_truth(truth_path)
    exp = EXPECT[tool]
    try:
        got = read_telltale(out_path) if tool == "telltale" else read_nmap(out_path)
    except Exception as e:  # unreadable output: every port is wrong
        print(f"wrong={len(truth)} counts=unparseable:{type(e).__name__}")
        return
    seen, counts, wrong = {}, {}, []
    for port, verdict in got:
        counts[verdict] = counts.get(verdict, 0) + 1
        if port in seen:
            wrong.append(f"{port} duplicate result {verdict} (first {seen[port]})")
            continue
        seen[port] = verdict
        kind = truth.get(port)
        if kind is None:
            wrong.append(f"{port} not a target but reported {verdict}")
        elif verdict != exp[kind]:
            wrong.append(f"{port} lab={kind} want={exp[kind]} got={verdict}")
    for port in sorted(set(truth) - set(seen)):
        wrong.append(f"{port} lab={truth[port]} want={exp[truth[port]]} got=MISSING")
    with open(detail_path, "w") as f:
        f.write("\n".join(wrong) + ("\n" if wrong else ""))
    c = ",".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(f"wrong={len(wrong)} counts={c or 'none'}")

def table(runs_path, n, filtered, conc, timeout_s):
    rows = {"telltale": [], "nmap": []}
    with open(runs_path) as f:
        for line in f:
            tool, rnd, wall, user, sys_, rss, wrong, rc = line.split()
            # round CPU to time's 10 ms resolution so float noise cannot decide a comparison
            rows[tool].append((float(wall), round(float(user) + float(sys_), 2), int(rss) / 1024.0,
                               int(wrong), int(rc)))
    bound = math.ceil(filtered / conc) * timeout_s
    med = {}
    out = [f"### N = {n} ports ({filtered} filtered), concurrency {conc}, timeout {timeout_s:g}s, "
           f"{len(rows['telltale'])} run(s) per tool",
           "",
           "| tool | median wall s | median CPU s | median peak RSS MB | wrong verdicts (per run) | wall / bound |",
           "|---|---:|---:|---:|---|---:|"]
    for tool in ("telltale", "nmap"):
        r = rows[tool]
        if not r:
            continue
        w = statistics.median(x[0] for x in r)
        c = statistics.median(x[1] for x in r)
        m = statistics.median(x[2] for x in r)
        med[tool] = (w, c, m)
        wr = " ".join(str(x[3]) for x in r)
        out.append(f"| {tool} | {w:.2f} | {c:.2f} | {m:.1f} | {sum(x[3] for x in r)} ({wr}) | {w / bound:.2f} |")
    out.append("")
    out.append(f"strict bound = ceil({filtered}/{conc}) x {timeout_s:g}s = **{bound:g} s**")
    if "telltale" in med and "nmap" in med:
        (tw, tc, tm), (nw, nc, nm) = med["telltale"], med["nmap"]
        ratio = lambda a, b: f"{a / b:.2f}" if b > 0 else "n/a"
        out.append("")
        out.append("| telltale / nmap | wall | CPU | RSS |")
        out.append("|---|---:|---:|---:|")
        out.append(f"| ratio | {ratio(tw, nw)} | {ratio(tc, nc)} | {ratio(tm, nm)} |")
        out.append("")
        ok = lambda b: "PASS" if b else "FAIL"
        out.append(f"goal: telltale wall <= 1.05 x bound ({tw:.2f} <= {1.05 * bound:.2f}): {ok(tw <= 1.05 * bound)}; "
                   f"CPU <= nmap ({tc:.2f} <= {nc:.2f}): {ok(tc <= nc)}; "
                   f"RSS <= nmap ({tm:.1f} <= {nm:.1f} MB): {ok(tm <= nm)}")
    out.append("")
    out.append("raw runs (tool round wall_s cpu_s rss_MB wrong exit):")
    for tool in ("telltale", "nmap"):
        for i, x in enumerate(rows[tool], 1):
            out.append(f"    {tool:8} {i} {x[0]:.2f} {x[1]:.2f} {x[2]:.1f} {x[3]} {x[4]}")
    print("\n".join(out))

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "verify":
        verify(*sys.argv[2:6])
    elif cmd == "table":
        table(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    else:
        sys.exit(f"unknown helper command {cmd}")
PY
}

# =============================================================================================
# Inner mode: runs as "root" of a fresh user+net namespace. Args: N RUNS CHUNK OUTDIR
# =============================================================================================
LAB_PIDS=()
inner_cleanup() {
  local pid
  for pid in "${LAB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${LAB_PIDS[@]}"; do
    # give each lab up to ~2 s to exit on SIGTERM, then SIGKILL it
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
  for ((i = 0; i < 600; i++)); do   # up to 60 s
    grep -qx 'ready' "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "${file%.out}.err" >&2 || true; die "lab $pid died before ready"; }
    sleep 0.1
  done
  die "lab $pid not ready after 60 s"
}

# Shouts about a run with wrong verdicts: tool, round, count, details file.
loud_wrong() {
  log "!!!!! $1 round $2: $3 WRONG verdict(s); first ones (all in $4):"
  head -5 "$4" 2>/dev/null | sed 's/^/[bench] !!!!!     /' >&2 || true
}

inner() {
  local n=$1 runs=$2 chunk=$3 out=$4
  trap inner_cleanup EXIT
  trap 'exit 130' INT TERM

  ip link set lo up
  ulimit -n "$(ulimit -Hn)"
  local last=$((BASE_PORT + n - 1))

  # Target ports must not be in the ephemeral range (self-connects, collisions). Move the
  # namespace's own range up if needed (net.* sysctls are per-netns and writable here).
  local eph_lo eph_hi
  read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
  if ((last >= eph_lo)); then
    ((last < 40000)) || die "N=$n too large: ports $BASE_PORT-$last would reach 40000"
    sysctl -q -w net.ipv4.ip_local_port_range="40000 60999" ||
      die "cannot move the ephemeral range, and ports reach $eph_lo"
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
  fi
  log "N=$n: ports $BASE_PORT-$last, ephemeral $eph_lo-$eph_hi, fd limit $(ulimit -n), chunk $chunk"

  # ---- lay out the four kinds in chunks; split open+closed listeners over lab processes ----
  local filtered_l=""
  local -a g_open=("") g_closed=("")
  local g=0 g_count=0 i=0 a b kind nf=0
  : >"$out/truth.tsv"
  for ((a = BASE_PORT; a <= last; a += chunk, i++)); do
    b=$((a + chunk - 1)); ((b <= last)) || b=$last
    case $((i % 4)) in
      0) kind=open ;; 1) kind=closed ;; 2) kind=refused ;; 3) kind=filtered ;;
    esac
    printf '%d %d %s\n' "$a" "$b" "$kind" >>"$out/truth.tsv"
    case $kind in
      open | closed)
        if ((g_count + b - a + 1 > LAB_MAX && g_count > 0)); then
          g=$((g + 1)); g_count=0; g_open[g]=""; g_closed[g]=""
        fi
        g_count=$((g_count + b - a + 1))
        if [[ $kind == open ]]; then append_range "g_open[$g]" "$a" "$b"
        else append_range "g_closed[$g]" "$a" "$b"; fi ;;
      refused) ;;   # nothing listens there
      filtered) append_range filtered_l "$a" "$b"; nf=$((nf + b - a + 1)) ;;
    esac
  done

  # ---- filtered: silently drop SYNs on the input hook ---------------------------------------
  if [[ -n $filtered_l ]]; then
    cat >"$out/nft.conf" <<EOF
table inet bench {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport { ${filtered_l//,/, } } drop
  }
}
EOF
    nft -f "$out/nft.conf"
  fi

  # ---- open / closed-by-peer: telltale lab processes, each with <= LAB_MAX listeners --------
  local k args want got
  for ((k = 0; k <= g; k++)); do
    args=(lab --ip 127.0.0.1)
    [[ -z ${g_open[k]} ]] || args+=(--open "${g_open[k]}")
    [[ -z ${g_closed[k]} ]] || args+=(--closed "${g_closed[k]}")
    "$TT" "${args[@]}" >"$out/lab$k.out" 2>"$out/lab$k.err" &
    LAB_PIDS+=("$!")
  done
  for ((k = 0; k <= g; k++)); do wait_ready "$out/lab$k.out" "${LAB_PIDS[k]}"; done
  want=$(awk '$3=="open"||$3=="closed"{s+=$2-$1+1} END{print s+0}' "$out/truth.tsv")
  got=$(cat "$out"/lab*.out | grep -Ec '^(open|closed)[a-z-]* ' || true)
  [[ $got == "$want" ]] || die "labs announced $got listeners, expected $want"
  log "N=$n: ${#LAB_PIDS[@]} lab process(es) serving $want listeners; $nf ports dropped by nft"

  printf 'targets:\n  - host: 127.0.0.1\n    ports: "%d-%d"\n' "$BASE_PORT" "$last" >"$out/inv.yaml"

  # ---- interleaved rounds ---------------------------------------------------------------------
  local r rc res wrong bad=0
  : >"$out/runs.tsv"
  for ((r = 1; r <= runs; r++)); do
    # telltale; exit 1 (mismatches vs the default `expect: open`) is normal here.
    sleep 1   # let the previous run's connections drain from the labs
    set +e
    /usr/bin/time -f '%e %U %S %M' -o "$out/tt$r.time" \
      "$TT" scan "$out/inv.yaml" --linger 0 --timeout "${TIMEOUT_MS}ms" -c "$CONC" --per-host "$CONC" \
      --retries 0 --no-progress --format ndjson -o "$out/tt$r.ndjson" 2>"$out/tt$r.err"
    rc=$?
    set -e
    res=$(python3 "$out/helper.py" verify telltale "$out/truth.tsv" "$out/tt$r.ndjson" "$out/tt$r.wrong")
    wrong=${res%% *}; wrong=${wrong#wrong=}
    if [[ $rc != 0 && $rc != 1 ]]; then
      log "telltale round $r exited $rc (0/1 expected); stderr:"; head -5 "$out/tt$r.err" >&2
      ((wrong > 0)) || wrong=1   # a failed run counts as wrong even if its output looked fine
    fi
    ((r > 1)) || [[ ! -s $out/tt$r.err ]] || { log "telltale stderr (first 3 lines, round 1):"; head -3 "$out/tt$r.err" | sed 's/^/    /' >&2; }
    printf 'telltale %d %s %s %d\n' "$r" "$(tail -1 "$out/tt$r.time")" "$wrong" "$rc" >>"$out/runs.tsv"
    log "round $r telltale: $(tail -1 "$out/tt$r.time") (wall user sys rssKiB) rc=$rc $res"
    ((wrong == 0)) || { bad=1; loud_wrong telltale "$r" "$wrong" "$out/tt$r.wrong"; }

    sleep 1
    set +e
    /usr/bin/time -f '%e %U %S %M' -o "$out/nmap$r.time" \
      nmap -sT -Pn -n --max-retries 0 --min-rtt-timeout "${TIMEOUT_MS}ms" --max-rtt-timeout "${TIMEOUT_MS}ms" \
      --initial-rtt-timeout "${TIMEOUT_MS}ms" --min-parallelism "$CONC" -p "$BASE_PORT-$last" 127.0.0.1 \
      -oX "$out/nmap$r.xml" >"$out/nmap$r.stdout" 2>"$out/nmap$r.err"
    rc=$?
    set -e
    res=$(python3 "$out/helper.py" verify nmap "$out/truth.tsv" "$out/nmap$r.xml" "$out/nmap$r.wrong")
    wrong=${res%% *}; wrong=${wrong#wrong=}
    if [[ $rc != 0 ]]; then
      log "nmap round $r exited $rc; stderr:"; head -5 "$out/nmap$r.err" >&2
      ((wrong > 0)) || wrong=1
    fi
    printf 'nmap %d %s %s %d\n' "$r" "$(tail -1 "$out/nmap$r.time")" "$wrong" "$rc" >>"$out/runs.tsv"
    log "round $r nmap:     $(tail -1 "$out/nmap$r.time") (wall user sys rssKiB) rc=$rc $res"
    ((wrong == 0)) || { bad=1; loud_wrong nmap "$r" "$wrong" "$out/nmap$r.wrong"; }
  done

  python3 "$out/helper.py" table "$out/runs.tsv" "$n" "$nf" "$CONC" "$(awk "BEGIN{print $TIMEOUT_MS/1000}")" \
    | tee "$out/table.md"
  return "$bad"
}

# =============================================================================================
# Outer mode: dependencies, build, one namespace per N, final verdict.
# =============================================================================================
ensure_deps() {
  local -a pkgs=()
  command -v nmap >/dev/null || pkgs+=(nmap)
  command -v nft >/dev/null || pkgs+=(nftables)
  command -v ip >/dev/null || pkgs+=(iproute2)
  [[ -x /usr/bin/time ]] || pkgs+=(time)
  command -v python3 >/dev/null || pkgs+=(python3)
  command -v unshare >/dev/null || pkgs+=(util-linux)
  ((${#pkgs[@]} == 0)) && return 0
  log "installing: ${pkgs[*]}"
  local sudo=""
  ((EUID == 0)) || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}"
}

main() {
  if [[ ${1:-} == --inner ]]; then
    shift
    inner "$@"
    return
  fi

  local -a ns=()
  local runs=3 chunk=10
  while (($#)); do
    case $1 in
      --runs) runs=${2:?--runs needs a value}; shift 2 ;;
      --runs=*) runs=${1#*=}; shift ;;
      --chunk) chunk=${2:?--chunk needs a value}; shift 2 ;;
      --chunk=*) chunk=${1#*=}; shift ;;
      -h | --help) usage; return 0 ;;
      *[!0-9]* | "") die "bad argument '$1' (see --help)" ;;
      *) ns+=("$1"); shift ;;
    esac
  done
  ((${#ns[@]})) || ns=(10000 30000)
  [[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
  [[ $chunk =~ ^[1-9][0-9]*$ ]] || die "--chunk must be a positive integer"

  ensure_deps
  if [[ -z ${BENCH_TT:-} ]]; then
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
  fi
  [[ -x $TT ]] || die "no binary at $TT"

  mkdir -p "$OUT_ROOT"
  local summary="$OUT_ROOT/summary.md" n dir status=0 child
  {
    echo "# telltale vs nmap -sT, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r)"
    echo "command: examples/bench.sh ${ns[*]} --runs $runs --chunk $chunk"
    echo
  } >"$summary"
  for n in "${ns[@]}"; do
    ((n >= 4)) || die "N must be >= 4"
    dir="$OUT_ROOT/n$n"
    rm -rf "$dir"; mkdir -p "$dir"
    write_helper "$dir/helper.py"
    # One private namespace per N: all traffic stays on its loopback. Run in the background so
    # that our trap can stop it (its own EXIT trap then kills the lab processes).
    unshare -rn "$SELF" --inner "$n" "$runs" "$chunk" "$dir" &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; exit 130' INT TERM
    if wait "$child"; then :; else
      status=1
      [[ -s $dir/table.md ]] || { log "N=$n: benchmark did not complete"; echo "N=$n: did not complete" >>"$summary"; continue; }
    fi
    trap - INT TERM
    { cat "$dir/table.md"; echo; } >>"$summary"
  done

  echo
  log "results in $OUT_ROOT (summary: $summary)"
  if ((status != 0)); then
    printf '\n%s\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    printf '%s\n' "!!! WRONG VERDICTS or FAILED RUNS — see the tables above and $OUT_ROOT/n*/*.wrong" >&2
    printf '%s\n\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    return 1
  fi
}

main "$@"
