//! `telltale demo`: start loopback services that show each verdict without root, then scan the
//! built-in copy of `targets.example.yaml`, which targets exactly those ports.

use std::net::{IpAddr, Ipv4Addr};

use crate::cli::DemoArgs;
use crate::config::{Args, ScanConfig};
use crate::exit::Exit;
use crate::inventory::Inventory;
use crate::lab::{self, Behaviour};
use crate::scan;
use crate::shutdown::Shutdown;

/// Address of the demo services.
pub const DEMO_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 77));

/// The services and their fixed ports.
pub const PLAN: [(Behaviour, u16); 9] = [
    (Behaviour::Open, 17001),
    (Behaviour::Banner, 17002),
    (Behaviour::Closed, 17003),
    (Behaviour::ClosedMsg, 17004),
    (Behaviour::Reset, 17005),
    (Behaviour::Refused, 17006),
    (Behaviour::Filtered, 17007),
    (Behaviour::SmtpReject, 17008),
    (Behaviour::SlowClose, 17009),
];

/// The example inventory, compiled in so the demo runs from any directory.
pub const EXAMPLE: &str = include_str!("../../targets.example.yaml");

/// Run the demo.
pub async fn run(a: DemoArgs, shutdown: Shutdown) -> Exit {
    let args = Args::probing(&a.probe, &a.output);
    let mut cfg = match ScanConfig::from_args(args) {
        Ok(c) => c,
        Err(m) => {
            eprintln!("telltale demo: {m}");
            return Exit::Usage;
        }
    };
    let lab = match lab::start(DEMO_IP, &PLAN) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "telltale demo: cannot start the loopback services: {e} (is another demo running?)"
            );
            return Exit::Incomplete;
        }
    };
    eprintln!("telltale demo: loopback services on {DEMO_IP}:");
    for (b, a) in &lab.services {
        eprintln!("  {a:<18} {}", b.name());
    }
    let mut inv = Inventory::default();
    if let Err(e) = inv.add_text("targets.example.yaml", EXAMPLE, cfg.overrides) {
        eprintln!("telltale: {e}");
        return Exit::Usage;
    }
    cfg.table.all = true;
    let exit = scan::run(inv, &cfg, shutdown).await;
    drop(lab);
    exit
}
