//! Content-Encoding: streaming decoders before the redactor and encoders
//! after it. Compressed bytes never reach the client unredacted: a body
//! whose encoding is not one of these is refused.

use std::io::Write;

use flate2::Compression;

/// An encoding the proxy can decode and produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Br,
}

impl Coding {
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Br => "br",
        }
    }

    /// A `Content-Encoding` value: `Ok(None)` for identity, `Err` for
    /// anything the proxy cannot decode (including stacked encodings).
    pub fn from_content_encoding(v: &str) -> Result<Option<Coding>, UnknownCoding> {
        let v = v.trim();
        if v.is_empty() || v.eq_ignore_ascii_case("identity") {
            return Ok(None);
        }
        if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
            Ok(Some(Coding::Gzip))
        } else if v.eq_ignore_ascii_case("deflate") {
            Ok(Some(Coding::Deflate))
        } else if v.eq_ignore_ascii_case("br") {
            Ok(Some(Coding::Br))
        } else {
            Err(UnknownCoding)
        }
    }
}

/// A `Content-Encoding` the proxy cannot decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCoding;

/// What a client's `Accept-Encoding` allows, of the codings above.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepted {
    pub gzip: bool,
    pub deflate: bool,
    pub br: bool,
}

impl Accepted {
    pub fn parse(v: &str) -> Accepted {
        let mut a = Accepted::default();
        for item in v.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            if refused {
                continue;
            }
            if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                a.gzip = true;
            } else if name.eq_ignore_ascii_case("deflate") {
                a.deflate = true;
            } else if name.eq_ignore_ascii_case("br") {
                a.br = true;
            } else if name == "*" {
                a = Accepted {
                    gzip: true,
                    deflate: true,
                    br: true,
                };
            }
        }
        a
    }

    pub fn accepts(self, c: Coding) -> bool {
        match c {
            Coding::Gzip => self.gzip,
            Coding::Deflate => self.deflate,
            Coding::Br => self.br,
        }
    }

    /// The `Accept-Encoding` to send upstream: what the client takes, as
    /// far as the proxy decodes it; `identity` when nothing is left.
    pub fn upstream_header(self) -> &'static str {
        match (self.gzip, self.deflate, self.br) {
            (false, false, false) => "identity",
            (true, false, false) => "gzip",
            (false, true, false) => "deflate",
            (false, false, true) => "br",
            (true, true, false) => "gzip, deflate",
            (true, false, true) => "gzip, br",
            (false, true, true) => "deflate, br",
            (true, true, true) => "gzip, deflate, br",
        }
    }
}

/// A decoding or encoding failure (malformed or truncated compressed data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecError;

/// A streaming decoder: compressed chunks in, plain bytes appended out.
pub enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    Br(Box<brotli::DecompressorWriter<Vec<u8>>>),
}

impl Decoder {
    pub fn new(c: Coding) -> Decoder {
        match c {
            Coding::Gzip => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            Coding::Deflate => Decoder::Deflate(flate2::write::ZlibDecoder::new(Vec::new())),
            Coding::Br => Decoder::Br(Box::new(brotli::DecompressorWriter::new(Vec::new(), 8192))),
        }
    }

    fn inner(&mut self) -> &mut Vec<u8> {
        match self {
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Deflate(d) => d.get_mut(),
            Decoder::Br(d) => d.get_mut(),
        }
    }

    pub fn write(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let r = match self {
            Decoder::Gzip(d) => d.write_all(chunk),
            Decoder::Deflate(d) => d.write_all(chunk),
            Decoder::Br(d) => d.write_all(chunk),
        };
        r.map_err(|_| CodecError)?;
        out.append(self.inner());
        Ok(())
    }

    /// Ends the stream; a truncated stream is an error.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            Decoder::Gzip(d) => d.try_finish().map_err(|_| CodecError)?,
            Decoder::Deflate(d) => {
                d.try_finish().map_err(|_| CodecError)?;
                // zlib's write decoder does not report a missing end of
                // stream: the total out must show the stream ended.
                if !zlib_done(d) {
                    return Err(CodecError);
                }
            }
            Decoder::Br(d) => d.close().map_err(|_| CodecError)?,
        }
        out.append(self.inner());
        Ok(())
    }
}

fn zlib_done(d: &mut flate2::write::ZlibDecoder<Vec<u8>>) -> bool {
    // Writing nothing more after the end is accepted; a stream that has
    // not ended yet accepts more input. Probe with an empty flush.
    d.flush().is_ok() && d.total_in() > 0
}

/// A streaming encoder for the client.
pub enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Deflate(flate2::write::ZlibEncoder<Vec<u8>>),
    Br(Box<brotli::CompressorWriter<Vec<u8>>>),
}

impl Encoder {
    pub fn new(c: Coding) -> Encoder {
        // Fast settings: the proxy re-encodes on the hot path.
        match c {
            Coding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                Compression::fast(),
            )),
            Coding::Deflate => Encoder::Deflate(flate2::write::ZlibEncoder::new(
                Vec::new(),
                Compression::fast(),
            )),
            Coding::Br => Encoder::Br(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                8192,
                3,
                20,
            ))),
        }
    }

    fn inner(&mut self) -> &mut Vec<u8> {
        match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Deflate(e) => e.get_mut(),
            Encoder::Br(e) => e.get_mut(),
        }
    }

    pub fn write(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let r = match self {
            Encoder::Gzip(e) => e.write_all(chunk),
            Encoder::Deflate(e) => e.write_all(chunk),
            Encoder::Br(e) => e.write_all(chunk),
        };
        r.map_err(|_| CodecError)?;
        out.append(self.inner());
        Ok(())
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            Encoder::Gzip(e) => e.try_finish().map_err(|_| CodecError)?,
            Encoder::Deflate(e) => e.try_finish().map_err(|_| CodecError)?,
            Encoder::Br(e) => e.flush().map_err(|_| CodecError)?,
        }
        if let Encoder::Br(e) = self {
            // The brotli writer ends its stream only when dropped or taken
            // apart: swap it for a fresh one and take the finished bytes.
            let done = std::mem::replace(
                e,
                Box::new(brotli::CompressorWriter::new(Vec::new(), 8192, 3, 20)),
            );
            out.append(&mut done.into_inner());
            return Ok(());
        }
        out.append(self.inner());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn roundtrip(c: Coding) {
        let plain: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("{{\"n\":{i}}},").into_bytes())
            .collect();
        let mut enc = Encoder::new(c);
        let mut compressed = Vec::new();
        for part in plain.chunks(777) {
            enc.write(part, &mut compressed).unwrap();
        }
        enc.finish(&mut compressed).unwrap();
        assert!(compressed.len() < plain.len() / 4);
        let mut dec = Decoder::new(c);
        let mut back = Vec::new();
        for part in compressed.chunks(313) {
            dec.write(part, &mut back).unwrap();
        }
        dec.finish(&mut back).unwrap();
        assert_eq!(back, plain);
        // Truncated: an error at the end, never a clean short body.
        let mut dec = Decoder::new(c);
        let mut short = Vec::new();
        let r = dec
            .write(&compressed[..compressed.len() / 2], &mut short)
            .and_then(|()| dec.finish(&mut short));
        assert_eq!(r, Err(CodecError), "{c:?}");
    }

    #[test]
    fn codings_round_trip_and_truncation_fails() {
        roundtrip(Coding::Gzip);
        roundtrip(Coding::Deflate);
        roundtrip(Coding::Br);
    }

    #[test]
    fn gzip_from_flate2_reader_agrees() {
        let mut enc = Encoder::new(Coding::Gzip);
        let mut out = Vec::new();
        enc.write(b"hello", &mut out).unwrap();
        enc.finish(&mut out).unwrap();
        let mut s = String::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "hello");
    }

    #[test]
    fn accept_encoding() {
        let a = Accepted::parse("gzip;q=1.0, br, identity;q=0.5, deflate;q=0");
        assert!(a.gzip && a.br && !a.deflate);
        assert_eq!(a.upstream_header(), "gzip, br");
        assert_eq!(Accepted::parse("").upstream_header(), "identity");
        assert_eq!(Accepted::parse("zstd").upstream_header(), "identity");
        assert_eq!(
            Coding::from_content_encoding("GZIP"),
            Ok(Some(Coding::Gzip))
        );
        assert_eq!(
            Coding::from_content_encoding("gzip, br"),
            Err(UnknownCoding)
        );
        assert_eq!(Coding::from_content_encoding("zstd"), Err(UnknownCoding));
    }
}
