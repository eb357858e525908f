#!/bin/sh
# nightly-sweep.sh: the nightly telltale sweep, run by telltale-sweep.service (or from cron).
#
#   1. scan the inventory once: NDJSON report       -> $STATE/reports/sweep-<UTC stamp>.ndjson
#      and, from the same scan, the Prometheus textfile -> $TELLTALE_PROM (--also; both atomic)
#   3. diff against the previous complete report    -> $STATE/drift.txt and $STATE/drift.json
#   4. rotate: previous.ndjson <- latest.ndjson <- this run (symlinks into reports/)
#
# Set TELLTALE_PROM empty to skip the textfile.
#
# Only a *complete* scan (exit 0 or 1) becomes the new baseline. An incomplete one (exit 3:
# interrupted, local errors, a failed positive control) is kept as reports/incomplete-*.ndjson for
# inspection, never diffed against, so one bad night does not show up as drift twice.
#
# Settings (environment; the systemd unit sets them):
#   TELLTALE_BIN        telltale binary                    [/usr/local/bin/telltale]
#   TELLTALE_INVENTORY  inventory file(s), space-separated [/etc/telltale/inventory.yaml]
#   TELLTALE_STATE_DIR  reports and drift                  [$STATE_DIRECTORY, else /var/lib/telltale]
#   TELLTALE_PROM       Prometheus textfile, empty = none  [/var/lib/node_exporter/textfile/telltale.prom]
#   TELLTALE_VANTAGE    vantage label (part of the diff key: keep it stable) [telltale's default: hostname]
#   TELLTALE_SCAN_ARGS  extra scan flags, split on spaces, e.g. "--attempts 3 --rate 200"
#   TELLTALE_KEEP_DAYS  delete reports older than this     [30]
#
# Exit code: 2 or 3 from the scan (bad inventory / incomplete) win; then 2 if the diff could not
# read a report; then 1 if a result was not as expected or anything drifted; else 0. A non-zero
# exit fails the systemd unit, so OnFailure= (or cron's mail) tells someone to look.
set -u

BIN=${TELLTALE_BIN:-/usr/local/bin/telltale}
INVENTORY=${TELLTALE_INVENTORY:-/etc/telltale/inventory.yaml}
STATE=${TELLTALE_STATE_DIR:-${STATE_DIRECTORY:-/var/lib/telltale}}
PROM=${TELLTALE_PROM-/var/lib/node_exporter/textfile/telltale.prom}
VANTAGE=${TELLTALE_VANTAGE:-}
SCAN_ARGS=${TELLTALE_SCAN_ARGS:-}
KEEP_DAYS=${TELLTALE_KEEP_DAYS:-30}

log() { printf 'nightly-sweep: %s\n' "$*" >&2; }

mkdir -p "$STATE/reports" || exit 2

# One report per run, even for two runs within a second (a manual re-run).
base=$(date -u +%Y%m%dT%H%M%SZ)
stamp=$base
n=0
while [ -e "$STATE/reports/sweep-$stamp.ndjson" ] || [ -e "$STATE/reports/incomplete-$stamp.ndjson" ]; do
    n=$((n + 1))
    stamp="$base-$n"
done
report="$STATE/reports/sweep-$stamp.ndjson"

# Scan flags. The inventory and extra flags are split on spaces on purpose.
set -- --no-progress
if [ -n "$VANTAGE" ]; then set -- "$@" --vantage "$VANTAGE"; fi
# shellcheck disable=SC2086
set -- $INVENTORY "$@" $SCAN_ARGS

# 1. The report of record, and from the same scan the Prometheus textfile (node_exporter reads
#    only complete files: telltale renames both into place; the textfile keeps a 0644-style mode).
if [ -n "$PROM" ]; then
    mkdir -p "$(dirname "$PROM")"
    set -- "$@" --also "prometheus=$PROM"
fi
"$BIN" scan "$@" --format ndjson -o "$report"
scan_rc=$?
log "scan exit $scan_rc -> $report"
if [ "$scan_rc" -eq 2 ]; then
    log "inventory or usage error: nothing scanned"
    exit 2
fi

if [ "$scan_rc" -ne 0 ] && [ "$scan_rc" -ne 1 ]; then
    bad="$STATE/reports/incomplete-$stamp.ndjson"
    mv -f "$report" "$bad" 2>/dev/null
    log "scan incomplete (exit $scan_rc): kept $bad, baseline unchanged, no diff"
    exit "$scan_rc"
fi

# 3. Drift against the previous complete report.
diff_rc=0
if [ -e "$STATE/latest.ndjson" ]; then
    "$BIN" diff "$STATE/latest.ndjson" "$report" > "$STATE/drift.txt.tmp"
    diff_rc=$?
    if [ "$diff_rc" -ne 2 ]; then
        "$BIN" diff "$STATE/latest.ndjson" "$report" --format json > "$STATE/drift.json.tmp"
        mv -f "$STATE/drift.json.tmp" "$STATE/drift.json"
    fi
    mv -f "$STATE/drift.txt.tmp" "$STATE/drift.txt"
    log "diff $(readlink "$STATE/latest.ndjson") -> $(basename "$report"): exit $diff_rc"
    cat "$STATE/drift.txt"
else
    log "no previous report: this run is the baseline"
fi

# 4. Rotate (symlinks are replaced atomically with mv -T).
if [ -e "$STATE/latest.ndjson" ]; then
    cp -P "$STATE/latest.ndjson" "$STATE/previous.ndjson.tmp" && mv -Tf "$STATE/previous.ndjson.tmp" "$STATE/previous.ndjson"
fi
ln -sfn "reports/$(basename "$report")" "$STATE/latest.ndjson.tmp" && mv -Tf "$STATE/latest.ndjson.tmp" "$STATE/latest.ndjson"

find "$STATE/reports" -name '*.ndjson' -type f -mtime +"$KEEP_DAYS" -delete 2>/dev/null

if [ "$diff_rc" -eq 2 ]; then exit 2; fi
if [ "$scan_rc" -eq 1 ] || [ "$diff_rc" -eq 1 ]; then exit 1; fi
exit 0
