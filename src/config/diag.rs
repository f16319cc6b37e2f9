//! Problems found in a config file, each with its line and a fix.

use std::fmt;
use std::ops::Range;

/// One thing wrong with the config, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based; 0 when the problem has no place in the file (a missing
    /// environment variable, a missing section).
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub fix: String,
}

/// Every problem of one config file. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line > 0 {
                write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, p.message)?;
            } else {
                write!(f, "{}: {}", self.file, p.message)?;
            }
            write!(f, "\n    fix: {}", p.fix)?;
        }
        Ok(())
    }
}

/// Collects problems against the text they refer to.
pub(crate) struct Diag<'t> {
    text: &'t str,
    pub(crate) problems: Vec<Problem>,
}

impl<'t> Diag<'t> {
    pub(crate) fn new(text: &'t str) -> Diag<'t> {
        Diag {
            text,
            problems: Vec::new(),
        }
    }

    /// A problem at a byte span of the text.
    pub(crate) fn at(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let (line, column) = line_col(self.text, span.start);
        self.problems.push(Problem {
            line,
            column,
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// A problem without a place in the file.
    pub(crate) fn global(&mut self, message: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem {
            line: 0,
            column: 0,
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// A TOML or serde error, with a fix guessed from its kind.
    pub(crate) fn toml_error(&mut self, e: &toml::de::Error, whole: Range<usize>) {
        let message = e.message().trim().to_owned();
        let fix = if message.contains("unknown field") {
            "remove the key or correct its spelling to one of the expected keys named above"
        } else if message.contains("missing field") {
            "add the missing key to this table"
        } else if message.contains("invalid type") {
            "write a value of the type named above"
        } else {
            "correct the TOML syntax at this place"
        };
        self.at(e.span().unwrap_or(whole), message, fix);
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 9), (2, 4));
    }
}
