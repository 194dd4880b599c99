//! Parsing a unit's files, and locating syntax errors where the user can fix them: a string
//! left open points at its opening quote.

use super::*;

impl<'f> Compiler<'f> {
    pub(super) fn parse_unit(
        &mut self,
        prefix: String,
        base_dir: Option<PathBuf>,
        texts: Vec<(String, String)>,
    ) -> Unit {
        let mut files = Vec::new();
        for (name, text) in texts {
            let parsed = hcl_edit::parser::parse_body(&text);
            let id = self.sources.add(name, text);
            match parsed {
                Ok(body) => files.push(UnitFile { id, body }),
                Err(e) => self.syntax_error(id, &e),
            }
        }
        Unit {
            prefix,
            base_dir,
            files,
        }
    }

    pub(super) fn syntax_error(&mut self, id: FileId, e: &hcl_edit::parser::Error) {
        let offset = e.location().offset();
        let text = self.sources.get(id).map(|f| f.text.as_str()).unwrap_or("");
        let mut start = offset.min(text.len());
        while start > 0 && !text.is_char_boundary(start) {
            start -= 1;
        }
        let end = self
            .sources
            .get(id)
            .and_then(|f| f.text.get(start..))
            .and_then(|rest| rest.chars().next())
            .map(|c| start + c.len_utf8())
            .unwrap_or(start);
        let message = e.message().replace('\n', " ");
        let text = self.sources.get(id).map(|f| f.text.as_str()).unwrap_or("");
        // hcl-edit may notice a string left open at the end of its line only lines later; the
        // user's mistake is the opening quote, so point there.
        let (start, end) = match unclosed_quote_before(text, start) {
            Some(quote) => (quote, quote + 1),
            None => (start, end),
        };
        let hint = syntax_hint(&message, text, start);
        self.diagnostics.push(
            Diagnostic::new(SpecError::Syntax { message }, Span::new(id, start..end))
                .with_hint(hint),
        );
    }
}

/// Whether a line holds a string that is opened and not closed (escapes ignored).
fn has_unclosed_string(line: &str) -> bool {
    let without_escapes = line.replace("\\\\", "").replace("\\\"", "");
    without_escapes.matches('"').count() % 2 == 1
}

/// The byte offset of the quote that opens a string left unclosed on an earlier line, when
/// hcl-edit noticed it only on a later one (the string ran on, through lines without quotes,
/// to the next quote). None when the line holding `offset` has an unclosed string itself.
fn unclosed_quote_before(text: &str, offset: usize) -> Option<usize> {
    let line_start = text.get(..offset)?.rfind('\n').map(|i| i + 1)?;
    let current = text.get(line_start..)?.lines().next().unwrap_or("");
    if has_unclosed_string(current) {
        return None;
    }
    // Walk back over lines the string could have run through (no quotes) to the one that
    // opened it; a line with balanced quotes in between means this is not that case.
    let mut end = line_start - 1;
    for _ in 0..20 {
        let start = text.get(..end)?.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line = text.get(start..end)?;
        if has_unclosed_string(line) {
            return last_open_quote(line).map(|i| start + i);
        }
        if line.contains('"') || start == 0 {
            return None;
        }
        end = start - 1;
    }
    None
}

/// The offset of the quote that opens the last, unclosed string of a line (escapes skipped).
fn last_open_quote(line: &str) -> Option<usize> {
    let mut open: Option<usize> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                open = if open.is_some() { None } else { Some(i) };
            }
            _ => escaped = false,
        }
    }
    open
}

/// A hint for a parse error: an unclosed string on the line (or the one before), else what the
/// parser expected.
fn syntax_hint(message: &str, text: &str, offset: usize) -> String {
    let line_start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let previous_start = text
        .get(..line_start.saturating_sub(1))
        .and_then(|t| t.rfind('\n'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let unclosed = has_unclosed_string;
    let current_line = text
        .get(line_start..)
        .and_then(|t| t.lines().next())
        .unwrap_or("");
    let previous_line = text.get(previous_start..line_start).unwrap_or("");
    if unclosed(current_line) || unclosed(previous_line) {
        "a string is not closed: add the closing `\"`".into()
    } else if message.starts_with("invalid expression") {
        "an expression is missing or incomplete here (an operator without its operand?)".into()
    } else if message.contains("expected `}`") {
        "is a closing `}` missing, or an attribute not on its own line?".into()
    } else if message.contains("expected `=`") {
        "attributes are written `name = value`".into()
    } else {
        "check the HCL syntax near the caret".into()
    }
}
