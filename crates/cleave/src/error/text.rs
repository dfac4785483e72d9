//! How errors quote what they were given: errno names, short prefixes, one line.
use crate::flags::rules::errno_name;
use std::io;

/// `EPERM: Operation not permitted`.
pub(crate) fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let full = io::Error::from_raw_os_error(n).to_string();
            let plain = full.split(" (os error").next().unwrap_or(&full).to_string();
            format!("{}: {}", errno_name(n), plain)
        }
        None => e.to_string(),
    }
}

/// The most characters of a text value an error message quotes.
pub const QUOTED_PREFIX: usize = 20;

/// `bytes` as a quoted string for a message: at most [`QUOTED_PREFIX`] characters, then `…`
/// when there was more.
pub fn quote_prefix(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTED_PREFIX).collect();
    if chars.next().is_some() {
        format!("{:?}", format!("{head}…"))
    } else {
        format!("{head:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_prefixes_are_short() {
        assert_eq!(quote_prefix(b"box"), "\"box\"");
        let long = vec![b'a'; 70_000];
        assert_eq!(quote_prefix(&long), format!("\"{}…\"", "a".repeat(20)));
        assert_eq!(quote_prefix(b"a\0b"), "\"a\\0b\"");
    }
}

/// `text` as quoted in a one-line message: control characters (a newline, a terminal escape)
/// and Unicode line or paragraph separators are shown escaped (`\n`, `\u{1b}`), so that
/// whatever a caller passed in, an error stays one line and prints nothing but text.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod one_line_tests {
    use super::one_line;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(one_line("user,pid"), "user,pid");
        assert_eq!(one_line("a\nb\r\t\u{1b}[2J"), "a\\nb\\r\\t\\u{1b}[2J");
        assert_eq!(one_line("\u{85}\u{2028}é"), "\\u{85}\\u{2028}é");
    }
}
