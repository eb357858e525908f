//! What an inventory expands to: probe counts (whole and per shard), the size check, the lazy
//! probe streams and the inventory digest.

use std::sync::Arc;
use std::time::Duration;

use super::{Inventory, InventoryError, LARGE_INVENTORY, Probes, Target};

impl Inventory {
    /// Total probes after expansion (names count one address), of this shard if sharded.
    pub fn probe_count(&self) -> u128 {
        let all = self.total_probes();
        match self.shard {
            Some((k, n)) => crate::shard::size(all, k, n),
            None => all,
        }
    }

    /// Probes of the whole inventory, ignoring any shard (names count one address).
    pub fn total_probes(&self) -> u128 {
        self.targets
            .iter()
            .map(|t| t.probe_count())
            .fold(0, u128::saturating_add)
    }

    /// Scan only shard `k` of `n` (1 ≤ k ≤ n) from now on.
    pub fn set_shard(&mut self, k: u32, n: u32) {
        self.shard = (k >= 1 && k <= n && n > 1).then_some((k, n));
    }

    /// Probes of target `t` in this run's shard (all of them when not sharded).
    pub fn probes_in_shard(&self, t: &Target) -> u128 {
        let count = t.probe_count();
        let Some((k, n)) = self.shard else {
            return count;
        };
        // Indices in [first, first + count) of shard k: those below the end minus those below
        // `first`.
        let end = t.first_index.saturating_add(count);
        crate::shard::size(end, k, n) - crate::shard::size(t.first_index, k, n)
    }

    /// Whether target `t` has at least one probe in this run's shard.
    pub fn in_shard(&self, t: &Target) -> bool {
        let Some((k, n)) = self.shard else {
            return true;
        };
        crate::shard::any_in(t.first_index, t.probe_count(), k, n)
    }

    /// Refuse inventories that expand past [`LARGE_INVENTORY`] unless allowed.
    pub fn check_size(&self, allow_large: bool) -> Result<(), InventoryError> {
        let n = self.probe_count();
        if n <= LARGE_INVENTORY || allow_large {
            return Ok(());
        }
        let biggest = self.targets.iter().max_by_key(|t| t.probe_count());
        let (file, what) = biggest.map_or((String::new(), String::new()), |t| {
            (
                t.file.to_string(),
                format!(
                    " (largest: targets[{}] {} × {} ports)",
                    t.index,
                    t.host,
                    t.ports.len()
                ),
            )
        });
        Err(InventoryError {
            file,
            line: 0,
            column: 0,
            message: format!(
                "inventory expands to {n} probes, more than {LARGE_INVENTORY}{what}; pass --allow-large to scan it anyway"
            ),
            local: false,
        })
    }

    /// Whether any target has a connect timeout short enough to read ICMP answers as `filtered`.
    pub fn shortest_timeout(&self) -> Option<Duration> {
        self.targets.iter().map(|t| t.timeout).min()
    }

    /// The lazy probe stream.
    pub fn probes(&self) -> Probes {
        self.sharded(Probes::new(self.targets.clone()))
    }

    fn sharded(&self, p: Probes) -> Probes {
        match self.shard {
            Some((k, n)) => p.shard(k, n),
            None => p,
        }
    }

    /// A short digest of the inventory texts (and excludes): reports of one inventory carry the
    /// same digest, so `merge` can refuse to mix shards of different inventories.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(&self.digest_input);
        h.update(format!("{:?}", self.excludes).as_bytes());
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Probes of positive-control targets only (`control: true`), or of the others.
    pub fn probes_where(&self, control: bool) -> Probes {
        let targets = self
            .targets
            .iter()
            .filter(|t| t.control == control)
            .cloned()
            .collect();
        self.sharded(Probes::new(targets))
    }

    /// Recompute every target's `first_index` (expansion order over all files).
    pub(super) fn reindex(&mut self) {
        self.reindex_from(0);
    }

    /// Recompute `first_index` of the targets from position `from` on (the earlier ones keep
    /// theirs): adding a file costs its own targets, not the whole inventory again.
    pub(super) fn reindex_from(&mut self, from: usize) {
        let mut next = match from.checked_sub(1).and_then(|i| self.targets.get(i)) {
            Some(t) => t.first_index.saturating_add(t.probe_count()),
            None => 0,
        };
        for t in self.targets.iter_mut().skip(from) {
            let count = t.probe_count();
            if let Some(tm) = Arc::get_mut(t) {
                tm.first_index = next;
            }
            next = next.saturating_add(count);
        }
    }
}
