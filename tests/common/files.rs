//! Files: temporary inventories (`inventory`, `target`, `targets`), this repository's
//! `examples/`, and small file helpers.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A YAML inventory in its own temporary directory (removed on drop).
pub struct Inventory {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Inventory {
    /// The path as given to the CLI (absolute).
    pub fn arg(&self) -> String {
        self.path.to_str().unwrap().to_string()
    }
}

/// Writes `yaml` to `inv.yaml` in a fresh temp dir.
pub fn inventory(yaml: &str) -> Inventory {
    inventory_named("inv.yaml", yaml)
}

/// Writes `yaml` to `name` in a fresh temp dir.
pub fn inventory_named(name: &str, yaml: &str) -> Inventory {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, yaml).unwrap();
    Inventory { dir, path }
}

/// One flow-style target line: `  - {name: N, host: "IP", port: P, expect: E}`.
/// `expect` is inserted verbatim (a verdict, an alias or a flow list such as `[open, refused]`).
pub fn target(name: &str, addr: SocketAddr, expect: &str) -> String {
    format!(
        "  - {{name: {name}, host: \"{}\", port: {}, expect: {expect}}}\n",
        addr.ip(),
        addr.port()
    )
}

/// `targets:` followed by the given target lines.
pub fn targets(lines: &[String]) -> String {
    let mut s = String::from("targets:\n");
    for l in lines {
        s.push_str(l);
    }
    s
}

/// Files in `dir` (names only, sorted).
pub fn dir_listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// `examples/REL` of this repository.
pub fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel)
}

/// A whole text file, panicking with its path.
pub fn read_file(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}
