//! `--shard K/N` partitions the probes: for random inventories and N in 1..8, the multiset
//! union of the `--shard K/N` probes equals the unsharded probe set, and the shards are
//! pairwise disjoint.
//!
//! - Library level (proptest): random inventories — single 127/8 addresses and `::1`, small
//!   CIDRs `127.0.N.0/28..32`, names, port lists, ranges and strings, sometimes a large
//!   `127.0.0.0/20` — are expanded with `Inventory::probes()` unsharded and with
//!   `set_shard(K, N)` for every K: the shards are pairwise disjoint, their multiset union is
//!   exactly the unsharded multiset, shard sizes differ by at most one probe (the split is at
//!   the probe level, before name resolution), and `probe_count()` / `in_shard()` agree with
//!   what the iterator yields.
//! - CLI level: `telltale scan --dry-run --shard K/N` listings union to the unsharded
//!   `--dry-run` listing (run inside `unshare -rn`: even a resolver bug could not send a packet).
//!
//! Nothing here sends a packet: expansion happens before resolution and `--dry-run` sends nothing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::Command;

use proptest::prelude::*;
use telltale::inventory::{Inventory, Overrides, Probe};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");

/// What identifies a probe before resolution: (target's position in the inventory, address or
/// name, port, expansion index).
type Key = (usize, String, u16, u128);

fn key(inv: &Inventory, p: &Probe) -> Key {
    let ti = inv
        .targets
        .iter()
        .position(|t| std::sync::Arc::ptr_eq(t, &p.target))
        .expect("probe's target is one of the inventory's targets");
    let addr = p.addr.map_or_else(
        || format!("name:{}", p.target.host_label),
        |a: IpAddr| a.to_string(),
    );
    (ti, addr, p.port, p.index)
}

fn load(yaml: &str) -> Inventory {
    let mut inv = Inventory::default();
    inv.add_text("prop.yaml", yaml, Overrides::default())
        .unwrap_or_else(|e| panic!("generated inventory rejected: {e}\n{yaml}"));
    inv
}

fn probes_of(inv: &Inventory) -> Vec<Key> {
    inv.probes().map(|p| key(inv, &p)).collect()
}

fn multiset(keys: impl IntoIterator<Item = Key>) -> BTreeMap<Key, usize> {
    let mut m = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// Check every shard property for `yaml` split `n` ways; returns the shard sizes.
fn check_split(yaml: &str, n: u32) -> Result<Vec<usize>, TestCaseError> {
    let full_inv = load(yaml);
    let full = probes_of(&full_inv);
    prop_assert_eq!(
        u128::try_from(full.len()).unwrap(),
        full_inv.probe_count(),
        "unsharded probe_count() disagrees with the iterator"
    );
    let mut union = Vec::new();
    let mut sizes = Vec::new();
    let mut owner: BTreeMap<u128, u32> = BTreeMap::new();
    for k in 1..=n {
        let mut inv = load(yaml);
        inv.set_shard(k, n);
        let shard = probes_of(&inv);
        prop_assert_eq!(
            u128::try_from(shard.len()).unwrap(),
            inv.probe_count(),
            "shard {}/{}: probe_count() disagrees with the iterator",
            k,
            n
        );
        for t in &inv.targets {
            let has = inv.probes().any(|p| std::sync::Arc::ptr_eq(&p.target, t));
            prop_assert_eq!(
                inv.in_shard(t),
                has,
                "shard {}/{}: in_shard(targets[{}]) wrong",
                k,
                n,
                t.index
            );
        }
        for key in &shard {
            if let Some(other) = owner.insert(key.3, k) {
                return Err(TestCaseError::fail(format!(
                    "probe {key:?} is in shard {other}/{n} and in shard {k}/{n}"
                )));
            }
        }
        sizes.push(shard.len());
        union.extend(shard);
    }
    prop_assert_eq!(
        multiset(union),
        multiset(full.clone()),
        "union of the {} shards differs from the unsharded scan",
        n
    );
    let (lo, hi) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
    prop_assert!(
        hi - lo <= 1,
        "shard sizes {:?} differ by more than one probe ({} probes in all)",
        sizes,
        full.len()
    );
    Ok(sizes)
}

// ---------------------------------------------------------------------------------------------
// Random inventories
// ---------------------------------------------------------------------------------------------

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u8..=255, 1u8..=254).prop_map(|(b, d)| format!("127.0.{b}.{d}")),
        3 => (0u8..=255, 28u8..=32).prop_map(|(b, len)| format!("127.0.{b}.0/{len}")),
        2 => (0u8..20).prop_map(|i| format!("svc{i}.telltale.test")),
        1 => Just("localhost".to_string()),
        1 => Just("::1".to_string()),
        // Rarely, one large block (4094 addresses): the split must still be even.
        1 => Just("127.1.0.0/20".to_string()),
    ]
}

fn ports() -> impl Strategy<Value = String> {
    let port = 1u16..=65535;
    prop_oneof![
        port.clone().prop_map(|p| format!("port: {p}")),
        proptest::collection::vec(port.clone(), 1..5).prop_map(|v| {
            let items: Vec<String> = v.iter().map(u16::to_string).collect();
            format!("ports: [{}]", items.join(", "))
        }),
        (1u16..=65000, 0u16..12).prop_map(|(lo, w)| format!("ports: \"{lo}-{}\"", lo + w)),
        (1u16..=60000, 0u16..5, 1u16..=65535)
            .prop_map(|(lo, w, p)| format!("ports: [{p}, \"{lo}-{}\"]", lo + w)),
        (1u16..=1000, 1u16..=1000).prop_map(|(a, b)| format!(
            "ports: \"{a},{},{b}-{}\"",
            a + 1000,
            b + 3
        )),
    ]
}

fn inventory_yaml() -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::option::of(0u8..6), host(), ports()), 1..9).prop_map(
        |targets| {
            let mut y = String::from("targets:\n");
            for (name, host, ports) in targets {
                match name {
                    Some(n) => writeln!(y, "  - name: t{n}\n    host: \"{host}\"").unwrap(),
                    None => writeln!(y, "  - host: \"{host}\"").unwrap(),
                }
                writeln!(y, "    {ports}").unwrap();
            }
            y
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn shards_partition_the_probe_multiset(yaml in inventory_yaml(), n in 1u32..=8) {
        check_split(&yaml, n)?;
    }
}

// ---------------------------------------------------------------------------------------------
// One large CIDR: the split is at the probe level, not the target level
// ---------------------------------------------------------------------------------------------

#[test]
fn large_cidr_is_split_across_every_shard() {
    // 4094 addresses × 2 ports = 8188 probes in one target, between two tiny ones.
    let yaml = "targets:\n\
                - {name: before, host: 127.0.0.1, port: 22}\n\
                - {name: big, host: 127.0.0.0/20, ports: [80, 443]}\n\
                - {name: after, host: localhost, ports: \"8000-8002\"}\n";
    let total = 1 + 4094 * 2 + 3;
    assert_eq!(load(yaml).probe_count(), total);
    for n in 1..=8u32 {
        let sizes = check_split(yaml, n).unwrap_or_else(|e| panic!("N={n}: {e}"));
        assert_eq!(sizes.iter().sum::<usize>(), 8192);
        // Every shard gets a share of the big block, on both of its ports.
        for k in 1..=n {
            let mut inv = load(yaml);
            inv.set_shard(k, n);
            let big: Vec<Probe> = inv
                .probes()
                .filter(|p| p.target.name.as_deref() == Some("big"))
                .collect();
            let per_shard = 8188 / usize::try_from(n).unwrap();
            assert!(
                big.len() >= per_shard && big.len() <= per_shard + 1,
                "shard {k}/{n}: {} probes of the /20, want about {per_shard}",
                big.len()
            );
            for port in [80, 443] {
                assert!(
                    big.iter().any(|p| p.port == port),
                    "shard {k}/{n} has no probe of the /20 on port {port}"
                );
            }
        }
    }
}

#[test]
fn sharding_is_deterministic() {
    let yaml = "targets:\n  - {host: 127.0.3.0/28, ports: \"1-7\"}\n  - {host: svc.telltale.test, ports: [9, 10]}\n";
    for n in 1..=8 {
        for k in 1..=n {
            let run = || {
                let mut inv = load(yaml);
                inv.set_shard(k, n);
                probes_of(&inv)
            };
            assert_eq!(run(), run(), "shard {k}/{n} is not deterministic");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CLI: `scan --dry-run --shard K/N`
// ---------------------------------------------------------------------------------------------

/// Run the binary with `args` inside a fresh network namespace (only a down `lo`).
fn dry_run(args: &[&str]) -> Vec<String> {
    let out = Command::new("unshare")
        .args(["-rn", BIN])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `unshare -rn telltale`: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "telltale {args:?}: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("NAME\tADDRESS\tPORT\tEXPECT"),
        "dry-run header: {stdout}"
    );
    lines.map(str::to_string).collect()
}

#[test]
fn dry_run_shards_union_to_the_unsharded_listing() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.yaml");
    std::fs::write(
        &inv,
        "defaults: {expect: open}\n\
         targets:\n\
         - {name: web, host: 127.0.0.1, ports: [80, 443, \"8000-8009\"]}\n\
         - {name: block, host: 127.0.8.0/27, ports: [22, 5432], expect: {app: open, dmz: blocked, default: refused}}\n\
         - {name: named, host: localhost, ports: \"1-5\"}\n\
         - {name: ghost, host: ghost.telltale.invalid, port: 7}\n\
         - {host: \"::1\", ports: \"100,200\"}\n",
    )
    .unwrap();
    let inv = inv.to_str().unwrap();
    let mut full = dry_run(&["scan", inv, "--dry-run"]);
    assert_eq!(full.len(), 12 + 30 * 2 + 5 + 1 + 2, "{full:#?}");
    full.sort();
    for n in 1..=8u32 {
        let mut union = Vec::new();
        let mut sizes = Vec::new();
        for k in 1..=n {
            let shard = dry_run(&["scan", inv, "--dry-run", "--shard", &format!("{k}/{n}")]);
            sizes.push(shard.len());
            union.extend(shard);
        }
        union.sort();
        assert_eq!(
            union, full,
            "N={n}: the --dry-run listings of the shards do not union to the unsharded one"
        );
        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(hi - lo <= 1, "N={n}: shard sizes {sizes:?}");
    }
}
