//! Reading docs/protocol.md from tests: sections, labelled fields and fenced blocks. Shared by
//! `protocol/tests/vectors.rs` and `crdt/tests/vectors.rs` (included by path).

pub(crate) const DOC: &str = include_str!("../../../docs/protocol.md");

/// The text from the heading that starts with `title` to the next heading of the same level.
pub(crate) fn section(title: &str) -> &'static str {
    let start = DOC
        .find(&format!("\n{title}"))
        .unwrap_or_else(|| panic!("no section {title}"));
    let level = title.split(' ').next().unwrap();
    let rest = &DOC[start + 1..];
    let end = rest[1..]
        .find(&format!("\n{level} "))
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

/// The value after `label` (followed by two or more spaces) on its line, joined with the
/// indented continuation lines below it.
pub(crate) fn field(text: &str, label: &str) -> String {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix(label) {
            if rest.starts_with("  ") {
                let mut value = rest.trim().to_string();
                for next in lines.by_ref() {
                    if next.starts_with(' ') && !next.trim().is_empty() {
                        value.push_str(next.trim());
                    } else {
                        break;
                    }
                }
                return value;
            }
        }
    }
    panic!("docs/protocol.md has no field `{label}`");
}

/// The fenced block after the first line containing `marker`, whitespace removed.
pub(crate) fn block(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("docs/protocol.md has no `{marker}`"));
    let open = at + text[at..].find("```").expect("a fenced block") + 3;
    let body = &text[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let close = body.find("```").expect("a closed block");
    body[..close].split_whitespace().collect()
}

pub(crate) fn flat(text: &str) -> String {
    text.split_whitespace().collect()
}
