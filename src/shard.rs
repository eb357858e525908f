//! Shard arithmetic, the one rule behind `--shard K/N` and `merge`'s completeness check: the
//! probes of an inventory are numbered 0, 1, 2, … in expansion order, and shard `k` of `n`
//! (1-based `k`, `1 ≤ k ≤ n`) holds the probes whose index is `k - 1` modulo `n`. Splitting at the
//! probe level spreads a large CIDR over every shard.

/// Whether the probe at `index` belongs to shard `k` of `n`.
pub fn contains(index: u128, k: u32, n: u32) -> bool {
    n == 0 || index % u128::from(n) == u128::from(k.saturating_sub(1))
}

/// Probes in shard `k` of `n` of an inventory of `total` probes. Zero when the inventory has
/// fewer than `k` probes: that shard has nothing to probe, so no report can name it.
pub fn size(total: u128, k: u32, n: u32) -> u128 {
    if n == 0 {
        return total;
    }
    let (k, n) = (u128::from(k.saturating_sub(1)), u128::from(n));
    if total > k {
        (total - k - 1) / n + 1
    } else {
        0
    }
}

/// Whether shard `k` of `n` holds any of the `count` probes numbered from `first` on.
pub fn any_in(first: u128, count: u128, k: u32, n: u32) -> bool {
    if count >= u128::from(n) {
        return count > 0;
    }
    (first..first.saturating_add(count)).any(|i| contains(i, k, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_and_match_membership() {
        for n in 1..=7u32 {
            for total in 0..=30u128 {
                let sum: u128 = (1..=n).map(|k| size(total, k, n)).sum();
                assert_eq!(sum, total, "{total} probes in {n} shards");
                for k in 1..=n {
                    let members = (0..total).filter(|i| contains(*i, k, n)).count() as u128;
                    assert_eq!(members, size(total, k, n), "shard {k}/{n} of {total}");
                    for first in 0..5u128 {
                        for count in 0..9u128 {
                            let any = (first..first + count).any(|i| contains(i, k, n));
                            assert_eq!(any_in(first, count, k, n), any, "{first}+{count} {k}/{n}");
                        }
                    }
                }
            }
        }
        assert_eq!(size(2, 3, 3), 0, "a shard past the last probe is empty");
    }
}
