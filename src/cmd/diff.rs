//! `telltale diff OLD NEW`: load two reports (capped, interruptible), compare them, render the
//! drift; exit 0 for no drift, 1 for drift.

use crate::cli::DiffArgs;
use crate::exit::Exit;
use crate::shutdown::Shutdown;

/// Run `telltale diff OLD NEW`.
pub async fn run(a: DiffArgs, shutdown: Shutdown) -> Exit {
    let shutdown = &shutdown;
    let paths = [a.old.clone(), a.new.clone()];
    let (old, new) =
        match super::load_reports("diff", &paths, a.input.max_input_size, shutdown).await {
            None => return Exit::Incomplete,
            Some(Ok(mut r)) if r.len() == 2 => {
                let new = r.remove(1);
                (r.remove(0), new)
            }
            Some(Ok(_)) => return Exit::Usage,
            Some(Err(e)) => {
                eprintln!("telltale diff: {e}");
                return Exit::Usage;
            }
        };
    let drift = match crate::diff::diff(&old, &new, &a.vantage_map) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("telltale diff: {e}");
            return Exit::Usage;
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = crate::diff::render(&drift, a.format, &mut out)
        .and_then(|()| std::io::Write::flush(&mut out));
    let ok = if drift.is_empty() {
        Exit::Ok
    } else {
        Exit::Mismatch
    };
    crate::exit::after_write("telltale diff", written, ok)
}
