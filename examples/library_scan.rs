//! Using telltale as a library: start two loopback services, scan them, print NDJSON.
//!
//! `cargo run --release --example library_scan` — traffic stays on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr};

use telltale::config::ScanConfig;
use telltale::inventory::{Inventory, Overrides};
use telltale::lab::{self, Behaviour};
use telltale::pool::Limits;
use telltale::report::Format;
use telltale::{exit::Exit, scan, shutdown};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let lab = match lab::start(ip, &[(Behaviour::Banner, 0), (Behaviour::Refused, 0)]) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot start loopback services: {e}");
            return Exit::Incomplete.into();
        }
    };
    let (open, refused) = (lab.services[0].1.port(), lab.services[1].1.port());
    let yaml = format!(
        "targets:\n  - {{name: banner, host: 127.0.0.1, port: {open}}}\n  - {{name: closed, host: 127.0.0.1, port: {refused}, expect: refused}}\n"
    );
    let mut inv = Inventory::default();
    if let Err(e) = inv.add_text("example.yaml", &yaml, Overrides::default()) {
        eprintln!("{e}");
        return Exit::Usage.into();
    }
    let cfg = ScanConfig {
        limits: Limits {
            concurrency: 16,
            per_host: 16,
            retries: 0,
            ..Limits::default()
        },
        format: Format::Ndjson,
        progress: false,
        ..ScanConfig::default()
    };
    // Nobody fires the trigger here; main() would wire it to Ctrl-C.
    let (_trigger, stop) = shutdown::channel();
    let exit = scan::run(inv, &cfg, stop).await;
    drop(lab);
    exit.into()
}
