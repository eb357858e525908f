//! Aligned text columns, shared by the drift table and the merge matrix (and the verdict table's
//! layout): widths in terminal columns, so wide characters align too.

use std::io::{self, Write};

use super::term;

/// The width (in terminal columns) of each column over all `rows` (the header included by the caller).
pub fn widths<'a>(rows: impl IntoIterator<Item = &'a [String]>) -> Vec<usize> {
    let mut width: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let n = term::width(cell);
            match width.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => width.push(n),
            }
        }
    }
    width
}

/// One row after `indent`, cells padded to `width` plus two spaces; the last cell is not padded
/// and trailing blanks are trimmed.
pub fn write_row(
    w: &mut dyn Write,
    indent: &str,
    row: &[String],
    width: &[usize],
) -> io::Result<()> {
    let mut s = String::from(indent);
    for (i, cell) in row.iter().enumerate() {
        s.push_str(cell);
        if i + 1 < row.len() {
            let pad = width
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(term::width(cell))
                + 2;
            s.push_str(&" ".repeat(pad));
        }
    }
    writeln!(w, "{}", s.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_by_characters_not_bytes() {
        let rows = [
            vec!["A".to_string(), "→".to_string(), "x".into()],
            vec!["BBB".into(), "cc".into(), "y".into()],
        ];
        let width = widths(rows.iter().map(Vec::as_slice));
        assert_eq!(width, vec![3, 2, 1]);
        let mut out = Vec::new();
        for r in &rows {
            write_row(&mut out, "  ", r, &width).unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  A    →   x\n  BBB  cc  y\n"
        );
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let rows = [
            vec!["日本".to_string(), "x".into()],
            vec!["abcd".into(), "y".into()],
        ];
        let width = widths(rows.iter().map(Vec::as_slice));
        assert_eq!(width, vec![4, 1]);
        let mut out = Vec::new();
        for r in &rows {
            write_row(&mut out, "", r, &width).unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "日本  x\nabcd  y\n");
    }
}
