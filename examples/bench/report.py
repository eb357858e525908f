#!/usr/bin/env python3
"""examples/bench/report.py: verdict checks and summary tables for examples/bench.sh.

Not run by hand: bench.sh calls it.
  verify COLUMN TRUTH OUTPUT WRONGFILE      check one run's output against the lab truth
  verify-million OUTPUT CIDR PORT WRONGFILE  count the records of the --million run, all refused
  table MODE DIR                             markdown summary of DIR/runs.tsv (MODE: ports,
                                             filtered, million); DIR/meta holds key=value lines
Each verify prints one line: "wrong=K counts=verdict=n,... records=n".
"""
import ipaddress
import json
import statistics
import sys
import xml.etree.ElementTree as ET

# What each tool family must answer for each lab behaviour.
EXPECT = {
    "telltale": {"open": "open", "closed": "open", "refused": "refused", "filtered": "filtered"},
    "nmap": {"open": "open", "closed": "open", "refused": "closed", "filtered": "filtered"},
}
FAMILY = {"tt-fixed": "telltale", "tt-auto": "telltale", "floor": "telltale", "nmap": "nmap"}


def load_truth(path):
    """truth.tsv: 'ADDR START END KIND' lines -> {(addr, port): kind}"""
    truth = {}
    with open(path) as f:
        for line in f:
            addr, a, b, kind = line.split()
            for p in range(int(a), int(b) + 1):
                truth[(addr, p)] = kind
    return truth


def parse_ports(spec):
    for part in spec.split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        yield from range(int(a), int(b or a) + 1)


def read_telltale(path, waits=None):
    """Yields (addr, port, verdict); counts each record's waits_ms pattern into `waits`."""
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                if waits is not None and r.get("waits_ms"):
                    w = r["waits_ms"]  # bucket: first wait to 100 ms; 2+ waits count apart
                    key = (int(w[0]) // 100 * 100, len(w) > 1)
                    waits[key] = waits.get(key, 0) + 1
                yield r["addr"], r["port"], r["verdict"]


def read_floor(path, addr):
    with open(path) as f:
        for line in f:
            port, verdict = line.split()
            yield addr, int(port), verdict


def read_nmap(path):
    root = ET.parse(path).getroot()
    for host in root.iter("host"):
        addr = host.find("address").get("addr")
        for port in host.iter("port"):
            yield addr, int(port.get("portid")), port.find("state").get("state")
        # nmap folds large same-state groups into <extraports>; the ports are in <extrareasons>.
        for ep in host.iter("extraports"):
            listed = 0
            for er in ep.iter("extrareasons"):
                for p in parse_ports(er.get("ports", "")):
                    listed += 1
                    yield addr, p, ep.get("state")
            if listed != int(ep.get("count")):
                raise ValueError(f"{addr}: extraports count={ep.get('count')}, {listed} listed")


def verify(column, truth_path, out_path, wrong_path):
    truth = load_truth(truth_path)
    exp = EXPECT[FAMILY[column]]
    seen, counts, wrong, waits = {}, {}, [], {}
    try:
        if column == "nmap":
            got = list(read_nmap(out_path))
        elif column == "floor":
            got = list(read_floor(out_path, next(iter(truth))[0]))
        else:
            got = list(read_telltale(out_path, waits))
    except Exception as e:  # unreadable output: every probe is wrong
        got = []
        wrong.append(f"output unreadable: {type(e).__name__}: {e}")
    for addr, port, verdict in got:
        counts[verdict] = counts.get(verdict, 0) + 1
        key = (addr, port)
        if key in seen:
            wrong.append(f"{addr}:{port} duplicate result {verdict} (first {seen[key]})")
            continue
        seen[key] = verdict
        kind = truth.get(key)
        if kind is None:
            wrong.append(f"{addr}:{port} not a target but reported {verdict}")
        elif verdict != exp[kind]:
            wrong.append(f"{addr}:{port} lab={kind} want={exp[kind]} got={verdict}")
    for key in sorted(set(truth) - set(seen)):
        wrong.append(f"{key[0]}:{key[1]} lab={truth[key]} want={exp[truth[key]]} got=MISSING")
    if waits:  # e.g. "100-199 ms: 27590 (6940 with a second wait); 1000-1099 ms: 2386"
        firsts = sorted({k[0] for k in waits})
        with open(wrong_path.rsplit(".", 1)[0] + ".waits", "w") as f:
            f.write("; ".join(f"{b}-{b + 99} ms: {waits.get((b, False), 0) + waits.get((b, True), 0)}"
                              f" ({waits.get((b, True), 0)} with a second wait)" for b in firsts))
    finish(wrong_path, wrong, counts, len(got))


def verify_million(out_path, cidr, port, wrong_path):
    net = ipaddress.ip_network(cidr)
    want = net.num_addresses - 2  # telltale skips the network and broadcast address
    lo, hi = int(net.network_address) + 1, int(net.broadcast_address) - 1
    seen, counts, wrong, n = set(), {}, [], 0
    try:
        for addr, p, verdict in read_telltale(out_path):
            n += 1
            counts[verdict] = counts.get(verdict, 0) + 1
            a = int(ipaddress.IPv4Address(addr))
            if verdict != "refused":
                wrong.append(f"{addr}:{p} want=refused got={verdict}")
            if p != int(port) or not lo <= a <= hi:
                wrong.append(f"{addr}:{p} not a target")
            elif a in seen:
                wrong.append(f"{addr}:{p} duplicate result")
            seen.add(a)
    except Exception as e:
        wrong.append(f"output unreadable after {n} records: {type(e).__name__}: {e}")
    if len(seen) != want:
        wrong.append(f"{len(seen)} distinct targets answered, {want} expected")
    finish(wrong_path, wrong, counts, n)


def finish(wrong_path, wrong, counts, n):
    with open(wrong_path, "w") as f:
        f.write("".join(w + "\n" for w in wrong))
    c = ",".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(f"wrong={len(wrong)} counts={c or 'none'} records={n}")


# ---- tables -------------------------------------------------------------------------------
def load_runs(d):
    """runs.tsv: 'COLUMN ROUND WALL USER SYS RSS_KIB WRONG RC RECORDS' -> {column: [run...]}"""
    rows = {}
    with open(f"{d}/runs.tsv") as f:
        for line in f:
            col, _rnd, wall, user, sys_, rss, wrong, rc, recs = line.split()
            rows.setdefault(col, []).append({
                "wall": float(wall),
                # round to time's 10 ms resolution so float noise cannot decide a comparison
                "cpu": round(float(user) + float(sys_), 2),
                "rss": int(rss) / 1024.0, "wrong": int(wrong), "rc": int(rc), "recs": int(recs)})
    return rows


def load_meta(d):
    meta, cmds = {}, []
    with open(f"{d}/meta") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            if k == "cmd":
                cmds.append(v)
            else:
                meta[k] = v
    return meta, cmds


def medians(runs):
    return {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "rss", "recs")}


def ratio_line(label, a, b, goal):
    """One row; goal is "≤ X", "< X" or "" (for information only)."""
    if a is None or b is None or b <= 0:
        return f"| {label} | n/a | {goal or '-'} | n/a |"
    v, met = round(a / b, 2), "-"  # judged as shown
    if goal:
        op, limit = goal.split()[0], float(goal.split()[1])
        met = "yes" if (v <= limit if op == "≤" else v < limit) else "NO"
    return f"| {label} | {v:.2f} | {goal or '-'} | {met} |"


def table(mode, d):
    rows, (meta, cmds) = load_runs(d), load_meta(d)
    med = {c: medians(r) for c, r in rows.items()}
    out = [f"### {meta['title']}", "", meta.get("note", ""), "",
           "| column | runs | median wall s | median CPU s (user+sys) | median peak RSS MB |"
           + (" records/s |" if mode == "million" else "") + " verdicts right | wrong per run |",
           "|---|---:|---:|---:|---:|" + ("---:|" if mode == "million" else "") + "---|---|"]
    for col in meta["columns"].split():
        if col not in rows:
            out.append(f"| {col} | 0 | skipped: {meta.get('skip_' + col, 'not run')} |")
            continue
        r, m = rows[col], med[col]
        ok = all(x["wrong"] == 0 for x in r)
        rate = f" {m['recs'] / m['wall']:,.0f} |" if mode == "million" else ""
        out.append(f"| {col} | {len(r)} | {m['wall']:.2f} | {m['cpu']:.2f} | {m['rss']:.1f} |{rate}"
                   f" {'yes' if ok else '**NO**'} | {' '.join(str(x['wrong']) for x in r)} |")
    w = {c: med[c]["wall"] for c in med}
    cpu = {c: med[c]["cpu"] for c in med}
    out += ["", "| ratio (medians) | value | goal | met |", "|---|---:|---|---|"]
    if mode == "ports":
        out.append(ratio_line("tt-fixed / floor wall", w.get("tt-fixed"), w.get("floor"), "≤ 1.02"))
        out.append(ratio_line("tt-fixed / floor CPU", cpu.get("tt-fixed"), cpu.get("floor"), "≤ 1.2"))
        out.append(ratio_line("tt-fixed peak RSS (MB)", med.get("tt-fixed", {}).get("rss"), 1, "≤ 8"))
        out.append(ratio_line("tt-auto / nmap wall", w.get("tt-auto"), w.get("nmap"), "≤ 0.5"))
    elif mode == "filtered":
        out.append(ratio_line("tt-auto / nmap wall", w.get("tt-auto"), w.get("nmap"), "< 1 (keep the lead)"))
        out.append(ratio_line("tt-fixed / nmap wall", w.get("tt-fixed"), w.get("nmap"), "< 1 (keep the lead)"))
        out.append(ratio_line("tt-auto / tt-fixed wall", w.get("tt-auto"), w.get("tt-fixed"), ""))
    else:
        out.append(ratio_line("tt-fixed peak RSS (MB)", med.get("tt-fixed", {}).get("rss"), 1, "≤ 32"))
    waits = []  # how long tt-auto waited (waits_ms), per round
    for i in range(1, len(rows.get("tt-auto", [])) + 1):
        try:
            with open(f"{d}/tt-auto.{i}.waits") as f:
                waits.append(f"- tt-auto round {i}, probes by first wait: {f.read()}")
        except FileNotFoundError:
            pass
    out += [""] + waits if waits else []
    out += ["", "Commands (`{out}` is each run's output file):", ""]
    out += [f"- `{c}`" for c in cmds]
    out += ["", "Raw runs (column round wall_s cpu_s rss_MB wrong exit records):", ""]
    for col in meta["columns"].split():
        for i, x in enumerate(rows.get(col, []), 1):
            out.append(f"    {col:8} {i} {x['wall']:.2f} {x['cpu']:.2f} {x['rss']:.1f} "
                       f"{x['wrong']} {x['rc']} {x['recs']}")
    print("\n".join(out))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "verify":
        verify(*args)
    elif cmd == "verify-million":
        verify_million(*args)
    elif cmd == "table":
        table(*args)
    else:
        sys.exit(f"unknown command {cmd}")
