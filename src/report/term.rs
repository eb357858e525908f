//! How a table meets a terminal: the `--color` choice, the [`Style`] one table output gets
//! (colours or not, a width to fit or none), and the text helpers that keep a line within a
//! width (display width, truncation with `…`, word wrap) and paint verdicts.
//!
//! The rules: a table on a terminal stdout fits the terminal's width (`TIOCGWINSZ`, else
//! `COLUMNS`, else 80); anywhere else (a pipe, a file, `--also`) rows are written in full, so
//! scripts that grep the table keep whole rows. Colours with `--color always`; with `auto` (the
//! default) only on a terminal stdout, when `NO_COLOR` is unset or empty and `TERM` is not `dumb`.

use std::borrow::Cow;
use std::io::IsTerminal;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::verdict::Verdict;

/// `--color`: when the table's verdicts are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Only on a terminal stdout, and not when `NO_COLOR` is set (non-empty) or `TERM=dumb`.
    #[default]
    Auto,
    /// Every table output, a pipe or file included, whatever `NO_COLOR` says.
    Always,
    /// Never.
    Never,
}

/// How one table output looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// Fit every line into this many columns; `None`: full rows.
    pub width: Option<usize>,
    /// Colour verdicts with ANSI escapes.
    pub color: bool,
}

/// Width assumed for a terminal that tells none (no `TIOCGWINSZ` answer, no `COLUMNS`).
pub const FALLBACK_WIDTH: usize = 80;

impl Style {
    /// For a table written to the process's stdout: fitted and (with `auto`) coloured when
    /// stdout is a terminal.
    pub fn stdout(choice: ColorChoice) -> Style {
        let tty = std::io::stdout().is_terminal();
        let env = |k: &str| std::env::var(k).ok();
        Style {
            width: tty.then(|| {
                let ioctl = console::Term::stdout()
                    .size_checked()
                    .map(|(_, cols)| usize::from(cols));
                terminal_width(ioctl, env("COLUMNS").as_deref())
            }),
            color: wants_color(
                choice,
                tty,
                env("NO_COLOR").as_deref(),
                env("TERM").as_deref(),
            ),
        }
    }

    /// For a table written anywhere else (`-o FILE`, `--also`): full rows, coloured only with
    /// `--color always`.
    pub fn elsewhere(choice: ColorChoice) -> Style {
        Style {
            width: None,
            color: choice == ColorChoice::Always,
        }
    }
}

/// Whether to colour: `always`, or `auto` on a terminal with `NO_COLOR` unset or empty and a
/// `TERM` other than `dumb`.
pub fn wants_color(
    choice: ColorChoice,
    tty: bool,
    no_color: Option<&str>,
    term: Option<&str>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty && no_color.is_none_or(str::is_empty) && term != Some("dumb"),
    }
}

/// The terminal's columns as the kernel reports them, else `COLUMNS` (a positive integer), else
/// [`FALLBACK_WIDTH`].
pub fn terminal_width(ioctl: Option<usize>, columns: Option<&str>) -> usize {
    ioctl
        .filter(|c| *c > 0)
        .or_else(|| {
            columns
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|c| *c > 0)
        })
        .unwrap_or(FALLBACK_WIDTH)
}

/// Columns `s` takes on a terminal (East Asian wide characters count two).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` columns, ending in `…` when anything was cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    Cow::Owned(out)
}

/// `text` word-wrapped into lines of at most `max` columns, each starting with `indent` (the
/// first with `first`); a word longer than a line is cut with `…`, and so is an indent wider
/// than the line.
pub fn wrap(text: &str, max: usize, first: &str, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    let mut done = |line: &str| lines.push(truncate(line, max).trim_end().to_string());
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !empty && width(&line) + 1 + width(word) > max {
            done(&std::mem::replace(&mut line, indent.to_string()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        let room = max.saturating_sub(width(&line));
        line.push_str(&truncate(word, room));
        empty = false;
    }
    done(&line);
    lines
}

/// ANSI colour of a verdict: open green, the denied group yellow, the blocked group red,
/// `dns-error` magenta, no verdict (`local-error`, `interrupted`) grey.
pub fn verdict_color(v: Verdict) -> &'static str {
    match v {
        Verdict::Open => "32",
        Verdict::ClosedByPeer | Verdict::ResetByPeer | Verdict::Rejected => "33",
        Verdict::Refused | Verdict::Unreachable | Verdict::Filtered => "31",
        Verdict::DnsError => "35",
        Verdict::LocalError | Verdict::Interrupted => "90",
    }
}

/// `s` between the escapes for `sgr` and a reset.
pub fn paint(s: &str, sgr: &str) -> String {
    format!("\x1b[{sgr}m{s}\x1b[0m")
}

/// A verdict as text, painted in its colour when `color`.
pub fn verdict(v: Verdict, color: bool) -> String {
    if color {
        paint(v.as_str(), verdict_color(v))
    } else {
        v.as_str().to_string()
    }
}

/// A table's verdict cell (`refused ✗`, possibly cut to fit) painted: the verdict in its
/// colour, `✗` bold red, `?` yellow. A cell that is not a verdict is left as it is.
pub fn paint_verdict_cell(cell: &str) -> String {
    let (word, rest) = cell.split_once(' ').unwrap_or((cell, ""));
    let Some(v) = Verdict::parse(word) else {
        return cell.to_string();
    };
    let mut s = paint(word, verdict_color(v));
    if !rest.is_empty() {
        s.push(' ');
        s.push_str(&match rest {
            "✗" => paint(rest, "1;31"),
            "?" => paint(rest, "33"),
            _ => rest.to_string(),
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_choice_the_terminal_and_no_color() {
        use ColorChoice::*;
        assert!(wants_color(Auto, true, None, Some("xterm")));
        assert!(wants_color(Auto, true, Some(""), None), "empty NO_COLOR");
        assert!(!wants_color(Auto, true, Some("1"), None));
        assert!(!wants_color(Auto, false, None, None), "a pipe");
        assert!(!wants_color(Auto, true, None, Some("dumb")));
        assert!(wants_color(Always, false, Some("1"), Some("dumb")));
        assert!(!wants_color(Never, true, None, None));
    }

    #[test]
    fn width_comes_from_the_terminal_then_columns_then_80() {
        assert_eq!(terminal_width(Some(132), Some("50")), 132);
        assert_eq!(terminal_width(None, Some(" 50 ")), 50);
        assert_eq!(terminal_width(Some(0), Some("x")), 80);
        assert_eq!(terminal_width(None, Some("0")), 80);
        assert_eq!(terminal_width(None, None), 80);
    }

    #[test]
    fn truncation_counts_columns_and_marks_the_cut() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcdef", 1), "…");
        assert_eq!(truncate("abcdef", 0), "");
        // Wide characters take two columns each.
        assert_eq!(truncate("日本語テキスト", 7), "日本語…");
        assert!(width(&truncate("日本語テキスト", 6)) <= 6);
    }

    #[test]
    fn wrapping_keeps_every_line_within_the_width() {
        let text =
            "connected and the session stayed up: firewall, service and access rules let you in";
        let lines = wrap(text, 40, "    ", "    ");
        assert!(lines.iter().all(|l| width(l) <= 40), "{lines:?}");
        assert!(lines.iter().all(|l| l.starts_with("    ")));
        let back: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
        assert_eq!(back.join(" "), text);
        let long = wrap("x".repeat(50).as_str(), 20, "", "  ");
        assert_eq!(long, vec![format!("{}…", "x".repeat(19))]);
    }

    #[test]
    fn verdict_cells_are_painted_by_group() {
        assert_eq!(paint_verdict_cell("open"), "\x1b[32mopen\x1b[0m");
        assert_eq!(
            paint_verdict_cell("refused ✗"),
            "\x1b[31mrefused\x1b[0m \x1b[1;31m✗\x1b[0m"
        );
        assert_eq!(
            paint_verdict_cell("closed-by-peer ?"),
            "\x1b[33mclosed-by-peer\x1b[0m \x1b[33m?\x1b[0m"
        );
        assert_eq!(paint_verdict_cell("VERDICT"), "VERDICT");
        assert_eq!(paint_verdict_cell("local-e…"), "local-e…");
    }
}
