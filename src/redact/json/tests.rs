use super::*;
use crate::class::Purpose;
use crate::redact::{ContentKind, Engine, PseudonymKey};
use crate::rules::RuleSet;

pub(crate) fn engine() -> Engine {
    Engine::new(
        Arc::new(RuleSet::embedded()),
        PseudonymKey::new(b"test key, synthetic only"),
    )
}

pub(crate) fn redact(p: Purpose, input: &str) -> Result<String, RedactError> {
    let e = engine();
    let mut r = e.redactor(p, ContentKind::Json).unwrap();
    let mut out = Vec::new();
    r.feed(input.as_bytes(), &mut out)?;
    r.finish(&mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn sibling_capture_replays() {
    assert_eq!(
        redact(Purpose::Legal, r#"{"identityDocuments":[{"number":"1"}]}"#).unwrap(),
        r#"{"identityDocuments":[{"number":"1"}]}"#
    );
}
