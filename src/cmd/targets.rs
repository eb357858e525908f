//! Loading what a scanning command (`scan`, `wait`) is told to probe: inventory files, `-`
//! (stdin), command-line targets and `--targets-file` lists, read on a blocking thread (capped,
//! interruptible) into one [`Inventory`]. Errors are printed here, once, positioned
//! (`telltale: FILE:LINE:COL: ...`), and nothing is probed.
//!
//! Each positional argument, in order: `-` is stdin; an argument naming an existing path is a
//! file; anything else must parse as a target (`crate::inventory::parse_target`), its records'
//! `origin` being `argv[N]` (N counts the command's positional arguments from 1, options not
//! counted). Files and stdin are YAML or a plain list: a `*.yaml`/`*.yml` file is YAML, any
//! other is told apart by its first line (`crate::inventory::looks_like_yaml`); each
//! `--targets-file` (read after the positionals) is a plain list.

use std::path::{Path, PathBuf};

use crate::cli::TargetOpts;
use crate::config::ScanConfig;
use crate::exit::Exit;
use crate::input;
use crate::inventory::{Fallback, Inventory, InventoryError, Overrides};
use crate::shutdown::Shutdown;
use crate::verdict::Expect;

/// Load every positional `INVENTORY|TARGET` argument of `cmd` (in order, then each
/// `--targets-file`) into one inventory. On bad input the error is printed on stderr with
/// `nothing scanned` (`scan`) or `nothing probed` (other commands) and the exit is
/// [`Exit::Usage`]; an interrupt or a local read error (file descriptors, memory) is
/// [`Exit::Incomplete`].
pub async fn load_targets(
    cmd: &str,
    args: Vec<String>,
    opts: &TargetOpts,
    cfg: &ScanConfig,
    shutdown: &Shutdown,
) -> Result<Inventory, Exit> {
    let nothing = if cmd == "scan" {
        "nothing scanned"
    } else {
        "nothing probed"
    };
    let once = args
        .iter()
        .map(Path::new)
        .chain(opts.targets_file.iter().map(PathBuf::as_path))
        .chain(cfg.baseline.as_deref());
    if let Err(e) = input::stdin_at_most_once(once) {
        eprintln!("telltale: {e}; {nothing}");
        return Err(Exit::Usage);
    }
    let fb = match fallback(opts) {
        Ok(fb) => fb,
        Err(m) => {
            eprintln!("telltale: {m}; {nothing}");
            return Err(Exit::Usage);
        }
    };
    let lists = opts.targets_file.clone();
    let (ov, max) = (cfg.overrides, cfg.max_input);
    let load = move || load(&args, &lists, &fb, ov, max);
    match input::interruptible(shutdown, load).await {
        None => {
            eprintln!("telltale: interrupted while reading the inventory: {nothing}");
            Err(Exit::Incomplete)
        }
        Some(Ok(inv)) => Ok(inv),
        Some(Err(e)) if e.local => {
            eprintln!("telltale: {e}; {nothing}");
            Err(Exit::Incomplete)
        }
        Some(Err(e)) => {
            eprintln!("telltale: {e}");
            eprintln!("telltale: inventory invalid: {nothing}");
            Err(Exit::Usage)
        }
    }
}

/// `-p/--ports` and `--expect` as the inventory takes them.
fn fallback(opts: &TargetOpts) -> Result<Fallback, String> {
    let expect = match &opts.expect {
        None => None,
        Some(words) => Some(words.split(',').try_fold(Expect::EMPTY, |e, w| {
            Expect::parse_word(w)
                .map(|x| e.union(x))
                .map_err(|m| format!("--expect: {m}"))
        })?),
    };
    Ok(Fallback {
        ports: opts.ports.clone(),
        expect,
    })
}

/// Read and parse everything, in order (blocking).
fn load(
    args: &[String],
    lists: &[PathBuf],
    fb: &Fallback,
    ov: Overrides,
    max: u64,
) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory::default();
    inv.set_fallback_expect(fb.expect);
    for (i, arg) in args.iter().enumerate() {
        let path = Path::new(arg);
        if input::is_stdin(path) || path.exists() {
            let file = input::read(path, max)?;
            if is_yaml_name(path) {
                inv.add_text(&file.label, &file.text, ov)?;
            } else {
                inv.add_input(&file.label, &file.text, fb, ov)?;
            }
        } else {
            inv.add_arg(i + 1, arg, fb, ov)?;
        }
    }
    for path in lists {
        let file = input::read(path, max)?;
        inv.add_list(&file.label, &file.text, fb, ov)?;
    }
    if let Some(p) = fb.ports.as_ref().filter(|_| inv.took_ports() == 0) {
        return Err(InventoryError {
            file: "-p/--ports".into(),
            line: 0,
            column: 0,
            message: format!(
                "`{p}` is for bare hosts (a HOST without `:PORT`), and no target is one; \
                 write the ports on the target (`db.internal:{p}`) or drop -p"
            ),
            local: false,
        });
    }
    inv.finish();
    Ok(inv)
}

/// A file named `*.yaml` or `*.yml` is YAML whatever its first line looks like.
fn is_yaml_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}
