//! `scan --dry-run`: the planned probes, listed in the chosen format (table, ndjson, json, csv;
//! junit and prometheus describe results, so they list the table)
//! without sending anything (no SYN, no DNS). A dry run writes stdout only: it never replaces an
//! `-o`/`--also` report with a plan.

use std::io::{self, Write};

use serde::Serialize;

use crate::exit::{self, Exit};
use crate::inventory::{Inventory, Probe};
use crate::report::Format;

/// One planned probe as the machine formats show it.
#[derive(Serialize)]
struct Planned<'a> {
    /// The target's label.
    name: Option<&'a str>,
    /// The host as written in the inventory.
    host: &'a str,
    /// The address to probe; `null` for a name (resolved only when scanning).
    addr: Option<String>,
    /// The port.
    port: u16,
    /// What the inventory expects (verdicts, aliases expanded, or a per-vantage map).
    expect: String,
    /// A positive control.
    control: bool,
    /// The inventory file.
    file: &'a str,
}

impl<'a> Planned<'a> {
    fn of(p: &'a Probe) -> Planned<'a> {
        Planned {
            name: p.target.name.as_deref(),
            host: &p.target.host_label,
            addr: p.addr.map(|a| a.to_string()),
            port: p.port,
            expect: p.target.expect.to_string(),
            control: p.target.control,
            file: &p.target.file,
        }
    }
}

/// List the probes `inv` would send, in `format`. JUnit and Prometheus describe results, not
/// plans: for them the listing is the table, with a note, so `--dry-run` can be appended to any
/// scan command line to see what it would send.
pub fn list(inv: &Inventory, format: Format) -> Exit {
    if matches!(format, Format::Junit | Format::Prometheus) {
        eprintln!(
            "telltale: --dry-run: `--format {}` describes results, so the plan is listed as a table",
            format.name()
        );
    }
    let mut w = io::BufWriter::new(io::stdout().lock());
    let probes = inv.probes().filter(|p| !inv.excludes.probe(p));
    let res = match format {
        Format::Ndjson => ndjson(&mut w, probes),
        Format::Json => json(&mut w, probes),
        Format::Csv => csv(&mut w, probes),
        _ => table(&mut w, probes),
    };
    exit::after_write("telltale", res.and_then(|()| w.flush()), Exit::Ok)
}

/// Tab-separated, one probe per line (what `cut`/`awk` want).
fn table(w: &mut impl Write, probes: impl Iterator<Item = Probe>) -> io::Result<()> {
    writeln!(w, "NAME\tADDRESS\tPORT\tEXPECT")?;
    for p in probes {
        let addr = p
            .addr
            .map_or_else(|| p.target.host_label.to_string(), |a| a.to_string());
        let name = p.target.name.as_deref().unwrap_or("-");
        writeln!(w, "{name}\t{addr}\t{}\t{}", p.port, p.target.expect)?;
    }
    Ok(())
}

fn ndjson(w: &mut impl Write, probes: impl Iterator<Item = Probe>) -> io::Result<()> {
    for p in probes {
        serde_json::to_writer(&mut *w, &Planned::of(&p))?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// `{"planned":[...],"count":N}`, streamed (the list is never held in memory).
fn json(w: &mut impl Write, probes: impl Iterator<Item = Probe>) -> io::Result<()> {
    w.write_all(b"{\"planned\":[")?;
    let mut n: u64 = 0;
    for p in probes {
        if n > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut *w, &Planned::of(&p))?;
        n += 1;
    }
    writeln!(w, "],\"count\":{n}}}")
}

fn csv(w: &mut impl Write, probes: impl Iterator<Item = Probe>) -> io::Result<()> {
    let mut c = ::csv::Writer::from_writer(w);
    for p in probes {
        c.serialize(Planned::of(&p)).map_err(io::Error::other)?;
    }
    c.flush()
}
