//! `telltale wait` against real listeners and real firewall rules in a fresh network namespace:
//! a service that comes up late, one that never does, a port that a rule blocks while the wait
//! runs (`expect: blocked`), a flapping service and `--stable`, a blackholed target and the hard
//! deadline, SIGINT, and how many connections a wait costs its target (nft counters).
//!
//! Every case runs in one namespace script, side by side on its own port, so the file takes
//! about as long as its slowest case.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Ns, ns_with_jobs, str_or_null as s};
use serde_json::Value;

/// Counters of SYNs per case port, and the rules the cases add later.
const RULES: &str = "\
table inet cnt {
  counter late {}
  counter never {}
  chain input {
    type filter hook input priority -10; policy accept;
    tcp dport 2001 tcp flags & (syn | ack) == syn counter name late
    tcp dport 2002 tcp flags & (syn | ack) == syn counter name never
  }
}
table inet lab {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 2007 drop
  }
}
";

const INV_BLOCK: &str = "\
targets:
  - {name: admin, host: 127.0.0.1, port: 2003, expect: blocked, timeout: 1s}
";

/// The script: every case in the background, then `join`.
const BODY: &str = r#"
timed() { name=$1; shift; s=$(date +%s.%N); run_to "$name" "$@"; e=$(date +%s.%N); echo "$s $e" > "$name.time"; }
W="$T wait --no-progress --format ndjson"

# late: nothing on 2001 until 2 s in.
( sleep 2; lab_start late --ip 127.0.0.1 --open 2001; date +%s.%N > late.up ) &
timed late $W 127.0.0.1:2001 --interval 1s --deadline 20s --linger 200ms &
L1=$!

# never: nothing ever listens on 2002.
timed never $W 127.0.0.1:2002 --interval 500ms --deadline 3s &
L2=$!

# block: 2003 is open until a drop rule lands 2 s in; the target expects `blocked`.
lab_start blk --ip 127.0.0.1 --open 2003
( sleep 2; nft add rule inet lab input tcp dport 2003 drop; date +%s.%N > block.landed ) &
timed block $W inv_block.yaml --interval 500ms --deadline 20s --linger 200ms &
L3=$!

# flap: 2004 up 0.4 s, down 1 s, over and over; --stable 3 at 300 ms never sees 3 in a row,
# while --stable 1, on the same port at the same time, passes on one good round.
( while :; do lab_start flap --ip 127.0.0.1 --open 2004; sleep 0.4; lab_stop flap; sleep 1; done ) &
timed stable3 $W 127.0.0.1:2004 --stable 3 --interval 300ms --max-interval 300ms --deadline 5s --linger 100ms &
L4=$!
timed stable1 $W 127.0.0.1:2004 --stable 1 --interval 300ms --max-interval 300ms --deadline 10s --linger 100ms &
L5=$!

# blackhole: 2007 is dropped; the probe's own timeout (3 s, one retry) outlasts the deadline.
timed hole $W 127.0.0.1:2007 --deadline 3s &
L6=$!

# sigint: SIGINT 1.5 s into a wait for a port that never opens.
$W 127.0.0.1:2006 --interval 500ms --deadline 30s > sig.out 2> sig.err &
P=$!
sleep 1.5
date +%s.%N > sig.sent
kill -INT $P
set +e; wait $P; echo $? > sig.rc; set -e
date +%s.%N > sig.done

wait $L1 $L2 $L3 $L4 $L5 $L6
packets late
packets never
"#;

fn run() -> &'static Ns {
    static RUN: std::sync::OnceLock<Ns> = std::sync::OnceLock::new();
    RUN.get_or_init(|| ns_with_jobs(&[("rules.nft", RULES), ("inv_block.yaml", INV_BLOCK)], BODY))
}

/// (start, end) of a `timed` call, seconds since the epoch.
fn times(ns: &Ns, name: &str) -> (f64, f64) {
    let t = ns.read(&format!("{name}.time"));
    let mut it = t.split_whitespace().map(|x| x.parse::<f64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn stamp(ns: &Ns, name: &str) -> f64 {
    ns.read(name).trim().parse().unwrap()
}

fn only(ns: &Ns, name: &str) -> Value {
    let recs = ns.records(name);
    assert_eq!(recs.len(), 1, "{name}: {recs:?}\n{}", ns.show(name));
    recs.into_iter().next().unwrap()
}

#[test]
fn a_service_that_comes_up_late_is_ready_within_one_interval_and_costs_one_connect_a_round() {
    let ns = run();
    ns.assert_rc("late", 0);
    let (start, end) = times(ns, "late");
    let up = stamp(ns, "late.up");
    let r = only(ns, "late");
    assert_eq!(s(&r, "verdict"), "open", "{r}");
    let rounds = r["rounds"].as_u64().unwrap();
    // Rounds at 0, 1, 2.5, 4.75 s… (1 s, growing by half while refused): the listener comes
    // up at ~2 s, so the round after it (at most the then-current interval, 2.25 s, later) finds it.
    assert!(
        end - up <= 2.25 + 0.2 + 0.5,
        "ready {:.2}s after the listener came up (more than one interval)\n{}",
        end - up,
        ns.show("late")
    );
    assert!((2..=5).contains(&rounds), "rounds {rounds}: {r}");
    let waited = r["waited_ms"].as_f64().unwrap() / 1000.0;
    assert!(
        waited >= up - start - 0.3 && waited <= end - start + 0.1,
        "waited_ms {waited:.2}s, listener up at {:.2}s, exit at {:.2}s",
        up - start,
        end - start
    );
    // One SYN per round: never more connections than the interval allows.
    let syns = ns.packets("late", 0);
    assert_eq!(syns, rounds, "SYNs to the late service vs rounds: {r}");
    let err = ns.stderr("late");
    assert!(
        err.contains("127.0.0.1:2001 ready after") && err.contains(": open"),
        "no ready line without a terminal:\n{err}"
    );
}

#[test]
fn a_service_that_never_comes_up_ends_at_the_deadline_with_exit_1_and_says_why() {
    let ns = run();
    ns.assert_rc("never", 1);
    let (start, end) = times(ns, "never");
    let took = end - start;
    assert!(
        (2.7..=3.3).contains(&took),
        "deadline 3s, took {took:.2}s\n{}",
        ns.show("never")
    );
    let r = only(ns, "never");
    assert_eq!(s(&r, "verdict"), "refused", "{r}");
    assert_eq!(r["ok"], false, "{r}");
    // 500 ms growing by half: rounds at 0, 0.5, 1.25, 2.375 s (the next would be past 3 s).
    let rounds = r["rounds"].as_u64().unwrap();
    assert!((3..=5).contains(&rounds), "rounds {rounds}: {r}");
    assert_eq!(ns.packets("never", 0), rounds, "one SYN per round: {r}");
    assert!(
        ns.stderr("never").contains("deadline passed"),
        "{}",
        ns.show("never")
    );
}

#[test]
fn the_final_table_names_who_to_ask() {
    // The same wait as `never`, in the default format: the table of what is not as expected.
    let ns = common::NS_TERM_60S.run::<&str>(
        &[],
        "run_to tbl \"$T\" wait 127.0.0.1:2002 --deadline 1s --interval 300ms",
    );
    ns.assert_rc("tbl", 1);
    let out = ns.stdout("tbl");
    assert!(
        out.contains("127.0.0.1") && out.contains("refused") && out.contains("server admin"),
        "final table:\n{out}"
    );
}

#[test]
fn waiting_for_blocked_ends_once_the_rule_lands() {
    let ns = run();
    ns.assert_rc("block", 0);
    let (_, end) = times(ns, "block");
    let landed = stamp(ns, "block.landed");
    let r = only(ns, "block");
    assert_eq!(s(&r, "verdict"), "filtered", "{r}");
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["rounds"].as_u64().unwrap() >= 2,
        "open first, then blocked: {r}"
    );
    // The blocked verdict takes a connect timeout (1 s) and its retry (1 s).
    assert!(
        end > landed && end - landed < 0.75 + 2.0 + 1.0,
        "ready {:.2}s after the rule landed\n{}",
        end - landed,
        ns.show("block")
    );
}

#[test]
fn stable_needs_that_many_good_rounds_in_a_row() {
    let ns = run();
    ns.assert_rc("stable3", 1);
    let r = only(ns, "stable3");
    assert!(
        r["rounds"].as_u64().unwrap() >= 8,
        "the flapping service was probed every 300 ms: {r}"
    );
    // The same flapping service does pass on a single good round with --stable 1.
    ns.assert_rc("stable1", 0);
    let r1 = only(ns, "stable1");
    assert_eq!(s(&r1, "verdict"), "open", "{r1}");
}

#[test]
fn a_blackholed_target_is_cut_at_the_deadline() {
    let ns = run();
    ns.assert_rc("hole", 1);
    let (start, end) = times(ns, "hole");
    assert!(
        end - start <= 3.3,
        "deadline 3s, took {:.2}s\n{}",
        end - start,
        ns.show("hole")
    );
    let r = only(ns, "hole");
    // The first probe (3 s timeout and a retry) was still waiting: it is cut, not guessed.
    assert_eq!(s(&r, "verdict"), "interrupted", "{r}");
    assert!(s(&r, "detail").contains("unanswered"), "{r}");
    assert_eq!(r["rounds"], 1, "{r}");
}

#[test]
fn sigint_ends_a_wait_within_a_second_with_exit_3_and_the_final_state() {
    let ns = run();
    assert_eq!(ns.rc("sig"), 3, "{}", ns.show("sig"));
    let took = stamp(ns, "sig.done") - stamp(ns, "sig.sent");
    assert!(took < 1.0, "exit {took:.2}s after SIGINT");
    let r = only(ns, "sig");
    assert_eq!(s(&r, "verdict"), "refused", "{r}");
    assert!(r["waited_ms"].as_f64().unwrap() >= 1400.0, "{r}");
    assert!(
        ns.stderr("sig").contains("interrupted"),
        "{}",
        ns.show("sig")
    );
}
