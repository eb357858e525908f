//! serde_yaml errors → positioned [`InventoryError`]s, including the errors serde_yaml gives no
//! position: for a file with more than one YAML document, the line of the second document's
//! start (its `---`).

use super::InventoryError;

/// A serde_yaml error in `file` (whose text is `text`), positioned.
pub(super) fn error(file: &str, text: &str, e: &serde_yaml::Error) -> InventoryError {
    let mut message = e.to_string();
    let (line, column) = match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            if let Some(i) = message.find(&suffix) {
                message.replace_range(i..i + suffix.len(), "");
            }
            (loc.line(), loc.column())
        }
        None if message.contains("more than one document") => {
            message = "a second YAML document starts here; an inventory file is one document \
                       (split it into several files, or remove the `---`)"
                .into();
            second_document(text).map_or((0, 0), |l| (l, 1))
        }
        None => (0, 0),
    };
    InventoryError {
        file: file.to_string(),
        line,
        column,
        message,
        local: false,
    }
}

/// The 1-based line where the second document of a YAML stream starts, if any. Document markers
/// (`---`, `...`) are only markers at column 0, where no scalar content may stand.
fn second_document(text: &str) -> Option<usize> {
    let marker = |l: &str, m: &str| {
        l.strip_prefix(m)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    };
    let (mut docs, mut in_doc) = (0, false);
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim_end_matches('\r');
        if marker(l, "---") {
            docs += 1;
            in_doc = true;
        } else if marker(l, "...") {
            in_doc = false;
            continue;
        } else if l.trim().is_empty()
            || l.trim_start().starts_with('#')
            || (!in_doc && l.starts_with('%'))
        {
            // Blank lines, comments and directives start no document.
            continue;
        } else if !in_doc {
            docs += 1;
            in_doc = true;
        }
        if docs == 2 {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::second_document;

    #[test]
    fn finds_the_second_document() {
        assert_eq!(second_document("targets: []\n---\nb: 1\n"), Some(2));
        assert_eq!(second_document("# c\n---\na: 1\n---\nb: 1\n"), Some(4));
        assert_eq!(
            second_document("%YAML 1.2\n---\na: 1\n...\n---\nb\n"),
            Some(5)
        );
        assert_eq!(second_document("a: 1\n...\nb: 2\n"), Some(3));
        assert_eq!(second_document("a: |\n  ---\n  x\n"), None);
        assert_eq!(second_document("---\na: 1\n...\n"), None);
    }
}
