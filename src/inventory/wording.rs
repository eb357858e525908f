//! Inventory messages in the user's words: what was expected, then what was found.
//!
//! serde words a type mismatch as `invalid type: sequence, expected struct RawFile`: a Rust type
//! name and serde's names for YAML nodes. [`reword`] turns such a message into
//! `expected …, found a list`, and serde's own expectations ("a sequence", "a boolean",
//! "field identifier") into YAML terms. The three shapes of an inventory — the file, its
//! `targets:` list, one target — are described with an example ([`shaped`]); a mismatch with one
//! of them is written as that description followed by what was found.

/// The whole file.
pub(super) const FILE_SHAPE: &str = "an inventory is a mapping with `targets:` (and optional \
     `defaults:`, `exclude:`), e.g.\n  targets:\n    - {host: db.internal, port: 5432}";

/// The `targets:` list.
pub(super) const TARGETS_SHAPE: &str = "`targets:` is a list of targets, each a mapping with \
     `host` and `port` (or `ports`), e.g.\n  targets:\n    - {host: db.internal, port: 5432}";

/// One target.
pub(super) const TARGET_SHAPE: &str =
    "a target is a mapping like `{host: db.internal, port: 5432}`";

const SHAPES: [&str; 3] = [FILE_SHAPE, TARGETS_SHAPE, TARGET_SHAPE];

/// A shape's description, then what was found (`found` in words, e.g. "a list"), with a hint
/// when the mistake is a common one.
pub(super) fn shaped(shape: &str, found: &str) -> String {
    let sep = if shape.contains('\n') { "\n" } else { ", " };
    format!("{shape}{sep}found {found}{}", hint(shape, found))
}

fn hint(shape: &str, found: &str) -> String {
    if shape == FILE_SHAPE && found == "a list" {
        return " (indent it under `targets:`)".into();
    }
    if shape == TARGETS_SHAPE && found == "a mapping" {
        return " (start each target with `- `)".into();
    }
    if shape == TARGET_SHAPE {
        if let Some((host, port)) = found
            .strip_prefix('`')
            .and_then(|f| f.strip_suffix('`'))
            .and_then(host_port)
        {
            let host = if host.contains(':') {
                format!("\"{host}\"")
            } else {
                host.to_string()
            };
            return format!("; write it as `{{host: {host}, port: {port}}}`");
        }
    }
    String::new()
}

/// `db:5432` or `[::1]:22` as (host, port).
fn host_port(s: &str) -> Option<(&str, &str)> {
    let (host, port) = s.rsplit_once(':')?;
    let (host, bracketed) = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(h) => (h, true),
        None => (host, false),
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    let ok = !host.is_empty()
        && host.chars().all(plain)
        && (bracketed || !host.contains(':'))
        && !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit());
    ok.then_some((host, port))
}

/// `message` (a serde_yaml error without its position) in the user's words.
pub(super) fn reword(message: &str) -> String {
    // A description of a shape names its place: the path before it (`targets: `) is noise.
    for shape in SHAPES.iter().filter(|s| s.contains('\n')) {
        if let Some(i) = message.find(&format!("{shape}\nfound ")) {
            return message[i..].to_string();
        }
    }
    for marker in ["invalid type: ", "invalid value: "] {
        if let Some(i) = message.find(marker) {
            let (path, rest) = (&message[..i], &message[i + marker.len()..]);
            if let Some((found, exp)) = unexpected(rest)
                .and_then(|(found, rest)| rest.strip_prefix(", expected ").map(|exp| (found, exp)))
            {
                return mismatch(path, exp, &found);
            }
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("missing key {rest}");
    }
    message.to_string()
}

fn mismatch(path: &str, exp: &str, found: &str) -> String {
    if let Some(shape) = SHAPES.iter().find(|s| **s == exp) {
        let path = if shape.contains('\n') { "" } else { path };
        return format!("{path}{}", shaped(shape, found));
    }
    format!("{path}expected {}, found {found}", expectation(exp))
}

/// serde's own expectations (its visitors for `String`, `bool`, `Vec`, …) in YAML terms.
fn expectation(exp: &str) -> &str {
    match exp {
        "a sequence" => "a list",
        "a map" => "a mapping",
        "a string" | "a borrowed string" | "a character" => "text",
        "a boolean" => "`true` or `false`",
        "field identifier" | "variant identifier" => "a key (a plain word)",
        "unit" => "an empty value",
        "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32" | "i64" | "i128" | "f32"
        | "f64" => "a number",
        _ if exp.starts_with("struct ") || exp.starts_with("map ") => "a mapping",
        _ if exp.starts_with("tuple") || exp.starts_with("a tuple") => "a list",
        _ => exp,
    }
}

/// serde's `Unexpected` (how it names the node it found) at the start of `s`, in YAML terms,
/// and the rest of `s`.
fn unexpected(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix("string \"") {
        let (text, rest) = debug_string(rest)?;
        let found = if text.is_empty() {
            "an empty string".to_string()
        } else if text.contains('`') {
            format!("\"{}\"", clip(&text))
        } else {
            format!("`{}`", clip(&text))
        };
        return Some((found, rest));
    }
    for (prefix, words) in [
        ("integer `", "the number "),
        ("floating point `", "the number "),
        ("boolean `", "`"),
        ("character `", "`"),
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            let (value, rest) = rest.split_once('`')?;
            let rest = ["as u128", "as i128"]
                .iter()
                .find_map(|t| rest.strip_prefix(' ').and_then(|r| r.strip_prefix(t)))
                .unwrap_or(rest);
            let close = if words.ends_with('`') { "`" } else { "" };
            return Some((format!("{words}{}{close}", clip(value)), rest));
        }
    }
    for (name, words) in [
        ("unit value", "an empty value"),
        ("sequence", "a list"),
        ("map", "a mapping"),
        ("enum", "a tagged value (`!tag`)"),
        ("Option value", "a value"),
        ("newtype struct", "a value"),
        ("byte array", "bytes"),
        ("unit variant", "a tagged value (`!tag`)"),
        ("newtype variant", "a tagged value (`!tag`)"),
        ("tuple variant", "a tagged value (`!tag`)"),
        ("struct variant", "a tagged value (`!tag`)"),
    ] {
        if let Some(rest) = s.strip_prefix(name) {
            if rest.starts_with(',') {
                return Some((words.to_string(), rest));
            }
        }
    }
    None
}

/// The contents of a string as Rust's `{:?}` writes it (after the opening quote), unescaping
/// quotes and backslashes, and the text after the closing quote.
fn debug_string(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()? {
                (_, c @ ('"' | '\\' | '\'')) => out.push(c),
                (_, c) => {
                    out.push('\\');
                    out.push(c);
                }
            },
            c => out.push(c),
        }
    }
    None
}

/// At most 40 characters of a found value.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_words_become_yaml_words() {
        let cases = [
            (
                "targets[0].tags: invalid type: map, expected a sequence",
                "targets[0].tags: expected a list, found a mapping",
            ),
            (
                "x: invalid type: string \"a, expected \\\"b\\\"\", expected a boolean",
                "x: expected `true` or `false`, found `a, expected \"b\"`",
            ),
            (
                "invalid type: integer `18446744073709551616` as u128, expected u16",
                "expected a number, found the number 18446744073709551616",
            ),
            (
                "invalid type: unit value, expected struct Foo",
                "expected a mapping, found an empty value",
            ),
            (
                "invalid type: sequence, expected field identifier",
                "expected a key (a plain word), found a list",
            ),
            (
                "a.b: invalid type: enum, expected a DNS name",
                "a.b: expected a DNS name, found a tagged value (`!tag`)",
            ),
            ("missing field `x`", "missing key `x`"),
            ("unknown field `x`", "unknown field `x`"),
        ];
        for (serde, ours) in cases {
            assert_eq!(reword(serde), ours);
        }
        let long = format!(
            "invalid type: string \"{}\", expected a map",
            "x".repeat(99)
        );
        assert_eq!(
            reword(&long),
            format!("expected a mapping, found `{}…`", "x".repeat(40))
        );
    }

    #[test]
    fn shapes_are_described_with_what_was_found() {
        let e = reword(&format!("invalid type: sequence, expected {FILE_SHAPE}"));
        assert_eq!(
            e,
            format!("{FILE_SHAPE}\nfound a list (indent it under `targets:`)")
        );
        let e = reword(&format!(
            "targets: {}",
            shaped(TARGETS_SHAPE, "an empty list")
        ));
        assert_eq!(e, format!("{TARGETS_SHAPE}\nfound an empty list"));
        let e = reword(&format!(
            "targets[2]: invalid type: string \"db:5432\", expected {TARGET_SHAPE}"
        ));
        assert_eq!(
            e,
            format!(
                "targets[2]: {TARGET_SHAPE}, found `db:5432`; write it as `{{host: db, port: 5432}}`"
            )
        );
    }

    #[test]
    fn host_port_suggestions() {
        assert_eq!(host_port("db:5432"), Some(("db", "5432")));
        assert_eq!(host_port("[::1]:22"), Some(("::1", "22")));
        assert_eq!(host_port("127.0.0.1:22"), Some(("127.0.0.1", "22")));
        for no in [
            "db",
            "db:",
            ":22",
            "fd00::1:22",
            "db:http",
            "a b:1",
            "db:123456",
        ] {
            assert_eq!(host_port(no), None, "{no}");
        }
    }
}
