//! Repeated ports: within one entry's list (a warning) and across entries with the same name and
//! host (a warning, and the later entry loses the repeated ports, so that every (name, address,
//! port) yields exactly one record, with the first entry's settings).
//!
//! Entries are grouped by (name, host) with a hash map, and each group keeps the ports claimed so
//! far as merged ranges in a B-tree: an entry costs O(r log r) for its r ranges (amortised), so a
//! whole inventory is O(n log n), not a comparison of every pair of entries. Warnings are
//! summarised (a few ranges and "and N more") and at most [`WARN_LINES`] of each kind are listed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{Host, Inventory, PortSet};

/// Warnings of one kind listed one by one; the rest are counted in one line.
pub const WARN_LINES: usize = 20;

/// Ranges shown in a port summary before "and N more".
const SHOWN_RANGES: usize = 5;

/// Earlier entries named in one "repeats ports of" warning.
const SHOWN_OWNERS: usize = 3;

/// `1,3,5-9` for a few ranges; `1,3,5,7,9 and 32763 more (32768 in all)` for many.
pub fn summarise(ranges: &[(u16, u16)]) -> String {
    let ports = |r: &[(u16, u16)]| -> u64 {
        r.iter()
            .map(|&(lo, hi)| u64::from(hi) - u64::from(lo) + 1)
            .sum()
    };
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
        let rest = ports(&ranges[shown.len()..]);
        s.push_str(&format!(" and {rest} more ({} in all)", ports(ranges)));
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
            self.warnings.push(format!(
                "{file}: targets[{index}] ({host}) lists port(s) {} more than once; each is probed once",
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
        let mut groups: HashMap<(Option<&str>, &Host), Vec<usize>> = HashMap::new();
        for (i, t) in self.targets.iter().enumerate() {
            groups
                .entry((t.name.as_deref(), &t.host))
                .or_default()
                .push(i);
        }
        let groups: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
        // (entry, warning, ports dropped), sorted by entry at the end.
        let mut found: Vec<(usize, String, u64)> = Vec::new();
        for group in groups {
            let mut claims = Claims::default();
            for i in group {
                let (kept, dup) = claims.claim(self.targets[i].ports.ranges());
                if dup.is_empty() {
                    claims.record(&kept, i);
                    continue;
                }
                let (owners, more) = claims.owners_of(&dup);
                claims.record(&kept, i);
                let t = &self.targets[i];
                let mut of: Vec<String> = owners
                    .iter()
                    .map(|&o| {
                        let e = &self.targets[o];
                        format!("{}: targets[{}]", e.file, e.index)
                    })
                    .collect();
                let of = match more {
                    More::No => of.join(", "),
                    More::Yes => {
                        of.push("other entries".into());
                        of.join(", ")
                    }
                    More::Maybe => format!("{} (and maybe others)", of.join(", ")),
                };
                let dropped = PortSet::from_ranges(dup.clone()).len();
                found.push((
                    i,
                    format!(
                        "{}: targets[{}] ({}) repeats port(s) {} of {of}; probed once, with the first entry's settings",
                        t.file,
                        t.index,
                        t.host,
                        summarise(&dup)
                    ),
                    dropped,
                ));
                if let Some(tm) = Arc::get_mut(&mut self.targets[i]) {
                    tm.ports = PortSet::from_ranges(kept);
                }
            }
        }
        found.sort_unstable_by_key(|f| f.0);
        let (mut extra, mut dropped) = (0usize, 0u64);
        for (n, (_, w, d)) in found.into_iter().enumerate() {
            if n < WARN_LINES {
                self.warnings.push(w);
            } else {
                extra += 1;
                dropped += d;
            }
        }
        if extra > 0 {
            self.warnings.push(format!(
                "... and {extra} more entries repeat ports of earlier entries ({dropped} repeated ports dropped)"
            ));
        }
        self.targets.retain(|t| !t.ports.is_empty());
        self.reindex();
    }
}

/// Whether a warning named every earlier entry.
enum More {
    No,
    Yes,
    Maybe,
}

/// Ports claimed so far by the entries of one (name, host) group.
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
    fn claim(&mut self, ranges: &[(u16, u16)]) -> (Vec<(u16, u16)>, Vec<(u16, u16)>) {
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
            for (_, &(_, who)) in first.into_iter().chain(self.owners.range(lo + 1..=hi)) {
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
        assert_eq!(s, "1,3,5,7,9 and 29995 more (30000 in all)");
    }

    #[test]
    fn claims_split_and_merge() {
        let mut c = Claims::default();
        assert_eq!(c.claim(&[(20, 30)]), (vec![(20, 30)], vec![]));
        c.record(&[(20, 30)], 0);
        assert_eq!(c.claim(&[(25, 35)]), (vec![(31, 35)], vec![(25, 30)]));
        c.record(&[(31, 35)], 1);
        assert_eq!(c.owners_of(&[(25, 32)]).0, vec![0, 1]);
        assert_eq!(
            c.claim(&[(1, 19), (36, 65535)]),
            (vec![(1, 19), (36, 65535)], vec![])
        );
        assert_eq!(c.merged.len(), 1, "adjacent claims merge: {:?}", c.merged);
        assert_eq!(c.claim(&[(1, 65535)]), (vec![], vec![(1, 65535)]));
    }
}
