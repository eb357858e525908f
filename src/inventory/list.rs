//! Plain target lists — one target per line — and telling them from YAML inventories.
//!
//! A plain list (stdin `-`, `--targets-file FILE`, or an inventory file that is not YAML):
//!
//! ```text
//! # staging checks
//! db.internal:5432 open          # a target, then optional expectation words
//! admin:8443       blocked
//! web:80,443       open,refused
//! 127.0.0.0/30:22-25
//! [::1]:8080
//! cache.internal                 # a bare host: its ports come from -p/--ports
//! ```
//!
//! Each line is a target (the syntax of `super::args`) and, after blanks, expectation words
//! (verdicts or aliases, separated by commas or blanks); without words the line takes
//! `--expect` (default `open`). `#` at the start of a line or after a blank starts a comment;
//! blank lines are skipped. Every line is checked before the inventory is returned, and an
//! error names `FILE:LINE:COLUMN` of the bad token and what was expected.
//!
//! **YAML or plain list** ([`looks_like_yaml`]): a file named `*.yaml`/`*.yml` is always YAML.
//! Otherwise the first line that is not blank and not a `#` comment decides: it is YAML when it
//! starts a YAML document (`---`, `...`, `%`), a flow mapping (`{`), a sequence entry (`- `), a
//! quoted scalar, an anchor, alias, tag or block scalar (`"`, `'`, `&`, `*`, `!`, `|`, `>`),
//! a `[` not followed by an IPv6 address, or when its first word is a mapping key (ends with
//! `:`, as in `targets:`). A text without such a line is YAML too (so an empty file gets the
//! inventory's "found an empty file"). Anything else (`db:5432`, `[::1]:22`, `db.internal`)
//! is a plain list.

use std::sync::Arc;

use super::args::{self, Fallback};
use super::{Inventory, InventoryError, Overrides};
use crate::input::STDIN_LABEL;
use crate::verdict::Expect;

/// Whether `text` is read as a YAML inventory rather than a plain list (see the module doc).
pub fn looks_like_yaml(text: &str) -> bool {
    let Some(first) = text
        .lines()
        .map(|l| l.trim_start_matches('\u{feff}').trim())
        .find(|l| !l.is_empty() && !l.starts_with('#'))
    else {
        return true;
    };
    let word = first.split([' ', '\t']).next().unwrap_or(first);
    let starts = |p: &str| {
        first
            .strip_prefix(p)
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
    };
    if starts("---") || starts("...") || starts("-") || word.ends_with(':') {
        return true;
    }
    match first.chars().next() {
        Some('%' | '{' | '"' | '\'' | '&' | '*' | '!' | '|' | '>' | '?' | '@' | '`') => true,
        Some('[') => !first[1..].starts_with(|c: char| c.is_ascii_hexdigit() || c == ':'),
        _ => false,
    }
}

/// The label of a file in `origin`: `stdin` for standard input, else the file as given.
pub(super) fn origin_label(file: &str) -> &str {
    if file == STDIN_LABEL { "stdin" } else { file }
}

/// The tokens of a line before its comment, each with its 1-based column (in characters).
fn tokens(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut prev_blank = true;
    for (col, (i, c)) in line.char_indices().enumerate() {
        let blank = c == ' ' || c == '\t';
        if c == '#' && prev_blank {
            break;
        }
        if blank {
            if let Some((sc, si)) = start.take() {
                out.push((sc, &line[si..i]));
            }
        } else if start.is_none() {
            start = Some((col + 1, i));
        }
        prev_blank = blank;
    }
    if let Some((sc, si)) = start {
        out.push((sc, &line[si..]));
    }
    out
}

impl Inventory {
    /// Read `text` as a YAML inventory or a plain list, whichever it looks like
    /// ([`looks_like_yaml`]).
    pub fn add_input(
        &mut self,
        file: &str,
        text: &str,
        fb: &Fallback,
        ov: Overrides,
    ) -> Result<(), InventoryError> {
        if looks_like_yaml(text) {
            self.add_text(file, text, ov)
        } else {
            self.add_list(file, text, fb, ov)
        }
    }

    /// Parse a plain target list (see the module doc) and append its targets; their `origin`
    /// is `FILE:LINE` (`stdin:LINE` for standard input). Nothing is added when a line is bad.
    pub fn add_list(
        &mut self,
        file: &str,
        text: &str,
        fb: &Fallback,
        ov: Overrides,
    ) -> Result<(), InventoryError> {
        let at = |line: usize, column: usize, message: String| InventoryError {
            file: file.to_string(),
            line,
            column,
            message,
            local: false,
        };
        let mut parsed = Vec::new();
        for (n, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let line = if n == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let mut toks = tokens(line).into_iter();
            let Some((col, target)) = toks.next() else {
                continue;
            };
            let w = args::parse(target).map_err(|e| at(n + 1, col + e.at, e.message))?;
            let mut expect: Option<Expect> = None;
            for (wcol, words) in toks {
                let mut c = wcol;
                for word in words.split(',') {
                    let e = Expect::parse_word(word).map_err(|m| {
                        let m = if word.is_empty() {
                            "empty expectation word, expected a verdict or alias like `open` or `blocked`".into()
                        } else {
                            m
                        };
                        at(n + 1, c, m)
                    })?;
                    expect = Some(expect.map_or(e, |x| x.union(e)));
                    c += word.chars().count() + 1;
                }
            }
            let (host, ports, took) = fb.ports_of(w).map_err(|m| at(n + 1, col, m))?;
            parsed.push((n + 1, host, ports, fb.expect_of(expect), took));
        }
        if parsed.is_empty() {
            return Err(at(
                1,
                1,
                "no targets: the list has only comments and blank lines, expected one target per line like `db.internal:5432`".into(),
            ));
        }
        let label = origin_label(file).to_string();
        let file: Arc<str> = Arc::from(file);
        for (index, (line, host, ports, expect, took)) in parsed.into_iter().enumerate() {
            let origin = format!("{label}:{line}");
            self.push_written(&file, index, origin, host, ports, expect, ov);
            self.took_ports += usize::from(took);
        }
        self.digest_input.push(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::PortSet;
    use crate::verdict::{ExpectSpec, Verdict};

    fn list(text: &str, fb: &Fallback) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::default();
        inv.add_list("l.txt", text, fb, Overrides::default())?;
        Ok(inv)
    }

    #[test]
    fn lines_comments_and_words() {
        let text = "# head\n\ndb:5432 open   # trailing\r\nadmin:8443\tblocked\n  web:80,443 open,refused\n[::1]:22 open refused\nx:1#not-a-comment-start\n";
        let e = list(text, &Fallback::default()).unwrap_err();
        assert_eq!((e.line, e.column), (7, 3), "{e}");
        let inv = list(
            &text.replace("x:1#not-a-comment-start\n", "x:1\n"),
            &Fallback::default(),
        )
        .unwrap();
        let t = &inv.targets;
        assert_eq!(t.len(), 5);
        let origins: Vec<&str> = t.iter().map(|t| &*t.origin).collect();
        assert_eq!(
            origins,
            ["l.txt:3", "l.txt:4", "l.txt:5", "l.txt:6", "l.txt:7"]
        );
        assert_eq!(
            t[1].expect,
            ExpectSpec::Plain(Expect::parse_word("blocked").unwrap())
        );
        let or = Expect::only(Verdict::Open).with(Verdict::Refused);
        assert_eq!(t[2].expect, ExpectSpec::Plain(or));
        assert_eq!(t[3].expect, ExpectSpec::Plain(or));
        assert_eq!(t[2].ports.to_string(), "80,443");
        assert_eq!(t[4].expect, ExpectSpec::Plain(Expect::default()));
    }

    #[test]
    fn errors_point_at_the_token() {
        let fb = Fallback::default();
        let cases = [
            ("a:1\n  db:99999\n", (2, 6), "bad port 99999"),
            ("a:1\ndb:22 opne\n", (2, 7), "unknown verdict `opne`"),
            ("a:1\ndb:22 open,,x\n", (2, 12), "empty expectation word"),
            ("a:1\ndb:22 open,nope\n", (2, 12), "unknown verdict `nope`"),
            ("a:1\n\n   ::1:80 open\n", (3, 4), "ambiguous"),
            ("a:1\ndb.internal\n", (2, 1), "add `:PORT`"),
            ("# only\n\n", (1, 1), "no targets"),
        ];
        for (text, pos, words) in cases {
            let e = list(text, &fb).unwrap_err();
            assert_eq!((e.line, e.column), pos, "{text:?}: {e}");
            assert!(e.message.contains(words), "{text:?}: {e}");
            assert_eq!(e.file, "l.txt");
        }
    }

    #[test]
    fn bare_hosts_take_the_ports_and_stdin_is_named_stdin() {
        let fb = Fallback {
            ports: Some(PortSet::from_ranges(vec![(22, 22), (80, 80)])),
            expect: Some(Expect::parse_word("blocked").unwrap()),
        };
        let mut inv = Inventory::default();
        inv.add_list(
            STDIN_LABEL,
            "db.internal\nweb:443 open\n",
            &fb,
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(inv.took_ports(), 1);
        assert_eq!(inv.targets[0].ports.to_string(), "22,80");
        assert_eq!(&*inv.targets[0].origin, "stdin:1");
        assert_eq!(inv.targets[0].expect, fb.expect_of(None));
        assert_eq!(inv.targets[1].expect, ExpectSpec::Plain(Expect::default()));
    }

    #[test]
    fn yaml_or_list() {
        for yaml in [
            "targets:\n  - {host: a, port: 1}\n",
            "# c\n\n---\ntargets: []\n",
            "%YAML 1.2\n---\n",
            "{targets: []}\n",
            "- {host: a, port: 1}\n",
            "[{host: a, port: 1}]\n",
            "[a]: 1\n",
            "\"targets\": []\n",
            "\u{feff}targets:\n",
            "db.internal:\n",
            "",
            "# only comments\n",
        ] {
            assert!(looks_like_yaml(yaml), "{yaml:?}");
        }
        for list in [
            "db:5432\n",
            "# c\ndb:5432 open\n",
            "[::1]:22\n",
            "[fd00::1]:22\n",
            "db.internal\n",
            "127.0.0.0/30:22-25 blocked\n",
            "::1\n",
        ] {
            assert!(!looks_like_yaml(list), "{list:?}");
        }
    }
}
