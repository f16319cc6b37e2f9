//! Driving a body redactor from a reader to a writer in bounded chunks:
//! `zaslon redact` and anything else that redacts files or pipes.

use std::io::{Read, Write};

use super::{BodyRedactor, RedactError, RedactStats};

/// The largest chunk read at once.
pub const CHUNK: usize = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("{0}")]
    Redact(#[from] RedactError),
    #[error("reading input: {0}")]
    Read(std::io::Error),
    #[error("writing output: {0}")]
    Write(std::io::Error),
}

/// Streams `input` through `redactor` to `output` in chunks of at most
/// [`CHUNK`] bytes. On an error, what was written so far is a prefix of a
/// redacted document and must be discarded by the caller.
pub fn redact_stream(
    redactor: &mut BodyRedactor,
    input: &mut impl Read,
    output: &mut impl Write,
) -> Result<RedactStats, StreamError> {
    let mut buf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK + CHUNK / 4);
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Read(e)),
        };
        out.clear();
        redactor.feed(&buf[..n], &mut out)?;
        output.write_all(&out).map_err(StreamError::Write)?;
    }
    out.clear();
    redactor.finish(&mut out)?;
    output.write_all(&out).map_err(StreamError::Write)?;
    output.flush().map_err(StreamError::Write)?;
    Ok(redactor.stats().clone())
}
