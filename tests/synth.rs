//! The synthetic MIS generator: determinism, well-formed JSON, ground truth
//! that resolves and passes checksums (checked by validators written here,
//! independently of the generator), decoys that fail them, page sizes, and
//! agreement of the generator's checksum functions with the reference vectors.

use std::collections::HashSet;

use serde_json::Value;
use zaslon::class::FieldClass;
use zaslon::synth::{self, Decoy, Doc, Kind, Subject, Truth, checksum};

// ---------------------------------------------------------------- validators
// Written differently from src/synth/checksum.rs on purpose.

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// `template` uses `9` for a digit; every other character must match as is.
fn shaped(s: &str, template: &str) -> bool {
    s.len() == template.len()
        && s.bytes().zip(template.bytes()).all(|(c, t)| {
            if t == b'9' {
                c.is_ascii_digit()
            } else {
                c == t
            }
        })
}

fn snils_sum_ok(d: &[u32]) -> bool {
    let sum: u32 = (0..9).map(|i| d[i] * (9 - i as u32)).sum();
    let body: u32 = d[..9].iter().fold(0, |a, x| a * 10 + x);
    body <= 1_001_998 || sum % 101 % 100 == d[9] * 10 + d[10]
}

fn snils_ok(s: &str) -> bool {
    let forms = [
        "999-999-999 99",
        "999-999-999-99",
        "999 999 999 99",
        "99999999999",
    ];
    forms.iter().any(|f| shaped(s, f)) && snils_sum_ok(&digits(s))
}

fn luhn_ok(d: &[u32]) -> bool {
    let n = d.len();
    let total: u32 = d
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (n - i).is_multiple_of(2) {
                (x * 2) / 10 + (x * 2) % 10
            } else {
                x
            }
        })
        .sum();
    total.is_multiple_of(10)
}

fn sixteen(s: &str) -> Option<Vec<u32>> {
    (shaped(s, "9999999999999999") || shaped(s, "9999 9999 9999 9999")).then(|| digits(s))
}

fn enp_ok(s: &str) -> bool {
    sixteen(s).is_some_and(|d| luhn_ok(&d))
}

fn card_ok(s: &str) -> bool {
    sixteen(s).is_some_and(|d| {
        let p = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3];
        let brand = (2200..=2204).contains(&p) || d[0] == 4 || (5100..=5599).contains(&p);
        brand && luhn_ok(&d)
    })
}

fn inn_digit(d: &[u32], w: &[u32]) -> u32 {
    w.iter().zip(d).map(|(a, b)| a * b).sum::<u32>() % 11 % 10
}

fn inn12_ok(s: &str) -> bool {
    let d = digits(s);
    shaped(s, "999999999999")
        && inn_digit(&d, &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[10]
        && inn_digit(&d, &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[11]
}

fn inn10_ok(s: &str) -> bool {
    let d = digits(s);
    shaped(s, "9999999999") && inn_digit(&d, &[2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[9]
}

fn ogrn_ok(s: &str) -> bool {
    shaped(s, "9999999999999") && !s.starts_with('0') && {
        let d = digits(s);
        let n = d[..12].iter().fold(0u64, |a, x| a * 10 + u64::from(*x));
        (n % 11 % 10) as u32 == d[12]
    }
}

fn phone_ok(s: &str) -> bool {
    let d = digits(s);
    let national = &d[1..];
    d.len() == 11
        && (s.starts_with("+7") || s.starts_with('8') || s.starts_with('7'))
        && national[..3] != [8, 0, 0]
        && s.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
}

fn date_ok(s: &str) -> bool {
    let (y, m, d) = if shaped(s.get(..10).unwrap_or(""), "9999-99-99") {
        (&s[0..4], &s[5..7], &s[8..10])
    } else if shaped(s, "99.99.9999") {
        (&s[6..10], &s[3..5], &s[0..2])
    } else {
        return false;
    };
    let num = |x: &str| digits(x).iter().fold(0, |a, b| a * 10 + b);
    let (y, m, d) = (num(y), num(m), num(d));
    (1900..=2027).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)
}

fn uuid_ok(s: &str) -> bool {
    let t = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    s.len() == t.len()
        && s.bytes().zip(t.bytes()).all(|(c, t)| {
            if t == b'-' {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn longest_run(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

fn is_name_word(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(char::is_uppercase) && cs.all(|c| c.is_alphabetic() || c == '-')
}

/// Why a truth value fails its class's validation, if it does.
fn check_truth(t: &Truth) -> Result<(), String> {
    let s = t.text.as_str();
    let ok = match t.class {
        FieldClass::Snils => snils_ok(s),
        FieldClass::OmsPolicy => match digits(s).len() {
            16 => enp_ok(s),
            4 => s.bytes().all(|b| b.is_ascii_digit()),
            6..=9 => s.bytes().all(|b| b.is_ascii_digit()),
            _ => false,
        },
        FieldClass::DmsPolicy => digits(s).len() >= 6,
        FieldClass::Surname | FieldClass::GivenName | FieldClass::Patronymic => is_name_word(s),
        FieldClass::FullName => {
            let words: Vec<&str> = s.split(' ').collect();
            (2..=3).contains(&words.len())
                && words.iter().all(|w| {
                    is_name_word(w)
                        || (w.chars().filter(|c| *c == '.').count() == 2 && w.ends_with('.'))
                })
        }
        FieldClass::Phone => phone_ok(s),
        FieldClass::Email => {
            let parts: Vec<&str> = s.split('@').collect();
            parts.len() == 2 && !parts[0].is_empty() && parts[1].contains('.')
        }
        FieldClass::BirthDate => date_ok(s),
        FieldClass::Address => !s.is_empty() && (s.contains("д. ") || s.chars().count() <= 30),
        FieldClass::Passport => {
            let d = digits(s);
            match d.len() {
                10 => [
                    "9999 999999",
                    "99 99 999999",
                    "99 99 № 999999",
                    "9999:999999",
                ]
                .iter()
                .any(|f| shaped(s, f)),
                4 | 6 => s.bytes().all(|b| b.is_ascii_digit()),
                _ => false,
            }
        }
        FieldClass::Inn => inn12_ok(s),
        FieldClass::Card => card_ok(s),
        FieldClass::DeviceId => {
            uuid_ok(s)
                || (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                || (shaped(s, "999999999999999") && luhn_ok(&digits(s)))
        }
        FieldClass::Health => s.chars().count() > 5,
        // The synthetic MIS writes neither; a truth value of these classes
        // is a generator defect.
        FieldClass::PersonId | FieldClass::Photo => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{:?} {:?} fails validation", t.class, s))
    }
}

/// Why a decoy would be taken for personal data, if it would.
fn check_decoy(d: &Decoy) -> Result<(), String> {
    let s = d.text.as_str();
    let dd = digits(s);
    let ok = match d.kind {
        "lab_order_bad_snils" => dd.len() == 11 && !snils_sum_ok(&dd),
        // The digits pass the SNILS checksum; the 4-7 grouping is not SNILS.
        "referral_snils_digits" => shaped(s, "9999-9999999") && snils_sum_ok(&dd) && !snils_ok(s),
        "transaction_id_16" => dd.len() == 16 && !luhn_ok(&dd),
        "registry_number_12" => shaped(s, "999999999999") && !inn12_ok(s),
        "org_inn10" => inn10_ok(s),
        "org_ogrn" => ogrn_ok(s),
        "tollfree_phone" => {
            dd.len() == 11 && dd[..4] == [8, 8, 0, 0] && !snils_sum_ok(&dd) && !luhn_ok(&dd)
        }
        "icd10" => {
            let b = s.as_bytes();
            b[0].is_ascii_uppercase()
                && shaped(&s[1..3], "99")
                && (s.len() == 3 || shaped(&s[3..], ".9"))
        }
        "price" => !dd.is_empty() && longest_run(s) <= 5,
        "visit_date" | "visit_datetime" | "created_datetime" | "issue_date" | "policy_date"
        | "onset_date" => date_ok(s),
        "uuid" => uuid_ok(s) && !s.split('-').any(|g| g.bytes().all(|b| b.is_ascii_digit())),
        "order_number" => longest_run(s) <= 8,
        other => return Err(format!("unknown decoy kind {other}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("decoy {} {:?} looks like personal data", d.kind, s))
    }
}

// ------------------------------------------------------------ doc invariants

fn resolve<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer)
        .unwrap_or_else(|| panic!("pointer {pointer} does not resolve"))
}

fn leaf_text(v: &Value, pointer: &str) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("{pointer} is {other}, not a string or number"),
    }
}

fn strings(v: &Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((path, s.clone())),
        Value::Number(n) => out.push((path, n.to_string())),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| strings(x, format!("{path}/{i}"), out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            strings(
                x,
                format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        _ => {}
    }
}

/// Every truth and decoy resolves and validates, and no digit run outside
/// the personal data passes an identifier checksum.
fn check_doc(doc: &Doc) {
    let v: Value = serde_json::from_str(&doc.json).expect("valid JSON");
    for t in &doc.truth {
        let s = leaf_text(resolve(&v, &t.pointer), &t.pointer);
        if t.embedded {
            assert!(
                s.contains(&t.text),
                "{}: {:?} not in {:?}",
                t.pointer,
                t.text,
                s
            );
        } else {
            assert_eq!(s, t.text, "{}", t.pointer);
        }
        check_truth(t).unwrap_or_else(|e| panic!("{}: {e}", t.pointer));
    }
    for d in &doc.decoys {
        let s = leaf_text(resolve(&v, &d.pointer), &d.pointer);
        assert!(
            s.contains(&d.text),
            "{}: decoy {:?} not in {:?}",
            d.pointer,
            d.text,
            s
        );
        check_decoy(d).unwrap_or_else(|e| panic!("{}: {e}", d.pointer));
    }
    let mut leaves = Vec::new();
    strings(&v, String::new(), &mut leaves);
    for (path, mut s) in leaves {
        for t in doc
            .truth
            .iter()
            .filter(|t| t.pointer == path && t.class != FieldClass::Health)
        {
            s = s.replace(&t.text, " ");
        }
        for run in s.split(|c: char| !c.is_ascii_digit()) {
            let d = digits(run);
            let flagged = match d.len() {
                11 => snils_sum_ok(&d),
                12 => inn12_ok(run),
                16 => luhn_ok(&d),
                _ => false,
            };
            assert!(
                !flagged,
                "{path}: unlabelled {run} passes a checksum in {s:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------- tests

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for kind in Kind::ALL {
        for i in 0..20 {
            let a = synth::generate(kind, 7, i);
            assert_eq!(a, synth::generate(kind, 7, i), "{kind:?} {i}");
            assert_ne!(a.json, synth::generate(kind, 8, i).json, "{kind:?} {i}");
        }
        assert_eq!(synth::page(kind, 3, 20_000), synth::page(kind, 3, 20_000));
    }
}

#[test]
fn every_document_is_json_with_resolving_valid_truth() {
    for kind in Kind::ALL {
        let mut truths = 0;
        for i in 0..150 {
            let doc = synth::generate(kind, 1, i);
            assert!(!doc.json.contains('\n'));
            check_doc(&doc);
            truths += doc.truth.len();
            assert!(!doc.decoys.is_empty(), "{kind:?} {i} has no decoys");
        }
        assert!(truths > 150 * 5, "{kind:?}: only {truths} truths");
    }
}

#[test]
fn every_class_subject_and_key_style_occurs() {
    let mut classes = HashSet::new();
    let mut subjects = HashSet::new();
    let mut embedded = HashSet::new();
    let mut kinds = HashSet::new();
    let mut all = String::new();
    for i in 0..400 {
        let doc = synth::generate(Kind::Mixed, 2, i);
        for t in &doc.truth {
            classes.insert(t.class);
            subjects.insert(t.subject);
            if t.embedded {
                embedded.insert(t.class);
            }
        }
        kinds.extend(doc.decoys.iter().map(|d| d.kind));
        all.push_str(&doc.json);
    }
    // person_id and photo come from FHIR structure (a person resource's
    // identifier of an unknown system, its photo); they are checked on the
    // HL7 examples (tests/fhir_conformance.rs), not by this generator.
    for c in FieldClass::ALL {
        if matches!(c, FieldClass::PersonId | FieldClass::Photo) {
            continue;
        }
        assert!(classes.contains(&c), "class {c} never generated");
    }
    for c in [
        FieldClass::Snils,
        FieldClass::Phone,
        FieldClass::FullName,
        FieldClass::BirthDate,
    ] {
        assert!(embedded.contains(&c), "{c} never embedded in free text");
    }
    assert_eq!(subjects.len(), 3);
    let all_kinds: HashSet<&str> = synth::DECOY_KINDS.iter().copied().collect();
    assert_eq!(kinds, all_kinds, "decoy kinds generated vs documented");
    for kind in Kind::ALL {
        assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
    }
    // A numeric SNILS, each key convention, FHIR systems after values, escapes.
    for needle in [
        "\"FAM\":",
        "\"фамилия\":",
        "\"last_name\":",
        "\"lastName\":",
        "\"LastName\":",
        "\"СНИЛС\":",
        "\"DR\":",
        "\"дата_рождения\":",
        "\"телефон\":",
        "\"system\":\"urn:oid:1.2.643.2.69.1.1.1.6.223\"",
        "\"system\":\"http://fhir.ru/core/systems/snils\"",
        "\",\"system\":\"",
        "\\u04",
        " г.р.",
        "\"familiya\":",
        "Справка выдана ",
        "{\"success\":true,\"data\":{",
        "\"ответ\":{",
    ] {
        assert!(all.contains(needle), "never generated: {needle}");
    }
    let numeric_snils = (0..400)
        .flat_map(|i| synth::generate(Kind::Patients, 2, i).truth)
        .any(|t| t.class == FieldClass::Snils && !t.embedded && t.text.len() == 11);
    assert!(numeric_snils);
    let numeric_phone = (0..400).any(|i| {
        let doc = synth::generate(Kind::Patients, 2, i);
        let v: Value = serde_json::from_str(&doc.json).unwrap();
        doc.truth
            .iter()
            .any(|t| t.class == FieldClass::Phone && resolve(&v, &t.pointer).is_number())
    });
    assert!(numeric_phone, "no phone written as a JSON number");
}

#[test]
fn patients_are_the_same_people_everywhere() {
    let seed = 11;
    for i in [0u64, 5, 234, 999] {
        let card = synth::patient(seed, i);
        let v: Value = serde_json::from_str(&card.json).unwrap();
        assert_eq!(v["id"], synth::patient_id(seed, i));
        assert_eq!(synth::patient_index(&synth::patient_id(seed, i)), Some(i));
        assert_eq!(synth::patient(seed, i), card);
    }
    assert_eq!(synth::patient_id(1, 234), "10234");
    // Patient 3's SNILS in its card is the one in the FHIR page's 4th entry.
    let snils = |doc: &Doc, prefix: &str| -> Vec<Vec<u32>> {
        doc.truth
            .iter()
            .filter(|t| t.class == FieldClass::Snils && t.subject == Subject::Patient)
            .filter(|t| t.pointer.starts_with(prefix) && !t.embedded)
            .map(|t| digits(&t.text))
            .collect()
    };
    let card = synth::patient(seed, 3);
    let bundle = synth::page(Kind::FhirPatient, seed, 8_000);
    let v: Value = serde_json::from_str(&bundle.json).unwrap();
    assert_eq!(v["entry"][3]["resource"]["id"], synth::patient_id(seed, 3));
    assert_eq!(snils(&card, "/"), snils(&bundle, "/entry/3/"));
    // Every item of a patients page carries its id under "id".
    let page = synth::page(Kind::Patients, seed, 30_000);
    let v: Value = serde_json::from_str(&page.json).unwrap();
    for (n, item) in v["items"].as_array().unwrap().iter().enumerate() {
        assert_eq!(item["id"], synth::patient_id(seed, n as u64));
    }
}

#[test]
fn pages_hit_their_size_and_truth_resolves_in_them() {
    for kind in Kind::ALL {
        for target in [64 * 1024, 1024 * 1024] {
            let doc = synth::page(kind, 5, target);
            let ratio = doc.json.len() as f64 / target as f64;
            assert!(
                (0.9..=1.1).contains(&ratio),
                "{kind:?} {target}: {} bytes",
                doc.json.len()
            );
            if target == 64 * 1024 {
                check_doc(&doc);
                assert_eq!(synth::page_json(kind, 5, target), doc.json);
            } else {
                let v: Value = serde_json::from_str(&doc.json).unwrap();
                for t in doc.truth.iter().step_by(97) {
                    assert!(leaf_text(resolve(&v, &t.pointer), &t.pointer).contains(&t.text));
                }
            }
        }
        let small = synth::page(kind, 5, 1024);
        let v: Value = serde_json::from_str(&small.json).unwrap();
        let list = if v.get("items").is_some() {
            &v["items"]
        } else {
            &v["entry"]
        };
        assert!(!list.as_array().unwrap().is_empty());
        assert!(
            small.json.len() < 12 * 1024,
            "{kind:?} 1 KiB page is {} bytes",
            small.json.len()
        );
    }
    let bundle: Value =
        serde_json::from_str(&synth::page(Kind::FhirBundle, 1, 10_000).json).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert!(bundle["entry"][0]["resource"]["resourceType"].is_string());
}

#[test]
fn ndjson_lines_are_the_generated_documents() {
    let (text, truth, decoys) = synth::ndjson(Kind::Mixed, 4, 25);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!((lines.len(), truth.len(), decoys.len()), (25, 25, 25));
    assert!(text.ends_with('\n'));
    for (i, line) in lines.iter().enumerate() {
        let doc = synth::generate(Kind::Mixed, 4, i as u64);
        assert_eq!(*line, doc.json);
        assert_eq!(truth[i], doc.truth);
        assert_eq!(decoys[i], doc.decoys);
    }
}

#[test]
fn checksums_agree_with_reference_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/test_vectors.json"
    );
    let Ok(raw) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} is absent");
        return;
    };
    let v: Value = serde_json::from_str(&raw).unwrap();
    type Validator = fn(&str) -> bool;
    let table: [(&str, Validator); 6] = [
        ("snils", checksum::snils_valid),
        ("enp", checksum::enp_valid),
        ("inn12", checksum::inn12_valid),
        ("inn10", checksum::inn10_valid),
        ("ogrn", checksum::ogrn_valid),
        ("card", checksum::card_valid),
    ];
    let mut checked = 0;
    for (class, f) in table {
        for (set, want) in [("valid", true), ("invalid", false)] {
            for vector in v[class][set]
                .as_array()
                .unwrap_or_else(|| panic!("{class}.{set}"))
            {
                let value = vector["value"].as_str().unwrap();
                assert_eq!(f(value), want, "{class} {value:?} ({})", vector["note"]);
                checked += 1;
            }
        }
    }
    assert!(checked >= 100, "only {checked} vectors");
}
