//! The line of each `targets:` entry in a YAML inventory, for the records' `origin`
//! (`targets.yaml:12`).
//!
//! serde_yaml gives no positions for the values it parsed, so the nesting pre-scan
//! (`depth::check_marking`), which already walks the text once following libyaml's
//! tokenisation, reports the tokens that matter, and [`EntryLines`] follows them:
//!
//! - the top-level key `targets` (plain or quoted), then
//! - in block style, each `-` of its sequence: the entries at the column of the first `-` after
//!   the key, until the next top-level key (nested lists such as `ports:` are further right);
//! - in flow style (`targets: [{...}, {...}]`), each `{` directly inside the sequence.
//!
//! When the count found is not the number of targets parsed (an alias `*entry` in a flow list,
//! a `? targets` complex key, a flow mapping at the top), every entry falls back to the line of
//! the `targets:` key, or line 1 when even that was not seen: an origin is always a real line of
//! the file, and at worst less precise.

use super::depth::Mark;

/// Where the walk is relative to the `targets:` key.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the top-level `targets` key.
    #[default]
    Before,
    /// Just after it: the next token says which style its value is in.
    After,
    /// In its block sequence, whose entries start at this column.
    Block(usize),
    /// In its flow sequence.
    Flow,
    /// Past it.
    Done,
}

/// Follows [`Mark`]s and collects the line of each entry of the top-level `targets:` list.
#[derive(Debug, Default)]
pub(super) struct EntryLines {
    state: State,
    /// Line of the `targets:` key (0 = not seen).
    key_line: usize,
    lines: Vec<usize>,
}

fn is_targets(text: &[u8]) -> bool {
    matches!(text, b"targets" | b"\"targets\"" | b"'targets'")
}

impl EntryLines {
    /// One token of the walk, in text order.
    pub(super) fn see(&mut self, m: Mark<'_>) {
        if let Mark::Key {
            top: true,
            text,
            line,
        } = m
        {
            if self.state == State::Before && is_targets(text) {
                self.state = State::After;
                self.key_line = line;
            } else if self.state != State::Before {
                self.state = State::Done;
            }
            return;
        }
        match (self.state, m) {
            (State::After, Mark::Entry { line, column }) => {
                self.lines.push(line);
                self.state = State::Block(column);
            }
            (State::After, Mark::Open { flow: 1, brace, .. }) => {
                self.state = if brace { State::Done } else { State::Flow };
            }
            (State::Block(c), Mark::Entry { line, column }) if column == c => self.lines.push(line),
            (
                State::Flow,
                Mark::Open {
                    line,
                    flow: 2,
                    brace: true,
                },
            ) => self.lines.push(line),
            _ => {}
        }
    }

    /// The line of each of the `count` targets parsed (see the module doc for the fallback).
    pub(super) fn finish(self, count: usize) -> Vec<usize> {
        if self.lines.len() == count {
            self.lines
        } else {
            vec![self.key_line.max(1); count]
        }
    }
}

/// The entry lines of `text` (which parsed as an inventory of `count` targets).
#[cfg(test)]
fn entry_lines(text: &str, count: usize) -> Vec<usize> {
    let mut e = EntryLines::default();
    super::depth::check_marking(text, |m| e.see(m)).unwrap_or_default();
    e.finish(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_entries_are_their_dash_lines() {
        let text = "\
# header
defaults: {timeout: 1s}
targets:
  - name: db          # 4
    host: db.internal
    ports:
      - 5432
      - \"8000-8010\"
  # a comment
  - {host: web, port: 80}   # 10

  - host: \"x:\\n - y\"   # 12
    port: 1
exclude:
  - 127.0.0.2
";
        assert_eq!(entry_lines(text, 3), vec![4, 10, 12]);
    }

    #[test]
    fn indentless_and_quoted_keys() {
        let text =
            "'targets':\n- host: a\n  port: 1\n- host: b\n  port: 2\ndefaults:\n  expect: open\n";
        assert_eq!(entry_lines(text, 2), vec![2, 4]);
        let text = "targets:\n- host: a\n  ports:\n  - 1\n  - 2\n- {host: b, port: 2}\n";
        assert_eq!(entry_lines(text, 2), vec![2, 6]);
    }

    #[test]
    fn flow_lists_use_each_mapping_line() {
        let text =
            "targets: [\n  {host: a, port: 1, expect: {x: open}},\n  {host: b, port: [1, 2]}]\n";
        assert_eq!(entry_lines(text, 2), vec![2, 3]);
        assert_eq!(entry_lines("targets: [{host: a, port: 1}]\n", 1), vec![1]);
    }

    #[test]
    fn a_count_that_does_not_match_falls_back_to_the_key() {
        let text = "exclude: [127.0.0.9]\ntargets: [&a {host: a, port: 1}, *a]\n";
        assert_eq!(entry_lines(text, 2), vec![2, 2]);
        assert_eq!(entry_lines("{targets: [{host: a, port: 1}]}\n", 1), vec![1]);
    }

    #[test]
    fn a_targets_key_inside_an_entry_is_not_the_list() {
        let text = "defaults:\n  targets: 1\ntargets:\n  - host: a\n    targets: x\n    port: 1\n";
        assert_eq!(entry_lines(text, 1), vec![4]);
    }

    #[test]
    fn inventories_give_each_target_its_origin() {
        let text = "targets:\n  - {host: a, port: 1}\n\n  - host: b\n    ports: [1, 2]\n";
        let inv =
            crate::inventory::Inventory::parse_str("t.yaml", text, Default::default()).unwrap();
        let origins: Vec<&str> = inv.targets.iter().map(|t| &*t.origin).collect();
        assert_eq!(origins, ["t.yaml:2", "t.yaml:4"]);
        let inv = crate::inventory::Inventory::parse_str(
            crate::input::STDIN_LABEL,
            text,
            Default::default(),
        )
        .unwrap();
        assert_eq!(&*inv.targets[1].origin, "stdin:4");
    }
}
