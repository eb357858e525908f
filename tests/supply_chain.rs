//! Dependency guard (checklist 24): the inventory's YAML parser is serde_yaml, never one of
//! the unsound serde_yml/libyml forks.
#![allow(clippy::unwrap_used)]

/// Checklist 24: the YAML parser is serde_yaml, never the unsound serde_yml/libyml forks.
#[test]
fn lockfile_has_no_unsound_yaml_fork() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"serde_yaml\""));
    assert!(!lock.contains("name = \"serde_yml\""));
    assert!(!lock.contains("name = \"libyml\""));
}
