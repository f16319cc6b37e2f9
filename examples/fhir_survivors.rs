//! How much personal data of the official FHIR R4 examples survives each
//! purpose's redaction: the figure issue 19 asks for, before and after.
//!
//!     cargo run --example fhir_survivors -- [-v] [--rules DIR] [--examples DIR]
//!
//! The ground truth comes from FHIR's structure (tests/fhir/truth.rs); the
//! counting is the one tests/fhir_conformance.rs asserts on
//! (tests/fhir/survivors.rs). Per purpose it prints the distinct values the
//! purpose does not allow, how many of them can still be read in the
//! output (and how many of those only in a narrative), the redactor's
//! refusals and non-JSON outputs, then the same per class. For `legal` the
//! outputs that differ from their input are counted, and for `care` (and
//! `legal`) the changed leaves that no rule of the purpose explains. `-v`
//! lists every survivor with where it was ("in-div": in a narrative only).

#[path = "../tests/fhir/mod.rs"]
mod fhir;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use fhir::survivors::{Found, Report};
use zaslon::class::{FieldClass, Purpose};
use zaslon::redact::{Engine, PseudonymKey};
use zaslon::rules::{Action, RuleSet};

fn main() -> ExitCode {
    let mut verbose = false;
    let mut rules_dir = fhir::rules_dir();
    let mut examples_dir = fhir::examples_dir();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-v" => verbose = true,
            "--rules" => rules_dir = args.next().map(PathBuf::from).unwrap_or(rules_dir),
            "--examples" => examples_dir = args.next().map(PathBuf::from).unwrap_or(examples_dir),
            _ => {
                eprintln!("usage: fhir_survivors [-v] [--rules DIR] [--examples DIR]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(examples) = fhir::load_examples(&examples_dir) else {
        eprintln!("fhir_survivors: {} not found", examples_dir.display());
        return ExitCode::from(1);
    };
    let rules = match RuleSet::load_dir(&rules_dir) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("fhir_survivors: {}:\n{e}", rules_dir.display());
            return ExitCode::from(1);
        }
    };
    let engine = Engine::new(rules.clone(), PseudonymKey::new(fhir::KEY));
    let truths: Vec<_> = examples
        .iter()
        .map(|e| fhir::truth::extract(&e.json))
        .collect();
    println!(
        "{} examples in {}; rules {} (version {}); {} ground-truth values",
        examples.len(),
        examples_dir.display(),
        rules_dir.display(),
        rules.version(),
        truths.iter().map(Vec::len).sum::<usize>()
    );
    let reports: Vec<Report> = Purpose::ALL
        .into_iter()
        .map(|p| {
            let mut r = Report::new(p);
            for (e, t) in examples.iter().zip(&truths) {
                let out = fhir::redact(&engine, p, &e.bytes, None);
                r.add(&rules, &e.name, &e.bytes, &e.json, t, &out);
            }
            r
        })
        .collect();
    print_totals(&reports);
    let mut distinct = [0usize; FieldClass::COUNT];
    for t in &truths {
        let set: BTreeSet<_> = t.iter().map(|x| (x.class, x.value.as_str())).collect();
        set.iter().for_each(|(c, _)| distinct[c.index()] += 1);
    }
    print_classes(&rules, &distinct, &reports);
    if verbose {
        print_details(&reports);
    }
    ExitCode::SUCCESS
}

fn print_totals(reports: &[Report]) {
    println!();
    println!(
        "{:<13}{:>10}{:>10}{:>8}{:>11}{:>8}{:>9}{:>9}{:>12}{:>10}",
        "purpose",
        "forbidden",
        "survived",
        "share",
        "narrative",
        "errors",
        "invalid",
        "changed",
        "unexplained",
        "ambiguous"
    );
    for r in reports {
        let (f, s) = (r.total_forbidden(), r.total_survived());
        let share = if f == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", 100.0 * s as f64 / f as f64)
        };
        // Leaf diffs are only made for purposes that allow every class of
        // the ground truth; elsewhere the column means nothing.
        let unexplained = if f == 0 {
            r.unexplained.len().to_string()
        } else {
            "-".to_owned()
        };
        println!(
            "{:<13}{:>10}{:>10}{:>8}{:>11}{:>8}{:>9}{:>9}{:>12}{:>10}",
            r.purpose.as_str(),
            f,
            s,
            share,
            r.narrative_only(),
            r.errors.len(),
            r.invalid_json.len(),
            r.changed_files.len(),
            unexplained,
            r.ambiguous
        );
    }
    println!(
        "(forbidden: distinct values per document whose class the purpose does not allow; \
         narrative: survivors read only in a narrative div; \
         changed: outputs not byte-identical to their input; unexplained: changed leaves \
         that no rule of an allow-all purpose names)"
    );
}

fn print_classes(rules: &RuleSet, distinct: &[usize], reports: &[Report]) {
    println!();
    print!("{:<12}{:>7}", "class", "truth");
    for r in reports {
        print!("{:>13}", r.purpose.as_str());
    }
    println!();
    for c in fhir::truth::TRUTH_CLASSES {
        print!("{:<12}{:>7}", c.as_str(), distinct[c.index()]);
        for r in reports {
            let (f, s) = (r.forbidden[c.index()], r.survived[c.index()]);
            let allowed = rules.purpose(r.purpose).action(c) == Action::Allow;
            let cell = if allowed {
                "-".to_owned()
            } else {
                format!("{s}/{f}")
            };
            print!("{cell:>13}");
        }
        println!();
    }
    println!(
        "(truth: distinct values per document; survived/forbidden; -: the purpose allows the class)"
    );
}

fn print_details(reports: &[Report]) {
    for r in reports {
        println!();
        println!("== {}", r.purpose);
        for (file, e) in &r.errors {
            println!("error    {file}: {e}");
        }
        for file in &r.invalid_json {
            println!("invalid  {file}");
        }
        for s in &r.survivors {
            let place = match s.found {
                Found::Structured => "survived",
                Found::NarrativeOnly => "in-div  ",
            };
            println!(
                "{place} {:<44} {:<11} {:?} at {}",
                s.file,
                s.class.as_str(),
                shorten(&s.value),
                s.locations.join(", ")
            );
        }
        if r.total_forbidden() == 0 {
            for (file, path, what) in &r.unexplained {
                println!("changed  {file} {path}: {}", shorten(what));
            }
        }
    }
}

/// Photos are base64: a listing shows their start only.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        return s.to_owned();
    }
    let head: String = s.chars().take(60).collect();
    format!("{head}... ({} chars)", s.chars().count())
}
