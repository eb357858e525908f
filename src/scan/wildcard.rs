//! Accept-all detection: for each host with an `open` result, one connect to a port nobody
//! should serve (`--wildcard-port`); if it accepts too, that host's open results are flagged
//! `wildcard` (a SYN proxy, CDN or port forwarder answering everything). The check goes through
//! the scan's [`Gate`], so it honours `-c`, `--per-host` and `--rate`, and it binds to the
//! source of the open result that triggered it (`--source`, or that target's `source:`), so
//! that a rule on the source address is seen the same way.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::collector::WState;
use crate::config::ScanConfig;
use crate::inventory::DEFAULT_TIMEOUT;
use crate::pool::Gate;
use crate::probe;
use crate::shutdown::Shutdown;

/// Accept-all detection: one probe of a port nobody should serve, per host with open results.
pub(super) struct Wildcard {
    port: u16,
    settings: probe::Settings,
    /// Each checked host's state.
    pub(super) hosts: HashMap<IpAddr, WState>,
    /// Checks not yet answered.
    pub(super) in_flight: usize,
    shutdown: Shutdown,
    gate: Arc<Gate>,
}

impl Wildcard {
    /// A checker probing `port`, through the scan's `gate`.
    pub(super) fn new(
        port: u16,
        cfg: &ScanConfig,
        shutdown: Shutdown,
        gate: Arc<Gate>,
    ) -> Wildcard {
        let settings = probe::Settings {
            timeout: cfg.overrides.timeout.unwrap_or(DEFAULT_TIMEOUT),
            linger: Duration::ZERO,
            retries: 0,
            attempts: 1,
            attempt_gap: Duration::ZERO,
            plan: crate::service::policy::Plan::tcp(crate::service::policy::Style::Connect),
            host: Arc::from(""),
            source: None,
            timing: crate::timing::Timing::Fixed,
        };
        Wildcard {
            port,
            settings,
            hosts: HashMap::new(),
            in_flight: 0,
            shutdown,
            gate,
        }
    }

    /// Check `ip` once from `source`, off the collector (the answer arrives on `tx`); the
    /// probe takes its permits and rate slot from the scan's gate like every other connect.
    pub(super) fn start(
        &mut self,
        ip: IpAddr,
        source: Option<IpAddr>,
        tx: mpsc::Sender<(IpAddr, Option<String>)>,
    ) {
        self.in_flight += 1;
        let (port, sd) = (self.port, self.shutdown.clone());
        let settings = probe::Settings {
            source,
            ..self.settings.clone()
        };
        let gate = self.gate.clone();
        tokio::spawn(async move {
            let Some(admission) = gate.admit(SocketAddr::new(ip, port), &sd).await else {
                let _ = tx.send((ip, None)).await;
                return;
            };
            let o = probe::probe(SocketAddr::new(ip, port), settings, sd).await;
            drop(admission);
            let found = o
                .verdict
                .is_connected()
                .then(|| format!("WILDCARD: the check port {port} accepts too"));
            let _ = tx.send((ip, found)).await;
        });
    }
}
