use super::*;

fn feed_all(src: &FileSource, j: &mut Journal, text: &str) -> HashSet<String> {
    let mut touched = HashSet::new();
    src.feed(j, text.as_bytes(), Some(&mut touched));
    touched
}

fn source() -> FileSource {
    FileSource {
        path: PathBuf::from("test.jsonl"),
        journal: Mutex::new(Journal::default()),
        available: AtomicBool::new(true),
        malformed: AtomicU64::new(0),
    }
}

#[test]
fn latest_event_per_key_wins() {
    let src = source();
    let mut j = Journal::default();
    feed_all(
        &src,
        &mut j,
        concat!(
            "{\"subject\":\"1\",\"purpose\":\"marketing\",\"granted\":true,\"at\":\"2026-11-01T10:00:00Z\",\"source\":\"app\"}\n",
            "{\"subject\":\"1\",\"purpose\":\"care\",\"granted\":false,\"at\":\"2026-11-01T10:00:01Z\",\"source\":\"app\"}\n",
            "{\"subject\":\"1\",\"purpose\":\"marketing\",\"granted\":false,\"at\":\"2026-11-01T10:00:02Z\",\"source\":\"app\"}\n",
            "{\"subject\":\"1\",\"state\":\"blocked\",\"at\":\"2026-11-02T09:30:00Z\",\"source\":\"written request\"}\n",
            "{\"subject\":\"1\",\"state\":\"active\",\"at\":\"2026-11-03T09:30:00Z\",\"source\":\"written request\"}\n",
            "{\"subject\":2,\"state\":\"blocked\",\"at\":\"2026-11-03T09:30:00Z\"}\n",
        ),
    );
    let s1 = j.states["1"];
    assert_eq!(s1.granted(Purpose::Marketing), Some(false));
    assert_eq!(s1.granted(Purpose::Care), Some(false));
    assert_eq!(s1.granted(Purpose::Legal), None);
    assert!(!s1.blocked);
    assert!(j.states["2"].blocked);
    assert_eq!(src.malformed_lines(), 0);
}

#[test]
fn malformed_lines_are_skipped_and_counted() {
    let src = source();
    let mut j = Journal::default();
    feed_all(
        &src,
        &mut j,
        concat!(
            "not json\n",
            "\n",
            "{\"subject\":\"1\",\"purpose\":\"spam\",\"granted\":true,\"at\":\"x\"}\n",
            "{\"subject\":\"1\",\"purpose\":\"care\",\"at\":\"x\"}\n",
            "{\"subject\":\"1\",\"state\":\"frozen\",\"at\":\"x\"}\n",
            "{\"subject\":\"\",\"state\":\"blocked\",\"at\":\"x\"}\n",
            "{\"subject\":\"1\",\"state\":\"blocked\"}\n",
            "{\"subject\":\"1\",\"purpose\":\"care\",\"granted\":false,\"state\":\"blocked\",\"at\":\"x\"}\n",
            "{\"subject\":\"3\",\"purpose\":\"care\",\"granted\":false,\"at\":\"x\"}\r\n",
        ),
    );
    assert_eq!(src.malformed_lines(), 7);
    assert_eq!(j.states.len(), 1);
    assert_eq!(j.states["3"].granted(Purpose::Care), Some(false));
    assert_eq!(j.lines, 9);
}

#[test]
fn an_incomplete_line_waits_for_its_newline() {
    let src = source();
    let mut j = Journal::default();
    let line = "{\"subject\":\"7\",\"purpose\":\"marketing\",\"granted\":false,\"at\":\"x\"}\n";
    let (a, b) = line.split_at(20);
    assert!(feed_all(&src, &mut j, a).is_empty());
    assert!(j.states.is_empty());
    let touched = feed_all(&src, &mut j, b);
    assert!(touched.contains("7"));
    assert_eq!(j.states["7"].granted(Purpose::Marketing), Some(false));
    assert_eq!(j.consumed, line.len() as u64);
}

#[test]
fn an_overlong_line_is_skipped_to_its_newline() {
    let src = source();
    let mut j = Journal::default();
    let long = "x".repeat(MAX_LINE + 10);
    feed_all(&src, &mut j, &long);
    feed_all(&src, &mut j, &long);
    feed_all(
        &src,
        &mut j,
        "tail\n{\"subject\":\"8\",\"state\":\"blocked\",\"at\":\"x\"}\n",
    );
    assert_eq!(src.malformed_lines(), 1);
    assert!(j.states["8"].blocked);
}

#[test]
fn written_lines_read_back() {
    let src = source();
    let mut j = Journal::default();
    let text = consent_line(
        "a\"b",
        Purpose::Marketing,
        false,
        "2026-11-25T10:00:00Z",
        "phone",
    ) + &state_line("c", true, "2026-11-25T10:00:00Z", "letter");
    feed_all(&src, &mut j, &text);
    assert_eq!(src.malformed_lines(), 0);
    assert_eq!(j.states["a\"b"].granted(Purpose::Marketing), Some(false));
    assert!(j.states["c"].blocked);
}
