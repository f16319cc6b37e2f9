//! `zaslon audit verify`: checks the hash chain across files, in the order
//! given, and names the first record that breaks it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::chain::{GENESIS, RecordHead, line_hash};

/// What a verified chain covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub files: usize,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The `prev` of the first record: 64 zeros when the chain starts in
    /// these files, else the hash of a record in an earlier file. Compare it
    /// with the `last_hash` of the earlier file's report to link them.
    pub anchor: String,
    /// The hash of the last record: keep it somewhere else to detect a
    /// truncated tail later.
    pub last_hash: String,
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.first_seq, self.last_seq) {
            (Some(first), Some(last)) => write!(
                f,
                "ok: {} records, seq {first}..={last}, in {} files\nanchor (prev of seq {first}): {}\nlast hash: {}",
                self.records, self.files, self.anchor, self.last_hash
            ),
            _ => write!(f, "ok: no records in {} files", self.files),
        }
    }
}

/// The first break in the chain. Lines are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{}: cannot read: {message}", file.display())]
    Io { file: PathBuf, message: String },
    #[error("{}:{line}: not an audit record ({reason})", file.display())]
    Malformed {
        file: PathBuf,
        line: u64,
        reason: &'static str,
    },
    #[error(
        "{}:{line}: record seq {seq} was altered: its hash is not the prev recorded by the next \
         record ({}:{next_line})",
        file.display(), next_file.display()
    )]
    Altered {
        file: PathBuf,
        line: u64,
        seq: u64,
        next_file: PathBuf,
        next_line: u64,
    },
    #[error("{}:{line}: seq {seq} follows seq {}: records {expected}..={} are missing",
        file.display(), expected.wrapping_sub(1), seq - 1)]
    Missing {
        file: PathBuf,
        line: u64,
        seq: u64,
        expected: u64,
    },
    #[error("{}:{line}: seq {seq} where seq {expected} was expected: records are out of order{}",
        file.display(), found_at.as_ref().map(|(f, l)| format!(" (seq {expected} is at {}:{l})", f.display())).unwrap_or_default())]
    Reordered {
        file: PathBuf,
        line: u64,
        seq: u64,
        expected: u64,
        found_at: Option<(PathBuf, u64)>,
    },
    #[error("{}:{line}: seq 0 must have prev = 64 zeros", file.display())]
    BadGenesis { file: PathBuf, line: u64 },
}

/// Checks the chain across `paths`, in order.
pub fn verify(paths: &[PathBuf]) -> Result<VerifyReport, VerifyError> {
    let mut report = VerifyReport {
        files: paths.len(),
        records: 0,
        first_seq: None,
        last_seq: None,
        anchor: String::new(),
        last_hash: String::new(),
    };
    // The previous record: its seq, hash and location.
    let mut last: Option<(u64, String, PathBuf, u64)> = None;
    for (fi, path) in paths.iter().enumerate() {
        for_each_line(path, |lineno, line| {
            let head = parse_head(path, lineno, line)?;
            match &last {
                None => {
                    report.first_seq = Some(head.seq);
                    report.anchor = head.prev.clone();
                    if head.seq == 0 && head.prev != GENESIS {
                        return Err(VerifyError::BadGenesis {
                            file: path.clone(),
                            line: lineno,
                        });
                    }
                }
                Some((seq, hash, lfile, lline)) => {
                    let expected = seq + 1;
                    if head.seq != expected {
                        return Err(classify(paths, fi, path, lineno, head.seq, expected));
                    }
                    if head.prev != *hash {
                        return Err(VerifyError::Altered {
                            file: lfile.clone(),
                            line: *lline,
                            seq: *seq,
                            next_file: path.clone(),
                            next_line: lineno,
                        });
                    }
                }
            }
            last = Some((head.seq, line_hash(line), path.clone(), lineno));
            report.records += 1;
            report.last_seq = Some(head.seq);
            Ok(())
        })?;
    }
    if let Some((_, hash, _, _)) = last {
        report.last_hash = hash;
    }
    Ok(report)
}

fn parse_head(path: &Path, lineno: u64, line: &[u8]) -> Result<RecordHead, VerifyError> {
    serde_json::from_slice::<RecordHead>(line).map_err(|_| VerifyError::Malformed {
        file: path.to_path_buf(),
        line: lineno,
        reason: "no valid seq and prev",
    })
}

/// A seq that is not the expected one: out of order if the expected seq
/// turns up later (or the seq went backwards), else missing records.
fn classify(
    paths: &[PathBuf],
    file_index: usize,
    path: &Path,
    lineno: u64,
    seq: u64,
    expected: u64,
) -> VerifyError {
    let found_at = find_seq(paths, file_index, lineno, expected);
    if found_at.is_some() || seq < expected {
        VerifyError::Reordered {
            file: path.to_path_buf(),
            line: lineno,
            seq,
            expected,
            found_at,
        }
    } else {
        VerifyError::Missing {
            file: path.to_path_buf(),
            line: lineno,
            seq,
            expected,
        }
    }
}

/// Where `seq` occurs after line `after` of `paths[file_index]`, if anywhere.
fn find_seq(paths: &[PathBuf], file_index: usize, after: u64, seq: u64) -> Option<(PathBuf, u64)> {
    for (fi, path) in paths.iter().enumerate().skip(file_index) {
        let mut hit = None;
        let _ = for_each_line(path, |lineno, line| {
            if fi == file_index && lineno <= after {
                return Ok(());
            }
            if serde_json::from_slice::<RecordHead>(line).is_ok_and(|h| h.seq == seq) {
                hit = Some((path.clone(), lineno));
                // Stop reading: any error ends the scan.
                return Err(VerifyError::Malformed {
                    file: PathBuf::new(),
                    line: 0,
                    reason: "found",
                });
            }
            Ok(())
        });
        if hit.is_some() {
            return hit;
        }
    }
    None
}

/// Calls `f` with each line (without newline) of `path`. A last line with
/// no newline is a torn write and an error.
fn for_each_line(
    path: &Path,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    let io_err = |e: std::io::Error| VerifyError::Io {
        file: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path).map_err(io_err)?);
    let mut buf = Vec::with_capacity(1024);
    let mut lineno = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_err)?;
        if n == 0 {
            return Ok(());
        }
        lineno += 1;
        if buf.last() != Some(&b'\n') {
            return Err(VerifyError::Malformed {
                file: path.to_path_buf(),
                line: lineno,
                reason: "torn last line without a newline",
            });
        }
        f(lineno, &buf[..buf.len() - 1])?;
    }
}

#[cfg(test)]
mod tests;
