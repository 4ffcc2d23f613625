//! [`LoadError`]: one problem in a stack file, with its place and a rustc-like rendering.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A stack file that cannot be loaded: where (1-based line and column, in
/// characters), what, and how to fix it. Line 0 means the problem is with the
/// file as a whole (missing, unreadable, too large), and there is no snippet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The source line holding the problem.
    pub snippet: Option<String>,
    /// How many characters of the snippet, from `col`, the underline covers (at least 1).
    pub width: usize,
}

/// Lines longer than this many characters are shown as a window around the column.
const SHOWN: usize = 100;

impl LoadError {
    /// An error about the file as a whole.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        LoadError {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            message: message.into(),
            hint: None,
            snippet: None,
            width: 0,
        }
    }

    /// An error at the byte range `span` of `text`. Out-of-range or mid-character
    /// offsets are moved back to the nearest character boundary, never trusted.
    pub fn at(file: &Path, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let start = floor_boundary(text, span.start);
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let end = floor_boundary(text, span.end.clamp(start, line_end));
        let line = text.as_bytes()[..start].iter().filter(|b| **b == b'\n').count() + 1;
        LoadError {
            file: file.to_path_buf(),
            line,
            col: text[line_start..start].chars().count() + 1,
            message: message.into(),
            hint: None,
            snippet: Some(text[line_start..line_end].trim_end_matches('\r').to_string()),
            width: text[start..end].chars().count().max(1),
        }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        if self.line == 0 {
            write!(f, "{file}: {}", self.message)?;
        } else {
            write!(f, "{file}:{}:{}: {}", self.line, self.col, self.message)?;
        }
        let gutter = " ".repeat(self.line.to_string().len());
        if let Some(snippet) = self.snippet.as_ref().filter(|_| self.line > 0) {
            let (shown, offset, width) = window(snippet, self.col.saturating_sub(1), self.width.max(1));
            write!(f, "\n{gutter} |")?;
            write!(f, "\n{}", format!("{} | {shown}", self.line).trim_end())?;
            write!(f, "\n{gutter} | {}{}", " ".repeat(offset), "^".repeat(width))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n{gutter} = hint: {hint}")?;
        }
        Ok(())
    }
}

/// The part of `line` to show, the underline's offset in it and its width, all in
/// characters. Tabs are shown as one space, so that the underline lines up.
fn window(line: &str, col: usize, width: usize) -> (String, usize, usize) {
    let total = line.chars().count();
    let start = if total <= SHOWN { 0 } else { col.saturating_sub(SHOWN / 3).min(total - SHOWN) };
    let mut shown: String = line.chars().skip(start).take(SHOWN).map(|c| if c == '\t' { ' ' } else { c }).collect();
    let mut offset = col.saturating_sub(start).min(SHOWN);
    if start > 0 {
        shown.insert_str(0, "...");
        offset += 3;
    }
    if start + SHOWN < total {
        shown.push_str("...");
    }
    let width = width.min(shown.chars().count().saturating_sub(offset)).max(1);
    (shown, offset, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_shown_with_its_line_and_an_underline() {
        let text = "[a]\n  cidrs = [\"10.0.0/16\"],\n";
        let e = LoadError::at(Path::new("s.toml"), text, 15..26, "invalid CIDR block")
            .with_hint(Some("write a CIDR".into()));
        assert_eq!((e.line, e.col, e.width), (2, 12, 11));
        assert_eq!(
            e.to_string(),
            "s.toml:2:12: invalid CIDR block\n  |\n2 |   cidrs = [\"10.0.0/16\"],\n  |            ^^^^^^^^^^^\n  = hint: write a CIDR"
        );
    }

    #[test]
    fn a_file_error_is_one_line() {
        let e = LoadError::file(Path::new("stacks/x.toml"), "no such file");
        assert_eq!(e.to_string(), "stacks/x.toml: no such file");
    }

    #[test]
    fn columns_count_characters_and_spans_are_clamped_to_char_boundaries() {
        let text = "a = \"ééé\" x";
        // 10 is inside the third `é`; 999 is past the end.
        let e = LoadError::at(Path::new("f"), text, 10..999, "m");
        assert_eq!((e.line, e.col), (1, 8));
        assert_eq!(e.width, 4);
    }

    #[test]
    fn a_span_over_several_lines_is_underlined_to_the_end_of_its_first() {
        let e = LoadError::at(Path::new("f"), "x = [\n 1,\n]\n", 4..12, "m");
        assert_eq!((e.line, e.col, e.width), (1, 5, 1));
    }

    #[test]
    fn a_long_line_is_shown_around_the_column() {
        let text = format!("a = \"{}\" + b", "x".repeat(1000));
        let e = LoadError::at(Path::new("f"), &text, 1005..1006, "m");
        let shown = e.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[2].starts_with("1 | ...") && lines[2].ends_with("\" + b"));
        let caret = lines[3].find('^').unwrap();
        assert_eq!(&lines[2][caret..caret + 3], "\" +");
    }
}
