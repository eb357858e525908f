//! Names: `localhost` resolves to loopback, one name with several addresses gives one record
//! per address (a black-holed sibling slows no other, checklist 2), an unknown name is
//! `dns-error` with no address (checklist 14), and a hung resolver neither delays an interrupt
//! nor holds back the address targets behind it.
//!
//! Namespace tests build their own world with `unshare` (user + net [+ mount + pid]): only `lo`
//! exists, nft rules produce the kernel answers, and a private `/etc/hosts` + `/etc/resolv.conf`
//! keep every name lookup inside (checklist 23). They need `unshare`/`prlimit` (util-linux),
//! `ip` (iproute2), `nft` (nftables) and `bash`, and fail loudly, never skip, without them.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;

use common::kernel::*;
use common::{Lab, assert_verdict, in_netns_mnt, nft_rules, scan_ndjson, show, str_or_null as s};

#[test]
fn localhost_name_resolves_to_loopback() {
    let lab = Lab::start("127.0.0.1", &["open"]);
    let yaml = format!(
        "targets:\n  - {{name: lh, host: localhost, port: {}, expect: [open, refused]}}\n",
        lab.port("open")
    );
    let inv = common::inventory(&yaml);
    let (recs, run) = scan_ndjson(&inv, &[], 0);
    assert!(!recs.is_empty(), "{}", run.dump());
    for r in &recs {
        assert_eq!(r["host"], "localhost", "{r}");
        let a = r["addr"].as_str().unwrap();
        assert!(a == "127.0.0.1" || a == "::1", "{r}");
    }
    let v4: Vec<&Value> = recs.iter().filter(|r| r["addr"] == "127.0.0.1").collect();
    assert_eq!(v4.len(), 1, "{}", show(&recs));
    assert_verdict(v4[0], "open");
}

// ---------------------------------------------------------------------------------------------
// One name, several addresses (checklist 2)
// ---------------------------------------------------------------------------------------------

#[test]
fn multi_address_name_one_record_per_address() {
    let hosts = "127.0.0.1 localhost\n::1 localhost\n\
                 127.0.0.2 multi\n127.0.0.3 multi\n::1 multi\n"
        .to_string();
    let rules = nft_rules(&["ip daddr 127.0.0.2 tcp dport 1001 drop"]);
    let inv = inventory(&[target(
        Some("multi_svc"),
        "multi",
        "1001,1002",
        "[open, filtered, closed-by-peer, refused]",
    )]);
    let run = ns_run(
        &[("hosts", hosts), ("rules.nft", rules), ("inv.yaml", inv)],
        "lab_start a3 --ip 127.0.0.3 --open 1001\n\
         lab_start a6 --ip ::1 --closed 1001\n\
         scan multi inv.yaml --format ndjson --no-progress --timeout 2s --linger 300ms --retries 0",
    );
    let wants = [
        want("127.0.0.2", 1001, "filtered").named("multi_svc"),
        want("127.0.0.3", 1001, "open").named("multi_svc"),
        want("::1", 1001, "closed-by-peer").named("multi_svc"),
        want("127.0.0.2", 1002, "refused").errno("ECONNREFUSED"),
        want("127.0.0.3", 1002, "refused").errno("ECONNREFUSED"),
        want("::1", 1002, "refused").errno("ECONNREFUSED"),
    ];
    check_records(&run, "multi", &wants);
    for r in records(&run, "multi") {
        assert_eq!(s(&r, "host"), "multi", "host must be the name: {r}");
        // A black-holed sibling address must not slow or change this one.
        if s(&r, "verdict") == "open" {
            let ms = r["connect_ms"].as_f64().unwrap_or(f64::MAX);
            assert!(ms < 500.0, "open address waited on its sibling: {r}");
        }
    }
    assert_rc(&run, "multi", 0);
}

// ---------------------------------------------------------------------------------------------
// dns-error (checklist 14)
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_name_is_dns_error_inside_namespace() {
    let hosts = "127.0.0.1 localhost\n::1 localhost\n127.0.0.1 known\n".to_string();
    let inv = inventory(&[
        target(Some("ghost"), "missing.telltale-lab.invalid", "80", "open"),
        target(Some("known"), "known", "1001", "open"),
    ]);
    let run = ns_run(
        &[("hosts", hosts), ("inv.yaml", inv)],
        "lab_start svc --ip 127.0.0.1 --open 1001\n\
         scan dns inv.yaml --format ndjson --no-progress --timeout 2s --linger 100ms",
    );
    let recs = records(&run, "dns");
    assert_eq!(recs.len(), 2, "{}", run.context("dns"));
    let ghost = recs
        .iter()
        .find(|r| s(r, "host") == "missing.telltale-lab.invalid")
        .unwrap_or_else(|| panic!("no record for the unknown name\n{}", run.context("dns")));
    assert_eq!(s(ghost, "verdict"), "dns-error", "{ghost}");
    assert!(ghost["addr"].is_null(), "{ghost}");
    assert_eq!(port(ghost), 80, "{ghost}");
    assert_eq!(s(ghost, "name"), "ghost", "{ghost}");
    let detail = s(ghost, "detail").to_lowercase();
    assert!(
        detail.contains("temporar") || detail.contains("resolv") || detail.contains("eai_again"),
        "dns-error detail should say the resolver failed temporarily: {ghost}"
    );
    let known = recs.iter().find(|r| s(r, "host") == "known").unwrap();
    assert_eq!(s(known, "verdict"), "open", "{known}");
    assert_eq!(s(known, "addr"), "127.0.0.1", "{known}");
    assert_rc(&run, "dns", 1);
}

// ---------------------------------------------------------------------------------------------
// A hung resolver
// ---------------------------------------------------------------------------------------------

/// Runs `script` in a namespace whose resolver (127.0.0.1) never answers: nft drops every DNS
/// packet on the input hook, so getaddrinfo waits out its own timeouts (5 s × 2 attempts); `$dir`
/// is a scratch directory. No packet leaves the namespace.
fn with_hung_resolver(script: &str) -> std::process::Output {
    let prelude = "dir=$(mktemp -d)\n\
         printf 'nameserver 127.0.0.1\\noptions timeout:5 attempts:2\\n' > $dir/resolv.conf\n\
         printf '127.0.0.1 localhost\\n' > $dir/hosts\n\
         mount --bind $dir/resolv.conf /etc/resolv.conf\n\
         mount --bind $dir/hosts /etc/hosts\n\
         nft add table inet t\n\
         nft add chain inet t in '{ type filter hook input priority 0; }'\n\
         nft add rule inet t in udp dport 53 drop\n\
         nft add rule inet t in tcp dport 53 drop\n";
    in_netns_mnt(&format!("{prelude}\n{script}"))
}

/// Checklist 14: a hung resolver cannot delay the exit after an interrupt by more than 2 s.
/// Inside the namespace the resolver is 127.0.0.1, and nft drops every DNS packet, so
/// getaddrinfo waits out its own timeouts (5 s × 2 attempts): the input hook drops the queries
/// (an output-hook drop would fail the send at once). No packet leaves the namespace.
#[test]
fn hung_resolver_does_not_delay_interrupt() {
    let out = with_hung_resolver(
        "printf 'targets:\\n  - {host: hung.telltale.test, port: 80}\\n  - {host: also-hung.telltale.test, port: 81}\\n' > $dir/inv.yaml\n\
         \"$T\" scan $dir/inv.yaml --format ndjson --no-progress > $dir/out 2>$dir/err &\n\
         pid=$!\n\
         sleep 1\n\
         start=$(date +%s%N)\n\
         kill -INT $pid\n\
         rc=0; wait $pid || rc=$?\n\
         end=$(date +%s%N)\n\
         echo \"RC $rc\"\n\
         echo \"MS $(( (end - start) / 1000000 ))\"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
            .expect(k)
    };
    assert_eq!(field("RC "), 3, "interrupted run exits 3: {stdout}");
    let ms = field("MS ");
    assert!(
        ms < 2000,
        "exit took {ms} ms after SIGINT with a hung resolver"
    );
}

/// Names do not block addresses. With the resolver black-holed, a name listed
/// first hangs in getaddrinfo for seconds; the address targets after it are probed at once.
#[test]
fn ip_targets_do_not_wait_behind_a_hung_lookup() {
    let out = with_hung_resolver(
        "printf 'targets:\\n  - {host: hung.telltale.test, port: 80}\\n  - {name: by-ip, host: 127.0.0.1, ports: \"9,10\", expect: refused}\\n' > $dir/inv.yaml\n\
         \"$T\" scan $dir/inv.yaml --format ndjson --no-progress > $dir/out 2>$dir/err &\n\
         pid=$!\n\
         sleep 1.5\n\
         echo \"BYIP $(grep -c '\"by-ip\"' $dir/out)\"\n\
         kill -INT $pid\n\
         rc=0; wait $pid || rc=$?\n\
         echo \"RC $rc\"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("BYIP 2"),
        "both address probes reported within 1.5 s while the name hangs: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("RC 3"), "interrupted run exits 3: {stdout}");
}
