//! The redactor over the 605 official HL7 FHIR R4 examples, as issue 19
//! demands (the material is in `../shared/conformance/fhir-r4/`, see its
//! README; it is never copied into the repository):
//!
//! - `marketing`, `analytics`, `support`, `feedback`: no value of the
//!   ground truth (tests/fhir/truth.rs) whose class the purpose does not
//!   allow can be read anywhere in the output, narrative included;
//! - `legal`: every output is byte-identical to its input;
//! - `care`: no leaf changes but what `rules/care.toml` masks or removes;
//! - every output of every purpose is valid JSON, with no empty object or
//!   array (FHIR JSON has none) where its input had none;
//! - any chunking of the input gives the same bytes.
//!
//! Without the folder each test says SKIPPED on stderr and passes, unless
//! `ZASLON_REQUIRE_CONFORMANCE=1` (as in CI), where it fails.

mod fhir;

use std::sync::OnceLock;

use fhir::Example;
use fhir::survivors::{Found, Report};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use zaslon::class::Purpose;
use zaslon::redact::{Engine, RedactError};

/// How many findings a failure message lists.
const SHOWN: usize = 25;

/// What the redactor made of one example.
type Output = Result<Vec<u8>, RedactError>;

struct Fixture {
    examples: Vec<Example>,
    engine: Engine,
    /// Per purpose, the output of each example fed whole, made once for
    /// all the tests of this binary.
    outputs: [OnceLock<Vec<Output>>; 9],
}

fn fixture(test: &str) -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    let f = FIXTURE.get_or_init(|| {
        fhir::load_examples(&fhir::examples_dir())
            .filter(|e| !e.is_empty())
            .map(|examples| Fixture {
                examples,
                engine: fhir::engine(),
                outputs: Default::default(),
            })
    });
    match f {
        Some(f) => Some(f),
        // Say it per test, and fail under ZASLON_REQUIRE_CONFORMANCE=1.
        None => {
            fhir::skip(test);
            None
        }
    }
}

impl Fixture {
    fn outputs(&self, p: Purpose) -> &[Output] {
        self.outputs[p.index()].get_or_init(|| {
            self.examples
                .iter()
                .map(|e| fhir::redact(&self.engine, p, &e.bytes, None))
                .collect()
        })
    }

    fn report(&self, p: Purpose) -> Report {
        let mut r = Report::new(p);
        for (e, out) in self.examples.iter().zip(self.outputs(p)) {
            let truth = fhir::truth::extract(&e.json);
            r.add(self.engine.rules(), &e.name, &e.bytes, &e.json, &truth, out);
        }
        r
    }
}

fn listed<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    let mut s: Vec<String> = items.iter().take(SHOWN).map(show).collect();
    if items.len() > SHOWN {
        s.push(format!("... and {} more", items.len() - SHOWN));
    }
    s.join("\n")
}

fn assert_no_survivors(p: Purpose) {
    let Some(f) = fixture(&format!("fhir_conformance::{p}_no_survivors")) else {
        return;
    };
    let r = f.report(p);
    assert!(
        r.errors.is_empty(),
        "{p}: the redactor refused:\n{}",
        listed(&r.errors, |(f, e)| format!("{f}: {e}"))
    );
    assert!(
        r.survivors.is_empty(),
        "{p}: {} of {} values it may not see survive (`cargo run --example fhir_survivors -- -v` lists them):\n{}",
        r.total_survived(),
        r.total_forbidden(),
        listed(&r.survivors, |s| format!(
            "{} {} {:?} at {}{}",
            s.file,
            s.class,
            s.value.chars().take(60).collect::<String>(),
            s.locations.join(", "),
            if s.found == Found::NarrativeOnly {
                " (read in a narrative only)"
            } else {
                ""
            }
        ))
    );
}

#[test]
fn marketing_no_survivors() {
    assert_no_survivors(Purpose::Marketing);
}

#[test]
fn analytics_no_survivors() {
    assert_no_survivors(Purpose::Analytics);
}

#[test]
fn support_no_survivors() {
    assert_no_survivors(Purpose::Support);
}

#[test]
fn feedback_no_survivors() {
    assert_no_survivors(Purpose::Feedback);
}

#[test]
fn legal_byte_identical() {
    let Some(f) = fixture("fhir_conformance::legal_byte_identical") else {
        return;
    };
    let r = f.report(Purpose::Legal);
    let bad: Vec<String> = r
        .errors
        .iter()
        .map(|(f, e)| format!("{f}: {e}"))
        .chain(r.changed_files.iter().cloned())
        .collect();
    assert!(
        bad.is_empty(),
        "legal changed {} of {} examples:\n{}",
        bad.len(),
        r.files,
        listed(&bad, String::clone)
    );
}

#[test]
fn care_changes_only_what_care_masks() {
    let Some(f) = fixture("fhir_conformance::care_changes_only_what_care_masks") else {
        return;
    };
    let r = f.report(Purpose::Care);
    assert!(
        r.errors.is_empty() && r.invalid_json.is_empty(),
        "care: errors {:?}, invalid {:?}",
        r.errors,
        r.invalid_json
    );
    assert!(
        r.unexplained.is_empty(),
        "care changed {} leaves that rules/care.toml does not mask or remove:\n{}",
        r.unexplained.len(),
        listed(&r.unexplained, |(f, p, w)| format!(
            "{f} {p}: {}",
            w.chars().take(100).collect::<String>()
        ))
    );
}

#[test]
fn every_output_is_json() {
    let Some(f) = fixture("fhir_conformance::every_output_is_json") else {
        return;
    };
    let mut bad = Vec::new();
    for p in Purpose::ALL {
        for (e, out) in f.examples.iter().zip(f.outputs(p)) {
            match out {
                Err(err) => bad.push(format!("{p} {}: refused: {err}", e.name)),
                Ok(o) => {
                    if let Err(err) = serde_json::from_slice::<serde_json::Value>(o) {
                        bad.push(format!("{p} {}: {err}", e.name));
                    }
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} outputs are not JSON:\n{}",
        bad.len(),
        listed(&bad, String::clone)
    );
}

/// The first place where `v` breaks a rule of FHIR's JSON representation
/// (https://hl7.org/fhir/R4/json.html) that redaction could break: an empty
/// object or array.
fn empty_container(v: &serde_json::Value, path: &mut String) -> Option<String> {
    use serde_json::Value;
    let len = path.len();
    let found = match v {
        Value::Object(m) if m.is_empty() => Some(format!("{path}: {{}}")),
        Value::Array(a) if a.is_empty() => Some(format!("{path}: []")),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            path.truncate(len);
            path.push('.');
            path.push_str(k);
            empty_container(x, path)
        }),
        Value::Array(a) => a.iter().find_map(|x| {
            path.truncate(len);
            path.push_str("[]");
            empty_container(x, path)
        }),
        _ => None,
    };
    path.truncate(len);
    found
}

#[test]
fn no_output_has_an_empty_object_or_array() {
    let Some(f) = fixture("fhir_conformance::no_output_has_an_empty_object_or_array") else {
        return;
    };
    let mut bad = Vec::new();
    let mut judged = 0;
    for (i, e) in f.examples.iter().enumerate() {
        let input: serde_json::Value = match serde_json::from_slice(&e.bytes) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if empty_container(&input, &mut "$".to_owned()).is_some() {
            continue;
        }
        judged += 1;
        for p in Purpose::ALL {
            let Ok(out) = &f.outputs(p)[i] else {
                continue;
            };
            let v: serde_json::Value = match serde_json::from_slice(out) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if let Some(at) = empty_container(&v, &mut "$".to_owned()) {
                bad.push(format!("{p} {}: {at}", e.name));
            }
        }
    }
    assert!(judged > 500, "only {judged} examples judged");
    assert!(
        bad.is_empty(),
        "{} outputs hold an empty container their input did not:\n{}",
        bad.len(),
        listed(&bad, String::clone)
    );
}

/// Files up to this size are also fed one byte at a time.
const BYTEWISE_MAX: usize = 4096;

#[test]
fn fixed_chunkings_give_the_same_bytes() {
    let Some(f) = fixture("fhir_conformance::fixed_chunkings_give_the_same_bytes") else {
        return;
    };
    let mut bad = Vec::new();
    for p in Purpose::ALL {
        for (e, whole) in f.examples.iter().zip(f.outputs(p)) {
            let sizes = [1, 7, 64, 4096]
                .into_iter()
                .filter(|&n| n > 1 || e.bytes.len() <= BYTEWISE_MAX);
            for n in sizes {
                let got = fhir::redact(&f.engine, p, &e.bytes, Some(n));
                if &got != whole {
                    bad.push(format!("{p} {} in {n}-byte chunks", e.name));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} chunkings differ from the whole feed:\n{}",
        bad.len(),
        listed(&bad, String::clone)
    );
}

#[test]
fn random_chunkings_give_the_same_bytes() {
    let Some(f) = fixture("fhir_conformance::random_chunkings_give_the_same_bytes") else {
        return;
    };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    // Cut points are drawn as fractions of the file, so one strategy fits
    // every file of the sample.
    let strategy = (
        0..f.examples.len(),
        0..Purpose::ALL.len(),
        proptest::collection::vec(0.0..1.0f64, 1..24),
    );
    let result = runner.run(&strategy, |(i, p, fractions)| {
        let e = &f.examples[i];
        let p = Purpose::ALL[p];
        let mut cuts: Vec<usize> = fractions
            .iter()
            .map(|x| (x * e.bytes.len() as f64) as usize)
            .collect();
        cuts.sort_unstable();
        let got = fhir::redact_at(&f.engine, p, &e.bytes, &cuts);
        prop_assert_eq!(&got, &f.outputs(p)[i], "{} {} cut at {:?}", p, e.name, cuts);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
