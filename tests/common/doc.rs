//! An order-preserving JSON tree. `serde_json::Value` sorts object keys,
//! which would hide the case that matters most for sibling rules (FHIR
//! `value` written before `system`), so documents are generated, serialized
//! and parsed as [`Doc`]. Parsing goes through serde_json, so escapes in the
//! input are decoded independently of the engine's own decoder.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Number;

#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    Arr(Vec<Doc>),
    /// Members in document order; duplicates are kept.
    Obj(Vec<(String, Doc)>),
}

impl Doc {
    pub fn s(text: impl Into<String>) -> Doc {
        Doc::Str(text.into())
    }

    pub fn int(n: i64) -> Doc {
        Doc::Num(n.into())
    }

    pub fn obj(members: Vec<(&str, Doc)>) -> Doc {
        Doc::Obj(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    pub fn parse(bytes: &[u8]) -> Result<Doc, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// `serde_json::to_vec`: no whitespace.
    pub fn compact(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|e| panic!("serializing a Doc: {e}"))
    }

    /// `serde_json::to_vec_pretty`: two-space indentation.
    pub fn pretty(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_else(|e| panic!("serializing a Doc: {e}"))
    }

    /// A hand-written serialization that, driven by `seed`, writes characters
    /// of keys and strings as `\uXXXX` (surrogate pairs above the BMP, hex in
    /// either case), `\/`, `\b`, `\f`, and puts odd whitespace between tokens.
    pub fn escaped(&self, seed: u64) -> Vec<u8> {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut out = Vec::new();
        write_escaped(self, &mut rng, &mut out);
        out
    }

    /// The three serializations the properties run over.
    pub fn serializations(&self, seed: u64) -> [(&'static str, Vec<u8>); 3] {
        [
            ("compact", self.compact()),
            ("pretty", self.pretty()),
            ("escaped", self.escaped(seed)),
        ]
    }

    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => Value::Bool(*b),
            Doc::Num(n) => Value::Number(n.clone()),
            Doc::Str(s) => Value::String(s.clone()),
            Doc::Arr(a) => Value::Array(a.iter().map(Doc::to_value).collect()),
            Doc::Obj(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }

    /// Every key, string and number (as text) in the tree.
    pub fn texts(&self, out: &mut Vec<String>) {
        match self {
            Doc::Null | Doc::Bool(_) => {}
            Doc::Num(n) => out.push(n.to_string()),
            Doc::Str(s) => out.push(s.clone()),
            Doc::Arr(a) => a.iter().for_each(|v| v.texts(out)),
            Doc::Obj(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    v.texts(out);
                }
            }
        }
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Doc::Null => s.serialize_unit(),
            Doc::Bool(b) => s.serialize_bool(*b),
            Doc::Num(n) => n.serialize(s),
            Doc::Str(t) => s.serialize_str(t),
            Doc::Arr(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Doc::Obj(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Doc, E> {
        Ok(Doc::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Doc, E> {
        Ok(Doc::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Doc, E> {
        Ok(Doc::Num(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Doc, E> {
        Ok(Doc::Num(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Doc, E> {
        Number::from_f64(n)
            .map(Doc::Num)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Doc, E> {
        Ok(Doc::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Doc, E> {
        Ok(Doc::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Doc::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let mut m = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Doc>()? {
            m.push((k, v));
        }
        Ok(Doc::Obj(m))
    }
}

/// xorshift64: enough to vary the escaping deterministically.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn ws(rng: &mut Rng, out: &mut Vec<u8>) {
    let w: &[u8] = match rng.next() % 10 {
        0 => b" ",
        1 => b"\n  ",
        2 => b"\t",
        3 => b"\r\n",
        _ => b"",
    };
    out.extend_from_slice(w);
}

fn write_escaped(d: &Doc, rng: &mut Rng, out: &mut Vec<u8>) {
    ws(rng, out);
    match d {
        Doc::Null => out.extend_from_slice(b"null"),
        Doc::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Doc::Num(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Doc::Str(s) => escape_str(s, rng, out),
        Doc::Arr(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_escaped(v, rng, out);
            }
            ws(rng, out);
            out.push(b']');
        }
        Doc::Obj(m) => {
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                ws(rng, out);
                escape_str(k, rng, out);
                ws(rng, out);
                out.push(b':');
                write_escaped(v, rng, out);
            }
            ws(rng, out);
            out.push(b'}');
        }
    }
    ws(rng, out);
}

fn unicode_escape(c: char, upper: bool, out: &mut Vec<u8>) {
    let mut units = [0u16; 2];
    for u in c.encode_utf16(&mut units) {
        let e = if upper {
            format!("\\u{u:04X}")
        } else {
            format!("\\u{u:04x}")
        };
        out.extend_from_slice(e.as_bytes());
    }
}

fn escape_str(s: &str, rng: &mut Rng, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        let r = rng.next();
        let as_unicode = r.is_multiple_of(4);
        let upper = r & 16 != 0;
        match c {
            _ if as_unicode => unicode_escape(c, upper, out),
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '/' if r.is_multiple_of(3) => out.extend_from_slice(b"\\/"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => unicode_escape(c, upper, out),
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}
