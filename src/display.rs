//! Text from outside (the bucket, an instance, AWS) made safe to print: control characters,
//! escape sequences among them, are shown escaped, never sent to a terminal. Pure.

/// `text` with every control character but newline and tab escaped.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().collect::<Vec<char>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `text` on one line: every control character escaped, newline and tab among them.
pub fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<char>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_carries_no_escape_sequence() {
        assert_eq!(printable("new \u{1b}[2Jpage"), "new \\u{1b}[2Jpage");
        assert_eq!(printable("a\tb\nc"), "a\tb\nc");
        assert_eq!(one_line("a\tb\nc\u{7}"), "a\\tb\\nc\\u{7}");
    }
}
