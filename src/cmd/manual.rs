//! The built-in manual: `telltale man` (roff pages, one per subcommand, from the clap
//! definitions), `telltale completions`, and the long-help sections the pages and `--help`
//! share (inventory format, verdicts, exit codes), so the manual cannot drift from the code.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::exit::{self, Exit};
use crate::verdict::{ALIASES, Verdict};

/// The inventory format, for `scan --help` and telltale-scan(1).
pub const INVENTORY: &str = "\
INVENTORY FORMAT
  A YAML mapping: `targets:` (required, non-empty), optional `defaults:` and `exclude:`.

    defaults: {timeout: 3s, linger: 1s, expect: open}
    exclude: [127.0.3.0/24]        # never probed (also --exclude)
    targets:
      - name: db                   # optional label
        host: db.internal          # DNS name, IPv4, IPv6 or CIDR (127.0.0.0/30, fd00::/126)
        ports: [5432, \"8000-8010\"] # or `port: 5432`, or a string \"22,80,8000-8010\"
        expect: open               # a verdict, a list, an alias, or {VANTAGE: V, default: V}
        tags: [prod]               # copied into every record
        timeout: 5s                # per-target overrides of defaults
        linger: 0                  # 0 = connect-only
        control: true              # a positive control: probed first, must pass

  Durations: 500ms, 3s, 1m. Precedence: a target's own keys > --timeout/--linger > the file's
  defaults > built-in (3s, 1s, open; --expect replaces this `open`). Errors name
  FILE:LINE:COLUMN and what was expected; nothing is scanned (exit 2).";

/// Targets without an inventory file, for `scan --help` (and `wait`'s) and their pages.
pub const TARGETS: &str = "\
TARGETS WITHOUT AN INVENTORY FILE
  An argument naming an existing file is an inventory; `-` reads stdin; anything else is a
  target, checked like an inventory entry:

    db.internal:5432   web:80,443   web:8000-8010   127.0.0.0/30:22-25
    '[::1]:8080'   '[fd00::/126]:22'        IPv6 needs brackets when a port follows
    db.internal   10.0.0.1   ::1            a bare host: its ports come from -p/--ports

  --expect applies to targets that state no expectation. A plain list (stdin, --targets-file
  FILE, or a file that is not YAML) has one target per line, optional expectation words after
  it, and `#` comments:

    db.internal:5432 open        # a comment
    admin:8443       blocked
    web:80,443       open,refused

  A `*.yaml`/`*.yml` file is YAML; otherwise the first line that is not blank or a comment
  decides: `key:`, `---`, `%`, `{`, `- ` and the like start YAML, a target starts a plain
  list. Errors name argv[N] (the N-th positional argument) or FILE:LINE:COLUMN; nothing is
  scanned (exit 2). Every record's `origin` says where its target came from: `inv.yaml:12`
  (the line of its `- ` entry), `argv[3]`, `stdin:4`, `list.txt:7`.";

/// Exit codes, for every scanning command's help and page.
pub const EXIT_CODES: &str = "\
EXIT CODES
  0  every result as expected
  1  some result not as expected (diff: something changed; merge: a cell not as expected)
  2  usage or inventory error: nothing was scanned
  3  incomplete: interrupted, a local-error, the output could not be written (a closed pipe
     included), or the scanning host could not start a scan (too few file descriptors)";

/// The verdict table: name, meaning, who to ask; then the expectation aliases.
pub fn verdicts() -> String {
    let mut s = String::from("VERDICTS\n");
    for v in Verdict::ALL {
        s.push_str(&format!(
            "  {:<15} {}\n  {:<15} who to ask: {}\n",
            v.as_str(),
            v.meaning(),
            "",
            v.who()
        ));
    }
    s.push_str("\nEXPECTATION ALIASES\n");
    for (alias, vs) in ALIASES {
        let names: Vec<&str> = vs.iter().map(|v| v.as_str()).collect();
        s.push_str(&format!("  {alias:<15} {}\n", names.join(", ")));
    }
    s
}

/// The long-help tail of `scan`.
pub fn scan_help() -> String {
    format!("{INVENTORY}\n\n{TARGETS}\n\n{}\n{EXIT_CODES}", verdicts())
}

/// How `wait` waits and ends, for `wait --help` and telltale-wait(1).
pub const WAIT: &str = "\
HOW IT WAITS
  Every target is probed once; those not yet as expected are probed again, each on its own
  clock: --interval after the start of its previous probe, growing by half while its verdict
  stays the same, up to --max-interval (back to --interval when the verdict changes or is as
  expected). A target is ready after --stable as-expected results in a row. Per-host caps,
  --rate and the one-probe-per-address:port rule hold, so a wait never costs a target more than
  one connection per interval.

  Any expectation works: `--expect blocked` (or `expect: blocked`) waits until a firewall rule
  has landed. At --deadline, probes in flight are cut; a target keeps its last finished verdict
  (the cut probe is noted), or reads `interrupted` with how long it went unanswered.

  On a terminal, a live line per pending target; otherwise a line when each target is ready.
  At the end the records go to stdout (or -o) in --format: by default the table of what is
  still not as expected, with who to ask. Records carry `waited_ms` and `rounds`.

EXIT CODES (wait)
  0  every target ready (as expected, --stable times in a row)
  1  the deadline passed first: the final state is printed
  2  usage or inventory error: nothing was probed
  3  interrupted (SIGINT/SIGTERM; the final state is printed), or a local-error";

/// The long-help tail of `wait`.
pub fn wait_help() -> String {
    format!("{WAIT}\n\n{TARGETS}\n\n{}", verdicts())
}

/// The long-help tail of `probe` and `demo`.
pub fn probe_help() -> String {
    format!("{}\n{EXIT_CODES}", verdicts())
}

/// `telltale man [SUBCOMMAND] [--dir DIR]`.
pub fn man(a: &ManArgs) -> Exit {
    let cmd = Cli::command();
    if let Some(dir) = &a.dir {
        return match write_all_pages(cmd, dir) {
            Ok(n) => {
                eprintln!("telltale man: wrote {n} pages to {}", dir.display());
                Exit::Ok
            }
            Err(e) => {
                eprintln!("telltale man: cannot write pages to {}: {e}", dir.display());
                Exit::Incomplete
            }
        };
    }
    let page = match &a.subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name).filter(|c| !c.is_hide_set()) {
            Some(sub) => sub_page(sub),
            None => {
                eprintln!(
                    "telltale man: no subcommand `{name}`; pages: {}",
                    page_names(&Cli::command()).join(", ")
                );
                return Exit::Usage;
            }
        },
    };
    let mut buf = Vec::new();
    let rendered = clap_mangen::Man::new(page).render(&mut buf);
    let written = rendered.and_then(|()| write_stdout(&buf));
    exit::after_write("telltale man", written, Exit::Ok)
}

/// Every page (`telltale.1`, `telltale-scan.1`, …) into `dir`; returns how many.
fn write_all_pages(cmd: clap::Command, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut n = 0;
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut top)?;
    std::fs::write(dir.join("telltale.1"), top)?;
    n += 1;
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = format!("telltale-{}", sub.get_name());
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub_page(sub)).render(&mut buf)?;
        std::fs::write(dir.join(format!("{name}.1")), buf)?;
        n += 1;
    }
    Ok(n)
}

/// A subcommand as its own page: `telltale-scan`, with the tool's version in the footer.
fn sub_page(sub: &clap::Command) -> clap::Command {
    sub.clone()
        .name(format!("telltale-{}", sub.get_name()))
        .version(env!("CARGO_PKG_VERSION"))
}

/// The names of the visible subcommands' pages.
fn page_names(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect()
}

/// `telltale completions SHELL`: generated into memory first (clap_complete panics on a failed
/// write), then written, so a closed pipe is the usual quiet exit 3.
pub fn completions(shell: clap_complete::Shell) -> Exit {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "telltale", &mut buf);
    exit::after_write("telltale completions", write_stdout(&buf), Exit::Ok)
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}
