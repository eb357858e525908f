//! File-descriptor budget: raise RLIMIT_NOFILE's soft limit toward the hard limit (never
//! lowering the hard limit) and clamp concurrency to what the fds allow, so that EMFILE does
//! not turn into wrong verdicts.

/// Descriptors kept back for stdio, the output file, the runtime and the resolver.
pub const RESERVE: u64 = 32;

/// The concurrency the fd budget allows for a requested one, each probe holding up to
/// `fds_per_probe` sockets (2 with `--timing auto`: a confirmation keeps the first socket open),
/// and a note when it was clamped.
pub fn clamp_concurrency(
    want: usize,
    dns_concurrency: usize,
    fds_per_probe: u64,
) -> (usize, Option<String>) {
    let before = rlimit::Resource::NOFILE.get().map_or(0, |(soft, _)| soft);
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            return (
                want,
                Some(format!(
                    "could not read RLIMIT_NOFILE ({e}); concurrency left at {want}"
                )),
            );
        }
    };
    let open = open_fds();
    let reserve = RESERVE + 4 * dns_concurrency as u64;
    let budget = (soft.saturating_sub(open + reserve) / fds_per_probe.max(1)).max(1);
    if (want as u64) <= budget {
        let raised = (soft > before).then(|| {
            format!("raised the open-files soft limit from {before} to {soft} (the hard limit)")
        });
        return (want, raised);
    }
    let got = usize::try_from(budget).unwrap_or(want);
    let note = format!(
        "concurrency clamped from {want} to {got}: RLIMIT_NOFILE soft limit is {soft} (raised from {before} to the hard limit), \
         {open} fds already open, {reserve} reserved, {fds_per_probe} per probe; raise `ulimit -n` to probe more at once"
    );
    (got, Some(note))
}

fn open_fds() -> u64 {
    // read_dir holds one fd of its own while counting.
    std::fs::read_dir("/proc/self/fd").map_or(16, |d| (d.count() as u64).saturating_sub(1))
}

/// Whether `n` more file descriptors can be opened right now (checked by opening them).
/// Used to tell a local fd shortage from a remote answer when an API (getaddrinfo) hides it.
pub fn fd_headroom(n: usize) -> bool {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(_) => return false,
        }
    }
    true
}
