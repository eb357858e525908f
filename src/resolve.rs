//! Name resolution with the system resolver (`getaddrinfo`, so `/etc/hosts`, nsswitch, sssd and
//! split DNS behave as they do for telnet and the applications). Each distinct name is resolved
//! once per run; lookups run on blocking threads under their own small concurrency limit; local
//! failures (EAI_SYSTEM, EAI_MEMORY) are retried and then reported as local, never as `dns-error`.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dns_lookup::{AddrInfoHints, LookupErrorKind};
use tokio::sync::{OnceCell, Semaphore};

use crate::probe::{errno_name, fmt_ms};

/// What resolving one name gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Addresses, deduplicated, in resolver order.
    Addrs(Vec<IpAddr>),
    /// The name does not resolve (a `dns-error` verdict); `detail` says why.
    Failed {
        /// EAI name.
        code: String,
        /// Explanation.
        detail: String,
    },
    /// The lookup failed on this host (a `local-error`).
    Local {
        /// errno or EAI name.
        code: String,
        /// Explanation.
        detail: String,
    },
}

type Cell = Arc<OnceCell<Arc<Resolution>>>;

/// Run-wide resolver: a cache of one cell per name and a limit on concurrent lookups.
pub struct Resolver {
    cells: Mutex<HashMap<String, Cell>>,
    limit: Arc<Semaphore>,
}

impl Resolver {
    /// A resolver running at most `concurrency` lookups at once.
    pub fn new(concurrency: usize) -> Arc<Resolver> {
        Arc::new(Resolver {
            cells: Mutex::default(),
            limit: Arc::new(Semaphore::new(concurrency.max(1))),
        })
    }

    fn cell(&self, name: &str) -> Cell {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells.entry(name.to_string()).or_default().clone()
    }

    /// Start resolving `name` in the background (no-op if already started).
    pub fn prefetch(self: &Arc<Self>, name: &str) {
        let me = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            me.resolve(&name).await;
        });
    }

    /// Resolve `name`, at most once per run.
    pub async fn resolve(&self, name: &str) -> Arc<Resolution> {
        let cell = self.cell(name);
        cell.get_or_init(|| async {
            let mut last = None;
            for backoff in [100u64, 300, 0] {
                let r = self.lookup_once(name).await;
                if !matches!(r, Resolution::Local { .. }) || backoff == 0 {
                    return Arc::new(r);
                }
                last = Some(r);
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
            Arc::new(last.unwrap_or(Resolution::Addrs(Vec::new())))
        })
        .await
        .clone()
    }

    async fn lookup_once(&self, name: &str) -> Resolution {
        let Ok(permit) = self.limit.clone().acquire_owned().await else {
            return local("closed", "resolver shut down".to_string());
        };
        let owned = name.to_string();
        let start = Instant::now();
        // The permit moves into the blocking call, so the limit counts real threads even if the
        // awaiting side gives up (getaddrinfo cannot be cancelled).
        let joined = tokio::task::spawn_blocking(move || {
            let r = lookup_blocking(&owned);
            drop(permit);
            r
        })
        .await;
        let took = fmt_ms(start.elapsed());
        match joined {
            // glibc may answer EAI_AGAIN or even EAI_NONAME for a hosts-file name when it could
            // not open /etc/hosts or a socket (fds exhausted): a name error then says nothing
            // about the name. Check that fds are available before believing it.
            Ok(Resolution::Failed { code, .. }) if !crate::limits::fd_headroom(4) => local(
                "EMFILE",
                format!(
                    "resolving {name} failed ({code}) while this host was out of file descriptors; says nothing about the name (after {took})"
                ),
            ),
            Ok(r) => with_time(r, &took),
            Err(e) => local("panic", format!("resolver thread failed: {e}")),
        }
    }
}

fn local(code: &str, detail: String) -> Resolution {
    Resolution::Local {
        code: code.to_string(),
        detail,
    }
}

fn with_time(r: Resolution, took: &str) -> Resolution {
    match r {
        Resolution::Failed { code, detail } => Resolution::Failed {
            code,
            detail: format!("{detail} (after {took})"),
        },
        Resolution::Local { code, detail } => Resolution::Local {
            code,
            detail: format!("{detail} (after {took})"),
        },
        ok => ok,
    }
}

/// One blocking `getaddrinfo` call, errors classified by EAI code (never by text).
pub fn lookup_blocking(name: &str) -> Resolution {
    let hints = AddrInfoHints {
        socktype: libc::SOCK_STREAM,
        ..AddrInfoHints::default()
    };
    match dns_lookup::getaddrinfo(Some(name), None, Some(hints)) {
        Ok(iter) => {
            let mut addrs: Vec<IpAddr> = Vec::new();
            for ai in iter.flatten() {
                let ip = ai.sockaddr.ip();
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
            }
            if addrs.is_empty() {
                Resolution::Failed {
                    code: "EAI_NODATA".into(),
                    detail: format!("no such name: {name} has no addresses"),
                }
            } else {
                Resolution::Addrs(addrs)
            }
        }
        Err(e) => {
            let kind = e.kind();
            let num = e.error_num();
            match kind {
                LookupErrorKind::NoName | LookupErrorKind::NoData => Resolution::Failed {
                    code: "EAI_NONAME".into(),
                    detail: format!("no such name: {name} (EAI_NONAME/NXDOMAIN)"),
                },
                LookupErrorKind::Again => Resolution::Failed {
                    code: "EAI_AGAIN".into(),
                    detail: format!(
                        "resolver failure: temporary failure resolving {name} (EAI_AGAIN: no answer or SERVFAIL)"
                    ),
                },
                LookupErrorKind::Fail => Resolution::Failed {
                    code: "EAI_FAIL".into(),
                    detail: format!(
                        "resolver failure: non-recoverable failure resolving {name} (EAI_FAIL)"
                    ),
                },
                LookupErrorKind::System | LookupErrorKind::IO => {
                    let io: io::Error = e.into();
                    let code = io
                        .raw_os_error()
                        .map_or_else(|| "EAI_SYSTEM".to_string(), errno_name);
                    local(
                        &code,
                        format!(
                            "resolving {name} failed on this host: EAI_SYSTEM/{code} ({io}); says nothing about the name"
                        ),
                    )
                }
                LookupErrorKind::Memory => local(
                    "EAI_MEMORY",
                    format!("resolving {name}: out of memory on this host"),
                ),
                _ => local(
                    &format!("EAI {num}"),
                    format!("resolving {name}: getaddrinfo error {num}"),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_hosts_file_names() {
        // `localhost` comes from /etc/hosts (no network involved).
        match lookup_blocking("localhost") {
            Resolution::Addrs(a) => assert!(a.iter().all(|ip| ip.is_loopback()), "{a:?}"),
            other => panic!("localhost did not resolve: {other:?}"),
        }
        assert_eq!(
            lookup_blocking("127.0.0.9"),
            Resolution::Addrs(vec!["127.0.0.9".parse().unwrap()])
        );
    }
}
