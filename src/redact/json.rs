//! The streaming JSON redactor: an incremental tokenizer that copies
//! unchanged bytes through and rewrites only what the rules touch.
//!
//! - Input arrives in chunks of any size. Only an incomplete token at the end
//!   of a chunk is held back (in `pending`), so any split gives the same
//!   output.
//! - A member's key is written as soon as it is read, but the output from the
//!   member's start is kept un-flushed (`carry`) until its value decides
//!   whether the member stays, so a removed member takes its comma with it.
//! - An object whose class depends on a sibling (FHIR `identifier`, whose
//!   `system` may come after `value`) is captured whole, bounded, and then
//!   replayed with the sibling known.

use std::sync::Arc;

use self::fhir::{Fx, Res, ResCap};
use self::lex::{StrEnd, is_number_byte, valid_number};
use super::plan::{Fast, KeyCache, Limits, Plan};
use super::value::{self, Replacement};
use super::{PseudonymKey, RedactError, RedactStats};
use crate::class::FieldClass;
use crate::detect::Finding;
use crate::rules::fhir::{Elem, NOT_FHIR, ResourceKind};
use crate::rules::{Action, KeyInfo};

pub mod fhir;
mod lex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// A value is expected (document start, after `:`, after `,` in an array).
    Value,
    /// After `[`: a value or `]`.
    ValueOrEnd,
    /// After `{`: a key or `}`.
    KeyOrEnd,
    /// After `,` in an object.
    Key,
    Colon,
    CommaOrEnd,
    /// After a top-level value.
    Done,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    obj: bool,
    /// The key this container is the value of (an array's elements share it).
    key: KeyInfo,
    emitted_any: bool,
    skip_comma: bool,
    /// Set on a replayed sibling object: the rule bits and the class its
    /// discriminator named.
    sib: Option<(u32, Option<FieldClass>)>,
    /// Where this container stands on the path to the records array:
    /// `NOT_ON_PATH`, `RECORDS` (it is the array), or 1 + how many of the
    /// path's keys lead to it (an object on the path).
    rec: u8,
    /// Its place in FHIR.
    fx: Fx,
    /// A FHIR array that has written nothing yet: where its member starts
    /// in the output. Should it close empty because zaslon removed what
    /// it held, the member goes with it (FHIR JSON has no empty arrays);
    /// the first thing written into it clears this, here and in every
    /// enclosing array waiting the same way.
    open_out: Option<usize>,
    /// A member or element of it was removed.
    removed_any: bool,
}

/// How many enclosing keys a context rule is looked for in.
const CONTEXT_DEPTH: usize = 4;

const NOT_ON_PATH: u8 = 0;
const RECORDS: u8 = u8::MAX;

/// The count members beside a records array (`"total": 29`), which would
/// tell how many records consent dropped: rewritten to the number of
/// records returned when any was dropped. One before the array is held in
/// the output (bounded by `hold_back_bytes`) until the array closes.
#[derive(Debug, Default)]
struct Counts {
    /// The member being read is a count member.
    key: bool,
    /// A count value already written, before the array closed: its output
    /// span and whether it is a string.
    held: Option<(usize, usize, bool)>,
    /// Records returned so far in the array being read.
    kept: u32,
    /// `stats.records_dropped` when the array opened.
    dropped_before: u32,
    /// The array closed: records returned, and whether any was dropped.
    done: Option<(u32, bool)>,
}

/// A record held back until its subject's verdict is known.
struct HeldRecord {
    /// Its bytes in `JsonRedactor::queue`.
    start: usize,
    end: usize,
}

/// While a record is captured: how far down its subject path we are.
#[derive(Default)]
struct SubjectTrack {
    matched: usize,
    armed: bool,
    found: Option<String>,
}

struct Capture {
    /// `frames.len()` before the captured object's frame was pushed.
    depth: usize,
    /// The member key the object is the value of, restored for the replay.
    key: KeyInfo,
    /// Absolute input offset of the object's `{`: the buffer is a copy of
    /// the input from there, so errors in the replay keep true offsets.
    start: u64,
    rules: u32,
    buf: Vec<u8>,
    disc: Option<FieldClass>,
    disc_next: bool,
    /// Set when the captured object is a record of a list response.
    record: Option<SubjectTrack>,
    /// The oracle dropped the record: at its end it goes without waiting.
    drop_now: bool,
    /// The next string is a code under the captured object (FHIR
    /// Identifier.type.coding.code).
    code_next: bool,
    /// Set when the captured object is a FHIR resource slot whose
    /// resourceType is not known yet.
    res: Option<ResCap>,
    /// The state and element before the object's `{`, for its replay.
    state: St,
    elem: Option<Elem>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Str,
    Num,
    Lit,
}

pub struct JsonRedactor {
    plan: Arc<Plan>,
    key: PseudonymKey,
    limits: Limits,
    ndjson: bool,
    state: St,
    frames: Vec<Frame>,
    cur_key: KeyInfo,
    /// Between a member's start and its value's decision.
    member_open: bool,
    member_start: usize,
    carry: Vec<u8>,
    pending: Vec<u8>,
    /// Absolute input offset of the start of the slice being tokenized.
    base: u64,
    capture: Option<Capture>,
    replay_next: Option<(u32, Option<FieldClass>)>,
    local_keys: KeyCache,
    text: String,
    /// A scanned value rebuilt with its findings replaced.
    rebuilt: String,
    findings: Vec<Finding>,
    seen_value: bool,
    records: Option<Arc<super::RecordSpec>>,
    /// The current member's key is the next key on the records path.
    cur_key_rec: bool,
    /// Held-back records and the separators between them, raw.
    queue: Vec<u8>,
    held: Vec<HeldRecord>,
    held_subjects: Vec<String>,
    /// Published when the tokenizer stopped to wait for verdicts.
    pending_subjects: Vec<String>,
    /// The tokenizer stopped (`suspend`) and the input after that point.
    suspended: bool,
    rest: Vec<u8>,
    /// The state before the first held record, restored for the replay.
    hold_state: St,
    /// The next record object opened is a replay: do not hold it again.
    replay_record: bool,
    /// Answers a record's verdict at once when it can (a cached consent
    /// state): a record kept that way streams instead of being held.
    oracle: Option<super::RecordOracle>,
    /// Subjects of the records that streamed on the oracle's `Keep`.
    released: Vec<String>,
    /// A capture buffer to reuse (one capture per record of a list).
    spare: Vec<u8>,
    /// Frames deeper than this belong to a record whose personal fields
    /// are all removed.
    strip_above: Option<usize>,
    stats: RedactStats,
    /// Output kept over to the next feed (`carry`) holds, from its start,
    /// the open member and any resource output a label may go into.
    carried: bool,
    fhir_mode: fhir::FhirMode,
    /// The FHIR element of the member being read.
    cur_elem: Option<Elem>,
    /// The bit of the required FHIR element the member being read is, or 0.
    cur_req: u8,
    /// Counting the records array: see [`Counts`].
    counts: Counts,
    /// Resources being streamed, outermost first.
    res: Vec<Res>,
    /// The next resource slot opened is a replay with this kind.
    replay_resource: Option<Option<ResourceKind>>,
    /// `#id` and fullUrls of the persons in this document.
    person_refs: Vec<String>,
    /// Words of the names of this document's persons, read from their
    /// structure (FHIR HumanName, displays of references to persons):
    /// found again in the document's free text.
    known_names: fhir::KnownNames,
    last_full_url: Option<String>,
    /// FHIR edits that no class count shows (a narrative replaced).
    fhir_edits: u32,
    /// The Fx of a sibling object being captured, for its replay.
    replay_fx: Option<Fx>,
    /// The route's subject id: a member of no class that holds it is the
    /// subject's id in the MIS, a `person_id`.
    subject: Option<String>,
    /// The subject id of the record of a list being written, likewise.
    record_subject: Option<String>,
    /// The subject of the next record to stream (found before its `{` is
    /// replayed or streamed).
    next_record_subject: Option<String>,
}

/// The input being tokenized and how much of it is already accounted for:
/// bytes before `flushed` are in the output (or in a capture buffer), bytes
/// after it are copied lazily, in one piece, at the next edit or at the end.
struct Src<'a> {
    inp: &'a [u8],
    /// The input as text, as far as it is whole UTF-8: string values are
    /// sliced from it instead of being validated one by one.
    text: &'a str,
    flushed: usize,
}

impl Src<'_> {
    /// Copies the unchanged input up to `pos` to `out`.
    fn flush_to(&mut self, out: &mut Vec<u8>, pos: usize) {
        if pos > self.flushed {
            out.extend_from_slice(&self.inp[self.flushed..pos]);
            self.flushed = pos;
        }
    }

    /// Where input position `pos` lands in the output, were it flushed.
    fn out_pos(&self, out: &[u8], pos: usize) -> usize {
        out.len() + pos.saturating_sub(self.flushed)
    }
}

impl Drop for JsonRedactor {
    fn drop(&mut self) {
        self.plan
            .return_key_cache(std::mem::take(&mut self.local_keys));
    }
}

impl JsonRedactor {
    pub fn new(plan: Arc<Plan>, key: PseudonymKey, limits: Limits, ndjson: bool) -> Self {
        let fhir_mode = if plan.rules.fhir().is_some() {
            fhir::FhirMode::Sniff
        } else {
            fhir::FhirMode::Off
        };
        JsonRedactor {
            carried: false,
            fhir_mode,
            cur_elem: None,
            cur_req: 0,
            counts: Counts::default(),
            res: Vec::new(),
            replay_resource: None,
            person_refs: Vec::new(),
            known_names: fhir::KnownNames::default(),
            last_full_url: None,
            fhir_edits: 0,
            replay_fx: None,
            subject: None,
            record_subject: None,
            next_record_subject: None,
            local_keys: plan.take_key_cache(),
            plan,
            key,
            limits,
            ndjson,
            state: St::Value,
            frames: Vec::with_capacity(16),
            cur_key: KeyInfo::default(),
            member_open: false,
            member_start: 0,
            carry: Vec::new(),
            pending: Vec::new(),
            base: 0,
            capture: None,
            replay_next: None,
            text: String::new(),
            rebuilt: String::new(),
            findings: Vec::new(),
            seen_value: false,
            records: None,
            cur_key_rec: false,
            queue: Vec::new(),
            held: Vec::new(),
            held_subjects: Vec::new(),
            pending_subjects: Vec::new(),
            suspended: false,
            rest: Vec::new(),
            hold_state: St::Value,
            replay_record: false,
            oracle: None,
            released: Vec::new(),
            spare: Vec::new(),
            strip_above: None,
            stats: RedactStats::default(),
        }
    }

    pub fn stats(&self) -> &RedactStats {
        &self.stats
    }

    /// Reads every top-level object as a FHIR resource (the body is
    /// `application/fhir+json`), rather than only those whose first member
    /// is `resourceType`.
    pub fn set_fhir(&mut self) {
        if self.fhir_mode != fhir::FhirMode::Off {
            self.fhir_mode = fhir::FhirMode::On;
        }
    }

    /// Redacts `chunk`, appending what can be emitted to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        let out_start = out.len();
        self.stats.bytes_in += chunk.len() as u64;
        if self.suspended {
            // Waiting for record verdicts: keep the input for later.
            self.rest.extend_from_slice(chunk);
            if self.rest.len() > self.limits.hold_back_bytes + (64 << 10) {
                return Err(RedactError::HoldBackOverflow(self.base));
            }
            return Ok(());
        }
        self.resume_carry(out);
        self.feed_inner(chunk, out)?;
        self.end_feed(out, out_start)
    }

    fn feed_inner(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        if !self.pending.is_empty() {
            let Some(n) = self.token_end_in(chunk) else {
                self.pending.extend_from_slice(chunk);
                return self.check_len(self.pending.len());
            };
            let mut tok = std::mem::take(&mut self.pending);
            tok.extend_from_slice(&chunk[..n]);
            self.check_len(tok.len())?;
            let used = self.run(&tok, out, true)?;
            self.base += used as u64;
            if self.suspended {
                self.rest.extend_from_slice(&tok[used..]);
                self.rest.extend_from_slice(&chunk[n..]);
                self.pending_subjects.clone_from(&self.held_subjects);
                return Ok(());
            }
            if used != tok.len() {
                return Err(RedactError::Malformed(self.base));
            }
            tok.clear();
            self.pending = tok;
            chunk = &chunk[n..];
        }
        let used = self.run(&chunk[..lex::whole_chars(chunk)], out, false)?;
        self.base += used as u64;
        if self.suspended {
            self.rest.extend_from_slice(&chunk[used..]);
            self.pending_subjects.clone_from(&self.held_subjects);
            return Ok(());
        }
        self.pending.extend_from_slice(&chunk[used..]);
        self.check_len(self.pending.len())
    }

    /// Ends the body: the last token is complete and the document whole.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), RedactError> {
        let out_start = out.len();
        if self.suspended || !self.held.is_empty() {
            return Err(RedactError::RecordsUnresolved);
        }
        self.resume_carry(out);
        let tok = std::mem::take(&mut self.pending);
        let used = self.run(&tok, out, true)?;
        if used != tok.len() {
            return Err(RedactError::Truncated);
        }
        self.base += tok.len() as u64;
        if !self.seen_value && !self.ndjson {
            return Err(RedactError::Empty);
        }
        let complete = match self.state {
            St::Done => true,
            St::Value => self.ndjson && self.frames.is_empty(),
            _ => false,
        };
        if !complete || self.capture.is_some() {
            return Err(RedactError::Truncated);
        }
        self.member_open = false;
        self.stats.bytes_out += (out.len() - out_start) as u64;
        Ok(())
    }

    /// Puts back the output kept over from the last feed: a member still
    /// undecided, a resource that may yet be labelled.
    fn resume_carry(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.carried) {
            let base = out.len();
            self.member_start += base;
            self.shift_res(base, true);
            if let Some((s, e, _)) = &mut self.counts.held {
                *s += base;
                *e += base;
            }
            out.append(&mut self.carry);
        }
    }

    /// The id of the subject the request names (`subject = "path:…"`):
    /// a member that no rule classifies and that holds it is a `person_id`.
    pub fn set_subject(&mut self, subject: String) {
        self.subject = Some(subject);
    }

    pub fn set_records(&mut self, spec: Arc<super::RecordSpec>) {
        self.records = Some(spec);
    }

    pub fn pending_subjects(&self) -> &[String] {
        &self.pending_subjects
    }

    pub fn set_oracle(&mut self, oracle: super::RecordOracle) {
        self.oracle = Some(oracle);
    }

    pub fn take_released(&mut self) -> Vec<String> {
        std::mem::take(&mut self.released)
    }

    pub fn resolve(
        &mut self,
        verdicts: &[super::RecordVerdict],
        out: &mut Vec<u8>,
    ) -> Result<(), RedactError> {
        use super::RecordVerdict;
        if verdicts.len() != self.pending_subjects.len() {
            return Err(RedactError::RecordsUnresolved);
        }
        let out_start = out.len();
        self.resume_carry(out);
        let queue = std::mem::take(&mut self.queue);
        let held = std::mem::take(&mut self.held);
        let rest = std::mem::take(&mut self.rest);
        let subjects = std::mem::take(&mut self.held_subjects);
        self.pending_subjects.clear();
        self.suspended = false;
        self.state = self.hold_state;
        let base = self.base;
        let mut pos = 0;
        for ((r, v), subject) in held.iter().zip(verdicts).zip(subjects) {
            self.run(&queue[pos..r.start], out, true)?;
            let record = &queue[r.start..r.end];
            self.next_record_subject = Some(subject);
            match v {
                RecordVerdict::Keep => {
                    self.replay_record = true;
                    self.run(record, out, true)?;
                }
                RecordVerdict::Strip => {
                    self.replay_record = true;
                    self.strip_above = Some(self.frames.len());
                    let r = self.run(record, out, true);
                    self.strip_above = None;
                    r?;
                }
                RecordVerdict::Drop => {
                    self.stats.records_dropped += 1;
                    self.drop_held(out);
                }
            }
            pos = r.end;
        }
        self.run(&queue[pos..], out, true)?;
        self.base = base;
        self.feed_inner(&rest, out)?;
        self.end_feed(out, out_start)
    }

    /// A record whose subject was just found, when the oracle knows its
    /// verdict and no record before it is held (order stays). Kept: what
    /// was captured of it is replayed now and the rest of it streams.
    /// Dropped: it is captured to its end and dropped there.
    fn release_early(&mut self, out: &mut Vec<u8>) -> Result<(), RedactError> {
        if !self.held.is_empty() {
            return Ok(());
        }
        let (Some(oracle), Some(subject)) = (
            &self.oracle,
            self.capture
                .as_ref()
                .and_then(|c| c.record.as_ref())
                .and_then(|t| t.found.as_deref()),
        ) else {
            return Ok(());
        };
        match oracle(subject) {
            Some(super::RecordVerdict::Keep) => {}
            Some(super::RecordVerdict::Drop) => {
                if let Some(c) = &mut self.capture {
                    c.drop_now = true;
                }
                return Ok(());
            }
            Some(super::RecordVerdict::Strip) | None => return Ok(()),
        }
        let Some(c) = self.capture.take() else {
            return Ok(());
        };
        let subject = c.record.and_then(|t| t.found).unwrap_or_default();
        self.released.push(subject.clone());
        self.next_record_subject = Some(subject);
        // Back to just before the record's `{`, as a replay from `resolve`.
        self.frames.truncate(c.depth);
        self.state = self.hold_state;
        self.cur_key = c.key;
        self.replay_record = true;
        let base = self.base;
        self.base = c.start;
        let used = self.run(&c.buf, out, true);
        self.base = base;
        if used? != c.buf.len() {
            return Err(RedactError::Malformed(c.start));
        }
        self.recycle(c.buf);
        Ok(())
    }

    /// A capture of the object whose `{` is at `i`, of no kind yet: the
    /// caller sets what it is held for (a record, a sibling, a resource).
    fn new_capture(&mut self, i: usize) -> Capture {
        Capture {
            depth: self.frames.len(),
            key: self.cur_key,
            start: self.base + i as u64,
            rules: 0,
            buf: std::mem::take(&mut self.spare),
            disc: None,
            disc_next: false,
            record: None,
            drop_now: false,
            code_next: false,
            res: None,
            state: self.state,
            elem: self.cur_elem,
        }
    }

    /// Keeps a capture buffer for the next capture, unless it grew large.
    fn recycle(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() <= 64 << 10 {
            buf.clear();
            self.spare = buf;
        }
    }

    /// Drops the record whose member is open (an array element).
    fn drop_held(&mut self, out: &mut Vec<u8>) {
        if let Some(f) = self.frames.last_mut() {
            out.truncate(self.member_start);
            if !f.emitted_any {
                f.skip_comma = true;
            }
        }
        self.member_open = false;
        self.after_value();
    }

    /// The action for a class; inside a stripped record, everything goes.
    fn action(&self, class: FieldClass) -> Action {
        match self.strip_above {
            Some(d) if self.frames.len() > d => Action::Remove,
            _ => self.plan.action(class),
        }
    }

    /// Whether the output since the open member's start is held over to
    /// the next feed: the member is undecided, and its output is not going
    /// into a sibling object's capture.
    fn carries(&self) -> bool {
        self.member_open && self.capture.as_ref().is_none_or(|c| c.record.is_some())
    }

    fn end_feed(&mut self, out: &mut Vec<u8>, out_start: usize) -> Result<(), RedactError> {
        if let Some((s, e, _)) = self.counts.held
            && out.len() - s > self.limits.hold_back_bytes
        {
            // The records array goes on past the hold: how many it will
            // return is not known, and the MIS's count may tell how many
            // consent drops. The count is written as unknown.
            out.splice(s..e, *b"null");
            if self.member_start >= e {
                self.member_start = self.member_start + 4 - (e - s);
            }
            self.move_res_after(e, 4, e - s);
            self.counts.held = None;
            self.stats.counts_rewritten += 1;
        }
        let member = self.carries().then_some(self.member_start);
        let hold = [
            self.res_hold_from(),
            self.counts.held.map(|(b, _, _)| b),
            // The outermost container still waiting to be written.
            self.frames.iter().find_map(|f| f.open_out),
        ]
        .into_iter()
        .flatten()
        .min();
        if hold.is_some_and(|h| out.len() - h > self.limits.hold_back_bytes) {
            return Err(RedactError::HoldBackOverflow(self.base));
        }
        let from = match (member, hold) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(from) = from {
            self.carry.extend_from_slice(&out[from..]);
            out.truncate(from);
            self.member_start = self.member_start.saturating_sub(from);
            self.shift_res(from, false);
            if let Some((s, e, _)) = &mut self.counts.held {
                *s -= from;
                *e -= from;
            }
            self.carried = true;
        }
        self.stats.bytes_out += (out.len() - out_start) as u64;
        Ok(())
    }

    fn check_len(&self, len: usize) -> Result<(), RedactError> {
        if len > self.limits.max_token_bytes {
            return Err(RedactError::TokenTooLong(self.base));
        }
        Ok(())
    }

    /// Where, in `chunk`, the token held in `pending` ends (exclusive).
    fn token_end_in(&self, chunk: &[u8]) -> Option<usize> {
        let p = &self.pending;
        match p[0] {
            b'"' => {
                // Does pending end inside an escape?
                let trailing = p[1..].iter().rev().take_while(|b| **b == b'\\').count();
                let skip = trailing % 2;
                if skip > chunk.len() {
                    return None;
                }
                let mut i = skip;
                loop {
                    let j = i + memchr::memchr2(b'"', b'\\', &chunk[i..])?;
                    if chunk[j] == b'"' {
                        return Some(j + 1);
                    }
                    i = j + 2;
                    if i > chunk.len() {
                        return None;
                    }
                }
            }
            b'-' | b'0'..=b'9' => chunk.iter().position(|b| !is_number_byte(*b)),
            _ => {
                // A literal: at most 5 bytes.
                let need: usize = if p[0] == b'f' { 5 } else { 4 };
                let missing = need.saturating_sub(p.len());
                (chunk.len() >= missing).then_some(missing)
            }
        }
    }

    /// Accounts for the unchanged input `[s, e)`: nothing to do unless an
    /// object is being captured, which takes its bytes eagerly.
    fn pass(&mut self, src: &mut Src<'_>, s: usize, e: usize) -> Result<(), RedactError> {
        if let Some(c) = &mut self.capture {
            c.buf.extend_from_slice(&src.inp[s..e]);
            src.flushed = e;
            if c.buf.len() > self.limits.hold_back_bytes {
                return Err(RedactError::HoldBackOverflow(self.base + s as u64));
            }
        }
        Ok(())
    }

    /// Tokenizes `inp`, returning how many bytes were consumed; the rest is
    /// an incomplete token. With `eof`, the end of `inp` ends any number or
    /// literal, and an unterminated string is an error.
    fn run(&mut self, inp: &[u8], out: &mut Vec<u8>, eof: bool) -> Result<usize, RedactError> {
        // Every slice tokenized ends on a character boundary (see
        // `whole_chars`), so it is all valid or an error.
        let Ok(text) = simdutf8::basic::from_utf8(inp) else {
            return Err(lex::utf8_error(inp, self.base));
        };
        let mut src = Src {
            inp,
            text,
            flushed: 0,
        };
        let consumed = self.tokens(&mut src, out, eof)?;
        if self.capture.is_none() {
            src.flush_to(out, consumed);
        }
        Ok(consumed)
    }

    fn tokens(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        eof: bool,
    ) -> Result<usize, RedactError> {
        let inp = src.inp;
        let n = inp.len();
        let mut i = 0;
        while i < n {
            if self.suspended {
                // A resource's replay (`release_resource`) reached records
                // that wait for verdicts: what follows waits too.
                return Ok(i);
            }
            let b = inp[i];
            if !self.held.is_empty() && self.capture.is_none() {
                // Records are held: only what lies between records goes on
                // (kept raw for the replay); anything else waits.
                let on_records = self.frames.last().is_some_and(|f| f.rec == RECORDS);
                let between = match b {
                    b' ' | b'\n' | b'\r' | b'\t' => true,
                    b',' => self.state == St::CommaOrEnd && on_records,
                    _ => false,
                };
                if self.queue.len() >= self.limits.hold_back_bytes {
                    self.suspended = true;
                    return Ok(i);
                }
                if between {
                    self.queue.push(b);
                    src.flushed = i + 1;
                    if b == b',' {
                        self.state = St::Value;
                    }
                    i += 1;
                    continue;
                }
                let record_next =
                    b == b'{' && on_records && matches!(self.state, St::Value | St::ValueOrEnd);
                if !record_next {
                    self.suspended = true;
                    return Ok(i);
                }
            }
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                let j = inp[i..]
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
                    .map_or(n, |p| i + p);
                self.pass(src, i, j)?;
                i = j;
                continue;
            }
            let at = self.base + i as u64;
            match self.state {
                St::Value | St::ValueOrEnd => {
                    if b == b']' && self.state == St::ValueOrEnd {
                        self.close(src, out, i, false)?;
                        i += 1;
                        continue;
                    }
                    match b {
                        b'{' | b'[' => {
                            self.open(src, out, i, b == b'{')?;
                            i += 1;
                        }
                        b'"' => {
                            let end = match lex::string_end(inp, i + 1) {
                                StrEnd::End(e) => e,
                                StrEnd::Incomplete if eof => return Err(RedactError::Truncated),
                                StrEnd::Incomplete => return Ok(i),
                                StrEnd::Control(p) | StrEnd::BadEscape(p) => {
                                    return Err(RedactError::Malformed(self.base + p as u64));
                                }
                            };
                            self.scalar(src, out, Scalar::Str, i, end)?;
                            i = end;
                        }
                        b'-' | b'0'..=b'9' => {
                            let end = inp[i..]
                                .iter()
                                .position(|b| !is_number_byte(*b))
                                .map_or(n, |p| i + p);
                            if end == n && !eof {
                                return Ok(i);
                            }
                            if !valid_number(&inp[i..end]) {
                                return Err(RedactError::Malformed(at));
                            }
                            self.scalar(src, out, Scalar::Num, i, end)?;
                            i = end;
                        }
                        b't' | b'f' | b'n' => {
                            let lit: &[u8] = match b {
                                b't' => b"true",
                                b'f' => b"false",
                                _ => b"null",
                            };
                            let have = (n - i).min(lit.len());
                            if inp[i..i + have] != lit[..have] {
                                return Err(RedactError::Malformed(at));
                            }
                            if have < lit.len() {
                                if eof {
                                    return Err(RedactError::Truncated);
                                }
                                return Ok(i);
                            }
                            self.scalar(src, out, Scalar::Lit, i, i + lit.len())?;
                            i += lit.len();
                        }
                        _ => return Err(RedactError::Malformed(at)),
                    }
                }
                St::KeyOrEnd | St::Key => {
                    if b == b'"' && self.capture.is_none() && self.strip_above.is_none() {
                        let j = self.fast_members(src, out, i);
                        if j != i {
                            i = j;
                            continue;
                        }
                    }
                    if b == b'}' && self.state == St::KeyOrEnd {
                        self.close(src, out, i, true)?;
                        i += 1;
                    } else if b == b'"' {
                        let end = match lex::string_end(inp, i + 1) {
                            StrEnd::End(e) => e,
                            StrEnd::Incomplete if eof => return Err(RedactError::Truncated),
                            StrEnd::Incomplete => return Ok(i),
                            StrEnd::Control(p) | StrEnd::BadEscape(p) => {
                                return Err(RedactError::Malformed(self.base + p as u64));
                            }
                        };
                        self.key(src, out, i, end)?;
                        i = end;
                    } else {
                        return Err(RedactError::Malformed(at));
                    }
                }
                St::Colon => {
                    if b != b':' {
                        return Err(RedactError::Malformed(at));
                    }
                    self.pass(src, i, i + 1)?;
                    self.state = St::Value;
                    i += 1;
                }
                St::CommaOrEnd => {
                    let obj = self.frames.last().is_some_and(|f| f.obj);
                    match b {
                        b',' => {
                            self.comma(src, out, i)?;
                            self.state = if obj { St::Key } else { St::Value };
                            i += 1;
                        }
                        b'}' if obj => {
                            self.close(src, out, i, true)?;
                            i += 1;
                        }
                        b']' if !obj => {
                            self.close(src, out, i, false)?;
                            i += 1;
                        }
                        _ => return Err(RedactError::Malformed(at)),
                    }
                }
                St::Done => {
                    if !self.ndjson {
                        return Err(RedactError::Malformed(at));
                    }
                    self.state = St::Value;
                }
            }
        }
        if !self.held.is_empty() && self.capture.is_none() {
            self.suspended = true;
        }
        Ok(n)
    }

    /// The common case in one tight loop: `"key": scalar,` members whose
    /// key the fast path may copy (see [`Fast`]), in an object that is not
    /// being captured. Each member is either fully handled or not touched;
    /// returns where the generic loop takes over.
    fn fast_members(&mut self, src: &mut Src<'_>, out: &mut Vec<u8>, mut i: usize) -> usize {
        let inp = src.inp;
        let scan_values = self.plan.detectors.is_some();
        // The context rules whose `within` names one of the enclosing keys
        // that `classify` looks at: a key named by one of them takes the
        // slow path, any other is decided by its own class.
        let near_ctx = self
            .frames
            .iter()
            .rev()
            .take(CONTEXT_DEPTH)
            .fold(0, |m, f| m | f.key.ctx_within);
        let Some(frame) = self.frames.last_mut() else {
            return i;
        };
        if !frame.obj || frame.sib.is_some() || frame.fx.ty != 0 {
            return i;
        }
        // The object that holds the records array may hold its count.
        if frame.rec != NOT_ON_PATH
            && frame.rec != RECORDS
            && self
                .records
                .as_ref()
                .is_some_and(|r| frame.rec as usize == r.array.len())
        {
            return i;
        }
        loop {
            let StrEnd::End(ke) = lex::string_end(inp, i + 1) else {
                return i;
            };
            let raw = &inp[i + 1..ke - 1];
            let Some(fast) = self
                .local_keys
                .get(raw)
                .map(|k| match k.info.ctx_keys & near_ctx {
                    0 => k.fast,
                    _ => Fast::No,
                })
            else {
                return i;
            };
            let c = skip_ws(inp, ke);
            if inp.get(c) != Some(&b':') {
                return i;
            }
            let v = skip_ws(inp, c + 1);
            let fast = match fast {
                Fast::GivenName => given_name(&self.plan, src, v),
                Fast::Inert if may_be_subject(inp, v, [&self.subject, &self.record_subject]) => {
                    Fast::No
                }
                f => f,
            };
            let ve = 'value: {
                if let Fast::Removed(class) = fast {
                    // A string or a number: dropped as `drop_member` does
                    // (anything else takes the slow path). A string's
                    // escapes need no decoding: `string_end` accepts just
                    // the escapes that `value::unescape` decodes, so the
                    // slow path could not fail on it either.
                    let ve = match inp.get(v) {
                        Some(b'"') => match lex::string_end(inp, v + 1) {
                            StrEnd::End(e) => e,
                            _ => break 'value None,
                        },
                        Some(b'-' | b'0'..=b'9') => {
                            match inp[v..].iter().position(|b| !is_number_byte(*b)) {
                                Some(p) if valid_number(&inp[v..v + p]) => v + p,
                                _ => break 'value None,
                            }
                        }
                        _ => break 'value None,
                    };
                    self.stats.removed[class.index()] += 1;
                    src.flush_to(out, v);
                    src.flushed = ve;
                    out.truncate(self.member_start);
                    if !frame.emitted_any {
                        // A dropped first member's comma goes too: the slow
                        // path does that (below).
                        frame.skip_comma = true;
                    }
                    break 'value Some(ve);
                }
                let copy = match fast {
                    Fast::No => false,
                    Fast::Allowed(c) => c != FieldClass::Health || !scan_values,
                    _ => !scan_values,
                };
                let ve = match inp.get(v) {
                    Some(b'"') if copy => match lex::string_end(inp, v + 1) {
                        StrEnd::End(e) => e,
                        _ => break 'value None,
                    },
                    Some(b'-' | b'0'..=b'9') if copy => {
                        match inp[v..].iter().position(|b| !is_number_byte(*b)) {
                            Some(p) if valid_number(&inp[v..v + p]) => v + p,
                            _ => break 'value None,
                        }
                    }
                    Some(b't') if fast != Fast::No && inp[v..].starts_with(b"true") => v + 4,
                    Some(b'f') if fast != Fast::No && inp[v..].starts_with(b"false") => v + 5,
                    Some(b'n') if fast != Fast::No && inp[v..].starts_with(b"null") => v + 4,
                    _ => break 'value None,
                };
                // The member is kept as it is.
                if let Fast::Allowed(class) = fast {
                    if !matches!(inp[v], b't' | b'f' | b'n') {
                        self.stats.disclosed[class.index()] += 1;
                    }
                }
                frame.emitted_any = true;
                Some(ve)
            };
            let Some(ve) = ve else {
                // The value needs the generic path (a container, a value to
                // decode): the key is done here, as `key` would do it.
                let Some(info) = self.local_keys.get(raw).map(|k| k.info) else {
                    return i;
                };
                self.cur_key = info;
                let Some(frame) = self.frames.last() else {
                    return i;
                };
                if let Some(spec) = &self.records {
                    self.cur_key_rec = frame.rec != NOT_ON_PATH
                        && frame.rec != RECORDS
                        && spec
                            .array
                            .get(frame.rec as usize - 1)
                            .is_some_and(|k| k.as_bytes() == raw);
                }
                self.state = St::Value;
                return v;
            };
            self.member_open = false;
            self.seen_value = true;
            self.state = St::CommaOrEnd;
            let k = skip_ws(inp, ve);
            if inp.get(k) != Some(&b',') || frame.skip_comma {
                return ve;
            }
            self.member_start = src.out_pos(out, k);
            self.member_open = true;
            self.state = St::Key;
            let next = skip_ws(inp, k + 1);
            if inp.get(next) != Some(&b'"') {
                return next;
            }
            i = next;
        }
    }

    fn comma(&mut self, src: &mut Src<'_>, out: &mut Vec<u8>, i: usize) -> Result<(), RedactError> {
        if self.capture.is_some() {
            return self.pass(src, i, i + 1);
        }
        let Some(f) = self.frames.last_mut() else {
            return Ok(());
        };
        if f.skip_comma {
            // The member before was dropped and was the first: drop this comma.
            f.skip_comma = false;
            src.flush_to(out, i);
            src.flushed = i + 1;
            self.member_start = out.len();
        } else {
            self.member_start = src.out_pos(out, i);
        }
        self.member_open = true;
        Ok(())
    }

    /// The key a value at the current position is known by, and the index
    /// of the innermost frame that encloses that key.
    fn value_key(&self) -> (KeyInfo, usize) {
        match self.frames.last() {
            Some(f) if f.obj => (self.cur_key, self.frames.len()),
            Some(f) => (f.key, self.frames.len() - 1),
            None => (KeyInfo::default(), 0),
        }
    }

    fn open(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        i: usize,
        obj: bool,
    ) -> Result<(), RedactError> {
        if self.frames.len() >= self.limits.max_depth {
            return Err(RedactError::TooDeep(self.base + i as u64));
        }
        let (key, _) = self.value_key();
        self.seen_value = true;
        // Inside a capture nothing reaches the output, so the open member
        // (a held record's, say) is left as it is.
        let was_capturing = self.capture.is_some();
        let rec = self.rec_pos(obj);
        let on_records = self.frames.last().is_some_and(|f| f.rec == RECORDS);
        let mut sib = None;
        let mut held_record = false;
        let (mut fx, slot) = if self.capture.is_some() {
            (Fx::default(), false)
        } else if self.replay_next.is_some() {
            // A sibling object's replay: the place it had when captured.
            (self.replay_fx.take().unwrap_or_default(), false)
        } else if obj && self.replay_resource.is_some() {
            (Fx::default(), true)
        } else {
            self.fx_for_open(obj)
        };
        if obj && self.capture.is_none() {
            let hold = on_records
                && !std::mem::take(&mut self.replay_record)
                && !self.kept_at_sight(src, i + 1);
            if on_records && !hold {
                // A record written now: its subject was found first.
                self.record_subject = self.next_record_subject.take();
            }
            if hold {
                // A record of a list: held back until its subject is known.
                if self.held.is_empty() {
                    self.hold_state = self.state;
                    src.flush_to(out, i);
                }
                held_record = true;
                self.capture = Some(Capture {
                    record: Some(SubjectTrack::default()),
                    ..self.new_capture(i)
                });
            } else if let Some(s) = self.replay_next.take() {
                sib = Some(s);
            } else if slot {
                match self.replay_resource.take() {
                    Some(kind) => fx = self.resource_opened(kind),
                    None => {
                        src.flush_to(out, i);
                        let sniff = self.fhir_mode != fhir::FhirMode::On;
                        self.capture = Some(self.resource_capture(i, sniff));
                    }
                }
            } else if key.sibling_within != 0 {
                src.flush_to(out, i);
                self.capture = Some(Capture {
                    rules: key.sibling_within,
                    ..self.new_capture(i)
                });
                self.replay_fx = Some(fx);
            }
        } else if let Some(c) = &mut self.capture {
            // Descending along a record's subject path ("patient.id").
            if let Some(t) = &mut c.record {
                if obj && t.armed {
                    t.matched += 1;
                }
                t.armed = false;
            }
        }
        // A FHIR array streamed as it is read (not inside a capture, not
        // on the records path) waits to be written until it is known not
        // to end up empty. Objects need not: one left empty says why
        // (`close`).
        let waits = !obj
            && !was_capturing
            && self.capture.is_none()
            && self.member_open
            && rec == NOT_ON_PATH
            && fx.ty != NOT_FHIR
            && self.frames.last().is_some_and(|f| f.fx.ty != NOT_FHIR);
        let open_out = waits.then_some(self.member_start);
        if !held_record && !was_capturing {
            self.note_required(true);
            if !waits {
                self.emitted();
            }
            self.member_open = false;
        }
        self.counts.key = false;
        if rec == RECORDS && self.capture.is_none() {
            self.records_array(out, false);
        }
        self.frames.push(Frame {
            obj,
            key,
            emitted_any: false,
            skip_comma: false,
            sib,
            rec,
            fx,
            open_out,
            removed_any: false,
        });
        self.pass(src, i, i + 1)?;
        self.state = if obj { St::KeyOrEnd } else { St::ValueOrEnd };
        if self.capture.is_none() {
            self.member_start = src.out_pos(out, i + 1);
            self.member_open = true;
        }
        Ok(())
    }

    /// A record whose first member is its subject id (`{"id": "10234", ...`
    /// with `record_subject = "id"`), when the oracle keeps that subject:
    /// nothing before the id needs holding, so the record streams from its
    /// `{` without being captured and replayed. Anything else (the id later
    /// on, an escaped or split id, a verdict other than `Keep`) takes the
    /// capture path, which gives the same output. `j` is just past the `{`.
    fn kept_at_sight(&mut self, src: &Src<'_>, j: usize) -> bool {
        let (Some(oracle), Some(spec)) = (&self.oracle, &self.records) else {
            return false;
        };
        let [subject_key] = spec.subject.as_slice() else {
            return false;
        };
        if !self.held.is_empty() {
            return false;
        }
        let inp = src.inp;
        let k = skip_ws(inp, j);
        if inp.get(k) != Some(&b'"') {
            return false;
        }
        let lex::StrEnd::End(ke) = lex::string_end(inp, k + 1) else {
            return false;
        };
        if &inp[k + 1..ke - 1] != subject_key.as_bytes() {
            return false;
        }
        let c = skip_ws(inp, ke);
        if inp.get(c) != Some(&b':') {
            return false;
        }
        let v = skip_ws(inp, c + 1);
        let id = match inp.get(v) {
            Some(b'"') => match lex::string_end(inp, v + 1) {
                lex::StrEnd::End(e) if memchr::memchr(b'\\', &inp[v + 1..e - 1]).is_none() => {
                    src.text.get(v + 1..e - 1)
                }
                _ => None,
            },
            Some(b'-' | b'0'..=b'9') => match inp[v..].iter().position(|b| !is_number_byte(*b)) {
                Some(p) if valid_number(&inp[v..v + p]) => src.text.get(v..v + p),
                _ => None,
            },
            _ => None,
        };
        let Some(id) = id else {
            return false;
        };
        if oracle(id) != Some(super::RecordVerdict::Keep) {
            return false;
        }
        self.released.push(id.to_owned());
        self.next_record_subject = Some(id.to_owned());
        true
    }

    /// Where a container opened now stands on the path to the records.
    fn rec_pos(&self, obj: bool) -> u8 {
        let Some(spec) = &self.records else {
            return NOT_ON_PATH;
        };
        let n = spec.array.len();
        let matched = match self.frames.last() {
            None => 0,
            Some(f) if f.obj && f.rec != NOT_ON_PATH && f.rec != RECORDS && self.cur_key_rec => {
                f.rec as usize
            }
            _ => return NOT_ON_PATH,
        };
        match (matched == n, obj) {
            (true, false) => RECORDS,
            (false, true) if matched < usize::from(u8::MAX - 1) => (matched + 1) as u8,
            _ => NOT_ON_PATH,
        }
    }

    fn close(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        i: usize,
        obj: bool,
    ) -> Result<(), RedactError> {
        let closed = match self.frames.pop() {
            Some(f) if f.obj == obj => f,
            _ => return Err(RedactError::Malformed(self.base + i as u64)),
        };
        if self.capture.is_none() && closed.fx.ty != NOT_FHIR {
            let wrote = self.fhir_close(src, out, i, &closed);
            if closed.obj && closed.removed_any && !closed.emitted_any && !wrote {
                // Everything in the object was removed. FHIR JSON has no
                // empty objects, and the element may be required
                // (`Observation.code`): it stays, with the data-absent
                // extension saying its content was withheld, which every
                // FHIR element may carry.
                if let Some(schema) = self.plan.rules.fhir() {
                    src.flush_to(out, i);
                    let ext = &schema.absent_json;
                    out.extend_from_slice(&ext[1..ext.len() - 1]);
                    self.stats.containers_marked += 1;
                }
            } else if let Some(at) = closed.open_out {
                if closed.removed_any && !wrote {
                    // Everything the array held was removed: it goes too.
                    src.flush_to(out, i);
                    src.flushed = i + 1;
                    out.truncate(at);
                    self.forget_res_from(at);
                    if let Some(f) = self.frames.last_mut() {
                        f.removed_any = true;
                        if !f.emitted_any {
                            f.skip_comma = true;
                        }
                    }
                    self.stats.containers_pruned += 1;
                } else {
                    // Empty as the MIS wrote it, or filled at its close.
                    self.emitted();
                }
            }
        }
        if self.capture.is_none() && self.records.is_some() {
            if closed.rec == RECORDS {
                self.record_subject = None;
                src.flush_to(out, i);
                self.records_array(out, true);
            } else if closed.obj && self.frames.last().is_some_and(|f| f.rec == RECORDS) {
                // A record written out: returned.
                self.counts.kept += 1;
            } else if closed.rec != NOT_ON_PATH
                && self
                    .records
                    .as_ref()
                    .is_some_and(|r| closed.rec as usize == r.array.len())
            {
                // The object that held the array (or would have): a count
                // still held with no array after it stays as written.
                self.counts.held = None;
            }
        }
        let in_record = self.capture.as_ref().is_some_and(|c| c.record.is_some());
        let ends_sibling = self
            .capture
            .as_ref()
            .is_some_and(|c| c.record.is_none() && c.depth == self.frames.len());
        if self.capture.is_none() || ends_sibling {
            self.member_open = false;
        }
        self.pass(src, i, i + 1)?;
        self.state = if self.frames.is_empty() {
            St::Done
        } else {
            St::CommaOrEnd
        };
        let depth = self.frames.len();
        if let Some(Capture {
            record: Some(t),
            depth: d,
            ..
        }) = &mut self.capture
        {
            // Back up the subject path when an object on it closes.
            t.matched = t.matched.min(depth.saturating_sub(*d + 1));
            t.armed = false;
        }
        let ends_capture = self
            .capture
            .as_ref()
            .is_some_and(|c| c.depth == self.frames.len());
        if ends_capture && in_record {
            if self.capture.as_ref().is_some_and(|c| c.drop_now) {
                // Dropped at once: nothing before it was held.
                if let Some(c) = self.capture.take() {
                    self.recycle(c.buf);
                }
                self.stats.records_dropped += 1;
                self.drop_held(out);
            } else if let Some(c) = self.capture.take() {
                // A whole record: queue it with its subject; the member it
                // belongs to stays open until its verdict.
                let start = self.queue.len();
                self.queue.extend_from_slice(&c.buf);
                self.held.push(HeldRecord {
                    start,
                    end: self.queue.len(),
                });
                self.held_subjects
                    .push(c.record.and_then(|t| t.found).unwrap_or_default());
                self.recycle(c.buf);
                self.member_open = true;
            }
        } else if ends_capture && self.capture.as_ref().is_some_and(|c| c.res.is_some()) {
            // A resource slot that closed before its resourceType was read.
            let kind = self
                .capture
                .as_ref()
                .and_then(|c| c.res.as_ref())
                .and_then(|r| self.kind_without_type(r));
            self.release_resource(out, kind)?;
        } else if ends_capture {
            if let Some(c) = self.capture.take() {
                // Replay the object with its sibling known.
                self.replay_next = Some((c.rules, c.disc));
                self.cur_key = c.key;
                self.state = St::Value;
                let base = self.base;
                self.base = c.start;
                let used = self.run(&c.buf, out, true);
                self.base = base;
                let used = used?;
                if used != c.buf.len() {
                    return Err(RedactError::Malformed(self.base + i as u64));
                }
                self.recycle(c.buf);
                self.replay_next = None;
            }
        }
        Ok(())
    }

    fn decode<'t>(raw: &'t [u8], text: &'t mut String, at: u64) -> Result<&'t str, RedactError> {
        if memchr::memchr(b'\\', raw).is_none() {
            return simdutf8::basic::from_utf8(raw).map_err(|_| RedactError::InvalidUtf8(at));
        }
        text.clear();
        value::unescape(raw, text).map_err(|_| {
            if simdutf8::basic::from_utf8(raw).is_err() {
                RedactError::InvalidUtf8(at)
            } else {
                RedactError::Malformed(at)
            }
        })?;
        Ok(text.as_str())
    }

    fn key(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        s: usize,
        e: usize,
    ) -> Result<(), RedactError> {
        let raw = &src.inp[s + 1..e - 1];
        // A held record needs no key infos: it is classified on replay; only
        // its subject path is followed, by the raw key.
        if let (Some(c), Some(spec)) = (&mut self.capture, &self.records) {
            if let Some(t) = &mut c.record {
                let depth = self.frames.len();
                t.armed = depth == c.depth + 1 + t.matched
                    && spec
                        .subject
                        .get(t.matched)
                        .is_some_and(|k| k.as_bytes() == raw);
                self.pass(src, s, e)?;
                self.state = St::Colon;
                return Ok(());
            }
        }
        let info = match self.local_keys.get(raw) {
            Some(k) => k.info,
            None => {
                let at = self.base + s as u64;
                let mut text = std::mem::take(&mut self.text);
                let decoded = Self::decode(raw, &mut text, at);
                let info = decoded.map(|t| self.plan.key_info(raw, t));
                self.text = text;
                let info = info?;
                let fast = self.plan.fast(&info);
                self.local_keys.put(raw, info, fast);
                info
            }
        };
        self.cur_key = info;
        if let Some(spec) = &self.records {
            self.cur_key_rec = match self.frames.last() {
                Some(f) if f.obj && f.rec != NOT_ON_PATH && f.rec != RECORDS => spec
                    .array
                    .get(f.rec as usize - 1)
                    .is_some_and(|k| k.as_bytes() == raw),
                _ => false,
            };
        }
        let depth = self.frames.len();
        if self.capture.is_none() {
            self.counts.key = match (&self.records, self.frames.last()) {
                (Some(spec), Some(f)) => {
                    f.obj
                        && f.rec != NOT_ON_PATH
                        && f.rec != RECORDS
                        && f.rec as usize == spec.array.len()
                        && spec.counts.iter().any(|c| c.as_bytes() == raw)
                }
                _ => false,
            };
            if self.frames.last().is_some_and(|f| f.fx.ty != NOT_FHIR) {
                self.fhir_key(raw);
            } else {
                (self.cur_elem, self.cur_req) = (None, 0);
            }
        }
        let release = self.resource_capture_key(raw);
        if let Some(c) = &mut self.capture {
            c.disc_next = depth == c.depth + 1 && info.sibling_disc & c.rules != 0;
            // FHIR Identifier.type.coding.code, deeper in the object.
            c.code_next = c.rules != 0 && depth > c.depth + 1 && raw == b"code";
            if let (Some(t), Some(spec)) = (&mut c.record, &self.records) {
                t.armed = depth == c.depth + 1 + t.matched
                    && spec
                        .subject
                        .get(t.matched)
                        .is_some_and(|k| k.as_bytes() == raw);
            }
        }
        self.pass(src, s, e)?;
        self.state = St::Colon;
        if release {
            // A sniffed object whose first key is not resourceType: JSON.
            self.release_resource(out, None)?;
        }
        Ok(())
    }

    /// The class the rules give the value at the current position, and
    /// whether a context rule made it a part of that class's record (see
    /// [`crate::rules::ContextRule::part`]).
    fn classify(&self, key: KeyInfo, enclosing: usize) -> (Option<FieldClass>, bool) {
        // In a held-back sibling object, its value key (or an array under
        // it) takes the class the discriminator named.
        if let Some(Frame {
            sib: Some((rules, Some(class))),
            obj: true,
            ..
        }) = enclosing.checked_sub(1).and_then(|i| self.frames.get(i))
        {
            if key.sibling_value & rules != 0 {
                return (Some(*class), false);
            }
        }
        if key.ctx_keys != 0 {
            // The nearest enclosing key named by a context rule decides.
            for f in self.frames[..enclosing].iter().rev().take(CONTEXT_DEPTH) {
                let m = f.key.ctx_within & key.ctx_keys;
                if m != 0 {
                    let rule = &self.plan.rules.contexts()[m.trailing_zeros() as usize];
                    return (rule.class, rule.part);
                }
            }
        }
        (key.class, false)
    }

    fn scalar(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        kind: Scalar,
        s: usize,
        e: usize,
    ) -> Result<(), RedactError> {
        self.seen_value = true;
        let at = self.base + s as u64;
        // The object being captured is a FHIR one (its place was kept).
        let in_fhir = self.replay_fx.is_some_and(|f| f.ty != 0);
        if let Some(c) = &mut self.capture {
            if c.disc_next && kind == Scalar::Str {
                let mut text = String::new();
                let t = Self::decode(&src.inp[s + 1..e - 1], &mut text, at)?.to_lowercase();
                let rules = self.plan.rules.siblings();
                // The first discriminator that names a class decides; a
                // later one that names nothing must not clear it.
                if c.disc.is_none() {
                    c.disc = (0..rules.len())
                        .filter(|i| c.rules & (1 << i) != 0)
                        .find_map(|i| rules[i].classes.get(&t).copied())
                        .or_else(|| {
                            // In FHIR only: the schema's systems.
                            let f = self.plan.rules.fhir().filter(|_| in_fhir)?;
                            f.system_class(&t).or_else(|| f.contact_class(&t))
                        });
                }
            }
            if c.code_next && in_fhir && kind == Scalar::Str && c.disc.is_none() {
                let mut text = String::new();
                let t = Self::decode(&src.inp[s + 1..e - 1], &mut text, at)?;
                c.disc = self.plan.rules.fhir().and_then(|f| f.type_code_class(t));
            }
            c.disc_next = false;
            c.code_next = false;
            let own_level = self.frames.len() == c.depth + 1;
            let type_next = c
                .res
                .as_mut()
                .is_some_and(|r| std::mem::take(&mut r.type_next));
            let resource_type = match &c.res {
                Some(_) if type_next && own_level => {
                    let mut text = String::new();
                    let t = match kind {
                        Scalar::Str => Some(Self::decode(&src.inp[s + 1..e - 1], &mut text, at)?),
                        _ => None,
                    };
                    // A resourceType that is not a string: read as JSON.
                    Some(t.and_then(|t| self.plan.rules.fhir().map(|f| f.resource(t))))
                }
                _ => None,
            };
            let mut found_now = false;
            if let (Some(t), Some(spec)) = (&mut c.record, &self.records) {
                if t.armed && t.matched + 1 == spec.subject.len() && t.found.is_none() {
                    let raw = match kind {
                        Scalar::Str => &src.inp[s + 1..e - 1],
                        _ => &src.inp[s..e],
                    };
                    let mut text = String::new();
                    t.found = Some(super::records::subject_id(
                        spec,
                        Self::decode(raw, &mut text, at)?,
                    ));
                    found_now = true;
                }
                t.armed = false;
            }
            self.pass(src, s, e)?;
            self.after_value();
            if found_now {
                self.release_early(out)?;
            }
            if let Some(kind) = resource_type {
                self.release_resource(out, kind)?;
            }
            return Ok(());
        }
        if let Some(f) = self.frames.last_mut() {
            if !f.obj && f.fx.ty != 0 {
                f.fx.index = f.fx.index.saturating_add(1);
            }
        }
        if std::mem::take(&mut self.counts.key) && kind != Scalar::Lit {
            return self.count_value(src, out, kind, s, e);
        }
        if kind == Scalar::Lit {
            if self.unlisted_here() {
                let (key, enclosing) = self.value_key();
                if self.classify(key, enclosing).0.is_none() {
                    self.stats.unlisted_removed += 1;
                    self.drop_member(src, out, s, e);
                    return Ok(());
                }
            }
            return self.keep(src, s, e);
        }
        if self.fhir_scalar(src, out, kind, s, e)? {
            return Ok(());
        }
        let (key, enclosing) = self.value_key();
        let (class, part) = self.classify(key, enclosing);
        let class = match class {
            None if self.holds_subject(src, kind, s, e) => Some(FieldClass::PersonId),
            c => c,
        };
        if let (Some(c), true) = (class, part) {
            // A passport's issue date under a masked passport: removed.
            if matches!(
                self.action(c),
                Action::Mask { .. } | Action::Pseudonymize | Action::Generalize
            ) {
                return self.whole(src, out, s, e, c, Action::Remove, "");
            }
        }
        if class.is_none() && self.unlisted_here() {
            if key.opaque {
                // An order number: no detector's business, and no rule's.
                self.stats.unlisted_removed += 1;
                self.drop_member(src, out, s, e);
                return Ok(());
            }
            return self.unlisted(src, out, kind, s, e);
        }
        if class.is_none() && key.opaque {
            // A barcode or an order number: look-alikes are what it holds.
            return self.keep(src, s, e);
        }
        if self.plan.detectors.is_none() {
            // Without detectors only the key's class matters; an allowed
            // class is counted and copied without decoding. (A given name
            // may refine to a class with another action, so it is decoded.)
            match class {
                None => return self.keep(src, s, e),
                Some(c) if c != FieldClass::GivenName && self.plan.action(c) == Action::Allow => {
                    self.stats.disclosed[c.index()] += 1;
                    return self.keep(src, s, e);
                }
                Some(_) => {}
            }
        }
        let mut text = std::mem::take(&mut self.text);
        let result = self.scalar_text(src, out, kind, s, e, class, &mut text);
        self.text = text;
        result
    }

    /// Whether a value of no class here is removed by an allowlist purpose:
    /// outside FHIR resources (whose schema says what is structure), and
    /// but for the paging members of a root object (not their elements).
    fn unlisted_here(&self) -> bool {
        if !self.plan.purpose.allowlist {
            return false;
        }
        let paging = self.cur_key.paging && matches!(&self.frames[..], [root] if root.obj);
        !paging && self.frames.last().is_none_or(|f| f.fx.ty == NOT_FHIR)
    }

    /// A value no rule classifies, for an allowlist purpose: one that a
    /// detector reads wholly as one class (a phone under `value`) is that
    /// class; anything else is removed.
    fn unlisted(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        kind: Scalar,
        s: usize,
        e: usize,
    ) -> Result<(), RedactError> {
        let mut text = std::mem::take(&mut self.text);
        let whole = match &self.plan.detectors {
            Some(det) => {
                let raw = match kind {
                    Scalar::Str => &src.inp[s + 1..e - 1],
                    _ => &src.inp[s..e],
                };
                let value = Self::decode(raw, &mut text, self.base + s as u64)?;
                self.findings.clear();
                det.scan(value, &mut self.findings);
                match self.findings[..] {
                    [f] if value[..f.start].trim().is_empty()
                        && value[f.end..].trim().is_empty() =>
                    {
                        Some(f.class)
                    }
                    _ => None,
                }
            }
            None => None,
        };
        let r = match whole {
            Some(c) => self.scalar_text(src, out, kind, s, e, Some(c), &mut text),
            None => {
                self.stats.unlisted_removed += 1;
                self.drop_member(src, out, s, e);
                Ok(())
            }
        };
        self.text = text;
        r
    }

    /// Whether the string or number `[s, e)` is the subject's id (the
    /// route's, or the current record's).
    fn holds_subject(&self, src: &Src<'_>, kind: Scalar, s: usize, e: usize) -> bool {
        if self.subject.is_none() && self.record_subject.is_none() {
            return false;
        }
        let raw = match kind {
            Scalar::Str => &src.inp[s + 1..e - 1],
            Scalar::Num => &src.inp[s..e],
            Scalar::Lit => return false,
        };
        let is = |v: &[u8]| {
            [&self.subject, &self.record_subject]
                .into_iter()
                .flatten()
                .any(|id| id.as_bytes() == v)
        };
        if kind == Scalar::Num || memchr::memchr(b'\\', raw).is_none() {
            return is(raw);
        }
        let mut text = String::new();
        Self::decode(raw, &mut text, 0).is_ok_and(|t| is(t.as_bytes()))
    }

    #[allow(clippy::too_many_arguments)]
    fn scalar_text(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        kind: Scalar,
        s: usize,
        e: usize,
        class: Option<FieldClass>,
        text: &mut String,
    ) -> Result<(), RedactError> {
        let at = self.base + s as u64;
        let tok = &src.inp[s..e];
        // The decoded value lives in `text` (escapes decoded) or is a slice
        // of the input; `whole` needs `src` mutably, so a value it is given
        // is first put in `text`, whose capacity is reused.
        let in_text = match kind {
            Scalar::Str => match src.text.get(s + 1..e - 1) {
                Some(t) if memchr::memchr(b'\\', t.as_bytes()).is_none() => false,
                _ => {
                    Self::decode(&tok[1..tok.len() - 1], text, at)?;
                    true
                }
            },
            _ => {
                std::str::from_utf8(tok).map_err(|_| RedactError::Malformed(at))?;
                false
            }
        };
        let value: &str = if in_text {
            text
        } else {
            plain_value(src, kind, s, e)
        };
        let class = class.and_then(|c| refine(c, value));
        if let Some(c) = class {
            let action = self.action(c);
            if action != Action::Allow {
                if !in_text {
                    text.clear();
                    text.push_str(plain_value(src, kind, s, e));
                }
                return self.whole(src, out, s, e, c, action, text);
            }
            self.stats.disclosed[c.index()] += 1;
            // The key said what the value is and the purpose may see it: a
            // surname or an allowed phone holds no other identifier. Health
            // data is free text, which may hold anything: it is scanned.
            if c != FieldClass::Health {
                return self.keep(src, s, e);
            }
        }
        let Some(det) = &self.plan.detectors else {
            return self.keep(src, s, e);
        };
        self.findings.clear();
        det.scan(value, &mut self.findings);
        if !self.known_names.is_empty() {
            self.known_names.find(value, &mut self.findings);
        }
        if self.findings.is_empty() {
            return self.keep(src, s, e);
        }
        // One identifier that is the whole value: the value's own action.
        if let [f] = self.findings[..] {
            if value[..f.start].trim().is_empty() && value[f.end..].trim().is_empty() {
                let action = self.action(f.class);
                if action == Action::Allow {
                    self.stats.disclosed[f.class.index()] += 1;
                    return self.keep(src, s, e);
                }
                if !in_text {
                    text.clear();
                    text.push_str(plain_value(src, kind, s, e));
                }
                return self.whole(src, out, s, e, f.class, action, text);
            }
        }
        // Nothing this purpose acts on: the value stays as written (not
        // re-escaped).
        if self
            .findings
            .iter()
            .all(|f| self.action(f.class) == Action::Allow)
        {
            for k in 0..self.findings.len() {
                let c = self.findings[k].class;
                self.stats.disclosed[c.index()] += 1;
            }
            return self.keep(src, s, e);
        }
        // The value rebuilt with its findings replaced, in a buffer kept
        // from one value to the next.
        let mut rebuilt = std::mem::take(&mut self.rebuilt);
        rebuilt.clear();
        let mut last = 0;
        for k in 0..self.findings.len() {
            let f = self.findings[k];
            let span = &value[f.start..f.end];
            rebuilt.push_str(&value[last..f.start]);
            let action = self.action(f.class);
            match action {
                Action::Allow => {
                    self.stats.disclosed[f.class.index()] += 1;
                    rebuilt.push_str(span);
                }
                Action::Block => return Err(RedactError::Blocked(f.class)),
                _ => {
                    self.count(f.class, action);
                    match value::apply(action, f.class, span, &self.key) {
                        Replacement::Text(t) => rebuilt.push_str(&t),
                        Replacement::Remove | Replacement::Null => {
                            rebuilt.push_str(value::placeholder(f.class))
                        }
                    }
                }
            }
            last = f.end;
        }
        rebuilt.push_str(&value[last..]);
        self.replace_by(src, out, s, e, |out| {
            value::write_json_string(&rebuilt, out)
        });
        self.rebuilt = rebuilt;
        Ok(())
    }

    /// A count member's value (`"total": 29`): after the records array, the
    /// number returned when records were dropped; before it, kept as it is
    /// and held until the array closes.
    fn count_value(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        kind: Scalar,
        s: usize,
        e: usize,
    ) -> Result<(), RedactError> {
        let quoted = kind == Scalar::Str;
        match self.counts.done {
            Some((kept, true)) => {
                self.stats.counts_rewritten += 1;
                let lit = count_literal(kept, quoted);
                self.replace(src, out, s, e, &lit)
            }
            Some((_, false)) => self.keep(src, s, e),
            None => {
                src.flush_to(out, s);
                let start = out.len();
                self.keep(src, s, e)?;
                src.flush_to(out, e);
                self.counts.held = Some((start, out.len(), quoted));
                Ok(())
            }
        }
    }

    /// The records array opened (`open`) or closed (`closed`).
    fn records_array(&mut self, out: &mut Vec<u8>, closed: bool) {
        if !closed {
            self.counts.kept = 0;
            self.counts.dropped_before = self.stats.records_dropped;
            self.counts.done = None;
            return;
        }
        let dropped = self.stats.records_dropped != self.counts.dropped_before;
        self.counts.done = Some((self.counts.kept, dropped));
        let Some((start, end, quoted)) = self.counts.held.take() else {
            return;
        };
        if !dropped {
            return;
        }
        self.stats.counts_rewritten += 1;
        let lit = count_literal(self.counts.kept, quoted);
        let (old, new) = (end - start, lit.len());
        out.splice(start..end, lit);
        // Output positions after the count move with it.
        let moved = |p: &mut usize| {
            if *p >= end {
                *p = *p + new - old;
            }
        };
        moved(&mut self.member_start);
        self.move_res_after(end, new, old);
    }

    /// Applies a non-`Allow` action to the whole value `[s, e)`.
    #[allow(clippy::too_many_arguments)]
    fn whole(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        s: usize,
        e: usize,
        class: FieldClass,
        action: Action,
        value: &str,
    ) -> Result<(), RedactError> {
        if action == Action::Block {
            return Err(RedactError::Blocked(class));
        }
        self.count(class, action);
        match value::apply(action, class, value, &self.key) {
            Replacement::Text(t) => {
                let mut lit = Vec::with_capacity(t.len() + 2);
                value::write_json_string(&t, &mut lit);
                self.replace(src, out, s, e, &lit)
            }
            Replacement::Null => self.replace(src, out, s, e, b"null"),
            Replacement::Remove => {
                self.drop_member(src, out, s, e);
                Ok(())
            }
        }
    }

    fn count(&mut self, class: FieldClass, action: Action) {
        let i = class.index();
        match action {
            Action::Mask { .. } => self.stats.masked[i] += 1,
            Action::Pseudonymize => self.stats.pseudonymized[i] += 1,
            Action::Generalize => self.stats.generalized[i] += 1,
            _ => self.stats.removed[i] += 1,
        }
    }

    /// Keeps the value `[s, e)` as it is and closes its member.
    fn keep(&mut self, src: &mut Src<'_>, s: usize, e: usize) -> Result<(), RedactError> {
        self.note_required(true);
        self.emitted();
        self.member_open = false;
        self.pass(src, s, e)?;
        self.after_value();
        Ok(())
    }

    /// Writes `with` in place of the value `[s, e)` and closes its member.
    fn replace(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        s: usize,
        e: usize,
        with: &[u8],
    ) -> Result<(), RedactError> {
        self.replace_by(src, out, s, e, |out| out.extend_from_slice(with));
        Ok(())
    }

    /// [`Self::replace`] with what `write` appends to the output.
    fn replace_by(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        s: usize,
        e: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        self.note_required(true);
        self.emitted();
        self.member_open = false;
        src.flush_to(out, s);
        write(out);
        src.flushed = e;
        self.after_value();
    }

    /// Drops the current member (its key, its value `[s, e)` and one comma).
    fn drop_member(&mut self, src: &mut Src<'_>, out: &mut Vec<u8>, s: usize, e: usize) {
        self.note_required(false);
        src.flush_to(out, s);
        src.flushed = e;
        match self.frames.last_mut() {
            Some(f) => {
                out.truncate(self.member_start);
                f.removed_any = true;
                if !f.emitted_any {
                    f.skip_comma = true;
                }
            }
            // A removed top-level scalar becomes null: the document stays JSON.
            None => out.extend_from_slice(b"null"),
        }
        self.member_open = false;
        self.after_value();
    }

    /// Output went into the innermost container: it stays, and so does
    /// every enclosing container that waited to know (`open_out`).
    fn emitted(&mut self) {
        for f in self.frames.iter_mut().rev() {
            f.emitted_any = true;
            if f.open_out.take().is_none() {
                break;
            }
        }
    }

    fn after_value(&mut self) {
        self.state = if self.frames.is_empty() {
            St::Done
        } else {
            St::CommaOrEnd
        };
    }
}

/// A count as JSON: a number, or a string when the MIS wrote it as one.
fn count_literal(n: u32, quoted: bool) -> Vec<u8> {
    let mut b = itoa::Buffer::new();
    let digits = b.format(n).as_bytes();
    if quoted {
        [b"\"".as_slice(), digits, b"\""].concat()
    } else {
        digits.to_vec()
    }
}

/// How the fast path handles a given name whose value starts at `v`:
/// as the class its value shows (`refine`), when this purpose allows or
/// removes that class. A value to decode, or any other action, takes
/// the slow path.
fn given_name(plan: &Plan, src: &Src<'_>, v: usize) -> Fast {
    let inp = src.inp;
    if inp.get(v) != Some(&b'"') {
        return Fast::No;
    }
    let StrEnd::End(e) = lex::string_end(inp, v + 1) else {
        return Fast::No;
    };
    let body = &inp[v + 1..e - 1];
    let Some(text) = src
        .text
        .get(v + 1..e - 1)
        .filter(|_| !body.contains(&b'\\'))
    else {
        return Fast::No;
    };
    match refine(FieldClass::GivenName, text).map(|c| (c, plan.action(c))) {
        Some((c, Action::Allow)) => Fast::Allowed(c),
        Some((c, Action::Remove)) => Fast::Removed(c),
        _ => Fast::No,
    }
}

/// Whether the value at `v` may be one of `ids` (the subject's): the slow
/// path decides. An escaped string is left to it too.
fn may_be_subject(inp: &[u8], v: usize, ids: [&Option<String>; 2]) -> bool {
    if ids.iter().all(|id| id.is_none()) {
        return false;
    }
    let raw = match inp.get(v) {
        Some(b'"') => match lex::string_end(inp, v + 1) {
            StrEnd::End(e) => &inp[v + 1..e - 1],
            _ => return true,
        },
        Some(b'-' | b'0'..=b'9') => match inp[v..].iter().position(|b| !is_number_byte(*b)) {
            Some(p) => &inp[v..v + p],
            None => return true,
        },
        _ => return false,
    };
    memchr::memchr(b'\\', raw).is_some() || ids.into_iter().flatten().any(|id| id.as_bytes() == raw)
}

fn skip_ws(inp: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = inp.get(i) {
        i += 1;
    }
    i
}

/// What the value itself says about its key's class: a given name that
/// holds more than one word is a full name; one that ends like a patronymic
/// is a patronymic (FHIR puts both in `given`); a ten-digit INN is an
/// organisation's, which is not personal data.
fn refine(class: FieldClass, value: &str) -> Option<FieldClass> {
    if class == FieldClass::Inn {
        let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_digit).collect();
        let org = digits.len() == 10 && value.trim().len() == 10 && inn10_valid(&digits);
        return (!org).then_some(class);
    }
    if class != FieldClass::GivenName {
        return Some(class);
    }
    let v = value.trim();
    // Trimmed, any whitespace left separates two words. Names are Cyrillic
    // or Latin letters: the bytes that can start a whitespace character
    // rule most out without decoding them.
    let may_space = v
        .bytes()
        .any(|b| matches!(b, 0x09..=0x0D | b' ' | 0xC2 | 0xE1..=0xE3));
    if may_space && v.contains(char::is_whitespace) {
        return Some(FieldClass::FullName);
    }
    // The suffixes, last letter first.
    const SUFFIXES: [&[char]; 7] = [
        &['ч', 'и'],
        &['а', 'н', 'в'],
        &['а', 'н', 'ч', 'и'],
        &['ы', 'л', 'г', 'о'],
        &['ы', 'з', 'ы', 'к'],
        &['и', 'л', 'г', 'у'],
        &['ы', 'з', 'ы', 'г'],
    ];
    // The last four letters, lower-cased, last first: one decoding.
    let mut tail = ['\0'; 4];
    for (t, c) in tail.iter_mut().zip(v.chars().rev()) {
        *t = cyrillic_lower(c);
    }
    if v.chars().nth(4).is_some() && SUFFIXES.iter().any(|s| tail.starts_with(s)) {
        return Some(FieldClass::Patronymic);
    }
    Some(class)
}

/// The lower case of a Russian letter; any other character as it is (the
/// suffixes compared against are Russian).
fn cyrillic_lower(c: char) -> char {
    match c {
        'А'..='Я' => char::from_u32(u32::from(c) + 0x20).unwrap_or(c),
        'Ё' => 'ё',
        _ => c,
    }
}

/// The text of a scalar without escapes: a string's contents or a number's
/// digits. Validated as UTF-8 by the caller.
fn plain_value<'s>(src: &'s Src<'_>, kind: Scalar, s: usize, e: usize) -> &'s str {
    match kind {
        Scalar::Str => src.text.get(s + 1..e - 1).unwrap_or_default(),
        _ => std::str::from_utf8(&src.inp[s..e]).unwrap_or_default(),
    }
}

/// The check digit of a legal entity's 10-digit INN.
fn inn10_valid(d: &[u8]) -> bool {
    const W: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    let sum: u32 = W.iter().zip(d).map(|(w, c)| w * u32::from(c - b'0')).sum();
    d.len() == 10 && (sum % 11 % 10) == u32::from(d[9] - b'0')
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "json/fhir_tests.rs"]
mod fhir_tests;
