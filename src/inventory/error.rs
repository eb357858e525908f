//! Inventory errors and their positions: every inventory error names a line and a column.
//!
//! serde_yaml attaches a position to most errors, but not to all: a second document, the
//! alias-repetition limit (billion laughs), merge-key (`<<`) misuse, an empty tag and the end of
//! the stream come without one, and libyaml puts the end of a text that lacks a final line break
//! on a line past the last. This module finds the place in the text that such an error is about.
//! Lines are broken as libyaml breaks them (LF, CR, CRLF, NEL, LS, PS); columns count characters.
//! libyaml's tab errors are said as such, at the tab (a tab "cannot start any token"), and every
//! other message is put in the user's words (`wording`).

/// An inventory error, positioned in its file: the same type as an input error (file, line,
/// column, message, and whether the cause is local), so reading and parsing report alike.
pub use crate::input::InputError as InventoryError;

/// libyaml's words for a character no token starts with (a tab in block indentation, `@`, …).
/// libyaml's messages carry no path, so they start with the problem.
const NO_TOKEN: &str = "found character that cannot start any token";

/// An [`InventoryError`] from a serde_yaml error, positioned inside `text`.
pub(super) fn yaml_error(file: &str, text: &str, e: &serde_yaml::Error) -> InventoryError {
    let mut message = e.to_string();
    let (line, column) = match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            if let Some(i) = message.find(&suffix) {
                message.replace_range(i..i + suffix.len(), "");
            }
            within_text(text, loc.line(), loc.column())
        }
        None => unpositioned(text, &message),
    };
    let (mut line, mut column) = (line, column);
    if message.contains("more than one document") {
        message = "a second YAML document starts here; an inventory file is one document \
                   (split it into several files, or remove the `---`)"
            .into();
    } else if message.starts_with("found a tab character")
        || (message.starts_with(NO_TOKEN) && char_at(text, line, column) == Some('\t'))
    {
        (line, column) = tab_near(text, line, column).unwrap_or((line, column));
        message = "a tab character: YAML indents with spaces, not tabs".into();
    } else if message.starts_with(NO_TOKEN) {
        if let Some(c) = char_at(text, line, column) {
            let shown = if c == '`' {
                "a backtick".to_string()
            } else {
                format!("`{}`", c.escape_debug())
            };
            let c = c.escape_debug();
            message = format!(
                "expected a value, found {shown}, which cannot start one here (quote the value: \"{c}…\")"
            );
        }
    } else {
        message = super::wording::reword(&message);
    }
    InventoryError {
        file: file.to_string(),
        line,
        column,
        message,
        local: false,
    }
}

/// Clamp a serde_yaml position into the text (the end of the stream may lie past the last line).
fn within_text(text: &str, line: usize, column: usize) -> (usize, usize) {
    let end = end_of(text);
    if line > end.0 {
        end
    } else {
        (line.max(1), column.max(1))
    }
}

/// Where an error without a position is about, judged by its message.
fn unpositioned(text: &str, message: &str) -> (usize, usize) {
    let found = if message.contains("more than one document") {
        second_document(text)
    } else if message.contains("repetition limit") {
        first_token(text, |rest| rest.starts_with('*'))
    } else if message.contains("merg") {
        first_token(text, |rest| rest.starts_with("<<"))
    } else if message.contains("empty YAML tag") {
        first_token(text, |rest| {
            rest.starts_with('!') && rest[1..].starts_with(|c: char| c.is_whitespace())
        })
    } else {
        None
    };
    found.unwrap_or_else(|| end_of(text))
}

/// The character at a 1-based line and column (columns count characters, as libyaml does).
fn char_at(text: &str, line: usize, column: usize) -> Option<char> {
    let (_, l) = lines(text).nth(line.checked_sub(1)?)?;
    l.chars().nth(column.checked_sub(1)?)
}

/// The tab a libyaml tab error is about: at its position (where libyaml puts it), else the first
/// tab in that line's indentation, else the first tab in any line's indentation.
fn tab_near(text: &str, line: usize, column: usize) -> Option<(usize, usize)> {
    if char_at(text, line, column) == Some('\t') {
        return Some((line, column));
    }
    let in_indent = |l: &str| {
        l.chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .position(|c| c == '\t')
    };
    let (_, l) = lines(text).nth(line.checked_sub(1)?)?;
    if let Some(i) = in_indent(l) {
        return Some((line, i + 1));
    }
    lines(text).find_map(|(n, l)| in_indent(l).map(|i| (n, i + 1)))
}

/// Lines as libyaml counts them, each with its 1-based number.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = Some(text);
    let mut n = 0;
    std::iter::from_fn(move || {
        let s = rest?;
        n += 1;
        match s.char_indices().find(|&(_, c)| is_break(c)) {
            Some((i, c)) => {
                let mut next = i + c.len_utf8();
                if c == '\r' && s[next..].starts_with('\n') {
                    next += 1;
                }
                rest = Some(&s[next..]);
                Some((n, &s[..i]))
            }
            None => {
                rest = None;
                Some((n, s))
            }
        }
    })
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Just past the last character.
fn end_of(text: &str) -> (usize, usize) {
    lines(text)
        .last()
        .map_or((1, 1), |(n, l)| (n, l.chars().count() + 1))
}

fn marker(line: &str, m: &str) -> bool {
    line.strip_prefix(m)
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
}

fn content(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// The `---` (or the first content after `...`) that starts the second document.
fn second_document(text: &str) -> Option<(usize, usize)> {
    let (mut seen_start, mut seen_content, mut ended) = (false, false, false);
    for (n, line) in lines(text) {
        if marker(line, "---") {
            if seen_start || seen_content {
                return Some((n, 1));
            }
            seen_start = true;
            seen_content |= content(&line[3..]);
        } else if marker(line, "...") {
            ended = true;
        } else if line.starts_with('%') {
            // A directive belongs to the document that follows.
        } else if content(line) {
            if ended && (seen_start || seen_content) {
                return Some((n, 1 + line.chars().take_while(|c| *c == ' ').count()));
            }
            seen_content = true;
        }
    }
    None
}

/// The first place where a token satisfying `is` starts (after a blank, a flow indicator or the
/// start of a line, outside comments).
fn first_token(text: &str, is: impl Fn(&str) -> bool) -> Option<(usize, usize)> {
    for (n, line) in lines(text) {
        let mut prev = ' ';
        for (col, (i, c)) in line.char_indices().enumerate() {
            if c == '#' && prev.is_whitespace() {
                break;
            }
            if (prev.is_whitespace() || matches!(prev, '[' | '{' | ',' | ':')) && is(&line[i..]) {
                return Some((n, col + 1));
            }
            prev = c;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_the_end_of_an_unterminated_text() {
        assert_eq!(within_text("a: 1\n# x", 3, 1), (2, 4));
        assert_eq!(within_text("a: 1\n", 2, 1), (2, 1));
        assert_eq!(within_text("", 2, 1), (1, 1));
        assert_eq!(within_text("a\u{2028}b", 3, 1), (2, 2));
        assert_eq!(within_text("a: 1\r\nb: 2", 2, 3), (2, 3));
    }

    #[test]
    fn a_tab_error_is_put_at_a_tab() {
        let text = "a:\n  b: 1\n \t c: 2\n\td: 3\n";
        assert_eq!(char_at(text, 3, 2), Some('\t'));
        assert_eq!(tab_near(text, 3, 2), Some((3, 2)), "where libyaml puts it");
        assert_eq!(
            tab_near(text, 3, 4),
            Some((3, 2)),
            "that line's indentation"
        );
        assert_eq!(
            tab_near(text, 2, 1),
            Some((3, 2)),
            "the first indenting tab"
        );
        assert_eq!(tab_near("a: 1\n", 1, 1), None);
        // Text that merely says "tab character" is not a tab error.
        let e = crate::inventory::Inventory::parse_str(
            "x",
            "targets:\n  - {host: \"found a tab character\", port: 1}\n",
            Default::default(),
        )
        .unwrap_err();
        assert!(e.message.contains("bad host"), "{e}");
    }

    #[test]
    fn finds_what_the_message_is_about() {
        let two = "targets: []\n---\ntargets: []\n";
        assert_eq!(unpositioned(two, "more than one document"), (2, 1));
        let explicit = "# c\n---\ntargets: []\n...\n  x: 1\n";
        assert_eq!(unpositioned(explicit, "more than one document"), (5, 3));
        let laughs = "a: &a [x]\nb: [*a, *a]\n";
        assert_eq!(unpositioned(laughs, "repetition limit exceeded"), (2, 5));
        let merge = "d: &d 1\nt:\n  <<: *d\n";
        assert_eq!(
            unpositioned(merge, "expected a mapping for merging"),
            (3, 3)
        );
        assert_eq!(
            unpositioned("a: ! x\n", "empty YAML tag is not allowed"),
            (1, 4)
        );
        assert_eq!(unpositioned("a: [", "EOF while parsing a value"), (1, 5));
    }
}
