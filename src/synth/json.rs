//! A compact JSON writer that knows the RFC 6901 pointer of the value it is
//! writing, so every personal-data value and decoy is recorded with its exact
//! location as it is written.

use super::{Decoy, Subject, Truth};
use crate::class::FieldClass;

enum Frame {
    Obj { key: String, n: usize },
    Arr { n: usize },
}

pub(crate) struct Out {
    pub(crate) buf: String,
    stack: Vec<Frame>,
    pub(crate) truth: Vec<Truth>,
    pub(crate) decoys: Vec<Decoy>,
    /// Write every non-ASCII character as a `\uXXXX` escape.
    ascii: bool,
    /// Record truth and decoys (off for large benchmark fixtures).
    record: bool,
}

/// Free text with the personal data and decoys embedded in it.
#[derive(Default)]
pub(crate) struct Text {
    pub(crate) s: String,
    marks: Vec<(FieldClass, String, Subject)>,
    decoys: Vec<(&'static str, String)>,
}

impl Text {
    pub(crate) fn t(&mut self, s: &str) -> &mut Self {
        self.s.push_str(s);
        self
    }
    pub(crate) fn pd(&mut self, s: &str, class: FieldClass, subject: Subject) -> &mut Self {
        self.s.push_str(s);
        self.marks.push((class, s.to_owned(), subject));
        self
    }
    pub(crate) fn decoy(&mut self, s: &str, kind: &'static str) -> &mut Self {
        self.s.push_str(s);
        self.decoys.push((kind, s.to_owned()));
        self
    }
}

fn escape_segment(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            _ => out.push(c),
        }
    }
}

impl Out {
    pub(crate) fn new(ascii: bool, record: bool) -> Out {
        Out {
            buf: String::with_capacity(1024),
            stack: Vec::with_capacity(16),
            truth: Vec::new(),
            decoys: Vec::new(),
            ascii,
            record,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The pointer of the value being written now.
    fn pointer(&self) -> String {
        let mut p = String::new();
        for f in &self.stack {
            p.push('/');
            match f {
                Frame::Obj { key, .. } => escape_segment(key, &mut p),
                Frame::Arr { n } => p.push_str(&n.saturating_sub(1).to_string()),
            }
        }
        p
    }

    fn before_value(&mut self) {
        if let Some(Frame::Arr { n }) = self.stack.last_mut() {
            if *n > 0 {
                self.buf.push(',');
            }
            *n += 1;
        }
    }

    fn push_str_lit(&mut self, s: &str) {
        self.buf.push('"');
        for c in s.chars() {
            match c {
                '"' => self.buf.push_str("\\\""),
                '\\' => self.buf.push_str("\\\\"),
                '\n' => self.buf.push_str("\\n"),
                '\t' => self.buf.push_str("\\t"),
                c if (c as u32) < 0x20 || (self.ascii && !c.is_ascii()) => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        self.buf.push_str(&format!("\\u{:04x}", u));
                    }
                }
                c => self.buf.push(c),
            }
        }
        self.buf.push('"');
    }

    pub(crate) fn key(&mut self, k: &str) -> &mut Self {
        if let Some(Frame::Obj { key, n }) = self.stack.last_mut() {
            let first = *n == 0;
            *n += 1;
            key.clear();
            key.push_str(k);
            if !first {
                self.buf.push(',');
            }
        }
        self.push_str_lit(k);
        self.buf.push(':');
        self
    }

    pub(crate) fn obj(&mut self) -> &mut Self {
        self.before_value();
        self.buf.push('{');
        self.stack.push(Frame::Obj {
            key: String::new(),
            n: 0,
        });
        self
    }

    pub(crate) fn arr(&mut self) -> &mut Self {
        self.before_value();
        self.buf.push('[');
        self.stack.push(Frame::Arr { n: 0 });
        self
    }

    /// Close the innermost object or array.
    pub(crate) fn end(&mut self) -> &mut Self {
        match self.stack.pop() {
            Some(Frame::Obj { .. }) => self.buf.push('}'),
            Some(Frame::Arr { .. }) => self.buf.push(']'),
            None => {}
        }
        self
    }

    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.before_value();
        self.push_str_lit(s);
        self
    }

    /// A number written as given (must be valid JSON number text).
    pub(crate) fn num(&mut self, n: &str) -> &mut Self {
        self.before_value();
        self.buf.push_str(n);
        self
    }

    pub(crate) fn int(&mut self, n: u64) -> &mut Self {
        self.num(&n.to_string())
    }

    pub(crate) fn bool(&mut self, b: bool) -> &mut Self {
        self.num(if b { "true" } else { "false" })
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.num("null")
    }

    fn record_truth(&mut self, class: FieldClass, text: &str, embedded: bool, subject: Subject) {
        if self.record {
            let pointer = self.pointer();
            self.truth.push(Truth {
                pointer,
                class,
                text: text.to_owned(),
                embedded,
                subject,
            });
        }
    }

    fn record_decoy(&mut self, kind: &'static str, text: &str) {
        if self.record {
            let pointer = self.pointer();
            self.decoys.push(Decoy {
                pointer,
                kind,
                text: text.to_owned(),
            });
        }
    }

    /// A whole string value that is personal data.
    pub(crate) fn pd(&mut self, s: &str, class: FieldClass, subject: Subject) -> &mut Self {
        self.before_value();
        self.record_truth(class, s, false, subject);
        self.push_str_lit(s);
        self
    }

    /// A JSON number that is personal data (e.g. SNILS sent as a number).
    pub(crate) fn pd_num(
        &mut self,
        digits: &str,
        class: FieldClass,
        subject: Subject,
    ) -> &mut Self {
        self.before_value();
        self.record_truth(class, digits, false, subject);
        self.buf.push_str(digits);
        self
    }

    pub(crate) fn decoy(&mut self, s: &str, kind: &'static str) -> &mut Self {
        self.before_value();
        self.record_decoy(kind, s);
        self.push_str_lit(s);
        self
    }

    pub(crate) fn decoy_num(&mut self, n: &str, kind: &'static str) -> &mut Self {
        self.before_value();
        self.record_decoy(kind, n);
        self.buf.push_str(n);
        self
    }

    /// Free text; with `health` the whole text is recorded as health data.
    pub(crate) fn text(&mut self, t: &Text, health: bool) -> &mut Self {
        self.before_value();
        if health {
            self.record_truth(FieldClass::Health, &t.s, false, Subject::Patient);
        }
        for (class, s, subject) in &t.marks {
            self.record_truth(*class, s, true, *subject);
        }
        for (kind, s) in &t.decoys {
            self.record_decoy(kind, s);
        }
        self.push_str_lit(&t.s);
        self
    }

    // Shorthands for `key` followed by a value.
    pub(crate) fn ks(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k).str(v)
    }
    pub(crate) fn kpd(&mut self, k: &str, v: &str, c: FieldClass, s: Subject) -> &mut Self {
        self.key(k).pd(v, c, s)
    }
    pub(crate) fn kdecoy(&mut self, k: &str, v: &str, kind: &'static str) -> &mut Self {
        self.key(k).decoy(v, kind)
    }
    pub(crate) fn kobj(&mut self, k: &str) -> &mut Self {
        self.key(k).obj()
    }
    pub(crate) fn karr(&mut self, k: &str) -> &mut Self {
        self.key(k).arr()
    }
}
