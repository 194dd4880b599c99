//! Renders spec diagnostics for people: headline, `file:line:column`, the source line with a
//! caret under the offending text, and a hint — the shape rustc made familiar.

use super::{Diagnostic, SourceMap};
use std::fmt::Write;

pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

pub fn render_diagnostic(diagnostic: &Diagnostic, sources: &SourceMap, style: &Style) -> String {
    render_located(diagnostic, sources, style, "error", "1;31")
}

/// A warning: the same shape as an error, headed `warning`.
pub fn render_warning(diagnostic: &Diagnostic, sources: &SourceMap, style: &Style) -> String {
    render_located(diagnostic, sources, style, "warning", "1;33")
}

fn render_located(
    diagnostic: &Diagnostic,
    sources: &SourceMap,
    style: &Style,
    severity: &str,
    colour: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}",
        style.paint(colour, severity),
        style.paint("1", &diagnostic.error.to_string())
    );
    if let Some(span) = &diagnostic.span {
        if let Some(file) = sources.get(span.file) {
            let (line, column) = file.line_column(span.range.start);
            let text = file.line_text(line);
            let gutter = line.to_string().len();
            let pad = " ".repeat(gutter);
            let _ = writeln!(
                out,
                "{pad}{} {}:{line}:{column}",
                style.paint("1;34", "-->"),
                file.name
            );
            let _ = writeln!(out, "{pad} {}", style.paint("1;34", "|"));
            let _ = writeln!(
                out,
                "{} {} {}",
                style.paint("1;34", &line.to_string()),
                style.paint("1;34", "|"),
                text.replace('\t', " ")
            );
            let (end_line, end_column) = file.line_column(span.range.end);
            let line_len = text.chars().count();
            let width = if end_line == line && end_column > column {
                end_column - column
            } else {
                line_len.saturating_sub(column - 1).max(1)
            };
            let indent = " ".repeat(column - 1);
            let _ = writeln!(
                out,
                "{pad} {} {indent}{}",
                style.paint("1;34", "|"),
                style.paint(colour, &"^".repeat(width.max(1)))
            );
        }
    }
    if let Some(hint) = &diagnostic.hint {
        let _ = writeln!(out, "  = {}: {hint}", style.paint("1;36", "hint"));
    }
    out
}

pub fn render_all(diagnostics: &[Diagnostic], sources: &SourceMap, style: &Style) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&render_diagnostic(d, sources, style));
        out.push('\n');
    }
    let n = diagnostics.len();
    let _ = writeln!(
        out,
        "{}: the spec has {n} error{}",
        style.paint("1;31", "error"),
        if n == 1 { "" } else { "s" }
    );
    out
}
