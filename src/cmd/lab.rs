//! `telltale lab` (hidden): serve loopback services that produce each verdict, print their
//! addresses and `ready`, and hold them until interrupted (tests, demo and benchmark use it).

use crate::cli::LabArgs;
use crate::exit::Exit;
use crate::inventory::{PortSet, parse_port_list};
use crate::lab::{self, Behaviour};
use crate::shutdown::Shutdown;

/// Run the hidden `telltale lab`: serve until the shutdown fires.
pub async fn run(a: LabArgs, mut shutdown: Shutdown) -> Exit {
    let groups = [
        (Behaviour::Open, &a.open),
        (Behaviour::Banner, &a.banner),
        (Behaviour::Closed, &a.closed),
        (Behaviour::ClosedMsg, &a.closed_msg),
        (Behaviour::Reset, &a.reset),
        (Behaviour::BannerReset, &a.banner_reset),
        (Behaviour::Refused, &a.refused),
        (Behaviour::Filtered, &a.filtered),
        (Behaviour::Stream, &a.stream),
        (Behaviour::Alternate, &a.alternate),
        (Behaviour::SmtpReject, &a.smtp_reject),
        (Behaviour::SlowClose, &a.slow_close),
    ];
    let mut plan = Vec::new();
    for (b, lists) in groups {
        for list in lists {
            if list.trim() == "0" {
                plan.push((b, 0));
                continue;
            }
            match parse_port_list(list) {
                Ok(r) => plan.extend(PortSet::from_ranges(r).iter().map(|p| (b, p))),
                Err(e) => {
                    eprintln!("telltale lab: --{}: {e}", b.name());
                    return Exit::Usage;
                }
            }
        }
    }
    let lab = match lab::start(a.ip, &plan) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("telltale lab: {e}");
            return Exit::Incomplete;
        }
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for (b, addr) in &lab.services {
            let _ = writeln!(out, "{} {addr}", b.name());
        }
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }
    shutdown.wait().await;
    drop(lab);
    Exit::Ok
}
