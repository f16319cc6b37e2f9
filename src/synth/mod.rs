//! zaslon's own generator of synthetic Russian MIS JSON, with ground truth.
//!
//! Every document is built from its own seeded stream, so `generate(kind,
//! seed, i)` is byte-identical on every run and machine, and patient `i` of a
//! seed is the same person in a card, a list, an appointment and a FHIR
//! resource (the demo upstream relies on that). While writing, the generator
//! records every personal-data value ([`Truth`]: RFC 6901 pointer, class,
//! exact text, subject) and every look-alike that must NOT be flagged
//! ([`Decoy`]: order numbers failing the SNILS checksum, organisation INN and
//! OGRN, toll-free numbers, ICD-10 codes, visit dates, UUIDs...).
//!
//! Key spellings vary on purpose (camelCase, snake_case, PascalCase, Russian
//! keys, FOMS upper-case FAM/IM/OT/DR), as do nesting, identifier formats
//! (SNILS with hyphens, spaces, plain or as a JSON number) and a few
//! documents are written with `\uXXXX` escapes, so the redaction engine is
//! exercised beyond one vocabulary. All data is synthetic.
//!
//! ```
//! use zaslon::synth::{self, Kind};
//!
//! // Patient 234 of seed 1: a card whose "id" is "10234".
//! let card = synth::patient(1, 234);
//! assert!(card.json.starts_with(r#"{"id":"10234","#));
//! // Every personal-data value, with where it is and what it is.
//! let v: serde_json::Value = serde_json::from_str(&card.json).unwrap();
//! for t in &card.truth {
//!     let at = v.pointer(&t.pointer).unwrap();
//!     assert!(at.to_string().contains(&t.text));
//! }
//! // A ~64 KiB FHIR searchset Bundle for a benchmark fixture.
//! let json = synth::page_json(Kind::FhirBundle, 1, 64 << 10);
//! assert!(json.len() > 60_000);
//! ```

mod card;
pub mod checksum;
mod clinical;
mod data;
mod fhir;
mod ids;
mod json;
mod keys;
mod patient;
mod person;
mod rng;

use crate::class::FieldClass;
use json::Out;
use keys::{Keys, Style};
use rng::{Rng, stream};

/// What kind of document to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A page of patient summaries: `{"items":[{"id":"10234",...}],...}`.
    Patients,
    /// One patient card.
    Patient,
    /// A day's appointments of a clinic.
    Appointments,
    /// A medical document with free-text sections.
    Documents,
    /// A FHIR `Patient` resource.
    FhirPatient,
    /// A FHIR searchset `Bundle` (patients, coverage, conditions).
    FhirBundle,
    /// Any of the above, chosen per index.
    Mixed,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Patients,
        Kind::Patient,
        Kind::Appointments,
        Kind::Documents,
        Kind::FhirPatient,
        Kind::FhirBundle,
        Kind::Mixed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Patients => "patients",
            Kind::Patient => "patient",
            Kind::Appointments => "appointments",
            Kind::Documents => "documents",
            Kind::FhirPatient => "fhir_patient",
            Kind::FhirBundle => "fhir_bundle",
            Kind::Mixed => "mixed",
        }
    }

    fn tag(self) -> u64 {
        self as u64
    }
}

impl std::str::FromStr for Kind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// Every [`Decoy::kind`] the generator writes. The checksum-shaped ones:
/// `lab_order_bad_snils` (11 digits failing the SNILS check),
/// `referral_snils_digits` (`2021-6085910`: the digits pass the SNILS check,
/// the 4-7 grouping says it is not one), `transaction_id_16` (fails Luhn),
/// `registry_number_12` (fails the INN-12 checks), `org_inn10` and
/// `org_ogrn` (valid, but an organisation's), `tollfree_phone` (`8 800`).
/// The rest: ICD-10 codes, prices, order numbers, UUIDs and dates that are
/// not birth dates.
pub const DECOY_KINDS: &[&str] = &[
    "lab_order_bad_snils",
    "referral_snils_digits",
    "transaction_id_16",
    "registry_number_12",
    "org_inn10",
    "org_ogrn",
    "tollfree_phone",
    "icd10",
    "price",
    "order_number",
    "uuid",
    "visit_date",
    "visit_datetime",
    "created_datetime",
    "issue_date",
    "policy_date",
    "onset_date",
];

/// Whose personal data a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Patient,
    Doctor,
    Representative,
}

/// One personal-data occurrence in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    /// RFC 6901 pointer to the string or number within the document.
    pub pointer: String,
    pub class: FieldClass,
    /// The exact text of the value (digits only for a JSON number).
    pub text: String,
    /// `text` is a substring of free text rather than the whole value.
    pub embedded: bool,
    pub subject: Subject,
}

/// A value that looks like an identifier or a birth date but is not
/// personal data; a redaction engine must leave it alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoy {
    pub pointer: String,
    pub kind: &'static str,
    /// The decoy text: the whole value or a substring of free text.
    pub text: String,
}

/// One generated JSON document with its ground truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// Compact JSON, one document, no trailing newline.
    pub json: String,
    pub truth: Vec<Truth>,
    pub decoys: Vec<Decoy>,
}

/// Appointments, documents and FHIR bundles draw their patients from
/// patients `0..PATIENT_POOL`, so the demo upstream can serve all of them.
pub const PATIENT_POOL: u64 = 1000;

/// Patients per `generate(Kind::Patients, seed, index)` page slot: page
/// `index` lists patients from `index * PATIENTS_PER_PAGE` on.
pub const PATIENTS_PER_PAGE: u64 = 20;

/// The subject id of patient `i`: a numeric string, `10000 + i`. It is the
/// same for every seed; the seed decides who the patient is.
pub fn patient_id(_seed: u64, i: u64) -> String {
    (10_000 + i).to_string()
}

/// The inverse of [`patient_id`].
pub fn patient_index(id: &str) -> Option<u64> {
    id.parse::<u64>().ok()?.checked_sub(10_000)
}

/// The card of patient `i`; its `"id"` is [`patient_id`]`(seed, i)`.
pub fn patient(seed: u64, i: u64) -> Doc {
    generate(Kind::Patient, seed, i)
}

fn finish(out: Out) -> Doc {
    Doc {
        json: out.buf,
        truth: out.truth,
        decoys: out.decoys,
    }
}

/// Document `index` of `kind`: the same inputs give byte-identical output.
pub fn generate(kind: Kind, seed: u64, index: u64) -> Doc {
    let mut rng = Rng::new(seed, stream::LAYOUT * 16 + kind.tag(), index);
    let kind = match kind {
        Kind::Mixed => *rng.pick(&Kind::ALL[..6]),
        k => k,
    };
    // One document in sixteen escapes every non-ASCII character.
    let mut out = Out::new(rng.chance(6), true);
    let style = Style::random(&mut rng);
    let keys = Keys::new(&mut rng, style);
    match kind {
        Kind::Patients => patient::list_page(&mut out, &mut rng, &keys, seed, index),
        Kind::Patient | Kind::Mixed => card::card(&mut out, &mut rng, &keys, seed, index),
        Kind::Appointments | Kind::Documents => {
            // Some APIs wrap the payload in an envelope.
            let envelope = rng.below(8);
            match envelope {
                0 => out.obj().key("success").bool(true).key("data"),
                1 => out.obj().key("result"),
                2 => out.obj().key("ответ"),
                _ => &mut out,
            };
            if kind == Kind::Appointments {
                clinical::appointments(&mut out, &mut rng, &keys, seed);
            } else {
                clinical::document(&mut out, &mut rng, &keys, seed);
            }
            match envelope {
                0 => out.end(),
                1 | 2 => out.key("error").null().end(),
                _ => &mut out,
            };
        }
        Kind::FhirPatient => {
            let i = rng.below(PATIENT_POOL);
            fhir::patient(&mut out, &mut rng, seed, i)
        }
        Kind::FhirBundle => fhir::bundle(&mut out, &mut rng, seed),
    }
    finish(out)
}

/// One list document of about `target_bytes` (at least one item):
/// `{"items":[...],"total":N,"page":1}` holding patient summaries, patient
/// cards, appointments, documents or a mix of those; for `FhirPatient` a
/// searchset Bundle `{"resourceType":"Bundle",...,"entry":[...],"total":N}`
/// of Patient entries, for `FhirBundle` the same with Coverage and Condition
/// entries among them.
/// Truth pointers are relative to the whole document. Patient records are
/// patients `0, 1, 2, ...` and carry their subject id under `"id"`.
pub fn page(kind: Kind, seed: u64, target_bytes: usize) -> Doc {
    finish(write_page(kind, seed, target_bytes, true))
}

/// [`page`] without recording ground truth, for large benchmark fixtures
/// (the JSON is byte-identical to `page(kind, seed, target_bytes).json`).
pub fn page_json(kind: Kind, seed: u64, target_bytes: usize) -> String {
    write_page(kind, seed, target_bytes, false).buf
}

fn write_page(kind: Kind, seed: u64, target: usize, record: bool) -> Out {
    let mut rng = Rng::new(seed, stream::PAGE * 16 + kind.tag(), target as u64);
    let mut out = Out::new(false, record);
    let style = Style::random(&mut rng);
    let keys = Keys::new(&mut rng, style);
    let fhir = matches!(kind, Kind::FhirPatient | Kind::FhirBundle);
    // The tail closes the list and adds the totals; about 40 bytes.
    let tail = 40;
    out.obj();
    if fhir {
        out.ks("resourceType", "Bundle")
            .ks("id", &ids::uuid(&mut rng));
        out.ks("type", "searchset").karr("entry");
    } else {
        out.karr("items");
    }
    let mut n = 0u64;
    loop {
        let before = out.len();
        match kind {
            Kind::Patients => patient::summary(&mut out, &mut rng, &keys, seed, n),
            Kind::Patient => card::card(&mut out, &mut rng, &keys, seed, n),
            Kind::Appointments => clinical::appointment(&mut out, &mut rng, &keys, seed),
            Kind::Documents => clinical::document(&mut out, &mut rng, &keys, seed),
            Kind::Mixed => match rng.below(4) {
                0 => clinical::appointment(&mut out, &mut rng, &keys, seed),
                1 => clinical::document(&mut out, &mut rng, &keys, seed),
                _ => patient::summary(&mut out, &mut rng, &keys, seed, n),
            },
            Kind::FhirPatient => fhir::patient_entry(&mut out, &mut rng, seed, n),
            Kind::FhirBundle => fhir::bundle_entries(&mut out, &mut rng, seed, n),
        }
        n += 1;
        let item = out.len() - before;
        // Stop when the next item would more likely overshoot than not.
        if out.len() + tail + item / 2 >= target {
            break;
        }
    }
    out.end();
    if fhir {
        out.key("total").int(n);
    } else {
        out.key("total").int(n).key("page").int(1);
    }
    out.end();
    out
}

/// `count` documents of `kind`, one per line (each line ends with `\n`),
/// with the truth and decoys of line `i` at index `i`.
pub fn ndjson(kind: Kind, seed: u64, count: usize) -> (String, Vec<Vec<Truth>>, Vec<Vec<Decoy>>) {
    let mut text = String::new();
    let mut truth = Vec::with_capacity(count);
    let mut decoys = Vec::with_capacity(count);
    for i in 0..count as u64 {
        let doc = generate(kind, seed, i);
        text.push_str(&doc.json);
        text.push('\n');
        truth.push(doc.truth);
        decoys.push(doc.decoys);
    }
    (text, truth, decoys)
}
