//! Port lists: `22`, `"22,80,8000-8010"`, or a YAML list of numbers and range strings, and the
//! set algebra on them. The YAML visitor (`raw::values`) calls these parsers, so that every
//! error carries the line and column of the offending node.

use std::fmt;

/// A normalised port set: sorted, merged, inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
    /// Ports listed more than once in the same list, as merged ranges (for a warning).
    pub repeated: Vec<(u16, u16)>,
}

/// Append `r` to sorted ranges, merging it with the last one when they overlap or touch.
fn push_merged(v: &mut Vec<(u16, u16)>, (lo, hi): (u16, u16)) {
    match v.last_mut() {
        Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
        _ => v.push((lo, hi)),
    }
}

impl PortSet {
    /// Build from raw inclusive ranges, merging overlaps and remembering repeats.
    pub fn from_ranges(mut raw: Vec<(u16, u16)>) -> PortSet {
        raw.sort_unstable();
        let mut ranges: Vec<(u16, u16)> = Vec::with_capacity(raw.len());
        let mut repeated = Vec::new();
        for (lo, hi) in raw {
            match ranges.last_mut() {
                Some(last) if lo <= last.1 => {
                    push_merged(&mut repeated, (lo, hi.min(last.1)));
                    last.1 = last.1.max(hi);
                }
                Some(last) if u32::from(lo) == u32::from(last.1) + 1 => last.1 = hi,
                _ => ranges.push((lo, hi)),
            }
        }
        PortSet { ranges, repeated }
    }

    /// Number of ports.
    pub fn len(&self) -> u64 {
        self.ranges
            .iter()
            .map(|(lo, hi)| u64::from(*hi) - u64::from(*lo) + 1)
            .sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// Every port, ascending, lazily.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// The port at position `i` (0-based) in ascending order.
    pub fn nth(&self, mut i: u64) -> Option<u16> {
        for &(lo, hi) in &self.ranges {
            let n = u64::from(hi) - u64::from(lo) + 1;
            if i < n {
                return u16::try_from(u64::from(lo) + i).ok();
            }
            i -= n;
        }
        None
    }

    /// The port at cursor `(range, offset)`, advancing the cursor: walking a set costs O(1) per
    /// port, where [`PortSet::nth`] costs O(ranges).
    pub fn next_at(&self, cursor: &mut (usize, u32)) -> Option<u16> {
        while let Some(&(lo, hi)) = self.ranges.get(cursor.0) {
            let p = u32::from(lo) + cursor.1;
            if p <= u32::from(hi) {
                cursor.1 += 1;
                return u16::try_from(p).ok();
            }
            *cursor = (cursor.0 + 1, 0);
        }
        None
    }

    /// Ports of `self` that are also in `other` (one merge pass over both).
    pub fn intersection(&self, other: &PortSet) -> PortSet {
        let (a, b) = (&self.ranges, &other.ranges);
        let (mut i, mut j, mut out) = (0, 0, Vec::new());
        while let (Some(&(lo1, hi1)), Some(&(lo2, hi2))) = (a.get(i), b.get(j)) {
            let (lo, hi) = (lo1.max(lo2), hi1.min(hi2));
            if lo <= hi {
                out.push((lo, hi));
            }
            if hi1 < hi2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        PortSet::from_ranges(out)
    }

    /// Ports of `self` that are not in `other` (one merge pass over both).
    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(a, b) in &self.ranges {
            let (mut lo, hi) = (u32::from(a), u32::from(b));
            // Skip ranges of `other` wholly below this one; they are below every later one too.
            while other.ranges.get(j).is_some_and(|&(_, d)| u32::from(d) < lo) {
                j += 1;
            }
            let mut k = j;
            while let Some(&(c, d)) = other.ranges.get(k) {
                let (c, d) = (u32::from(c), u32::from(d));
                if c > hi {
                    break;
                }
                if c > lo {
                    out.push((lo, c - 1));
                }
                lo = lo.max(d + 1);
                k += 1;
            }
            if lo <= hi {
                out.push((lo, hi));
            }
        }
        let ranges = out
            .into_iter()
            .filter_map(|(l, h)| Some((u16::try_from(l).ok()?, u16::try_from(h).ok()?)))
            .collect();
        PortSet::from_ranges(ranges)
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .ranges
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn port_number(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "bad port `{s}`, expected a number 1-65535 or a range like 8000-8010"
        ));
    }
    match s.parse::<u32>() {
        Ok(0) => Err("bad port 0, expected 1-65535".to_string()),
        Ok(n) if n <= 65535 => Ok(n as u16),
        _ => Err(format!("bad port {s}, expected 1-65535")),
    }
}

/// Parse one item: `22` or `8000-8010`.
pub fn parse_item(s: &str) -> Result<(u16, u16), String> {
    match s.split_once('-') {
        None => port_number(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (lo, hi) = (port_number(a)?, port_number(b)?);
            if lo > hi {
                return Err(format!("reversed port range {lo}-{hi}, expected low-high"));
            }
            Ok((lo, hi))
        }
    }
}

/// Parse a comma-separated list: `22,80,8000-8010`.
pub fn parse_list(s: &str) -> Result<Vec<(u16, u16)>, String> {
    if s.trim().is_empty() {
        return Err("empty port list, expected ports like 22,80,8000-8010".to_string());
    }
    s.split(',').map(parse_item).collect()
}

/// One port given as a YAML number.
pub(super) fn number_item(n: u64) -> Result<(u16, u16), String> {
    match n {
        0 => Err("bad port 0, expected 1-65535".to_string()),
        1..=65535 => Ok((n as u16, n as u16)),
        _ => Err(format!("bad port {n}, expected 1-65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        let p = PortSet::from_ranges(parse_list("22,80,8000-8010").unwrap());
        assert_eq!(p.len(), 13);
        assert_eq!(p.iter().take(3).collect::<Vec<_>>(), vec![22, 80, 8000]);
        assert_eq!(p.to_string(), "22,80,8000-8010");
        assert_eq!(p.nth(2), Some(8000));
        assert_eq!(p.nth(12), Some(8010));
        assert_eq!(p.nth(13), None);
    }

    #[test]
    fn merges_and_notes_repeats() {
        let p = PortSet::from_ranges(parse_list("20-30,25,31,1").unwrap());
        assert_eq!(p.ranges(), &[(1, 1), (20, 31)]);
        assert_eq!(p.repeated, vec![(25, 25)]);
        // Repeats are merged ranges, however many times a port is listed.
        let mut many: Vec<(u16, u16)> = (1..=65535).map(|p| (p, p)).collect();
        many.extend(many.clone());
        many.push((1, 65535));
        assert_eq!(PortSet::from_ranges(many).repeated, vec![(1, 65535)]);
        let full = PortSet::from_ranges(parse_list("1-65535").unwrap());
        assert_eq!(full.len(), 65535);
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert!(parse_list("70000").unwrap_err().contains("bad port 70000"));
        assert!(parse_list("0").unwrap_err().contains("bad port 0"));
        assert!(
            parse_list("90-80")
                .unwrap_err()
                .contains("reversed port range 90-80")
        );
        assert!(parse_list("http").unwrap_err().contains("bad port `http`"));
        assert!(parse_list("").unwrap_err().contains("empty port list"));
        assert!(parse_list("22,,23").is_err());
    }

    #[test]
    fn set_algebra() {
        let a = PortSet::from_ranges(parse_list("1-100").unwrap());
        let b = PortSet::from_ranges(parse_list("10-20,50,100-200").unwrap());
        assert_eq!(a.intersection(&b).to_string(), "10-20,50,100");
        assert_eq!(a.difference(&b).to_string(), "1-9,21-49,51-99");
        let c = PortSet::from_ranges(parse_list("65535").unwrap());
        assert!(c.difference(&c).is_empty());
        let odd = PortSet::from_ranges((0..100u16).map(|i| (2 * i + 1, 2 * i + 1)).collect());
        let mid = PortSet::from_ranges(parse_list("10-20,150-160,300").unwrap());
        assert_eq!(
            odd.intersection(&mid).to_string(),
            "11,13,15,17,19,151,153,155,157,159"
        );
        assert_eq!(
            mid.difference(&odd).to_string(),
            "10,12,14,16,18,20,150,152,154,156,158,160,300"
        );
        assert_eq!(odd.difference(&mid).len(), 90);
        let mut cur = (0, 0);
        let walked: Vec<u16> = std::iter::from_fn(|| mid.next_at(&mut cur)).collect();
        assert_eq!(walked, mid.iter().collect::<Vec<_>>());
    }
}
