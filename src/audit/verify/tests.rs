use std::path::PathBuf;

use super::*;
use crate::audit::AuditEvent;
use crate::audit::chain::ChainState;

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        time: "2026-11-25T07:30:00Z".into(),
        request_id: format!("req-{i}"),
        client: "call-center".into(),
        decision: "allow".into(),
        reason: "ok".into(),
        ..Default::default()
    }
}

/// Writes `counts[i]` records into file i, one chain across all files.
fn write_chain(dir: &std::path::Path, counts: &[u64]) -> Vec<PathBuf> {
    let mut st = ChainState::default();
    let mut n = 0;
    let mut paths = Vec::new();
    for (fi, &count) in counts.iter().enumerate() {
        let mut out = Vec::new();
        for _ in 0..count {
            st.append(&event(n), &mut out);
            n += 1;
        }
        let p = dir.join(format!("f{fi}.jsonl"));
        std::fs::write(&p, out).unwrap();
        paths.push(p);
    }
    paths
}

fn lines(p: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(p: &PathBuf, lines: &[String]) {
    let mut s = lines.join("\n");
    s.push('\n');
    std::fs::write(p, s).unwrap();
}

#[test]
fn intact_chain_across_files_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_chain(dir.path(), &[5, 0, 7]);
    let r = verify(&paths).unwrap();
    assert_eq!(r.records, 12);
    assert_eq!((r.first_seq, r.last_seq), (Some(0), Some(11)));
    assert_eq!(r.anchor, GENESIS);
    assert_eq!(r.last_hash, line_hash(lines(&paths[2])[6].as_bytes()));
    assert!(
        r.to_string()
            .starts_with("ok: 12 records, seq 0..=11, in 3 files")
    );
    // A later file alone verifies, anchored at the earlier file's last hash.
    let tail = verify(&paths[2..]).unwrap();
    assert_eq!(tail.anchor, verify(&paths[..1]).unwrap().last_hash);
}

#[test]
fn one_edited_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_chain(dir.path(), &[10]);
    let mut l = lines(&paths[0]);
    // Line 4 holds seq 3; change one byte of its client id.
    l[3] = l[3].replacen("call-center", "call-centes", 1);
    write_lines(&paths[0], &l);
    match verify(&paths).unwrap_err() {
        VerifyError::Altered {
            file,
            line,
            seq,
            next_line,
            ..
        } => {
            assert_eq!((file, line, seq, next_line), (paths[0].clone(), 4, 3, 5));
        }
        e => panic!("wrong error: {e}"),
    }
}

#[test]
fn a_deleted_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_chain(dir.path(), &[10]);
    let mut l = lines(&paths[0]);
    l.remove(6); // seq 6
    write_lines(&paths[0], &l);
    let e = verify(&paths).unwrap_err();
    assert_eq!(
        e,
        VerifyError::Missing {
            file: paths[0].clone(),
            line: 7,
            seq: 7,
            expected: 6
        }
    );
    assert!(e.to_string().contains("records 6..=6 are missing"), "{e}");
}

#[test]
fn two_swapped_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_chain(dir.path(), &[10]);
    let mut l = lines(&paths[0]);
    l.swap(2, 3); // seqs 2 and 3
    write_lines(&paths[0], &l);
    assert_eq!(
        verify(&paths).unwrap_err(),
        VerifyError::Reordered {
            file: paths[0].clone(),
            line: 3,
            seq: 3,
            expected: 2,
            found_at: Some((paths[0].clone(), 4)),
        }
    );
}

#[test]
fn files_out_of_order_and_missing_file_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_chain(dir.path(), &[3, 3, 3]);
    let swapped = vec![paths[0].clone(), paths[2].clone(), paths[1].clone()];
    assert!(matches!(
        verify(&swapped).unwrap_err(),
        VerifyError::Reordered {
            line: 1,
            seq: 6,
            expected: 3,
            ..
        }
    ));
    let gap = vec![paths[0].clone(), paths[2].clone()];
    match verify(&gap) {
        Err(VerifyError::Reordered { .. }) | Ok(_) => panic!("a missing file must be reported"),
        Err(VerifyError::Missing {
            file,
            line,
            seq,
            expected,
        }) => {
            assert_eq!((file, line, seq, expected), (paths[2].clone(), 1, 6, 3));
        }
        Err(e) => panic!("wrong error: {e}"),
    }
}

#[test]
fn torn_and_garbage_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_chain(dir.path(), &[4]);
    let mut s = std::fs::read_to_string(&paths[0]).unwrap();
    s.push_str("{\"seq\":4,\"pr");
    std::fs::write(&paths[0], &s).unwrap();
    assert!(matches!(
        verify(&paths).unwrap_err(),
        VerifyError::Malformed { line: 5, .. }
    ));
    let mut l = lines(&paths[0]);
    l.truncate(4);
    l[1] = "not json".into();
    write_lines(&paths[0], &l);
    assert!(matches!(
        verify(&paths).unwrap_err(),
        VerifyError::Malformed { line: 2, .. }
    ));
}

#[test]
fn a_forged_genesis_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_chain(dir.path(), &[2]);
    let mut l = lines(&paths[0]);
    l[0] = l[0].replacen(GENESIS, &"1".repeat(64), 1);
    write_lines(&paths[0], &l);
    assert!(matches!(
        verify(&paths).unwrap_err(),
        VerifyError::BadGenesis { line: 1, .. }
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Any one changed byte in any record but the last breaks the chain:
    /// the last record has no successor to vouch for it (docs/audit.md,
    /// "what the chain proves").
    #[test]
    fn any_flipped_byte_before_the_last_record_is_caught(
        line in 0usize..7,
        pos in proptest::prelude::any::<proptest::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_chain(dir.path(), &[8]);
        let mut bytes = std::fs::read(&paths[0]).unwrap();
        let starts: Vec<usize> = std::iter::once(0)
            .chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
            .collect();
        // A byte of the line's content (its newline excluded).
        let (a, b) = (starts[line], starts[line + 1] - 1);
        let at = a + pos.index(b - a);
        bytes[at] ^= flip;
        std::fs::write(&paths[0], &bytes).unwrap();
        proptest::prop_assert!(verify(&paths).is_err());
    }
}

/// A record as zaslon wrote it before `purpose_of_use` existed.
const OLD_RECORD: &str = concat!(
    r#"{"seq":0,"prev":"0000000000000000000000000000000000000000000000000000000000000000","#,
    r#""time":"2026-11-25T07:30:00.123Z","request_id":"r-old","client":"call-center","#,
    r#""actor":"operator-17","purpose":"appointments","route":"/api/patients/{patient_id}","#,
    r#""method":"GET","subjects":["psn_k3x7aaaaaaaaaaaaaaaaaaaa"],"decision":"allow","#,
    r#""reason":"ok","consent":"allow","classes":[],"upstream_status":200,"bytes_in":0,"#,
    r#""bytes_out":1843,"duration_us":912,"rules_version":"r1","legal_override":false}"#
);

#[test]
fn records_without_purpose_of_use_chain_on_with_records_that_have_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = ChainState::after(0, OLD_RECORD.as_bytes());
    let mut out = format!("{OLD_RECORD}\n").into_bytes();
    for i in 1..4 {
        let ev = AuditEvent {
            purpose: Some("care".into()),
            purpose_of_use: (i % 2 == 1).then(|| "TREAT".to_owned()),
            ..event(i)
        };
        st.append(&ev, &mut out);
    }
    let p = dir.path().join("mixed.jsonl");
    std::fs::write(&p, &out).unwrap();
    let r = verify(std::slice::from_ref(&p)).unwrap();
    assert_eq!((r.records, r.first_seq, r.last_seq), (4, Some(0), Some(3)));
    let l = lines(&p);
    assert!(l[1].contains(r#""purpose":"care","purpose_of_use":"TREAT","route":null"#));
    assert!(!l[2].contains("purpose_of_use"));
    // Both shapes read back; the old one without the field.
    let old: crate::audit::chain::Record = serde_json::from_str(&l[0]).unwrap();
    assert_eq!(old.event.purpose_of_use, None);
    let new: crate::audit::chain::Record = serde_json::from_str(&l[1]).unwrap();
    assert_eq!(new.event.purpose_of_use.as_deref(), Some("TREAT"));
    // The code is covered by the chain like every other field.
    let mut edited = l.clone();
    edited[1] = edited[1].replacen("TREAT", "HLEGAL", 1);
    write_lines(&p, &edited);
    assert!(matches!(
        verify(std::slice::from_ref(&p)).unwrap_err(),
        VerifyError::Altered { line: 2, .. }
    ));
}
