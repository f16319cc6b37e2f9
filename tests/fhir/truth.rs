//! The ground truth of personal data in a FHIR R4 document, read from the
//! structure of the resources alone: which resources hold persons, and
//! which datatype elements of them name, reach or identify the person.
//! Nothing here knows a particular example or its values, so the same
//! walk measures any FHIR R4 JSON.
//!
//! Collected, for every person resource (Patient, Practitioner,
//! RelatedPerson, Person) at the top, in `Bundle.entry[*].resource`, in
//! `contained[*]` and in `Parameters.parameter[*].resource` (and `part`):
//!
//! - `identifier[*].value` (and `Practitioner.qualification[*].identifier`):
//!   the precise class when the `system` or a `type.coding` code names it,
//!   otherwise `person_id`;
//! - HumanName `family`, `given[0]`, `given[1..]`, `text`;
//! - ContactPoint `value`, classed by `system`;
//! - `birthDate` and the `value[x]` of `_birthDate` extensions;
//! - Address `line`, `postalCode`, `text`;
//! - Attachment `data` and `url` under `photo`;
//! - the same name, telecom and address parts of `Patient.contact[*]`.
//!
//! And anywhere in the document, the `display` of a Reference to a person
//! resource, as a full name.
//!
//! Values shorter than [`MIN_CHARS`] characters are left out: an initial or
//! a two-digit number occurs all over any output by chance, so a search
//! for it would count noise, not leaks.

use std::collections::HashSet;

use serde_json::{Map, Value};
use zaslon::class::FieldClass;

/// The resource types that describe a person.
pub const PERSON_TYPES: [&str; 4] = ["Patient", "Practitioner", "RelatedPerson", "Person"];

/// The classes [`extract`] gives.
pub const TRUTH_CLASSES: [FieldClass; 15] = [
    FieldClass::Snils,
    FieldClass::OmsPolicy,
    FieldClass::DmsPolicy,
    FieldClass::Surname,
    FieldClass::GivenName,
    FieldClass::Patronymic,
    FieldClass::FullName,
    FieldClass::Phone,
    FieldClass::Email,
    FieldClass::BirthDate,
    FieldClass::Address,
    FieldClass::Passport,
    FieldClass::Inn,
    FieldClass::PersonId,
    FieldClass::Photo,
];

/// Shorter values are not collected (see the module comment).
pub const MIN_CHARS: usize = 3;

/// One value of personal data, where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    pub class: FieldClass,
    pub value: String,
    /// A JSON pointer into the document.
    pub location: String,
}

/// Every personal value of `doc`, in document order.
pub fn extract(doc: &Value) -> Vec<Truth> {
    let mut x = Extractor {
        out: Vec::new(),
        person_urls: HashSet::new(),
    };
    collect_person_urls(doc, &mut x.person_urls);
    x.resource(doc, "");
    x.references(doc, "", &HashSet::new());
    x.out
}

struct Extractor {
    out: Vec<Truth>,
    /// `fullUrl`s of Bundle entries that hold a person resource: a
    /// reference equal to one (often `urn:uuid:...`) points at a person.
    person_urls: HashSet<String>,
}

fn is_person(v: &Value) -> bool {
    v.get("resourceType")
        .and_then(Value::as_str)
        .is_some_and(|t| PERSON_TYPES.contains(&t))
}

/// A JSON pointer segment, escaped as RFC 6901 says.
fn seg(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The elements of a value that FHIR writes as an array, or a single
/// object where the element is not repeating (`Patient.contact.name`).
fn items<'a>(v: Option<&'a Value>, at: &str) -> Vec<(String, &'a Value)> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, x)| (format!("{at}/{i}"), x))
            .collect(),
        Some(x) => vec![(at.to_owned(), x)],
        None => Vec::new(),
    }
}

impl Extractor {
    fn push(&mut self, class: FieldClass, v: Option<&Value>, location: String) {
        if let Some(s) = v.and_then(Value::as_str) {
            if s.trim().chars().count() >= MIN_CHARS {
                self.out.push(Truth {
                    class,
                    value: s.to_owned(),
                    location,
                });
            }
        }
    }

    /// A resource at `at`: its own person data when it is a person, then
    /// the resources nested in it.
    fn resource(&mut self, r: &Value, at: &str) {
        let Some(obj) = r.as_object() else { return };
        if is_person(r) {
            self.person(obj, at);
        }
        for (p, c) in items(obj.get("contained"), &format!("{at}/contained")) {
            self.resource(c, &p);
        }
        match obj.get("resourceType").and_then(Value::as_str) {
            Some("Bundle") => {
                for (p, e) in items(obj.get("entry"), &format!("{at}/entry")) {
                    if let Some(res) = e.get("resource") {
                        self.resource(res, &format!("{p}/resource"));
                    }
                }
            }
            Some("Parameters") => {
                for (p, prm) in items(obj.get("parameter"), &format!("{at}/parameter")) {
                    self.parameter(prm, &p);
                }
            }
            _ => {}
        }
    }

    fn parameter(&mut self, prm: &Value, at: &str) {
        if let Some(res) = prm.get("resource") {
            self.resource(res, &format!("{at}/resource"));
        }
        for (p, part) in items(prm.get("part"), &format!("{at}/part")) {
            self.parameter(part, &p);
        }
    }

    fn person(&mut self, r: &Map<String, Value>, at: &str) {
        for (p, id) in items(r.get("identifier"), &format!("{at}/identifier")) {
            self.identifier(id, &p);
        }
        for (p, q) in items(r.get("qualification"), &format!("{at}/qualification")) {
            for (p, id) in items(q.get("identifier"), &format!("{p}/identifier")) {
                self.identifier(id, &p);
            }
        }
        self.contact_parts(r, at);
        self.push(
            FieldClass::BirthDate,
            r.get("birthDate"),
            format!("{at}/birthDate"),
        );
        if let Some(ext) = r.get("_birthDate") {
            for (p, e) in items(ext.get("extension"), &format!("{at}/_birthDate/extension")) {
                self.extension_values(e, &p, FieldClass::BirthDate);
            }
        }
        for (p, ph) in items(r.get("photo"), &format!("{at}/photo")) {
            self.push(FieldClass::Photo, ph.get("data"), format!("{p}/data"));
            self.push(FieldClass::Photo, ph.get("url"), format!("{p}/url"));
        }
        for (p, c) in items(r.get("contact"), &format!("{at}/contact")) {
            if let Some(c) = c.as_object() {
                self.contact_parts(c, &p);
            }
        }
    }

    /// `name`, `telecom` and `address` of a person or of a patient's contact.
    fn contact_parts(&mut self, r: &Map<String, Value>, at: &str) {
        for (p, n) in items(r.get("name"), &format!("{at}/name")) {
            self.human_name(n, &p);
        }
        for (p, t) in items(r.get("telecom"), &format!("{at}/telecom")) {
            let class = match t.get("system").and_then(Value::as_str) {
                Some("phone" | "sms" | "fax" | "pager") => FieldClass::Phone,
                Some("email") => FieldClass::Email,
                // `url`, `other` or no system: a way to reach this person,
                // so an identifier of them.
                _ => FieldClass::PersonId,
            };
            self.push(class, t.get("value"), format!("{p}/value"));
        }
        for (p, a) in items(r.get("address"), &format!("{at}/address")) {
            for (p, l) in items(a.get("line"), &format!("{p}/line")) {
                self.push(FieldClass::Address, Some(l), p);
            }
            self.push(
                FieldClass::Address,
                a.get("postalCode"),
                format!("{p}/postalCode"),
            );
            self.push(FieldClass::Address, a.get("text"), format!("{p}/text"));
        }
    }

    fn human_name(&mut self, n: &Value, at: &str) {
        self.push(FieldClass::Surname, n.get("family"), format!("{at}/family"));
        for (i, (p, g)) in items(n.get("given"), &format!("{at}/given"))
            .into_iter()
            .enumerate()
        {
            // given[1..] is the patronymic in Russian profiles and the
            // middle names elsewhere: the same place in the datatype.
            let class = if i == 0 {
                FieldClass::GivenName
            } else {
                FieldClass::Patronymic
            };
            self.push(class, Some(g), p);
        }
        self.push(FieldClass::FullName, n.get("text"), format!("{at}/text"));
    }

    fn identifier(&mut self, id: &Value, at: &str) {
        self.push(identifier_class(id), id.get("value"), format!("{at}/value"));
    }

    /// The string `value[x]` of an extension (and of nested extensions).
    fn extension_values(&mut self, e: &Value, at: &str, class: FieldClass) {
        let Some(obj) = e.as_object() else { return };
        for (k, v) in obj {
            if k.starts_with("value") && v.is_string() {
                self.push(class, Some(v), format!("{at}/{}", seg(k)));
            }
        }
        for (p, sub) in items(obj.get("extension"), &format!("{at}/extension")) {
            self.extension_values(sub, &p, class);
        }
    }

    /// The `display` of every Reference to a person anywhere under `v`.
    /// `persons` holds the ids of person resources in the enclosing
    /// resource's `contained`, which `#id` references point at.
    fn references(&mut self, v: &Value, at: &str, persons: &HashSet<String>) {
        match v {
            Value::Object(obj) => {
                let inner;
                let persons = if obj.contains_key("resourceType") {
                    inner = contained_persons(obj);
                    &inner
                } else {
                    persons
                };
                if obj.contains_key("display") && self.refers_to_person(obj, persons) {
                    self.push(
                        FieldClass::FullName,
                        obj.get("display"),
                        format!("{at}/display"),
                    );
                }
                for (k, x) in obj {
                    self.references(x, &format!("{at}/{}", seg(k)), persons);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    self.references(x, &format!("{at}/{i}"), persons);
                }
            }
            _ => {}
        }
    }

    fn refers_to_person(&self, obj: &Map<String, Value>, contained: &HashSet<String>) -> bool {
        let typed = obj
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| PERSON_TYPES.contains(&t));
        let Some(r) = obj.get("reference").and_then(Value::as_str) else {
            return typed;
        };
        if typed || self.person_urls.contains(r) {
            return true;
        }
        if let Some(id) = r.strip_prefix('#') {
            return contained.contains(id);
        }
        // `Patient/1`, `Patient/1/_history/2`, or the same after a base URL.
        let segs: Vec<&str> = r.split('/').collect();
        segs.iter().enumerate().any(|(i, s)| {
            PERSON_TYPES.contains(s) && segs.get(i + 1).is_some_and(|x| !x.is_empty())
        })
    }
}

/// The ids of the person resources in `r.contained`.
fn contained_persons(r: &Map<String, Value>) -> HashSet<String> {
    items(r.get("contained"), "")
        .into_iter()
        .filter(|(_, c)| is_person(c))
        .filter_map(|(_, c)| c.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// The `fullUrl` of every Bundle entry whose resource is a person.
fn collect_person_urls(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::Object(obj) => {
            if let (Some(url), Some(res)) = (
                obj.get("fullUrl").and_then(Value::as_str),
                obj.get("resource"),
            ) {
                if is_person(res) {
                    out.insert(url.to_owned());
                }
            }
            obj.values().for_each(|x| collect_person_urls(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_person_urls(x, out)),
        _ => {}
    }
}

/// The class of an identifier of a person: precise only when its `system`
/// or a `type.coding` code says so plainly, else `person_id`.
pub fn identifier_class(id: &Value) -> FieldClass {
    let system = id
        .get("system")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let words: Vec<&str> = system
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let oid = system.strip_prefix("urn:oid:").unwrap_or(&system);
    let codes: Vec<String> = items(id.pointer("/type/coding"), "")
        .into_iter()
        .filter_map(|(_, c)| c.get("code").and_then(Value::as_str))
        .map(str::to_ascii_uppercase)
        .collect();
    let says = |word: &str, code: &str| words.contains(&word) || codes.iter().any(|c| c == code);
    // 1.2.643.100.3 and .4 are the Russian OIDs of SNILS and INN.
    if says("snils", "SNILS") || oid == "1.2.643.100.3" {
        FieldClass::Snils
    } else if says("inn", "INN") || oid == "1.2.643.100.4" {
        FieldClass::Inn
    } else if says("oms", "OMS") || says("enp", "ENP") {
        FieldClass::OmsPolicy
    } else if says("dms", "DMS") {
        FieldClass::DmsPolicy
    } else if says("passport", "PPN") {
        FieldClass::Passport
    } else {
        FieldClass::PersonId
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classes_and_places() {
        let doc = json!({
            "resourceType": "Bundle",
            "entry": [{"fullUrl": "urn:uuid:p1", "resource": {
                "resourceType": "Patient", "id": "p1",
                "identifier": [{"system": "urn:oid:1.2.643.100.3", "value": "112-233-445 95"},
                               {"system": "http://x.example/mrn", "value": "A-77"},
                               {"type": {"coding": [{"code": "PPN"}]}, "value": "4509 123456"}],
                "name": [{"family": "Ivanova", "given": ["Maria", "Petrovna"], "text": "M P Ivanova"}],
                "telecom": [{"system": "email", "value": "m@x.example"}, {"value": "abc-1"}],
                "contained": [{"resourceType": "RelatedPerson", "id": "rp",
                               "name": [{"family": "Ivanov"}]}],
                "link": [{"other": {"reference": "#rp", "display": "Ivan Ivanov"}}]}},
              {"resource": {"resourceType": "Observation",
                "subject": {"reference": "urn:uuid:p1", "display": "Maria Ivanova"},
                "performer": [{"reference": "Organization/o", "display": "Clinic One"}]}}]
        });
        let t = extract(&doc);
        let got: Vec<(&str, &str)> = t
            .iter()
            .map(|t| (t.class.as_str(), t.value.as_str()))
            .collect();
        for want in [
            ("snils", "112-233-445 95"),
            ("person_id", "A-77"),
            ("passport", "4509 123456"),
            ("surname", "Ivanova"),
            ("given_name", "Maria"),
            ("patronymic", "Petrovna"),
            ("full_name", "M P Ivanova"),
            ("email", "m@x.example"),
            ("person_id", "abc-1"),
            ("surname", "Ivanov"),
            ("full_name", "Ivan Ivanov"),
            ("full_name", "Maria Ivanova"),
        ] {
            assert!(got.contains(&want), "{want:?} missing from {got:?}");
        }
        assert!(!got.iter().any(|(_, v)| *v == "Clinic One"));
        assert_eq!(t[0].location, "/entry/0/resource/identifier/0/value");
    }
}
