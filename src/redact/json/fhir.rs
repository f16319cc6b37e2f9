//! FHIR R4 inside the JSON redactor: each frame knows its FHIR type
//! ([`Fx`]), a scalar's class comes from its element ([`FhirSchema::elem`]),
//! a resource whose `resourceType` is not its first member is held until it
//! is, and a resource the redactor changed gets the `REDACTED` security
//! label in `meta.security`.
//!
//! The label needs the output of a resource that has a `meta` held from
//! the end of that `meta` until the resource closes, so it can be written
//! into it: bounded by `limits.hold_back_bytes`, past which the response
//! fails closed. A resource with no `meta` gets one appended before its
//! `}`, which needs no holding.

use crate::class::FieldClass;
use crate::redact::RedactError;
use crate::rules::fhir::{Elem, FhirSchema, Leaf, NOT_FHIR, ResourceKind, Target, TypeId};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::{Capture, JsonRedactor, Scalar, Src};

/// Whether documents are read as FHIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FhirMode {
    /// No FHIR schema in the rules.
    Off,
    /// `application/json`: FHIR when the top-level object's first member
    /// is `resourceType`.
    Sniff,
    /// `application/fhir+json`: every top-level object is a resource.
    On,
}

/// A frame's place in FHIR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Fx {
    /// The object's type (an array's: its parent object's). `NOT_FHIR`
    /// outside FHIR.
    pub ty: TypeId,
    /// Inside a person: a person resource, a `person` type, or a reference
    /// to a person.
    pub person: bool,
    /// What this object points at, if it is a Reference.
    pub target: Target,
    /// Inside the primitive extension of an element of class `found`.
    pub prim: bool,
    /// The class a discriminator named (Identifier.system, a type code,
    /// ContactPoint.system), or a primitive extension's class.
    pub found: Option<FieldClass>,
    /// An array's elements.
    pub elem: Option<Elem>,
    /// An array's next element index.
    pub index: u16,
    /// The object's required elements (bits of
    /// [`FhirSchema::required_bit`]) read, and those written out.
    pub req_seen: u8,
    pub req_kept: u8,
}

/// A resource being streamed.
pub(super) struct Res {
    /// `frames.len()` with the resource's object frame on top.
    depth: usize,
    edits: u64,
    envelope: bool,
    person: bool,
    /// A record about a person: its identifiers are the person's too.
    record: bool,
    /// Where the label goes in the output, once `meta` has closed.
    insert: Option<(usize, Insert)>,
    /// The end of `meta.security` (its `]`) and whether it had elements.
    security_end: Option<(usize, bool)>,
    /// meta.security already has the label.
    labelled: bool,
}

#[derive(Debug, Clone, Copy)]
enum Insert {
    /// Before `meta.security`'s `]`.
    IntoSecurity { comma: bool },
    /// Before `meta`'s `}`.
    IntoMeta { comma: bool },
}

/// A resource held from its `{` until its `resourceType` is known.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ResCap {
    sniff: bool,
    /// The member being read is the resource's `resourceType`.
    pub type_next: bool,
    any_key: bool,
}

/// What a scalar's element says to do with it.
enum Act {
    Fallback,
    Keep,
    /// Scanned by the detectors, whatever the key rules say of its key.
    Scan,
    Class(FieldClass),
    /// An address part `generalize` keeps.
    Coarse(FieldClass),
    Narrative,
    Found(usize, FieldClass),
    Ref(usize, Target),
    NotRef(usize),
    Labelled,
    PersonId(String),
    FullUrl(String),
    /// A person's id in the MIS, at `span` of the value: a person
    /// resource's `id`, or inside a reference or fullUrl to a person.
    SubjectId {
        /// The resource's fullUrl, for the references that name it.
        remember: Option<String>,
        /// The value is this fullUrl.
        full_url: Option<String>,
        /// The Reference frame that now points at a person.
        target: Option<usize>,
        span: (usize, usize),
    },
}

/// Persons referenced by `#id` or `fullUrl` kept per document, at most.
const PERSON_REFS: usize = 256;

/// Name words kept per document, at most (a search Bundle of a few dozen
/// patients); later ones are left to the detectors.
const KNOWN_NAMES: usize = 64;

/// A word worth finding again: three letters or more, capitalised (`Roel`,
/// `Chalmers`, `Зайцева`), so that `de` or `van` never match prose.
fn is_name_word(w: &str) -> bool {
    let mut chars = w.chars();
    chars.next().is_some_and(char::is_uppercase) && w.chars().count() >= 3
}

/// The words of the names read from this document's persons, found again
/// in its free text. They are searched with one Aho-Corasick automaton,
/// built again only after a word is added (at most [`KNOWN_NAMES`] times a
/// document), so a value costs one pass whatever the number of words.
#[derive(Default)]
pub(super) struct KnownNames {
    words: Vec<(String, FieldClass)>,
    automaton: Option<AhoCorasick>,
}

impl KnownNames {
    pub fn clear(&mut self) {
        self.words.clear();
        self.automaton = None;
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Learns `word` as `class`; false when the list is full.
    fn add(&mut self, word: String, class: FieldClass) -> bool {
        if self.words.len() >= KNOWN_NAMES {
            return false;
        }
        if !self.words.iter().any(|(k, _)| *k == word) {
            self.words.push((word, class));
            self.automaton = None;
        }
        true
    }

    /// Adds to `findings` (sorted by start, not overlapping) every
    /// occurrence of a known word in `value`, of the class it was learnt
    /// as, that stands as a word of its own: not inside a longer word
    /// (`Roel's` is found, `Roeland` is not). Occurrences overlapping a
    /// detector's finding are left to it.
    pub fn find(&mut self, value: &str, findings: &mut Vec<crate::detect::Finding>) {
        if self.automaton.is_none() {
            // A contiguous NFA: cheap to build, which matters more here
            // than a DFA's faster search, as the words change while the
            // document is read. Leftmost-longest lets the packed (SIMD)
            // prefilter run; an occurrence can only be lost inside a
            // longer known word, which is not one of its own anyway.
            self.automaton = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .match_kind(MatchKind::LeftmostLongest)
                .build(self.words.iter().map(|(w, _)| w))
                .ok();
        }
        let Some(ac) = &self.automaton else {
            return;
        };
        let before = findings.len();
        for m in ac.find_iter(value) {
            let (at, end) = (m.start(), m.end());
            let alone = !value[..at]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
                && !value[end..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric);
            if alone {
                findings.push(crate::detect::Finding {
                    start: at,
                    end,
                    class: self.words[m.pattern().as_usize()].1,
                });
            }
        }
        if findings.len() == before {
            return;
        }
        findings.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        let mut last_end = 0;
        findings.retain(|f| {
            let keep = f.start >= last_end;
            if keep {
                last_end = f.end;
            }
            keep
        });
    }
}

impl JsonRedactor {
    pub(super) fn schema(&self) -> Option<&FhirSchema> {
        self.plan.rules.fhir()
    }

    /// The element under the member key `raw` of the innermost object.
    pub(super) fn fhir_key(&mut self, raw: &[u8]) {
        (self.cur_elem, self.cur_req) = match (self.frames.last(), self.schema()) {
            (Some(f), Some(s)) if f.obj && f.fx.ty != NOT_FHIR => {
                (s.elem(f.fx.ty, raw), s.required_bit(f.fx.ty, raw))
            }
            _ => (None, 0),
        };
    }

    /// Notes whether the open member's value was written out (`kept`) or
    /// removed, when its element is one FHIR requires.
    pub(super) fn note_required(&mut self, kept: bool) {
        let bit = std::mem::take(&mut self.cur_req);
        if bit == 0 {
            return;
        }
        if let Some(f) = self.frames.last_mut().filter(|f| f.obj) {
            f.fx.req_seen |= bit;
            if kept {
                f.fx.req_kept |= bit;
            }
        }
    }

    /// The Fx of a container opened now, and whether it is a resource slot.
    pub(super) fn fx_for_open(&mut self, obj: bool) -> (Fx, bool) {
        let Some(schema) = self.plan.rules.fhir() else {
            return (Fx::default(), false);
        };
        let Some(parent) = self.frames.last_mut() else {
            return (Fx::default(), obj && self.fhir_mode != FhirMode::Off);
        };
        let p = parent.fx;
        if p.ty == NOT_FHIR {
            return (Fx::default(), false);
        }
        let (elem, index) = if parent.obj {
            (self.cur_elem, 0)
        } else {
            parent.fx.index = parent.fx.index.saturating_add(1);
            (p.elem, p.index)
        };
        let person = p.person || matches!(p.target, Target::Person | Target::Unknown);
        if p.prim {
            return (
                Fx {
                    elem: None,
                    index: 0,
                    target: Target::NotRef,
                    req_seen: 0,
                    req_kept: 0,
                    ..p
                },
                false,
            );
        }
        if !obj {
            let fx = Fx {
                ty: p.ty,
                person,
                target: Target::NotRef,
                prim: false,
                found: None,
                elem,
                ..Fx::default()
            };
            return (fx, false);
        }
        let fx = match elem {
            Some(Elem::Resource) => return (Fx::default(), true),
            Some(Elem::Type(t)) => Fx {
                ty: t,
                person: person || schema.ty(t).person,
                // Only a generic object may be a Reference.
                target: if t == schema.element() {
                    Target::Unknown
                } else {
                    Target::NotRef
                },
                ..Fx::default()
            },
            // Inside `_x` the members are an Element's: `id` and
            // `extension`, whose `url` is structure.
            Some(Elem::PrimExt(leaf)) => Fx {
                ty: schema.type_named("Extension").unwrap_or(schema.element()),
                person,
                prim: true,
                found: leaf.class_at(index).map(|c| c.0),
                target: Target::NotRef,
                ..Fx::default()
            },
            Some(Elem::Leaf(_)) | None => Fx {
                ty: schema.element(),
                person,
                ..Fx::default()
            },
        };
        (fx, false)
    }

    /// The Fx of a resource of a known kind, and its place on the stack.
    pub(super) fn resource_opened(&mut self, kind: Option<ResourceKind>) -> Fx {
        let Some(kind) = kind else {
            return Fx::default();
        };
        if self.res.is_empty() {
            self.person_refs.clear();
            self.known_names.clear();
        }
        if kind.person {
            // A Bundle entry's request that follows names this person.
            if let Some(entry) = self.frames.last_mut().filter(|f| f.obj) {
                entry.fx.person = true;
            }
        }
        let edits = self.edit_count();
        self.res.push(Res {
            depth: self.frames.len() + 1,
            edits,
            envelope: kind.envelope,
            person: kind.person,
            record: kind.record,
            insert: None,
            security_end: None,
            labelled: false,
        });
        Fx {
            ty: kind.ty,
            person: kind.person,
            target: Target::NotRef,
            ..Fx::default()
        }
    }

    /// A resource slot's capture, started at its `{`.
    pub(super) fn resource_capture(&mut self, i: usize, sniff: bool) -> Capture {
        Capture {
            res: Some(ResCap {
                sniff,
                ..ResCap::default()
            }),
            ..self.new_capture(i)
        }
    }

    /// A key read while a resource is captured: at the resource's own
    /// level, `resourceType` is awaited; any other first key of a sniffed
    /// object says it is not FHIR, and the object is released as JSON.
    /// Returns whether to release now.
    pub(super) fn resource_capture_key(&mut self, raw: &[u8]) -> bool {
        let depth = self.frames.len();
        let Some(c) = &mut self.capture else {
            return false;
        };
        let Some(r) = &mut c.res else {
            return false;
        };
        if depth != c.depth + 1 {
            return false;
        }
        r.type_next = raw == b"resourceType";
        let first = !r.any_key;
        r.any_key = true;
        first && !r.type_next && r.sniff
    }

    /// Replays a captured resource slot with its kind known (`None`: read
    /// it as plain JSON), as the stream had been from its `{`.
    pub(super) fn release_resource(
        &mut self,
        out: &mut Vec<u8>,
        kind: Option<ResourceKind>,
    ) -> Result<(), RedactError> {
        let Some(c) = self.capture.take() else {
            return Ok(());
        };
        self.frames.truncate(c.depth);
        self.state = c.state;
        self.cur_key = c.key;
        self.cur_elem = c.elem;
        self.replay_resource = Some(kind);
        let base = self.base;
        self.base = c.start;
        let used = self.run(&c.buf, out, true);
        self.base = base;
        self.replay_resource = None;
        let used = used?;
        if self.suspended {
            // Records inside the resource wait for their verdicts: the rest
            // of the replay goes first in what is kept for `resolve`, and
            // the stream around stops where it is (see `tokens`).
            self.rest.extend_from_slice(&c.buf[used..]);
        } else if used != c.buf.len() {
            return Err(RedactError::Malformed(c.start));
        }
        self.recycle(c.buf);
        Ok(())
    }

    /// What a captured resource slot that closed without a resourceType
    /// is read as: a DomainResource where the document is FHIR by its
    /// content type, plain JSON where that was only a guess.
    pub(super) fn kind_without_type(&self, res: &ResCap) -> Option<ResourceKind> {
        if res.sniff {
            return None;
        }
        self.schema().map(|s| s.resource(""))
    }

    pub(super) fn edit_count(&self) -> u64 {
        let s = &self.stats;
        let sum = |a: &[u32]| a.iter().map(|x| u64::from(*x)).sum::<u64>();
        sum(&s.masked)
            + sum(&s.pseudonymized)
            + sum(&s.generalized)
            + sum(&s.removed)
            + u64::from(s.records_dropped)
            + u64::from(self.fhir_edits)
    }

    /// Handles a scalar by its FHIR element; `Ok(false)` leaves it to the
    /// key rules.
    pub(super) fn fhir_scalar(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        kind: Scalar,
        s: usize,
        e: usize,
    ) -> Result<bool, RedactError> {
        let act = self.fhir_act(src, kind, s, e)?;
        match act {
            Act::Fallback => return Ok(false),
            Act::Keep => self.keep(src, s, e)?,
            Act::Scan => {
                let mut text = std::mem::take(&mut self.text);
                let r = self.scalar_text(src, out, kind, s, e, None, &mut text);
                self.text = text;
                r?;
            }
            Act::Class(c) => {
                if c.is_name() && kind == Scalar::Str {
                    self.learn_names(src, s, e, c)?;
                }
                let mut text = std::mem::take(&mut self.text);
                let r = self.scalar_text(src, out, kind, s, e, Some(c), &mut text);
                self.text = text;
                r?;
            }
            Act::Coarse(c) => {
                if self.action(c) == crate::rules::Action::Generalize {
                    self.stats.disclosed[c.index()] += 1;
                    self.keep(src, s, e)?;
                } else {
                    let mut text = std::mem::take(&mut self.text);
                    let r = self.scalar_text(src, out, kind, s, e, Some(c), &mut text);
                    self.text = text;
                    r?;
                }
            }
            Act::Narrative => {
                if self.plan.fhir_narrative_kept {
                    return Ok(false);
                }
                let Some(rep) = self.schema().map(|s| s.replacement_json.clone()) else {
                    return Ok(false);
                };
                self.fhir_edits += 1;
                self.stats.narratives_replaced += 1;
                self.replace(src, out, s, e, &rep)?;
            }
            Act::Found(frame, class) => {
                if let Some(f) = self.frames.get_mut(frame) {
                    f.fx.found.get_or_insert(class);
                }
                self.keep(src, s, e)?;
            }
            Act::Ref(frame, target) => {
                if let Some(f) = self.frames.get_mut(frame) {
                    f.fx.target = target;
                }
                return Ok(false);
            }
            Act::NotRef(frame) => {
                if let Some(f) = self.frames.get_mut(frame) {
                    if f.fx.target == Target::Unknown {
                        f.fx.target = Target::NotRef;
                    }
                }
                return Ok(false);
            }
            Act::Labelled => {
                if let Some(r) = self.res.last_mut() {
                    r.labelled = true;
                }
                self.keep(src, s, e)?;
            }
            Act::PersonId(id) => {
                if self.person_refs.len() < PERSON_REFS {
                    self.person_refs.push(id);
                }
                return Ok(false);
            }
            Act::FullUrl(url) => {
                self.last_full_url = Some(url);
                return Ok(false);
            }
            Act::SubjectId {
                remember,
                full_url,
                target,
                span,
            } => {
                if let Some(id) = remember {
                    if self.person_refs.len() < PERSON_REFS {
                        self.person_refs.push(id);
                    }
                }
                if full_url.is_some() {
                    self.last_full_url = full_url;
                }
                if let Some(f) = target.and_then(|t| self.frames.get_mut(t)) {
                    f.fx.target = Target::Person;
                }
                self.subject_id(src, out, s, e, span)?;
            }
        }
        Ok(true)
    }

    /// A person's id in the MIS (the string `[s, e)`, the id at `span` of
    /// it) by the purpose's `person_id` action. A pseudonym is the audit's
    /// subject token, written with `-` for `_` since FHIR ids allow no
    /// `_`; a mask would not be an id, so anything but allow, block and
    /// pseudonymize removes the element.
    fn subject_id(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        s: usize,
        e: usize,
        span: (usize, usize),
    ) -> Result<(), RedactError> {
        use crate::rules::Action;
        let class = FieldClass::PersonId;
        match self.action(class) {
            Action::Allow => {
                self.stats.disclosed[class.index()] += 1;
                self.keep(src, s, e)
            }
            Action::Block => Err(RedactError::Blocked(class)),
            Action::Pseudonymize => {
                let mut text = String::new();
                let v = Self::decode(&src.inp[s + 1..e - 1], &mut text, self.base + s as u64)?;
                let Some(id) = v.get(span.0..span.1) else {
                    return Err(RedactError::Malformed(self.base + s as u64));
                };
                let token = crate::redact::pseudo::pseudonym(&self.key, "subject", id.as_bytes())
                    .replace('_', "-");
                let rewritten = format!("{}{token}{}", &v[..span.0], &v[span.1..]);
                let mut lit = Vec::with_capacity(rewritten.len() + 2);
                crate::redact::value::write_json_string(&rewritten, &mut lit);
                self.count(class, Action::Pseudonymize);
                self.replace(src, out, s, e, &lit)
            }
            _ => {
                self.count(class, Action::Remove);
                self.drop_member(src, out, s, e);
                Ok(())
            }
        }
    }

    /// Keeps the words of a person's name (the string `[s, e)`, of class
    /// `class`) to find them again in free text later in the document.
    fn learn_names(
        &mut self,
        src: &Src<'_>,
        s: usize,
        e: usize,
        class: FieldClass,
    ) -> Result<(), RedactError> {
        let raw = &src.inp[s + 1..e - 1];
        let mut text = std::mem::take(&mut self.text);
        let words = Self::decode(raw, &mut text, self.base + s as u64).map(|v| {
            v.split(|c: char| !c.is_alphabetic() && c != '-')
                .map(|w| w.trim_matches('-'))
                .filter(|w| is_name_word(w))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        self.text = text;
        for w in words? {
            if !self.known_names.add(w, class) {
                break;
            }
        }
        Ok(())
    }

    fn fhir_act(
        &self,
        src: &Src<'_>,
        kind: Scalar,
        s: usize,
        e: usize,
    ) -> Result<Act, RedactError> {
        let (Some(schema), Some(f)) = (self.schema(), self.frames.last()) else {
            return Ok(Act::Fallback);
        };
        if f.fx.ty == NOT_FHIR {
            return Ok(Act::Fallback);
        }
        let top = self.frames.len() - 1;
        let (elem, index) = if f.obj {
            (self.cur_elem, 0)
        } else {
            (f.fx.elem, f.fx.index.saturating_sub(1))
        };
        if f.fx.prim {
            return Ok(match (f.fx.found, elem) {
                (_, Some(Elem::Leaf(Leaf::Keep | Leaf::ExtensionUrl))) => Act::Keep,
                (Some(c), _) if kind == Scalar::Str => Act::Class(c),
                _ => Act::Fallback,
            });
        }
        let Some(Elem::Leaf(leaf)) = elem else {
            return Ok(Act::Fallback);
        };
        let applies = f.fx.person || schema.ty(f.fx.ty).always;
        let mut text = String::new();
        let mut value = || -> Result<String, RedactError> {
            let raw = match kind {
                Scalar::Str => &src.inp[s + 1..e - 1],
                _ => &src.inp[s..e],
            };
            Ok(Self::decode(raw, &mut text, self.base + s as u64)?.to_owned())
        };
        let found = f.fx.found.or(f.sib.and_then(|(_, c)| c));
        Ok(match leaf {
            Leaf::Keep => Act::Keep,
            Leaf::Class(_) | Leaf::ByIndex(..) if applies => match leaf.class_at(index) {
                Some((c, _)) => Act::Class(c),
                None => Act::Fallback,
            },
            Leaf::Coarse(c) if applies => Act::Coarse(c),
            Leaf::Identifier | Leaf::Contact if applies => {
                Act::Class(found.unwrap_or(FieldClass::PersonId))
            }
            // An identifier of a record about a person (an Encounter's, an
            // Observation's) points at that person through the MIS, and
            // may spell their name (`Encounter_Ivanov_20130404`): it is a
            // person_id unless its system names a class, or it identifies
            // the plain thing a reference is to.
            Leaf::Identifier
                if self.res.last().is_some_and(|r| r.record)
                    && !top
                        .checked_sub(1)
                        .is_some_and(|p| self.frames[p].fx.target == Target::Plain) =>
            {
                Act::Class(found.unwrap_or(FieldClass::PersonId))
            }
            // An identifier of a thing (an organisation's, a device's): its
            // system named no class, so only the detectors look at it.
            Leaf::Identifier | Leaf::Contact => match found {
                Some(c) => Act::Class(c),
                None => Act::Scan,
            },
            Leaf::IdentifierSystem if kind == Scalar::Str => match schema.system_class(&value()?) {
                Some(c) => Act::Found(top, c),
                None => Act::Keep,
            },
            Leaf::ContactSystem if kind == Scalar::Str => match schema.contact_class(&value()?) {
                Some(c) => Act::Found(top, c),
                None => Act::Keep,
            },
            Leaf::TypeCode if kind == Scalar::Str => {
                // Identifier.type.coding[].code: the Identifier is the
                // nearest enclosing frame whose type has a `value` that is
                // an identifier.
                let code = value()?;
                let target = self.frames.iter().rposition(|f| {
                    f.obj && schema.elem(f.fx.ty, b"value") == Some(Elem::Leaf(Leaf::Identifier))
                });
                match (schema.type_code_class(&code), target) {
                    (Some(c), Some(t)) => Act::Found(t, c),
                    _ => Act::Keep,
                }
            }
            Leaf::Narrative if kind == Scalar::Str => Act::Narrative,
            Leaf::Target if kind == Scalar::Str => {
                let v = value()?;
                if let Some(span) = schema.person_id_span(&v) {
                    Act::SubjectId {
                        remember: None,
                        full_url: None,
                        target: Some(top),
                        span,
                    }
                } else if self.person_refs.contains(&v) {
                    Act::Ref(top, Target::Person)
                } else {
                    // A `#id` or `urn:uuid:` not known to be a person's
                    // stays Unknown: its display is still taken for a name.
                    match schema.ref_target(&v) {
                        Some(t) => Act::Ref(top, t),
                        None => Act::Fallback,
                    }
                }
            }
            Leaf::NotReference => Act::NotRef(top),
            Leaf::Display => match f.fx.target {
                Target::Person | Target::Unknown => Act::Class(FieldClass::FullName),
                Target::Clinical => Act::Class(FieldClass::Health),
                Target::Plain | Target::NotRef => Act::Fallback,
            },
            Leaf::ExtensionUrl if kind == Scalar::Str => match schema.extension_class(&value()?) {
                Some(c) => Act::Found(top, c),
                None => Act::Keep,
            },
            Leaf::ChoiceValue => match f.fx.found {
                Some(c) => Act::Class(c),
                None => Act::Fallback,
            },
            Leaf::SecurityCode if kind == Scalar::Str => {
                if schema.is_label(&value()?) {
                    Act::Labelled
                } else {
                    Act::Keep
                }
            }
            Leaf::ResourceId if kind == Scalar::Str => {
                // A person's id, for the references that name it: `#id`
                // from its container, its fullUrl from elsewhere in a
                // Bundle.
                match self.res.last() {
                    Some(r) if r.person && r.depth == self.frames.len() => {
                        let contained =
                            self.res.len() > 1 && !self.res[self.res.len() - 2].envelope;
                        if contained {
                            Act::PersonId(format!("#{}", value()?))
                        } else {
                            // The person's own id in the MIS.
                            Act::SubjectId {
                                remember: self.last_full_url.clone(),
                                full_url: None,
                                target: None,
                                span: (0, value()?.len()),
                            }
                        }
                    }
                    _ => Act::Fallback,
                }
            }
            Leaf::FullUrl if kind == Scalar::Str => {
                let v = value()?;
                match schema.person_id_span(&v) {
                    Some(span) => Act::SubjectId {
                        remember: None,
                        full_url: Some(v),
                        target: None,
                        span,
                    },
                    None => Act::FullUrl(v),
                }
            }
            _ => Act::Fallback,
        })
    }

    /// Called as a container closes, before its closing byte at `i` is
    /// passed: records where `meta` ends, and labels a resource that was
    /// changed. Returns whether it wrote into the closing object (a
    /// required element's `_x`).
    pub(super) fn fhir_close(
        &mut self,
        src: &mut Src<'_>,
        out: &mut Vec<u8>,
        i: usize,
        closed: &super::Frame,
    ) -> bool {
        let Some(schema) = self.plan.rules.fhir() else {
            return false;
        };
        if closed.fx.ty == NOT_FHIR {
            return false;
        }
        let mut emitted_any = closed.emitted_any;
        let absent = closed.fx.req_seen & !closed.fx.req_kept;
        if closed.obj && absent != 0 {
            // A required element zaslon removed: FHIR says why it is absent
            // in its primitive extension, so the resource stays valid.
            src.flush_to(out, i);
            for name in schema.required_names(closed.fx.ty, absent) {
                if emitted_any {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"_");
                out.extend_from_slice(name);
                out.extend_from_slice(b"\":");
                out.extend_from_slice(&schema.absent_json);
                emitted_any = true;
            }
        }
        let wrote = emitted_any;
        let depth = self.frames.len();
        let Some(r) = self.res.last() else {
            return wrote;
        };
        if r.envelope {
            if r.depth == depth + 1 {
                self.res.pop();
            }
            return wrote;
        }
        if r.depth == depth + 1 {
            // The resource itself closes.
            let Some(r) = self.res.pop() else {
                return wrote;
            };
            if r.labelled || self.edit_count() == r.edits {
                return wrote;
            }
            let label = &schema.label_json;
            let (pos, bytes) = match r.insert {
                Some((pos, Insert::IntoSecurity { comma })) => {
                    let mut b = Vec::with_capacity(label.len() + 1);
                    if comma {
                        b.push(b',');
                    }
                    b.extend_from_slice(label);
                    (pos, b)
                }
                Some((pos, Insert::IntoMeta { comma })) => {
                    let mut b = Vec::with_capacity(label.len() + 16);
                    if comma {
                        b.push(b',');
                    }
                    b.extend_from_slice(b"\"security\":[");
                    b.extend_from_slice(label);
                    b.push(b']');
                    (pos, b)
                }
                None => {
                    src.flush_to(out, i);
                    let mut b = Vec::with_capacity(label.len() + 24);
                    if emitted_any {
                        b.push(b',');
                    }
                    b.extend_from_slice(b"\"meta\":{\"security\":[");
                    b.extend_from_slice(label);
                    b.extend_from_slice(b"]}");
                    (out.len(), b)
                }
            };
            let n = bytes.len();
            out.splice(pos..pos, bytes);
            if self.member_start > pos {
                self.member_start += n;
            }
            for r in &mut self.res {
                if let Some((p, _)) = &mut r.insert {
                    if *p > pos {
                        *p += n;
                    }
                }
            }
            for f in &mut self.frames {
                if let Some(p) = &mut f.open_out {
                    if *p > pos {
                        *p += n;
                    }
                }
            }
            return wrote;
        }
        // meta.security's `]` and meta's `}` at the resource's own level.
        let meta = schema.meta_type();
        if closed.obj && closed.fx.ty == meta && r.depth == depth {
            src.flush_to(out, i);
            let at = out.len();
            let insert = match r.security_end {
                Some((p, comma)) => (p, Insert::IntoSecurity { comma }),
                None => (at, Insert::IntoMeta { comma: emitted_any }),
            };
            if let Some(r) = self.res.last_mut() {
                r.insert = Some(insert);
            }
        } else if !closed.obj
            && closed.fx.ty == meta
            && closed.fx.elem == Some(Elem::Type(schema.security_type()))
            && r.depth + 1 == depth
        {
            src.flush_to(out, i);
            let at = out.len();
            if let Some(r) = self.res.last_mut() {
                r.security_end = Some((at, closed.emitted_any));
            }
        }
        wrote
    }

    /// Output from `at` on was taken back (a container that ended empty):
    /// a label position in it is gone, and the label goes at the
    /// resource's end instead.
    pub(super) fn forget_res_from(&mut self, at: usize) {
        for r in &mut self.res {
            if r.insert.is_some_and(|(p, _)| p >= at) {
                r.insert = None;
            }
            if r.security_end.is_some_and(|(p, _)| p >= at) {
                r.security_end = None;
            }
        }
    }

    /// The earliest output position a resource still needs to write into.
    pub(super) fn res_hold_from(&self) -> Option<usize> {
        self.res
            .iter()
            .filter_map(|r| r.insert.map(|(p, _)| p).or(r.security_end.map(|(p, _)| p)))
            .min()
    }

    /// Output bytes `[.., at)` became `new` long instead of `old`: the
    /// positions a resource or a waiting container keeps from `at` on
    /// move with them.
    pub(super) fn move_res_after(&mut self, at: usize, new: usize, old: usize) {
        let f = |p: &mut usize| {
            if *p >= at {
                *p = *p + new - old;
            }
        };
        for fr in &mut self.frames {
            if let Some(p) = &mut fr.open_out {
                f(p);
            }
        }
        for r in &mut self.res {
            if let Some((p, _)) = &mut r.insert {
                f(p);
            }
            if let Some((p, _)) = &mut r.security_end {
                f(p);
            }
        }
    }

    /// Moves every output position a resource or a waiting container
    /// keeps by `delta`.
    pub(super) fn shift_res(&mut self, by: usize, up: bool) {
        let f = |p: &mut usize| {
            *p = if up { *p + by } else { p.saturating_sub(by) };
        };
        for fr in &mut self.frames {
            if let Some(p) = &mut fr.open_out {
                f(p);
            }
        }
        for r in &mut self.res {
            if let Some((p, _)) = &mut r.insert {
                f(p);
            }
            if let Some((p, _)) = &mut r.security_end {
                f(p);
            }
        }
    }
}
