//! The text redactor for `text/*` bodies: the same detectors over a
//! sliding window, so an identifier split across chunks is still found.

use std::sync::Arc;

use super::plan::Plan;
use super::value::{self, Replacement};
use super::{PseudonymKey, RedactError, RedactStats};
use crate::detect::Finding;
use crate::rules::Action;

/// Bytes kept back at the end of the window: longer than any identifier, so
/// one that straddles a chunk boundary is seen whole in the next window.
const TAIL: usize = 512;
/// The window is flushed once it holds this much.
const WINDOW: usize = 64 << 10;

pub struct TextRedactor {
    plan: Arc<Plan>,
    key: PseudonymKey,
    buf: Vec<u8>,
    findings: Vec<Finding>,
    stats: RedactStats,
}

impl TextRedactor {
    pub fn new(plan: Arc<Plan>, key: PseudonymKey) -> Self {
        TextRedactor {
            plan,
            key,
            buf: Vec::new(),
            findings: Vec::new(),
            stats: RedactStats::default(),
        }
    }

    pub fn stats(&self) -> &RedactStats {
        &self.stats
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        self.stats.bytes_in += chunk.len() as u64;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() >= WINDOW {
            self.flush(out, false)?;
        }
        Ok(())
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), RedactError> {
        self.flush(out, true)
    }

    fn flush(&mut self, out: &mut Vec<u8>, last: bool) -> Result<(), RedactError> {
        // Only whole UTF-8 characters are scanned; an incomplete one at the
        // end waits for the next chunk.
        let valid = match std::str::from_utf8(&self.buf) {
            Ok(_) => self.buf.len(),
            Err(e) if e.error_len().is_none() && !last => e.valid_up_to(),
            Err(e) => return Err(RedactError::InvalidUtf8(e.valid_up_to() as u64)),
        };
        let text = std::str::from_utf8(&self.buf[..valid])
            .map_err(|e| RedactError::InvalidUtf8(e.valid_up_to() as u64))?;
        let mut cut = if last {
            text.len()
        } else {
            text.len().saturating_sub(TAIL)
        };
        // Cut at a line or word boundary, before any finding that crosses it.
        if !last {
            cut = text[..cut].rfind(['\n', ' ']).map_or(cut, |p| p + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
        }
        self.findings.clear();
        if let Some(det) = &self.plan.detectors {
            det.scan(text, &mut self.findings);
        }
        if let Some(f) = self.findings.iter().find(|f| f.start < cut && f.end > cut) {
            cut = f.start;
        }
        let before = out.len();
        let mut last_end = 0;
        for f in self.findings.iter().filter(|f| f.end <= cut) {
            out.extend_from_slice(&text.as_bytes()[last_end..f.start]);
            let span = &text[f.start..f.end];
            let action = self.plan.action(f.class);
            let i = f.class.index();
            match action {
                Action::Allow => {
                    self.stats.disclosed[i] += 1;
                    out.extend_from_slice(span.as_bytes());
                }
                Action::Block => return Err(RedactError::Blocked(f.class)),
                _ => {
                    match action {
                        Action::Mask { .. } => self.stats.masked[i] += 1,
                        Action::Pseudonymize => self.stats.pseudonymized[i] += 1,
                        Action::Generalize => self.stats.generalized[i] += 1,
                        _ => self.stats.removed[i] += 1,
                    }
                    match value::apply(action, f.class, span, &self.key) {
                        Replacement::Text(t) => out.extend_from_slice(t.as_bytes()),
                        _ => out.extend_from_slice(value::placeholder(f.class).as_bytes()),
                    }
                }
            }
            last_end = f.end;
        }
        out.extend_from_slice(&text.as_bytes()[last_end..cut]);
        self.stats.bytes_out += (out.len() - before) as u64;
        self.buf.drain(..cut);
        Ok(())
    }
}
