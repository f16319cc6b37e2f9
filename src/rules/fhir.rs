//! `rules/fhir.toml` compiled into a [`FhirSchema`]: which type each FHIR
//! object is, and what each element of a type holds. The redactor asks it
//! two things per member: what the element under this key is
//! ([`FhirSchema::elem`]) and how a discriminator's value names a class.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use toml::Spanned;

use super::load::Errors;
use crate::class::{ClassSet, FieldClass};

pub const FHIR_FILE: &str = "fhir.toml";

/// A type's index in the schema. 0 is "not FHIR".
pub type TypeId = u8;
pub const NOT_FHIR: TypeId = 0;

/// What a scalar element holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Class(FieldClass),
    /// An address part that `generalize` keeps (city, state, country).
    Coarse(FieldClass),
    /// The first array element is of one class, every later one of another.
    ByIndex(FieldClass, FieldClass),
    Identifier,
    Contact,
    IdentifierSystem,
    ContactSystem,
    TypeCode,
    Narrative,
    Target,
    Display,
    SecurityCode,
    ResourceId,
    FullUrl,
    NotReference,
    ExtensionUrl,
    /// `value[x]` of a choice type whose suffix names no type here
    /// (`valueString`): of the class its extension's url names, if any.
    ChoiceValue,
    Keep,
}

/// What a Reference points at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Target {
    /// Nothing said yet: a display here names someone unknown.
    #[default]
    Unknown,
    Person,
    /// A resource whose display describes health data.
    Clinical,
    /// An organisation, a place, a device.
    Plain,
    /// Not a Reference (a Coding, a resource, a datatype).
    NotRef,
}

impl Leaf {
    /// The class of the element at `index` of its array (0 outside one).
    pub fn class_at(self, index: u16) -> Option<(FieldClass, bool)> {
        match self {
            Leaf::Class(c) => Some((c, false)),
            Leaf::Coarse(c) => Some((c, true)),
            Leaf::ByIndex(first, _) if index == 0 => Some((first, false)),
            Leaf::ByIndex(_, rest) => Some((rest, false)),
            _ => None,
        }
    }
}

/// What the element under a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    Type(TypeId),
    /// A nested resource: its type comes from its own resourceType.
    Resource,
    Leaf(Leaf),
    /// `_x`, the primitive extension of a classified element `x`: every
    /// value inside it is of the element's class.
    PrimExt(Leaf),
}

#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    base: Option<TypeId>,
    /// Entering it makes what is inside a person's.
    pub person: bool,
    /// Its class leaves apply outside a person too (HumanName names a
    /// person wherever it stands).
    pub always: bool,
    /// `value[x]` members take the type their suffix names.
    choice: bool,
    elements: HashMap<Box<[u8]>, Elem>,
    /// Elements FHIR requires (cardinality 1..): one that zaslon removes
    /// is written back as `_x` with the data-absent-reason extension.
    required: Vec<Box<[u8]>>,
}

/// What a resource type is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceKind {
    pub ty: TypeId,
    pub person: bool,
    pub envelope: bool,
    /// A record about a person (an Encounter, an Observation, a Claim):
    /// neither a person, an envelope nor a plain resource.
    pub record: bool,
}

/// The compiled `fhir.toml`.
#[derive(Debug, Clone)]
pub struct FhirSchema {
    types: Vec<TypeDef>,
    by_name: HashMap<String, TypeId>,
    resources: HashMap<String, TypeId>,
    persons: Vec<String>,
    envelopes: Vec<String>,
    plain: Vec<String>,
    extension_urls: HashMap<String, FieldClass>,
    domain_resource: TypeId,
    element: TypeId,
    meta: TypeId,
    security: TypeId,
    systems: HashMap<String, FieldClass>,
    system_words: HashMap<String, FieldClass>,
    type_codes: HashMap<String, FieldClass>,
    contact_systems: HashMap<String, FieldClass>,
    narrative_needs: ClassSet,
    /// The replacement narrative as a JSON string literal.
    pub replacement_json: Vec<u8>,
    /// The label as a JSON object: `{"system":...,"code":...,"display":...}`.
    pub label_json: Vec<u8>,
    label_code: String,
    /// The primitive extension that stands in for a removed required
    /// element: `{"extension":[{"url":...,"valueCode":...}]}`.
    pub absent_json: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFhir {
    person_resources: Vec<String>,
    #[serde(default)]
    envelopes: Vec<String>,
    #[serde(default)]
    plain_references: Vec<String>,
    #[serde(default)]
    extension_urls: BTreeMap<String, Spanned<String>>,
    resources: BTreeMap<String, Spanned<String>>,
    types: BTreeMap<String, Spanned<RawType>>,
    #[serde(default)]
    identifier_systems: BTreeMap<Spanned<String>, Vec<String>>,
    #[serde(default)]
    identifier_system_words: BTreeMap<Spanned<String>, Vec<String>>,
    #[serde(default)]
    identifier_type_codes: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    contact_systems: BTreeMap<String, Spanned<String>>,
    narrative: RawNarrative,
    label: RawLabel,
    absent: RawAbsent,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    base: Option<Spanned<String>>,
    #[serde(default)]
    person: bool,
    #[serde(default)]
    always: bool,
    #[serde(default)]
    choice: bool,
    #[serde(default)]
    elements: BTreeMap<String, Spanned<RawElem>>,
    required: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawElem {
    One(String),
    ByIndex(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNarrative {
    kept_when_allowed: Vec<Spanned<String>>,
    replacement: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAbsent {
    url: String,
    code: String,
}

/// Required elements a type may list: their bits fit a `u8`.
pub const MAX_REQUIRED: usize = 8;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabel {
    system: String,
    code: String,
    display: String,
}

const VOCABULARY: &str = "a type name (HumanName), a field class (surname), \"address:coarse\", [\"class\", \"class\"], identifier, contact, identifier_system, contact_system, type_code, narrative, target, display, security_code, resource_id, full_url or keep";

fn leaf_word(word: &str) -> Option<Leaf> {
    Some(match word {
        "identifier" => Leaf::Identifier,
        "contact" => Leaf::Contact,
        "identifier_system" => Leaf::IdentifierSystem,
        "contact_system" => Leaf::ContactSystem,
        "type_code" => Leaf::TypeCode,
        "narrative" => Leaf::Narrative,
        "target" => Leaf::Target,
        "display" => Leaf::Display,
        "security_code" => Leaf::SecurityCode,
        "resource_id" => Leaf::ResourceId,
        "full_url" => Leaf::FullUrl,
        "not_reference" => Leaf::NotReference,
        "extension_url" => Leaf::ExtensionUrl,
        "keep" => Leaf::Keep,
        _ => return None,
    })
}

fn class_of(name: &str) -> Option<FieldClass> {
    name.parse::<FieldClass>().ok()
}

fn json_string(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    crate::redact::value::write_json_string(s, &mut out);
    out
}

/// Lower-cased, without `urn:oid:`: how systems are compared.
fn norm_system(s: &str) -> String {
    let l = s.trim().to_lowercase();
    l.strip_prefix("urn:oid:").map(str::to_owned).unwrap_or(l)
}

impl FhirSchema {
    /// Compiles `fhir.toml`; problems go to `errs` with their lines.
    pub(super) fn compile(text: &str, errs: &mut Errors<'_>) -> Option<FhirSchema> {
        let raw: RawFhir = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                errs.at(e.span().map(|s| s.start).unwrap_or(0), e.message());
                return None;
            }
        };
        let mut by_name = HashMap::new();
        by_name.insert(String::new(), NOT_FHIR);
        for (i, name) in raw.types.keys().enumerate() {
            by_name.insert(name.clone(), (i + 1) as TypeId);
        }
        if raw.types.len() > 250 {
            errs.at(
                0,
                "at most 250 [types]; merge types that hold the same elements",
            );
            return None;
        }
        let find = |name: &Spanned<String>, errs: &mut Errors<'_>| -> Option<TypeId> {
            let t = by_name.get(name.get_ref()).copied();
            if t.is_none() {
                errs.at(
                    name.span().start,
                    format!(
                        "unknown type {:?}; write one of the [types] this file defines",
                        name.get_ref()
                    ),
                );
            }
            t
        };
        let mut types = vec![TypeDef {
            name: String::new(),
            base: None,
            person: false,
            always: false,
            choice: false,
            elements: HashMap::new(),
            required: Vec::new(),
        }];
        for (name, t) in &raw.types {
            let span = t.span().start;
            let t = t.get_ref();
            let base = t.base.as_ref().and_then(|b| find(b, errs));
            let mut elements = HashMap::new();
            for (key, e) in &t.elements {
                let at = e.span().start;
                let elem = match e.get_ref() {
                    RawElem::One(w) if w == "Resource" => Some(Elem::Resource),
                    RawElem::One(w) if w.starts_with(|c: char| c.is_ascii_uppercase()) => {
                        by_name.get(w).map(|t| Elem::Type(*t))
                    }
                    RawElem::One(w) => match w.split_once(':') {
                        Some((c, "coarse")) => class_of(c).map(|c| Elem::Leaf(Leaf::Coarse(c))),
                        Some(_) => None,
                        None => leaf_word(w)
                            .or_else(|| class_of(w).map(Leaf::Class))
                            .map(Elem::Leaf),
                    },
                    RawElem::ByIndex(list) => match list.as_slice() {
                        [a, b] => match (class_of(a), class_of(b)) {
                            (Some(a), Some(b)) => Some(Elem::Leaf(Leaf::ByIndex(a, b))),
                            _ => None,
                        },
                        _ => None,
                    },
                };
                match elem {
                    Some(elem) => {
                        elements.insert(key.as_bytes().into(), elem);
                    }
                    None => errs.at(
                        at,
                        format!("{name}.{key}: not an element value; write {VOCABULARY}"),
                    ),
                }
            }
            let (required, req_at) = match &t.required {
                Some(r) => (r.get_ref().as_slice(), r.span().start),
                None => (&[][..], span),
            };
            if required.len() > MAX_REQUIRED {
                errs.at(
                    req_at,
                    format!(
                        "type {name} lists {} required elements; at most {MAX_REQUIRED}",
                        required.len()
                    ),
                );
            }
            if let Some(bad) = required.iter().find(|r| r.is_empty() || r.starts_with('_')) {
                errs.at(
                    req_at,
                    format!("type {name}: required element {bad:?}; write the element's name without `_`"),
                );
            }
            if t.base.is_none() && (t.person || t.choice) && t.elements.is_empty() {
                errs.at(span, format!("type {name} has no elements and no base"));
            }
            types.push(TypeDef {
                name: name.clone(),
                base,
                person: t.person,
                always: t.always,
                choice: t.choice,
                elements,
                required: required
                    .iter()
                    .take(MAX_REQUIRED)
                    .map(|r| r.as_bytes().into())
                    .collect(),
            });
        }
        // A base chain must end: a type may not be its own ancestor.
        for (i, t) in types.iter().enumerate() {
            let mut seen = 0;
            let mut b = t.base;
            while let Some(x) = b {
                seen += 1;
                if x as usize == i || seen > types.len() {
                    errs.at(
                        0,
                        format!("type {} is its own base; break the cycle", t.name),
                    );
                    break;
                }
                b = types[x as usize].base;
            }
        }
        let mut resources = HashMap::new();
        for (res, ty) in &raw.resources {
            if let Some(t) = find(ty, errs) {
                resources.insert(res.clone(), t);
            }
        }
        let need = |name: &str, errs: &mut Errors<'_>| {
            let t = by_name.get(name).copied();
            if t.is_none() {
                errs.at(
                    0,
                    format!("[types.{name}] is missing; every FHIR schema needs it"),
                );
            }
            t.unwrap_or(NOT_FHIR)
        };
        let domain_resource = need("DomainResource", errs);
        let element = need("Element", errs);
        let meta = need("Meta", errs);
        let security = need("SecurityCoding", errs);
        let class_map =
            |m: &BTreeMap<String, Spanned<String>>, key_upper: bool, errs: &mut Errors<'_>| {
                let mut out = HashMap::new();
                for (k, v) in m {
                    match class_of(v.get_ref()) {
                        Some(c) => {
                            let k = if key_upper {
                                k.to_uppercase()
                            } else {
                                k.to_lowercase()
                            };
                            out.insert(k, c);
                        }
                        None => errs.at(
                            v.span().start,
                            format!(
                                "unknown field class {:?}; write one of: {}",
                                v.get_ref(),
                                FieldClass::ALL.map(|c| c.as_str()).join(", ")
                            ),
                        ),
                    }
                }
                out
            };
        let type_codes = class_map(&raw.identifier_type_codes, true, errs);
        let contact_systems = class_map(&raw.contact_systems, false, errs);
        let extension_urls = class_map(&raw.extension_urls, false, errs);
        let mut systems = HashMap::new();
        let mut system_words = HashMap::new();
        for (target, lists) in [
            (&mut systems, &raw.identifier_systems),
            (&mut system_words, &raw.identifier_system_words),
        ] {
            for (class, list) in lists {
                let Some(c) = class_of(class.get_ref()) else {
                    errs.at(
                        class.span().start,
                        format!("unknown field class {:?}", class.get_ref()),
                    );
                    continue;
                };
                for s in list {
                    target.insert(norm_system(s), c);
                }
            }
        }
        let mut narrative_needs = ClassSet::EMPTY;
        for c in &raw.narrative.kept_when_allowed {
            match class_of(c.get_ref()) {
                Some(c) => narrative_needs = narrative_needs.with(c),
                None => errs.at(
                    c.span().start,
                    format!("unknown field class {:?}", c.get_ref()),
                ),
            }
        }
        let rep = raw.narrative.replacement.get_ref();
        if !(rep.starts_with("<div")
            && rep.ends_with("</div>")
            && rep.contains("xmlns=\"http://www.w3.org/1999/xhtml\""))
        {
            errs.at(
                raw.narrative.replacement.span().start,
                "the replacement narrative must be an XHTML div: <div xmlns=\"http://www.w3.org/1999/xhtml\">...</div>",
            );
        }
        let l = &raw.label;
        let mut label_json = b"{\"system\":".to_vec();
        label_json.extend(json_string(&l.system));
        label_json.extend(b",\"code\":");
        label_json.extend(json_string(&l.code));
        label_json.extend(b",\"display\":");
        label_json.extend(json_string(&l.display));
        label_json.push(b'}');
        let mut absent_json = b"{\"extension\":[{\"url\":".to_vec();
        absent_json.extend(json_string(&raw.absent.url));
        absent_json.extend(b",\"valueCode\":");
        absent_json.extend(json_string(&raw.absent.code));
        absent_json.extend(b"}]}");
        Some(FhirSchema {
            types,
            by_name,
            resources,
            persons: raw.person_resources,
            envelopes: raw.envelopes,
            plain: raw.plain_references,
            extension_urls,
            domain_resource,
            element,
            meta,
            security,
            systems,
            system_words,
            type_codes,
            contact_systems,
            narrative_needs,
            replacement_json: json_string(rep),
            label_json,
            label_code: l.code.clone(),
            absent_json,
        })
    }

    pub fn ty(&self, t: TypeId) -> &TypeDef {
        &self.types[t as usize]
    }

    /// The generic type of an object FHIR gives no more specific one.
    pub fn element(&self) -> TypeId {
        self.element
    }

    /// The type of that name, if the schema has it.
    pub fn type_named(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    /// `meta`'s type, where the label goes.
    pub fn meta_type(&self) -> TypeId {
        self.meta
    }

    /// `meta.security`'s element type.
    pub fn security_type(&self) -> TypeId {
        self.security
    }

    /// What a resource of this resourceType is read as.
    pub fn resource(&self, resource_type: &str) -> ResourceKind {
        ResourceKind {
            ty: self
                .resources
                .get(resource_type)
                .copied()
                .unwrap_or(self.domain_resource),
            person: self.is_person(resource_type),
            envelope: self.envelopes.iter().any(|e| e == resource_type),
            record: !self.is_person(resource_type)
                && !self.envelopes.iter().any(|e| e == resource_type)
                && !self.plain.iter().any(|p| p == resource_type),
        }
    }

    pub fn is_person(&self, resource_type: &str) -> bool {
        self.persons.iter().any(|p| p == resource_type)
    }

    /// The element under `key` in an object of type `t`: its own elements,
    /// then its bases'; `_x` follows `x`; `value[x]` in a choice type takes
    /// the type its suffix names.
    pub fn elem(&self, t: TypeId, key: &[u8]) -> Option<Elem> {
        if t == NOT_FHIR {
            return None;
        }
        if let Some(e) = self.own(t, key) {
            return Some(e);
        }
        if let Some(base) = key.strip_prefix(b"_") {
            return match self.own(t, base) {
                Some(Elem::Leaf(l)) if l.class_at(0).is_some() => Some(Elem::PrimExt(l)),
                _ => None,
            };
        }
        if let Some(suffix) = key.strip_prefix(b"value") {
            if suffix.first().is_some_and(u8::is_ascii_uppercase) && self.is_choice(t) {
                let name = std::str::from_utf8(suffix).ok()?;
                return Some(
                    self.by_name
                        .get(name)
                        .map_or(Elem::Leaf(Leaf::ChoiceValue), |t| Elem::Type(*t)),
                );
            }
        }
        None
    }

    /// The bit of the required element of type `t` that `key` (`x` or
    /// `_x`) is; 0 when it is none.
    pub fn required_bit(&self, t: TypeId, key: &[u8]) -> u8 {
        let key = key.strip_prefix(b"_").unwrap_or(key);
        self.types[t as usize]
            .required
            .iter()
            .position(|r| **r == *key)
            .map_or(0, |i| 1 << i)
    }

    /// The names of type `t`'s required elements whose bits are in `bits`.
    pub fn required_names(&self, t: TypeId, bits: u8) -> impl Iterator<Item = &[u8]> {
        self.types[t as usize]
            .required
            .iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1 << i) != 0)
            .map(|(_, r)| &**r)
    }

    fn own(&self, mut t: TypeId, key: &[u8]) -> Option<Elem> {
        loop {
            let def = &self.types[t as usize];
            if let Some(e) = def.elements.get(key) {
                return Some(*e);
            }
            t = def.base?;
        }
    }

    fn is_choice(&self, mut t: TypeId) -> bool {
        loop {
            let def = &self.types[t as usize];
            if def.choice {
                return true;
            }
            match def.base {
                Some(b) => t = b,
                None => return false,
            }
        }
    }

    /// The class an Identifier.system names: listed exactly, or by a word
    /// of it ("urn:identity:snils:Patient").
    pub fn system_class(&self, system: &str) -> Option<FieldClass> {
        let n = norm_system(system);
        if let Some(c) = self.systems.get(&n) {
            return Some(*c);
        }
        n.split(|c: char| !c.is_alphanumeric())
            .find_map(|w| self.system_words.get(w).copied())
    }

    pub fn type_code_class(&self, code: &str) -> Option<FieldClass> {
        self.type_codes.get(&code.trim().to_uppercase()).copied()
    }

    pub fn extension_class(&self, url: &str) -> Option<FieldClass> {
        self.extension_urls.get(&url.trim().to_lowercase()).copied()
    }

    pub fn contact_class(&self, system: &str) -> Option<FieldClass> {
        self.contact_systems
            .get(&system.trim().to_lowercase())
            .copied()
    }

    /// Whether a purpose whose allowed classes are `allowed` keeps
    /// narratives (scanned by the detectors) rather than replacing them.
    pub fn keeps_narrative(&self, allowed: ClassSet) -> bool {
        self.narrative_needs.iter().all(|c| allowed.contains(c))
    }

    pub fn is_label(&self, code: &str) -> bool {
        code == self.label_code
    }

    /// Where, in a reference or a fullUrl to a person (`Patient/10234`,
    /// `https://mis.example/fhir/Patient/10234/_history/2`), the person's
    /// id in the MIS is: the segment after the person type, as a byte span.
    pub fn person_id_span(&self, v: &str) -> Option<(usize, usize)> {
        let mut prev: Option<&str> = None;
        let mut at = 0;
        for seg in v.split('/') {
            if prev.is_some_and(|p| self.is_person(p)) && !seg.is_empty() {
                return Some((at, at + seg.len()));
            }
            prev = Some(seg);
            at += seg.len() + 1;
        }
        None
    }

    /// What a Reference.reference or Reference.type value points at:
    /// `Patient/1`, `…/fhir/Practitioner/x/_history/2` and `Patient` are
    /// persons; another resource type is plain or clinical; `None` when
    /// the value names no type (a `urn:uuid:`, a `#id`).
    pub fn ref_target(&self, v: &str) -> Option<Target> {
        let resource_like = |s: &str| {
            s.len() > 1
                && s.starts_with(|c: char| c.is_ascii_uppercase())
                && s.bytes().all(|b| b.is_ascii_alphabetic())
        };
        let kind = |s: &str| {
            if self.is_person(s) {
                Target::Person
            } else if self.plain.iter().any(|p| p == s) {
                Target::Plain
            } else {
                Target::Clinical
            }
        };
        if resource_like(v) {
            return Some(kind(v));
        }
        let mut segs = v.split('/').peekable();
        let mut found = None;
        while let Some(s) = segs.next() {
            if segs.peek().is_some() && resource_like(s) {
                found = Some(kind(s));
                if found == Some(Target::Person) {
                    break;
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> FhirSchema {
        let text = include_str!("../../rules/fhir.toml");
        let mut out = Vec::new();
        let mut errs = Errors {
            file: FHIR_FILE,
            text,
            out: &mut out,
        };
        let s = FhirSchema::compile(text, &mut errs);
        assert!(out.is_empty(), "{out:?}");
        s.expect("compiles")
    }

    #[test]
    fn person_elements_are_typed() {
        let s = schema();
        let patient = s.resource("Patient");
        assert!(patient.person && !patient.envelope);
        let Some(Elem::Type(name)) = s.elem(patient.ty, b"name") else {
            panic!("Patient.name is a type");
        };
        assert_eq!(s.ty(name).name, "HumanName");
        assert_eq!(
            s.elem(name, b"given"),
            Some(Elem::Leaf(Leaf::ByIndex(
                FieldClass::GivenName,
                FieldClass::Patronymic
            )))
        );
        assert_eq!(
            s.elem(patient.ty, b"_birthDate"),
            Some(Elem::PrimExt(Leaf::Class(FieldClass::BirthDate)))
        );
        // DomainResource members reach every resource.
        assert_eq!(s.elem(patient.ty, b"contained"), Some(Elem::Resource));
        assert!(s.resource("Bundle").envelope);
        assert!(!s.resource("Observation").person);
    }

    #[test]
    fn choice_values_take_their_suffix_type() {
        let s = schema();
        let Some(Elem::Type(ext)) = s.elem(s.resource("Patient").ty, b"extension") else {
            panic!("extension is a type");
        };
        let Some(Elem::Type(addr)) = s.elem(ext, b"valueAddress") else {
            panic!("valueAddress is an Address");
        };
        assert_eq!(s.ty(addr).name, "Address");
        assert_eq!(
            s.elem(ext, b"valueString"),
            Some(Elem::Leaf(Leaf::ChoiceValue))
        );
    }

    #[test]
    fn systems_by_list_and_by_word() {
        let s = schema();
        assert_eq!(
            s.system_class("urn:oid:1.2.643.100.3"),
            Some(FieldClass::Snils)
        );
        assert_eq!(s.system_class("1.2.643.100.3"), Some(FieldClass::Snils));
        assert_eq!(
            s.system_class("urn:identity:snils:Patient"),
            Some(FieldClass::Snils)
        );
        assert_eq!(
            s.system_class("HTTP://FHIR.RU/core/systems/OMS"),
            Some(FieldClass::OmsPolicy)
        );
        assert_eq!(s.system_class("urn:oid:1.2.36.146.595.217.0.1"), None);
        assert_eq!(s.type_code_class("ppn"), Some(FieldClass::Passport));
        assert_eq!(s.contact_class("SMS"), Some(FieldClass::Phone));
    }

    #[test]
    fn reference_targets() {
        let s = schema();
        assert_eq!(s.ref_target("Patient/example"), Some(Target::Person));
        assert_eq!(
            s.ref_target("http://x.org/fhir/Practitioner/1/_history/2"),
            Some(Target::Person)
        );
        assert_eq!(s.ref_target("Organization/1"), Some(Target::Plain));
        assert_eq!(s.person_id_span("Patient/10234"), Some((8, 13)));
        assert_eq!(
            s.person_id_span("https://mis.example/fhir/Practitioner/x7/_history/2"),
            Some((38, 40))
        );
        assert_eq!(s.person_id_span("Organization/1"), None);
        assert_eq!(s.person_id_span("Patient"), None);
        assert_eq!(s.person_id_span("Patient/"), None);
        assert_eq!(
            s.ref_target("DiagnosticReport/f201"),
            Some(Target::Clinical)
        );
        assert_eq!(s.ref_target("RelatedPerson"), Some(Target::Person));
        assert_eq!(s.ref_target("urn:uuid:1234"), None);
        assert_eq!(s.ref_target("#p1"), None);
    }

    #[test]
    fn bad_element_values_name_their_line() {
        let text = "person_resources = []\n[resources]\n[types.Element.elements]\nx = \"nope\"\n[types.DomainResource]\n[narrative]\nkept_when_allowed = []\nreplacement = '<p/>'\n[label]\nsystem = \"s\"\ncode = \"c\"\ndisplay = \"d\"\n[absent]\nurl = \"u\"\ncode = \"masked\"\n[types.Note]\nrequired = [\"_text\"]\n";
        let mut out = Vec::new();
        let mut errs = Errors {
            file: FHIR_FILE,
            text,
            out: &mut out,
        };
        FhirSchema::compile(text, &mut errs);
        assert!(
            out.iter().any(|e| e.starts_with("fhir.toml:4: Element.x")),
            "{out:?}"
        );
        assert!(
            out.iter()
                .any(|e| e.starts_with("fhir.toml:8:") && e.contains("XHTML div")),
            "{out:?}"
        );
        assert!(
            out.iter()
                .any(|e| e.starts_with("fhir.toml:17:") && e.contains("without `_`")),
            "{out:?}"
        );
    }

    #[test]
    fn required_elements_have_bits_and_names() {
        let s = schema();
        let note = s.type_named("Annotation").unwrap();
        let bit = s.required_bit(note, b"text");
        assert_ne!(bit, 0);
        assert_eq!(s.required_bit(note, b"_text"), bit);
        assert_eq!(s.required_bit(note, b"time"), 0);
        let names: Vec<&[u8]> = s.required_names(note, bit).collect();
        assert_eq!(names, [b"text".as_slice()]);
        assert!(
            std::str::from_utf8(&s.absent_json)
                .unwrap()
                .contains("data-absent-reason")
        );
    }
}
