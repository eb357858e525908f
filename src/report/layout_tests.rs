//! The layout from hand-made cells: full rows without a width, every line within the width with
//! one, the fitting steps in order, colours that change no width, a summary that fits 80.

use proptest::prelude::*;

use super::*;
use crate::report::columns;

fn row(name: &str, host: &str, addr: &str, verdict: &str, time: &str, detail: &str) -> Vec<String> {
    [
        name, host, addr, "17003", verdict, "open", time, "-", "-", detail,
    ]
    .iter()
    .map(|c| c.to_string())
    .collect()
}

fn demo() -> Vec<Vec<String>> {
    vec![
        row(
            "access-rule-fin",
            "127.0.0.77",
            "127.0.0.77",
            "closed-by-peer ✗",
            "0.3+0.1ms",
            "connected in 0.27 ms; peer closed (FIN) after 0.11 ms; banner \"Host is not allowed to connect\\r\\n\"",
        ),
        row(
            "must-stay-closed",
            "localhost",
            "127.0.0.1",
            "refused ✗",
            "-",
            "ECONNREFUSED after 0.03 ms",
        ),
    ]
}

fn render(rows: &[Vec<String>], style: Style) -> String {
    let mut shape = Shape::default();
    for r in rows {
        shape.add(r, false);
    }
    let mut plan = Plan::new(&shape, style);
    let mut out = Vec::new();
    plan.write_head(&mut out).unwrap();
    for r in rows {
        plan.write_row(&mut out, r).unwrap();
    }
    plan.write_notes(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn fitted(width: usize) -> Style {
    Style {
        width: Some(width),
        color: false,
    }
}

/// Without ANSI escapes.
fn strip(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\x1b') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

#[test]
fn without_a_width_rows_are_whole_aligned_columns() {
    let rows = demo();
    let text = render(&rows, Style::default());
    // The rows as plain aligned columns (FLAKY dropped: no row has attempts), then the legend.
    let mut all = vec![HEAD.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    all.extend(rows.iter().cloned());
    for r in &mut all {
        r.remove(FLAKY);
    }
    let widths = columns::widths(all.iter().map(Vec::as_slice));
    let mut want = Vec::new();
    for r in &all {
        columns::write_row(&mut want, "", r, &widths).unwrap();
    }
    let want = String::from_utf8(want).unwrap() + TIME_LEGEND + "\n";
    assert_eq!(text, want);
    assert!(text.contains("allowed to connect"));
}

#[test]
fn a_wide_terminal_gets_the_same_table() {
    let rows = demo();
    assert_eq!(render(&rows, fitted(300)), render(&rows, Style::default()));
}

#[test]
fn fitting_takes_its_steps_in_order() {
    let rows = demo();
    let full = render(&rows, Style::default());
    let widest = full.lines().map(term::width).max().unwrap();
    // One column short: NOTES (all "-") goes first; ADDRESS stays (localhost is 127.0.0.1).
    let t = render(&rows, fitted(widest - 1));
    let head = t.lines().next().unwrap();
    assert!(!head.contains("NOTES") && head.contains("ADDRESS"), "{t}");
    assert!(head.ends_with("DETAIL"), "{t}");
    // 80 columns: DETAIL and then EXPECTED move under the row.
    let t = render(&rows, fitted(80));
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0].split_whitespace().last(), Some("TIME"), "{t}");
    assert_eq!(lines[1], "  EXPECTED; DETAIL");
    assert!(lines[2].starts_with("access-rule-fin "), "{t}");
    assert!(
        lines[3].starts_with("  expected open; connected in 0.27 ms"),
        "{t}"
    );
    assert!(lines[3].ends_with('…'), "banner cut: {t}");
    assert!(
        lines[5].starts_with("  expected open; ECONNREFUSED after 0.03 ms"),
        "{t}"
    );
    assert!(t.contains(TIME_LEGEND), "{t}");
    assert!(t.contains("… marks text cut to fit 80 columns"), "{t}");
    // Between the two: DETAIL is cut on the row's line while DETAIL_MIN columns of it stay.
    let at = render(&rows, fitted(widest - 1)).find("DETAIL").unwrap();
    let t = render(&rows, fitted(at + DETAIL_MIN));
    let first = t.lines().nth(1).unwrap();
    assert_eq!(term::width(first), at + DETAIL_MIN, "{t}");
    assert!(
        first.contains("  connected in") && first.ends_with('…'),
        "{t}"
    );
    let t = render(&rows, fitted(at + DETAIL_MIN - 1));
    assert_eq!(t.lines().nth(1), Some("  DETAIL"), "{t}");
}

#[test]
fn every_line_fits_even_a_tiny_terminal() {
    for width in [1, 5, 20, 40, 79, 80] {
        let t = render(&demo(), fitted(width));
        for l in t.lines() {
            assert!(term::width(l) <= width, "{width}: {l:?}\n{t}");
        }
    }
}

#[test]
fn colour_paints_the_verdict_and_changes_no_width() {
    let rows = demo();
    let style = Style {
        width: Some(80),
        color: true,
    };
    let coloured = render(&rows, style);
    assert!(coloured.contains("\x1b[33mclosed-by-peer\x1b[0m \x1b[1;31m✗\x1b[0m"));
    assert!(coloured.contains("\x1b[31mrefused\x1b[0m"));
    assert_eq!(strip(&coloured), render(&rows, fitted(80)));
    assert!(!render(&rows, fitted(80)).contains('\x1b'));
}

fn summary() -> Summary {
    let mut s = Summary {
        total: 9,
        ok: 5,
        mismatches: 4,
        interrupted: true,
        not_started: 12,
        controls_failed: 1,
        untrusted: 3,
        vantage: "a-rather-long-vantage-label-for-the-office-network".into(),
        elapsed_ms: 3001.0,
        ..Summary::default()
    };
    s.counts = [1; Verdict::ALL.len()];
    s
}

#[test]
fn the_summary_fits_80_columns_on_a_terminal_and_is_unchanged_elsewhere() {
    let s = summary();
    let mut out = Vec::new();
    write_summary(&mut out, &s, fitted(80)).unwrap();
    let text = String::from_utf8(out).unwrap();
    for l in text.lines() {
        assert!(term::width(l) <= 80, "{l:?}\n{text}");
    }
    // Every meaning is there in full, wrapped under its verdict.
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for v in Verdict::ALL {
        assert!(flat.contains(v.meaning()), "{v}: {text}");
    }
    let mut out = Vec::new();
    write_summary(&mut out, &s, Style::default()).unwrap();
    let full = String::from_utf8(out).unwrap();
    let open = full.lines().find(|l| l.starts_with("open ")).unwrap();
    assert_eq!(
        open,
        format!(
            "{:<15} {:>7}  {:<30} {}",
            "open",
            1,
            Verdict::Open.who(),
            Verdict::Open.meaning()
        )
    );
    assert!(full.contains(
        "\n9 probes, 5 as expected, 4 not as expected; 1 CONTROL(S) FAILED: 3 blocked-type verdicts untrusted; INTERRUPTED: partial results, 12 probes not started in 3.00s\n"
    ));
}

#[test]
fn the_coloured_summary_paints_verdict_names() {
    let mut out = Vec::new();
    let style = Style {
        width: None,
        color: true,
    };
    write_summary(&mut out, &summary(), style).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\x1b[32mopen\x1b[0m         "), "{text}");
    assert!(text.contains("\x1b[90minterrupted\x1b[0m"), "{text}");
    let mut plain = Vec::new();
    write_summary(&mut plain, &summary(), Style::default()).unwrap();
    assert_eq!(strip(&text), String::from_utf8(plain).unwrap());
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-".to_string()),
        "[a-z0-9.:-]{0,40}",
        "[a-z ]{0,120}",
        "[日本語テ]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the cells and the width: no line is wider than the width, and without a width
    /// no cell is cut.
    #[test]
    fn no_line_exceeds_the_width(
        rows in prop::collection::vec(prop::collection::vec(cell(), 10), 1..6),
        width in 1usize..200,
        color in any::<bool>(),
    ) {
        let t = render(&rows, Style { width: Some(width), color });
        for l in t.lines() {
            prop_assert!(term::width(&strip(l)) <= width, "{} > {}: {:?}", term::width(&strip(l)), width, l);
        }
        let full = render(&rows, Style::default());
        for r in &rows {
            prop_assert!(full.contains(r[DETAIL].trim_end()));
        }
    }
}
