//! Repeated ports: within one entry's list (a warning) and across entries with the same name,
//! host and `source:` (a warning, and the later entry loses the repeated ports, so that every
//! (name, address, port, source) yields exactly one record, with the first entry's settings).
//!
//! Entries are grouped by (name, host, source) with a hash map, and each group keeps the ports
//! claimed so far as merged ranges in a B-tree: an entry costs O(r log r) for its r ranges
//! (amortised), so a whole inventory is O(n log n), not a comparison of every pair of entries.
//! Warnings are summarised (a few ranges and "and N more") and at most [`WARN_LINES`] of each
//! kind are listed.

use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;
use std::collections::hash_map::Entry;
use std::ops::Bound::{Excluded, Included};
use std::sync::Arc;

use super::{Host, Inventory, PortSet};

/// Warnings of one kind listed one by one; the rest are counted in one line.
pub const WARN_LINES: usize = 20;

/// Ranges shown in a port summary before "and N more".
const SHOWN_RANGES: usize = 5;

/// Earlier entries named in one "repeats ports of" warning.
const SHOWN_OWNERS: usize = 3;

/// Ports in sorted, disjoint ranges.
pub fn port_count(ranges: &[(u16, u16)]) -> u64 {
    ranges
        .iter()
        .map(|&(lo, hi)| u64::from(hi) - u64::from(lo) + 1)
        .sum()
}

/// `1,3,5-9` for a few ranges; `1,3,5,7,9 and 32763 more` for many.
pub fn summarise(ranges: &[(u16, u16)]) -> String {
    let shown = &ranges[..ranges.len().min(SHOWN_RANGES)];
    let mut s = shown
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    if shown.len() < ranges.len() {
        s.push_str(&format!(" and {} more", port_count(&ranges[shown.len()..])));
    }
    s
}

impl Inventory {
    /// Warn that entry `index` of `file` lists some ports more than once (summarised, and only
    /// the first [`WARN_LINES`] such entries one by one).
    pub(super) fn note_listed_twice(&mut self, file: &str, index: usize, host: &Host, p: &PortSet) {
        if p.repeated.is_empty() {
            return;
        }
        self.listed_twice += 1;
        if self.listed_twice <= WARN_LINES {
            let n = port_count(&p.repeated);
            self.warnings.push(format!(
                "{file}: targets[{index}] ({host}) lists {n} port{} more than once: {}; each is probed once",
                if n == 1 { "" } else { "s" },
                summarise(&p.repeated)
            ));
        }
    }

    /// Warn about entries that repeat (name, host, port) of an earlier entry, and drop the repeats
    /// so that every (name, address, port) yields exactly one record.
    pub(super) fn dedupe(&mut self) {
        if self.listed_twice > WARN_LINES {
            self.warnings.push(format!(
                "... and {} more entries list ports more than once",
                self.listed_twice - WARN_LINES
            ));
        }
        self.listed_twice = 0;
        // Entries of one (name, host, source) as a linked list in entry order: `next[i]` is the
        // following entry with the same key (no allocation per group).
        let n = self.targets.len();
        let mut next = vec![usize::MAX; n];
        let mut heads: Vec<usize> = Vec::new();
        {
            // The source is part of the key: the same host:port from two sources is two
            // probes (and two records), e.g. to test a rule on `ip saddr`.
            type Key<'a> = (Option<&'a str>, &'a Host, Option<std::net::IpAddr>);
            let mut ends: HashMap<Key<'_>, (usize, usize)> = HashMap::new();
            for (i, t) in self.targets.iter().enumerate() {
                match ends.entry((t.name.as_deref(), &t.host, t.source)) {
                    Entry::Occupied(mut e) => {
                        let (head, tail) = *e.get();
                        if head == tail {
                            heads.push(head);
                        }
                        next[tail] = i;
                        e.insert((head, i));
                    }
                    Entry::Vacant(e) => {
                        e.insert((i, i));
                    }
                }
            }
        }
        let mut found: Vec<Found> = Vec::new();
        for head in heads {
            let mut claims = Claims::default();
            let mut i = head;
            while i != usize::MAX {
                let (kept, dup) = claims.claim(self.targets[i].ports.ranges());
                if !dup.is_empty() {
                    let (owners, more) = claims.owners_of(&dup);
                    found.push(Found {
                        entry: i,
                        dup,
                        owners,
                        more,
                    });
                    if let Some(tm) = Arc::get_mut(&mut self.targets[i]) {
                        tm.ports = PortSet::from_ranges(kept.clone());
                    }
                }
                claims.record(&kept, i);
                i = next[i];
            }
        }
        found.sort_unstable_by_key(|f| f.entry);
        for f in found.iter().take(WARN_LINES) {
            let w = self.repeat_warning(f);
            self.warnings.push(w);
        }
        if let Some(rest) = found.get(WARN_LINES..).filter(|r| !r.is_empty()) {
            let dropped: u64 = rest.iter().map(|f| port_count(&f.dup)).sum();
            self.warnings.push(format!(
                "... and {} more entries repeat ports of earlier entries ({dropped} repeated ports dropped)",
                rest.len()
            ));
        }
        self.targets.retain(|t| !t.ports.is_empty());
        self.reindex();
    }
}

impl Inventory {
    fn repeat_warning(&self, f: &Found) -> String {
        let t = &self.targets[f.entry];
        let mut of: Vec<String> = f
            .owners
            .iter()
            .map(|&o| {
                let e = &self.targets[o];
                format!("{}: targets[{}]", e.file, e.index)
            })
            .collect();
        let of = match f.more {
            More::No => of.join(", "),
            More::Yes => {
                of.push("other entries".into());
                of.join(", ")
            }
            More::Maybe => format!("{} (and maybe others)", of.join(", ")),
        };
        format!(
            "{}: targets[{}] ({}) repeats port(s) {} of {of}; probed once, with the first entry's settings",
            t.file,
            t.index,
            t.host,
            summarise(&f.dup)
        )
    }
}

/// An entry that repeats ports of earlier ones.
struct Found {
    entry: usize,
    dup: Vec<(u16, u16)>,
    owners: Vec<usize>,
    more: More,
}

/// Whether a warning named every earlier entry.
enum More {
    No,
    Yes,
    Maybe,
}

/// Sorted, disjoint port ranges.
type Ranges = Vec<(u16, u16)>;

/// Ports claimed so far by the entries of one (name, host, source) group.
#[derive(Default)]
struct Claims {
    /// Every claimed port as merged, disjoint, non-adjacent ranges: start → end.
    merged: BTreeMap<u32, u32>,
    /// Who claimed what: start → (end, entry), one piece per claim.
    owners: BTreeMap<u32, (u32, usize)>,
}

impl Claims {
    /// Split `ranges` (sorted, disjoint) into the ports nobody claimed yet and the repeated
    /// ones, and claim them all. Every merged range it touches is folded into one, so the work
    /// is amortised over the ranges ever inserted.
    fn claim(&mut self, ranges: &[(u16, u16)]) -> (Ranges, Ranges) {
        let (mut kept, mut dup) = (Vec::new(), Vec::new());
        let narrow = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        for &(lo, hi) in ranges {
            let (lo, hi) = (u32::from(lo), u32::from(hi));
            let mut touched: Vec<(u32, u32)> = Vec::new();
            if let Some((&s, &e)) = self.merged.range(..=lo).next_back() {
                if e + 1 >= lo {
                    touched.push((s, e));
                }
            }
            touched.extend(self.merged.range(lo + 1..=hi + 1).map(|(&s, &e)| (s, e)));
            let mut cur = lo;
            for &(s, e) in &touched {
                let (os, oe) = (s.max(lo), e.min(hi));
                if os <= oe {
                    if os > cur {
                        kept.push((narrow(cur), narrow(os - 1)));
                    }
                    dup.push((narrow(os), narrow(oe)));
                    cur = oe + 1;
                }
            }
            if cur <= hi {
                kept.push((narrow(cur), narrow(hi)));
            }
            let start = touched.first().map_or(lo, |t| t.0.min(lo));
            let end = touched.last().map_or(hi, |t| t.1.max(hi));
            for (s, _) in touched {
                self.merged.remove(&s);
            }
            self.merged.insert(start, end);
        }
        (kept, dup)
    }

    /// Remember that entry `who` owns `kept`.
    fn record(&mut self, kept: &[(u16, u16)], who: usize) {
        for &(s, e) in kept {
            self.owners.insert(u32::from(s), (u32::from(e), who));
        }
    }

    /// The first few earlier entries that own ports of `dup`, in entry order; looks at a bounded
    /// number of pieces so that a warning never costs more than the entry's own ranges.
    fn owners_of(&self, dup: &[(u16, u16)]) -> (Vec<usize>, More) {
        let mut out: Vec<usize> = Vec::new();
        let mut steps = 0usize;
        let budget = 64 + dup.len();
        for &(lo, hi) in dup {
            let (lo, hi) = (u32::from(lo), u32::from(hi));
            let first = self
                .owners
                .range(..=lo)
                .next_back()
                .filter(|(_, (e, _))| *e >= lo);
            let rest = self.owners.range((Excluded(lo), Included(hi)));
            for (_, &(_, who)) in first.into_iter().chain(rest) {
                steps += 1;
                if !out.contains(&who) {
                    if out.len() == SHOWN_OWNERS {
                        out.sort_unstable();
                        return (out, More::Yes);
                    }
                    out.push(who);
                }
                if steps >= budget {
                    out.sort_unstable();
                    return (out, More::Maybe);
                }
            }
        }
        out.sort_unstable();
        (out, More::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_short() {
        assert_eq!(summarise(&[(22, 22), (80, 81)]), "22,80-81");
        let odd: Vec<(u16, u16)> = (0..30_000u16).map(|i| (2 * i + 1, 2 * i + 1)).collect();
        let s = summarise(&odd);
        assert_eq!(s, "1,3,5,7,9 and 29995 more");
        assert_eq!(port_count(&odd), 30_000);
    }

    #[test]
    fn single_ports_repeated_across_entries_and_files() {
        let ov = super::super::Overrides::default();
        let mut inv = Inventory::default();
        let one =
            "targets:\n  - {host: 127.0.0.1, port: 80}\n  - {host: 127.0.0.1, ports: [80, 81]}\n";
        inv.add_text("a.yaml", one, ov).unwrap();
        inv.add_text(
            "b.yaml",
            "targets:\n  - {host: 127.0.0.1, ports: \"79-81\"}\n",
            ov,
        )
        .unwrap();
        inv.dedupe();
        assert_eq!(
            inv.warnings,
            vec![
                "a.yaml: targets[1] (127.0.0.1) repeats port(s) 80 of a.yaml: targets[0]; probed once, with the first entry's settings",
                "b.yaml: targets[0] (127.0.0.1) repeats port(s) 80-81 of a.yaml: targets[0], a.yaml: targets[1]; probed once, with the first entry's settings",
            ]
        );
        let ports: Vec<String> = inv.targets.iter().map(|t| t.ports.to_string()).collect();
        assert_eq!(ports, vec!["80", "81", "79"]);
        assert_eq!(inv.probes().count(), 3);
    }

    #[test]
    fn claims_split_and_merge() {
        let mut c = Claims::default();
        assert_eq!(c.claim(&[(20, 30)]), (vec![(20, 30)], vec![]));
        c.record(&[(20, 30)], 0);
        assert_eq!(c.claim(&[(25, 35)]), (vec![(31, 35)], vec![(25, 30)]));
        c.record(&[(31, 35)], 1);
        assert_eq!(c.owners_of(&[(25, 32)]).0, vec![0, 1]);
        assert_eq!(c.owners_of(&[(31, 31)]).0, vec![1]);
        assert_eq!(c.owners_of(&[(20, 20), (35, 35)]).0, vec![0, 1]);
        assert_eq!(
            c.claim(&[(1, 19), (36, 65535)]),
            (vec![(1, 19), (36, 65535)], vec![])
        );
        assert_eq!(c.merged.len(), 1, "adjacent claims merge: {:?}", c.merged);
        assert_eq!(c.claim(&[(1, 65535)]), (vec![], vec![(1, 65535)]));
    }
}
