//! Running the built `zaslon` binary and reading the shipped rules.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The repository's `rules/` directory.
pub fn rules_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// The shipped rules as (file name, contents), sorted.
pub fn rules_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(rules_dir())
        .unwrap_or_else(|e| panic!("rules dir: {e}"))
        .filter_map(Result::ok)
        .map(|d| d.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (
                name,
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect();
    files.sort();
    files
}

/// Runs `zaslon ARGS` with `stdin`, the key variable removed unless `env`
/// sets it.
pub fn zaslon(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zaslon"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("ZASLON_PSEUDONYM_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn zaslon: {e}"));
    let mut pipe = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The process may exit before reading everything (bad arguments).
        let _ = pipe.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait zaslon: {e}"));
    let _ = writer.join();
    out
}

pub fn redact_cli(purpose: &str, content_type: &str, stdin: &[u8]) -> Output {
    let dir = rules_dir();
    let dir = dir.to_str().unwrap_or_else(|| panic!("rules path"));
    zaslon(
        &[
            "redact",
            "--rules",
            dir,
            "--purpose",
            purpose,
            "--content-type",
            content_type,
        ],
        stdin,
        &[],
    )
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
