//! Redacts one synthetic page in 64 KiB chunks, for instruction counts that
//! do not depend on the machine's load:
//!
//!     cargo build --release --example redact_page
//!     valgrind --tool=callgrind target/release/examples/redact_page keys 16
//!
//! Arguments: `keys` (key rules only), `detectors`, or `records` (a patients
//! list with record-level consent, every verdict known at once, as from a
//! warm consent cache), or `upstream` (the load bench upstream's page,
//! `zaslon bench-upstream`, with record-level consent as `records`), and
//! the page size in MiB. Prints the bytes in and out. The page is built before the redaction;
//! callgrind's per-function counts (`callgrind_annotate`) tell the two apart.

use std::sync::Arc;

use zaslon::class::Purpose;
use zaslon::redact::{ContentKind, Engine, PseudonymKey, RecordSpec, RecordVerdict};
use zaslon::rules::RuleSet;
use zaslon::synth::{Kind, page_json};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let keys_only = args.get(1).is_some_and(|a| a == "keys");
    let mib: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(16);
    let rules = RuleSet::embedded();
    let rules = if keys_only { rules.keys_only() } else { rules };
    let engine = Engine::new(
        Arc::new(rules),
        PseudonymKey::new(b"bench key, synthetic data only"),
    );
    let upstream = args.get(1).is_some_and(|a| a == "upstream");
    let records = upstream || args.get(1).is_some_and(|a| a == "records");
    let doc = match (upstream, records) {
        (true, _) => zaslon::demo::sample_json(mib << 20),
        (false, true) => page_json(Kind::Patients, 7, mib << 20).into_bytes(),
        (false, false) => page_json(Kind::Mixed, 7, mib << 20).into_bytes(),
    };
    let mut r = engine
        .redactor(Purpose::Marketing, ContentKind::Json)
        .expect("json is redactable");
    if records {
        let spec = RecordSpec::parse("$.items[*]", "id").expect("a valid record path");
        r = r
            .with_records(Arc::new(spec))
            .with_record_oracle(Box::new(|_| Some(RecordVerdict::Keep)));
    }
    let mut out = Vec::with_capacity(128 << 10);
    let mut total = 0;
    for c in doc.chunks(64 << 10) {
        r.feed(c, &mut out).expect("synthetic documents are valid");
        total += out.len();
        out.clear();
    }
    r.finish(&mut out).expect("synthetic documents are whole");
    total += out.len();
    println!("{} bytes in, {total} bytes out", doc.len());
}
