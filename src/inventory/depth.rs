//! Nesting-depth pre-scan of an inventory's text, run before serde_yaml sees it.
//!
//! libyaml (under serde_yaml) re-examines every open flow level (`[`, `{`) on every token it
//! scans, so deeply nested flow collections cost time quadratic in the depth (100,000 brackets:
//! tens of seconds), and serde_yaml's own recursion limit only applies after the whole event
//! stream has been parsed. This scan walks the text once, following libyaml's tokenisation
//! closely enough to tell a bracket from a bracket inside a quoted string, a comment, a plain
//! scalar or a block scalar, and refuses nesting deeper than [`MAX_DEPTH`] levels (flow levels
//! plus block indentation levels) at the position of the first token past the limit.
//!
//! The same walk reports, to [`check_marking`]'s hook, the tokens that locate each target's
//! entry in the text (see [`Mark`] and `super::lines`): serde_yaml gives no positions for
//! values it parsed.
//!
//! It only measures depth; every other error is left to serde_yaml. Where the scan and libyaml
//! could disagree (malformed text), the scan may count differently, but it always ends in one
//! pass over the text.

/// Deepest nesting accepted: open flow collections plus block indentation levels. A real
/// inventory needs about six (`targets` → list → target → `expect` map → list).
pub const MAX_DEPTH: usize = 64;

/// Nesting past [`MAX_DEPTH`], at the token that went past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

impl TooDeep {
    /// The error message (without the position).
    pub fn message(&self) -> String {
        format!(
            "nesting deeper than {MAX_DEPTH} levels (flow brackets or indentation), expected a \
             flat inventory (a target needs about 6)"
        )
    }
}

/// Scan `text` once; `Err` at the first token nested deeper than [`MAX_DEPTH`].
#[cfg(test)]
pub fn check(text: &str) -> Result<(), TooDeep> {
    check_marking(text, |_| {})
}

/// A token the walk passed, for locating entries (lines and columns 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark<'a> {
    /// A block mapping key outside flow collections; `top` when it is a key of the top-level
    /// mapping; `text` as written (quotes included).
    Key {
        line: usize,
        top: bool,
        text: &'a [u8],
    },
    /// A block sequence entry's `-` outside flow collections.
    Entry { line: usize, column: usize },
    /// `[` or `{` (`brace`), `flow` collections deep with it.
    Open {
        line: usize,
        flow: usize,
        brace: bool,
    },
}

/// [`check`], calling `hook` with every [`Mark`] in text order.
pub(super) fn check_marking<'a>(text: &'a str, hook: impl FnMut(Mark<'a>)) -> Result<(), TooDeep> {
    Scan {
        b: text.as_bytes(),
        i: 0,
        line: 0,
        col: 0,
        flow: 0,
        indents: Vec::new(),
        hook,
    }
    .run()
}

struct Scan<'a, H> {
    b: &'a [u8],
    i: usize,
    /// 0-based line and column (characters) of `b[i]`.
    line: usize,
    col: usize,
    /// Open flow collections.
    flow: usize,
    /// Columns of the open block collections (libyaml's indent stack).
    indents: Vec<usize>,
    /// Told every [`Mark`].
    hook: H,
}

fn blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn brk(c: u8) -> bool {
    c == b'\n' || c == b'\r'
}

/// Blank, line break or end of text (`0` stands for the end).
fn blankz(c: u8) -> bool {
    blank(c) || brk(c) || c == 0
}

fn flow_indicator(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

impl<'a, H: FnMut(Mark<'a>)> Scan<'a, H> {
    fn peek(&self, k: usize) -> u8 {
        self.b.get(self.i + k).copied().unwrap_or(0)
    }

    fn eof(&self) -> bool {
        self.i >= self.b.len()
    }

    /// Advance one byte, keeping line and column.
    fn bump(&mut self) {
        let Some(&c) = self.b.get(self.i) else {
            return;
        };
        self.i += 1;
        match c {
            b'\n' => {
                self.line += 1;
                self.col = 0;
            }
            b'\r' if self.peek(0) != b'\n' => {
                self.line += 1;
                self.col = 0;
            }
            b'\r' => {}
            // UTF-8 continuation bytes belong to the character already counted.
            c if c & 0xC0 == 0x80 => {}
            _ => self.col += 1,
        }
    }

    fn here(&self) -> TooDeep {
        TooDeep {
            line: self.line + 1,
            column: self.col + 1,
        }
    }

    fn depth_ok(&self) -> Result<(), TooDeep> {
        if self.flow + self.indents.len() > MAX_DEPTH {
            Err(self.here())
        } else {
            Ok(())
        }
    }

    /// A block collection starts at the current column (libyaml's `roll_indent`).
    fn roll_indent(&mut self) -> Result<(), TooDeep> {
        if self.flow == 0 && self.indents.last().is_none_or(|&t| t < self.col) {
            self.indents.push(self.col);
            self.depth_ok()?;
        }
        Ok(())
    }

    fn skip_to_eol(&mut self) {
        while !self.eof() && !brk(self.peek(0)) {
            self.bump();
        }
    }

    /// Blanks, line breaks and comments before the next token.
    fn skip_space(&mut self) {
        loop {
            match self.peek(0) {
                c if blank(c) || brk(c) => self.bump(),
                b'#' => self.skip_to_eol(),
                _ => return,
            }
        }
    }

    fn run(mut self) -> Result<(), TooDeep> {
        loop {
            self.skip_space();
            if self.eof() {
                return Ok(());
            }
            if self.flow == 0 {
                while self.indents.last().is_some_and(|&t| t > self.col) {
                    self.indents.pop();
                }
            }
            let (c, next) = (self.peek(0), self.peek(1));
            if self.col == 0 && self.document_marker() {
                self.indents.clear();
                for _ in 0..3 {
                    self.bump();
                }
                continue;
            }
            match c {
                b'[' | b'{' => {
                    self.flow += 1;
                    self.depth_ok()?;
                    (self.hook)(Mark::Open {
                        line: self.line + 1,
                        flow: self.flow,
                        brace: c == b'{',
                    });
                    self.bump();
                }
                b']' | b'}' => {
                    self.flow = self.flow.saturating_sub(1);
                    self.bump();
                }
                b',' => self.bump(),
                b'%' if self.col == 0 => self.skip_to_eol(),
                b'-' if blankz(next) => {
                    self.roll_indent()?;
                    if self.flow == 0 {
                        (self.hook)(Mark::Entry {
                            line: self.line + 1,
                            column: self.col + 1,
                        });
                    }
                    self.bump();
                }
                b'?' if blankz(next) => {
                    self.roll_indent()?;
                    self.bump();
                }
                b':' if blankz(next) || (self.flow > 0 && flow_indicator(next)) => self.bump(),
                b'|' | b'>' if self.flow == 0 => self.block_scalar(),
                b'&' | b'*' | b'!' => self.property(),
                b'"' | b'\'' => {
                    let (line, col, start) = (self.line, self.col, self.i);
                    if c == b'"' {
                        self.double_quoted();
                    } else {
                        self.single_quoted();
                    }
                    self.maybe_key(line, col, start)?;
                }
                // Characters that cannot start a token: libyaml stops there with an error.
                b'@' | b'`' | b'|' | b'>' | b'%' => self.bump(),
                _ => {
                    let (line, col, start) = (self.line, self.col, self.i);
                    self.plain();
                    self.maybe_key(line, col, start)?;
                }
            }
        }
    }

    fn document_marker(&self) -> bool {
        let c = self.peek(0);
        (c == b'-' || c == b'.') && self.peek(1) == c && self.peek(2) == c && blankz(self.peek(3))
    }

    /// After a one-line scalar (from byte `start`): a `:` on the same line makes it a key,
    /// which opens a block mapping at the scalar's column.
    fn maybe_key(&mut self, line: usize, col: usize, start: usize) -> Result<(), TooDeep> {
        if self.flow > 0 || self.line != line {
            return Ok(());
        }
        let mut k = 0;
        while blank(self.peek(k)) {
            k += 1;
        }
        if self.peek(k) != b':' || !blankz(self.peek(k + 1)) {
            return Ok(());
        }
        if self.indents.last().is_none_or(|&t| t < col) {
            self.indents.push(col);
            if self.flow + self.indents.len() > MAX_DEPTH {
                return Err(TooDeep {
                    line: line + 1,
                    column: col + 1,
                });
            }
        }
        let b = self.b;
        (self.hook)(Mark::Key {
            line: line + 1,
            top: self.indents.len() == 1 && self.indents[0] == col,
            text: &b[start..self.i],
        });
        Ok(())
    }

    /// Anchor, alias or tag: up to the next blank (or flow indicator inside a flow collection).
    fn property(&mut self) {
        self.bump();
        while !(blankz(self.peek(0)) || (self.flow > 0 && flow_indicator(self.peek(0)))) {
            self.bump();
        }
    }

    fn double_quoted(&mut self) {
        self.bump();
        while !self.eof() {
            match self.peek(0) {
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'"' => {
                    self.bump();
                    return;
                }
                _ => self.bump(),
            }
        }
    }

    fn single_quoted(&mut self) {
        self.bump();
        while !self.eof() {
            if self.peek(0) == b'\'' {
                self.bump();
                if self.peek(0) != b'\'' {
                    return;
                }
            }
            self.bump();
        }
    }

    /// A plain scalar, as libyaml ends it: at `: ` or ` #`, at a flow indicator inside a flow
    /// collection, or at a line less indented than the enclosing block collection.
    fn plain(&mut self) {
        let min_col = self.indents.last().map_or(0, |&t| t + 1);
        // The first character always belongs to the scalar (it is how we got here).
        self.bump();
        loop {
            loop {
                let (c, next) = (self.peek(0), self.peek(1));
                if blankz(c)
                    || (c == b':' && blankz(next))
                    || (self.flow > 0
                        && (flow_indicator(c) || (c == b':' && (flow_indicator(next)))))
                {
                    break;
                }
                self.bump();
            }
            let c = self.peek(0);
            if !(blank(c) || brk(c)) {
                return;
            }
            // Look past blanks and line breaks without consuming them if the scalar ends.
            let save = (self.i, self.line, self.col);
            let mut broke = false;
            while blank(self.peek(0)) || brk(self.peek(0)) {
                broke |= brk(self.peek(0));
                self.bump();
            }
            let ends = self.eof()
                || self.peek(0) == b'#'
                || (self.col == 0 && self.document_marker())
                || (broke && self.flow == 0 && self.col < min_col)
                || (self.peek(0) == b':' && blankz(self.peek(1)))
                || (self.flow > 0 && flow_indicator(self.peek(0)));
            if ends {
                (self.i, self.line, self.col) = save;
                return;
            }
        }
    }

    /// `|` or `>` and the indented lines that follow.
    fn block_scalar(&mut self) {
        let top = self.indents.last().copied();
        let parent = top.map_or(0, |t| t + 1);
        self.bump();
        let mut explicit = None;
        while !self.eof() && !brk(self.peek(0)) {
            match self.peek(0) {
                d @ b'1'..=b'9' if explicit.is_none() => explicit = Some(usize::from(d - b'0')),
                b'#' => {
                    self.skip_to_eol();
                    break;
                }
                _ => {}
            }
            self.bump();
        }
        // libyaml: an explicit indicator is relative to the parent indent (-1 at top level).
        let mut content = explicit.map(|d| top.map_or(d, |t| t + d));
        let min = parent.max(1);
        self.bump(); // the line break
        loop {
            if self.eof() {
                return;
            }
            let mut k = 0;
            while self.peek(k) == b' ' {
                k += 1;
            }
            let mut end = k;
            while blank(self.peek(end)) {
                end += 1;
            }
            let empty = brk(self.peek(end)) || self.i + end >= self.b.len();
            if !empty {
                let need = *content.get_or_insert(k.max(min));
                if k < need || k < min {
                    return;
                }
            }
            self.skip_to_eol();
            self.bump();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(open: &str, n: usize) -> String {
        format!("targets: {}{}\n", open.repeat(n), "]".repeat(n))
    }

    #[test]
    fn typical_inventories_pass() {
        check(crate::cmd::demo::EXAMPLE).unwrap();
        check("targets:\n  - {host: 127.0.0.1, ports: [22, \"80-81\"], expect: {a: [open]}}\n")
            .unwrap();
        // The top-level mapping is one level.
        check(&deep("[", MAX_DEPTH - 1)).unwrap();
    }

    #[test]
    fn flow_nesting_past_the_limit_is_refused_at_the_bracket() {
        let e = check(&deep("[", MAX_DEPTH)).unwrap_err();
        assert_eq!((e.line, e.column), (1, 9 + MAX_DEPTH));
        // A quote inside a plain scalar is a character, not a string that hides brackets.
        let text = format!("a: [x\"y]\nb: {}{}\n", "[".repeat(70), "]".repeat(70));
        assert_eq!(check(&text).unwrap_err().line, 2);
        let e = check(&format!("a:\n  b: {}\n", "{x: ".repeat(200))).unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn brackets_in_strings_comments_and_scalars_do_not_count() {
        let many = "[".repeat(1000);
        for text in [
            format!("targets: \"{many}\"\n"),
            format!("targets: '{many}'\n"),
            format!("# {many}\ntargets: x\n"),
            format!("targets: a{many}\n"),
            format!("targets: |\n  {many}\n  {many}\nother: 1\n"),
            format!("targets: >2\n  {many}\n"),
            format!("targets: [a\"b, c'd]\n{}x: 1\n", "y: [z\"]\n".repeat(100)),
            format!("{}targets: 1\n", "name: web[1\n".repeat(500)),
            format!("targets: x\n  {many}\n"),
        ] {
            check(&text).unwrap_or_else(|e| panic!("{e:?} for {text:.60}"));
        }
    }

    #[test]
    fn block_nesting_counts_too() {
        let e = check(&format!("targets:\n{}x\n", "- ".repeat(200))).unwrap_err();
        assert_eq!(e.line, 2);
        let mut stair = String::new();
        for i in 0..100 {
            stair.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        let e = check(&stair).unwrap_err();
        assert_eq!((e.line, e.column), (MAX_DEPTH + 1, MAX_DEPTH + 1));
    }

    #[test]
    fn one_pass_over_a_huge_input() {
        let text = deep("[", 1_000_000);
        let t = std::time::Instant::now();
        assert!(check(&text).is_err());
        let ok = "[a, 'b', \"c\"], ".repeat(200_000);
        check(&format!("targets: [{ok}]\n")).unwrap();
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }
}
