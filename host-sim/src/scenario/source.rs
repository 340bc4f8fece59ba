//! Scenario errors with their place in the file: line, column, the field
//! (a dotted path such as `stream[2].request.headers`) and the offending line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A scenario file that could not be read or is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line and column, when the error has a place in the file.
    pub position: Option<(usize, usize)>,
    /// The field (a dotted path such as `stream[2].request.headers`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The offending line of the file.
    pub line_text: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let (Some(text), Some((line, column))) = (&self.line_text, self.position) {
            let gutter = line.to_string().len();
            // The caret's padding is written out: a formatting width past
            // u16::MAX (a column of a long line) panics.
            let pad = " ".repeat(column.saturating_sub(1));
            write!(f, "\n {:gutter$} |\n {line} | {text}\n {:gutter$} | {pad}^", "", "")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The scenario text, for turning spans into positions and fields.
pub(super) struct Source<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
}

impl Source<'_> {
    /// An error at `span`, about `field` (when `None`: the field at `span`).
    pub(super) fn error(
        &self,
        span: Option<Range<usize>>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let message = message.into();
        let (position, line_text) = match &span {
            Some(span) => {
                let start = span.start.min(self.text.len());
                let before = &self.text[..start];
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = self.text[line_start..start].chars().count() + 1;
                let text = self.text[line_start..].lines().next().unwrap_or("").to_owned();
                (Some((line, column)), Some(text))
            }
            None => (None, None),
        };
        let field = field.or_else(|| span.and_then(|s| self.field_at(s.start, &message)));
        ScenarioError { file: self.file.to_path_buf(), position, field, message, line_text }
    }

    /// An error about a value the file gave, at its span.
    pub(super) fn at<T>(&self, value: &Spanned<T>, field: String, message: impl Into<String>) -> ScenarioError {
        self.error(Some(value.span()), Some(field), message)
    }

    /// An error about the entry `key` of `table`, at that key (or at the
    /// table when the key cannot be found).
    pub(super) fn at_key(
        &self,
        table: &Spanned<toml::Table>,
        key: &str,
        field: String,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (document, _) = DeTable::parse_recoverable(self.text);
        let span = key_span(document.get_ref(), &table.span(), key).unwrap_or_else(|| table.span());
        self.error(Some(span), Some(field), message)
    }

    /// The field a TOML error at byte `offset` is about: the path of the
    /// innermost key or value there (inline tables and `[table]` headers
    /// alike), plus the key a `missing field` message names.
    fn field_at(&self, offset: usize, message: &str) -> Option<String> {
        let (document, _) = DeTable::parse_recoverable(self.text);
        let mut path = Vec::new();
        let found = path_in_table(document.get_ref(), offset, &mut path);
        let missing = message.split("missing field `").nth(1).and_then(|r| r.split('`').next());
        if let Some(key) = missing {
            path.push(key.to_owned());
        }
        (found || missing.is_some()).then(|| join(&path))
    }
}

/// Dotted path segments: keys, and `[n]` (1-based) for array entries.
fn join(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if !out.is_empty() && !segment.starts_with('[') {
            out.push('.');
        }
        out.push_str(segment);
    }
    out
}

/// The span of `key` in the table whose span is `table` (anywhere in the document).
fn key_span(document: &DeTable<'_>, table: &Range<usize>, key: &str) -> Option<Range<usize>> {
    fn in_value(value: &Spanned<DeValue<'_>>, table: &Range<usize>, key: &str) -> Option<Range<usize>> {
        match value.get_ref() {
            DeValue::Table(t) if value.span() == *table => {
                t.iter().find(|(k, _)| k.get_ref() == key).map(|(k, _)| k.span())
            }
            DeValue::Table(t) => t.values().find_map(|v| in_value(v, table, key)),
            DeValue::Array(items) => items.iter().find_map(|v| in_value(v, table, key)),
            _ => None,
        }
    }
    document.values().find_map(|v| in_value(v, table, key))
}

/// Pushes onto `path` the innermost entry of `table` whose key or value
/// spans `offset`; whether there is one.
fn path_in_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    for (key, value) in table {
        path.push(key.get_ref().to_string());
        if key.span().contains(&offset) || path_in_value(value, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

/// Like [`path_in_table`] for one value: descends into tables and arrays
/// (a `[table]`'s span is only its header, so every child is searched),
/// then tries the value's own span.
fn path_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<String>) -> bool {
    let inner = match value.get_ref() {
        DeValue::Table(table) => path_in_table(table, offset, path),
        DeValue::Array(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(format!("[{}]", i + 1));
            let found = path_in_value(item, offset, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    };
    inner || value.span().contains(&offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str, at: &str, message: &str) -> Option<String> {
        let src = Source { file: Path::new("s.toml"), text };
        let offset = text.find(at).unwrap();
        src.error(Some(offset..offset + at.len()), None, message).field
    }

    #[test]
    fn fields_are_found_in_headers_inline_tables_and_arrays() {
        let text = "plugin = \"p\"\n[[stream]]\nrequest = { path = \"/\", hedaers = { a = \"b\" } }\n\
                    [[stream]]\n[stream.request]\npath = \"/x\"\n[[stream.callouts]]\nstatsu = 1\n";
        assert_eq!(field(text, "plugin", "").as_deref(), Some("plugin"));
        assert_eq!(field(text, "hedaers", "unknown field").as_deref(), Some("stream[1].request.hedaers"));
        assert_eq!(field(text, "\"b\"", "").as_deref(), Some("stream[1].request.hedaers.a"));
        assert_eq!(field(text, "\"/x\"", "").as_deref(), Some("stream[2].request.path"));
        assert_eq!(field(text, "statsu", "unknown field").as_deref(), Some("stream[2].callouts[1].statsu"));
        assert_eq!(
            field(text, "[[stream.callouts]]", "missing field `status`").as_deref(),
            Some("stream[2].callouts[1].status")
        );
        assert_eq!(field(text, "{ path", "missing field `method`").as_deref(), Some("stream[1].request.method"));
    }

    #[test]
    fn errors_about_a_table_entry_point_at_its_key() {
        let error = |text: &str| {
            let e = crate::scenario::parse(Path::new("s.toml"), &format!("plugin = \"p\"\n{text}")).unwrap_err();
            (e.position, e.field.unwrap_or_default())
        };
        let metrics = error("[expect.metrics]\nok = 1\n'm{k=v}' = 2\n");
        assert_eq!(metrics, (Some((4, 1)), "expect.metrics.\"m{k=v}\"".to_owned()));
        let inline = error("[[stream]]\nrequest = { headers = { a = \"1\", b = 2 } }\n");
        assert_eq!(inline, (Some((3, 34)), "stream[1].request.headers.\"b\"".to_owned()));
        let dotted = error("[[stream]]\n[stream.request]\nheaders.a = \"1\"\nheaders.b = 2\n");
        assert_eq!(dotted, (Some((5, 9)), "stream[1].request.headers.\"b\"".to_owned()));
        let header = error("[environment]\nA = \"1\"\nB = 2\n");
        assert_eq!(header, (Some((4, 1)), "environment.B".to_owned()));
    }

    /// Found by the fuzzer (sluice-fuzz, scenarios): an error past column
    /// 65535 of a line panicked while printed ("Formatting argument out of range").
    #[test]
    fn an_error_far_along_a_long_line_prints_its_caret() {
        let text = format!("plugin = \"{}\" x\n", "a".repeat(70_000));
        let shown = crate::scenario::parse(Path::new("s.toml"), &text).unwrap_err().to_string();
        let caret = shown.lines().last().unwrap();
        assert!(shown.starts_with("s.toml:1:70013: "), "{}", &shown[..80]);
        assert_eq!(caret.len(), " 1 | ".len() + 70_012 + 1, "the caret is under column 70013");
        assert!(caret.ends_with(" ^"));
    }
}
