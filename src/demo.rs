//! `zaslon demo`: a synthetic MIS upstream and the proxy in front of it, on
//! loopback, with the embedded defaults, and the curl commands to try.
//!
//! The upstream serves whatever a [`DataSource`] returns for a path;
//! [`synthetic`] is the generated MIS of [`crate::synth`]. The same server,
//! with [`fixed`] data, is the benchmark's upstream. The proxy is built as
//! `serve` builds it ([`crate::proxy::assemble`]): embedded rules, a file
//! consent journal and a file audit in the demo directory, and the admin
//! listener with a token.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError, Env};
use crate::proxy::assemble::{AssembleError, Assembled, Options, assemble};

/// Path (with query) to content type and body; `None` is a 404.
pub type DataSource = Arc<dyn Fn(&str) -> Option<(String, Vec<u8>)> + Send + Sync>;

/// The demo config, the same text as `config/demo.toml`.
pub const DEMO_CONFIG: &str = include_str!("../config/demo.toml");

/// The demo's public API keys, by client: (key, purpose it is for).
pub const DEMO_KEYS: [(&str, &str); 4] = [
    ("demo-doctor-key", "care"),
    ("demo-support-key", "support"),
    ("demo-marketing-key", "marketing"),
    ("demo-analytics-key", "analytics"),
];

const PATIENTS: [&str; 2] = [
    r#"{"id":"10234","surname":"Иванова","given_name":"Мария","patronymic":"Петровна","birth_date":"1984-03-12","snils":"112-233-445 95","oms_policy":"7700000000000014","phone":"+7 916 123-45-67","email":"m.ivanova@example.ru","address":"г. Москва, ул. Лесная, д. 5, кв. 12","diagnosis":"J06.9 Острая инфекция верхних дыхательных путей","note":"Пациентка просила перезвонить на +7 916 123-45-67; СНИЛС 112-233-445 95"}"#,
    r#"{"id":"10235","surname":"Петров","given_name":"Алексей","patronymic":"Сергеевич","birth_date":"1979-11-02","snils":"087-654-303 00","oms_policy":"5000000000000028","phone":"+7 903 765-43-21","email":"petrov.as@example.ru","address":"Московская обл., г. Химки, ул. Мира, д. 1","diagnosis":"I10 Эссенциальная гипертензия","note":"Контроль давления через 2 недели"}"#,
];

/// The synthetic MIS of seed `seed` (see [`crate::synth`]) at realistic
/// paths:
///
/// | path | body |
/// |---|---|
/// | `/api/patients` | a ~16 KiB page of patient summaries, `$.items[*]`, subject `id` |
/// | `/api/patients/{id}` | the card of patient `id` (10000..10999), else 404 |
/// | `/api/appointments` | a ~16 KiB page of a clinic's appointments |
/// | `/api/documents/{n}` | medical document `n` |
/// | `/fhir/Patient/{id}` | the FHIR Patient resource of patient `id` |
/// | `/fhir/Patient` | a ~16 KiB FHIR searchset Bundle of patients |
pub fn synthetic(seed: u64) -> DataSource {
    use crate::synth::{self, Kind};
    const PAGE: usize = 16 << 10;
    let fhir_patients: Arc<std::sync::OnceLock<Vec<String>>> = Arc::default();
    Arc::new(move |path_and_query: &str| {
        let path = path_and_query.split('?').next().unwrap_or("");
        let json = |s: String| Some(("application/json; charset=utf-8".to_owned(), s.into_bytes()));
        let fhir = |s: String| Some(("application/fhir+json".to_owned(), s.into_bytes()));
        let index = |id: &str| synth::patient_index(id).filter(|i| *i < synth::PATIENT_POOL);
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segs.as_slice() {
            ["api", "patients"] => json(synth::page_json(Kind::Patients, seed, PAGE)),
            ["api", "patients", id] => index(id).and_then(|i| json(synth::patient(seed, i).json)),
            ["api", "appointments"] => json(synth::page_json(Kind::Appointments, seed, PAGE)),
            ["api", "documents", n] => n
                .parse::<u64>()
                .ok()
                .and_then(|n| json(synth::generate(Kind::Documents, seed, n).json)),
            ["fhir", "Patient"] => fhir(synth::page_json(Kind::FhirPatient, seed, PAGE)),
            ["fhir", "Patient", id] => index(id).and_then(|i| {
                let all = fhir_patients.get_or_init(|| fhir_pool(seed));
                all.get(usize::try_from(i).ok()?).cloned().and_then(fhir)
            }),
            _ => None,
        }
    })
}

/// The FHIR Patient resources of the whole pool, cut from one searchset
/// Bundle (its entries are patients 0, 1, 2, ... in order).
fn fhir_pool(seed: u64) -> Vec<String> {
    use crate::synth::{Kind, PATIENT_POOL, page_json};
    let mut size = 1 << 20;
    loop {
        let bundle: serde_json::Value =
            serde_json::from_str(&page_json(Kind::FhirPatient, seed, size)).unwrap_or_default();
        let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
        if entries.len() as u64 >= PATIENT_POOL || size > 64 << 20 {
            return entries.iter().map(|e| e["resource"].to_string()).collect();
        }
        size *= 2;
    }
}

/// The same body for every path (the benchmark's upstream).
pub fn fixed(content_type: &str, body: Vec<u8>) -> DataSource {
    let ct = content_type.to_owned();
    Arc::new(move |_| Some((ct.clone(), body.clone())))
}

/// A JSON patient list of at least `size` bytes, shaped like an MIS answer.
pub fn sample_json(size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size + 1024);
    out.push_str("{\"items\":[");
    let mut i = 0u32;
    loop {
        if i > 0 {
            out.push(',');
        }
        out.push_str(PATIENTS[(i % 2) as usize]);
        i += 1;
        if out.len() + 2 >= size {
            break;
        }
    }
    out.push_str("]}");
    out.into_bytes()
}

/// Hands each connection accepted on `listener` to `on_conn` (with
/// `TCP_NODELAY` set) until `shutdown`. For the test and bench servers
/// (the synthetic upstream, the bench pass-through); the proxy's own accept
/// loop in `server` also limits and drains connections.
pub async fn accept_until(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    mut on_conn: impl FnMut(tokio::net::TcpStream),
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(_) => continue,
            },
            () = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        on_conn(stream);
    }
}

/// Serves `data` on `listener` until `shutdown`.
pub async fn serve_upstream(
    listener: TcpListener,
    data: DataSource,
    shutdown: impl Future<Output = ()>,
) {
    accept_until(listener, shutdown, |stream| {
        let data = data.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let pq = req
                        .uri()
                        .path_and_query()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default();
                    let found = data(&pq);
                    async move {
                        let resp = match found {
                            Some((ct, body)) => Response::builder()
                                .header(header::CONTENT_TYPE, ct)
                                .body(Full::new(Bytes::from(body))),
                            None => Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .header(header::CONTENT_TYPE, "application/json")
                                .body(Full::new(Bytes::from_static(b"{\"error\":\"not found\"}"))),
                        };
                        Ok::<_, Infallible>(
                            resp.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
                        )
                    }
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    })
    .await;
}

/// The pseudonymization key of the demo when `ZASLON_PSEUDONYM_KEY` is not
/// set: public, so that `zaslon audit query` finds the demo's subjects.
pub const DEMO_PSEUDONYM_KEY: &str = "zaslon-demo-key-public-never-use-in-production";
/// The admin token of the demo when `ZASLON_ADMIN_TOKEN` is not set.
pub const DEMO_ADMIN_TOKEN: &str = "demo-admin-token";
/// The seed of the synthetic MIS.
pub const DEMO_SEED: u64 = 1;

/// The environment, with the demo's defaults where nothing is set.
struct DemoEnv<'e> {
    inner: &'e dyn Env,
    defaults: HashMap<&'static str, &'static str>,
}

impl Env for DemoEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.inner
            .var(name)
            .or_else(|| self.defaults.get(name).map(|v| (*v).to_owned()))
    }
}

/// Where the demo listens and keeps its files.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub proxy: SocketAddr,
    pub upstream: SocketAddr,
    pub admin: SocketAddr,
    /// Holds consent.jsonl (rewritten at each start) and audit/.
    pub dir: PathBuf,
    /// How the binary is called, for the printed commands.
    pub program: String,
}

/// Where the demo listens.
#[derive(Debug, Clone, Copy)]
pub struct DemoAddrs {
    pub proxy: SocketAddr,
    pub upstream: SocketAddr,
    pub admin: SocketAddr,
}

/// The demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Assemble(#[from] AssembleError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Files {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One thing to try, printed as a shell command and run as such by the
/// demo's test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An HTTP request to the proxy (or, `admin`, to the admin listener).
    Http {
        method: &'static str,
        path: String,
        headers: Vec<(String, String)>,
        admin: bool,
        /// The status it gets, and an error code or text in the body.
        status: u16,
        expect: Option<String>,
    },
    /// One line appended to the consent journal.
    Append { line: String },
    /// `zaslon audit verify` over the audit files.
    Verify,
    /// `zaslon audit query --subject` over the audit files.
    Query { subject: String },
}

/// A step with what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Try {
    pub title: &'static str,
    pub step: Step,
}

/// A started demo, before it serves.
pub struct Demo {
    pub addrs: DemoAddrs,
    pub dir: PathBuf,
    pub program: String,
    /// Whether the key came from the environment (then it is not printed).
    key_from_env: bool,
    pub token: String,
    /// The time in the printed withdrawal (later than every grant).
    withdraw_at: String,
    cfg: Config,
    parts: Assembled,
    proxy: TcpListener,
    upstream: TcpListener,
    admin: TcpListener,
}

/// The patient the commands show; marketing is granted for odd patients.
pub const DEMO_PATIENT: &str = "10001";
/// A patient without a marketing grant.
pub const DEMO_PATIENT_NO_MARKETING: &str = "10002";

/// The consent journal the demo starts with: marketing granted for every
/// odd patient of the pool (10001, 10003, ...), nothing else recorded.
pub fn initial_journal() -> String {
    let mut s = String::new();
    for i in (1..crate::synth::PATIENT_POOL).step_by(2) {
        s.push_str(&format!(
            "{{\"subject\":\"{}\",\"purpose\":\"marketing\",\"granted\":true,\"at\":\"2026-11-01T10:00:00Z\",\"source\":\"demo\"}}\n",
            crate::synth::patient_id(DEMO_SEED, i)
        ));
    }
    s
}

fn files_err(path: &Path) -> impl Fn(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Files {
        path: path.to_owned(),
        source,
    }
}

/// Binds the listeners (port 0 picks free ones), writes the demo directory
/// and builds the proxy exactly as `serve` does.
pub async fn prepare(opts: DemoOptions, env: &dyn Env) -> Result<Demo, DemoError> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| DemoError::Bind { addr, source })
    };
    let local = |l: &TcpListener, addr: SocketAddr| {
        l.local_addr()
            .map_err(|source| DemoError::Bind { addr, source })
    };
    let up = bind(opts.upstream).await?;
    let px = bind(opts.proxy).await?;
    let ad = bind(opts.admin).await?;
    let addrs = DemoAddrs {
        proxy: local(&px, opts.proxy)?,
        upstream: local(&up, opts.upstream)?,
        admin: local(&ad, opts.admin)?,
    };
    let dir = opts.dir.clone();
    std::fs::create_dir_all(dir.join("audit")).map_err(files_err(&dir))?;
    let journal = dir.join("consent.jsonl");
    std::fs::write(&journal, initial_journal()).map_err(files_err(&journal))?;

    let env = DemoEnv {
        inner: env,
        defaults: HashMap::from([
            ("ZASLON_PSEUDONYM_KEY", DEMO_PSEUDONYM_KEY),
            ("ZASLON_ADMIN_TOKEN", DEMO_ADMIN_TOKEN),
        ]),
    };
    let key_from_env = env.inner.var("ZASLON_PSEUDONYM_KEY").is_some();
    let token = env.var("ZASLON_ADMIN_TOKEN").unwrap_or_default();
    let dir_text = dir.display().to_string();
    let text = DEMO_CONFIG
        .replace("127.0.0.1:8081", &addrs.upstream.to_string())
        .replace(
            "[admin]\naddress = \"127.0.0.1:9901\"",
            &format!(
                "[admin]\naddress = \"{}\"\ntoken_env = \"ZASLON_ADMIN_TOKEN\"",
                addrs.admin
            ),
        )
        .replace("[rules]\ndir = \"rules\"\n", "")
        .replace("zaslon-demo/", &format!("{}/", toml_escape(&dir_text)));
    let cfg = Config::parse(&text, "config/demo.toml (embedded)", &env)?;
    let parts = assemble(
        &cfg,
        Options {
            config_version: "demo".to_owned(),
            audit: None,
        },
    )
    .await?;
    Ok(Demo {
        addrs,
        dir,
        program: opts.program,
        key_from_env,
        token,
        withdraw_at: crate::audit::now_rfc3339(),
        cfg,
        parts,
        proxy: px,
        upstream: up,
        admin: ad,
    })
}

fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn get(path: String, key: &str, purpose: &str, status: u16, expect: Option<&str>) -> Step {
    Step::Http {
        method: "GET",
        path,
        headers: vec![
            ("x-api-key".into(), key.into()),
            ("x-purpose".into(), purpose.into()),
        ],
        admin: false,
        status,
        expect: expect.map(str::to_owned),
    }
}

impl Demo {
    /// What to try, in order; [`Demo::shell`] prints each.
    pub fn tries(&self) -> Vec<Try> {
        let p = DEMO_PATIENT;
        let card = format!("/api/patients/{p}");
        let mut v = Vec::new();
        for (key, purpose) in DEMO_KEYS {
            // What shows each view: care sees the MIS's id, support masked
            // contacts, marketing the email to write to, analytics keyed
            // pseudonyms (of the id too, as the audit keys the subject).
            let shows = match purpose {
                "care" => p,
                "support" => "**",
                "marketing" => "@",
                _ => "psn_",
            };
            v.push(Try {
                title: "the same patient through four purposes",
                step: get(card.clone(), key, purpose, 200, Some(shows)),
            });
        }
        v.push(Try {
            title: "no marketing consent recorded for this patient: refused",
            step: get(
                format!("/api/patients/{DEMO_PATIENT_NO_MARKETING}"),
                "demo-marketing-key",
                "marketing",
                403,
                Some("consent_withdrawn"),
            ),
        });
        v.push(Try {
            title: "a list through marketing (records of patients without consent are left out)",
            step: get(
                "/api/patients".into(),
                "demo-marketing-key",
                "marketing",
                200,
                Some("items"),
            ),
        });
        v.push(Try {
            title: "a FHIR Patient for care",
            step: get(
                format!("/fhir/Patient/{p}"),
                "demo-doctor-key",
                "care",
                200,
                Some("Patient"),
            ),
        });
        v.push(Try {
            title: "the same FHIR Patient for marketing: identifiers, surname, birth date, address and narrative go, and the resource is labelled REDACTED",
            step: get(
                format!("/fhir/Patient/{p}"),
                "demo-marketing-key",
                "marketing",
                200,
                Some("REDACTED"),
            ),
        });
        v.push(Try {
            title: "a FHIR search Bundle for analytics: identifiers pseudonymized, each changed entry labelled",
            step: get(
                "/fhir/Patient".into(),
                "demo-analytics-key",
                "analytics",
                200,
                Some("psn_"),
            ),
        });
        v.push(Try {
            title: "refused before the MIS is asked",
            step: get(
                card.clone(),
                "demo-marketing-key",
                "care",
                403,
                Some("purpose_not_granted"),
            ),
        });
        v.push(Try {
            title: "withdraw the patient's marketing consent (takes effect within a second)",
            step: Step::Append {
                line: format!(
                    "{{\"subject\":\"{p}\",\"purpose\":\"marketing\",\"granted\":false,\"at\":\"{}\",\"source\":\"demo\"}}",
                    self.withdraw_at
                ),
            },
        });
        v.push(Try {
            title: "then marketing is refused",
            step: get(
                card,
                "demo-marketing-key",
                "marketing",
                403,
                Some("consent_withdrawn"),
            ),
        });
        v.push(Try {
            title: "the audit's hash chain",
            step: Step::Verify,
        });
        v.push(Try {
            title: "every access to the patient's data",
            step: Step::Query { subject: p.into() },
        });
        v.push(Try {
            title: "metrics (admin listener, bearer token)",
            step: Step::Http {
                method: "GET",
                path: "/metrics".into(),
                headers: vec![("authorization".into(), format!("Bearer {}", self.token))],
                admin: true,
                status: 200,
                expect: Some("zaslon_requests_total".into()),
            },
        });
        v
    }

    /// The audit files, as a shell glob.
    pub fn audit_glob(&self) -> String {
        format!(
            "{}/audit/*.jsonl",
            shell_quote(&self.dir.display().to_string())
        )
    }

    /// A step as the shell command that does it.
    pub fn shell(&self, step: &Step) -> String {
        match step {
            Step::Http {
                method,
                path,
                headers,
                admin,
                ..
            } => {
                let addr = if *admin {
                    self.addrs.admin
                } else {
                    self.addrs.proxy
                };
                let mut s = String::from("curl -si");
                if *method != "GET" {
                    s.push_str(&format!(" -X {method}"));
                }
                for (k, v) in headers {
                    s.push_str(&format!(" -H {}", shell_quote(&format!("{k}: {v}"))));
                }
                s.push_str(&format!(" http://{addr}{path}"));
                s
            }
            Step::Append { line } => format!(
                "echo {} >> {}",
                shell_quote(line),
                shell_quote(&self.dir.join("consent.jsonl").display().to_string())
            ),
            Step::Verify => format!("{} audit verify {}", self.program, self.audit_glob()),
            Step::Query { subject } => {
                let key = if self.key_from_env {
                    String::new()
                } else {
                    format!("ZASLON_PSEUDONYM_KEY={DEMO_PSEUDONYM_KEY} ")
                };
                format!(
                    "{key}{} audit query --subject {subject} --file {}",
                    self.program,
                    self.audit_glob()
                )
            }
        }
    }

    /// What to try, for the addresses the demo got.
    pub fn instructions(&self) -> String {
        let mut s = format!(
            "zaslon demo: proxy on http://{}, synthetic MIS on http://{}, admin on http://{} (all data is synthetic)\n",
            self.addrs.proxy, self.addrs.upstream, self.addrs.admin
        );
        s.push_str(&format!(
            "files in {}: consent.jsonl (marketing granted for odd patients: {DEMO_PATIENT} yes, {DEMO_PATIENT_NO_MARKETING} no), audit/\n",
            self.dir.display()
        ));
        s.push_str(&format!("admin token: {}\n", self.token));
        let mut last = "";
        for t in self.tries() {
            if t.title != last {
                s.push_str(&format!("\n# {}\n", t.title));
                last = t.title;
            }
            s.push_str(&self.shell(&t.step));
            s.push('\n');
        }
        s.push_str("\nCtrl-C stops the demo.\n");
        s
    }

    /// Serves the upstream, the proxy and the admin listener until
    /// `shutdown`.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut up_rx = rx.clone();
        let upstream = tokio::spawn(serve_upstream(
            self.upstream,
            synthetic(DEMO_SEED),
            async move {
                let _ = up_rx.wait_for(|s| *s).await;
            },
        ));
        let mut px_rx = rx;
        let r = self
            .parts
            .run(&self.cfg, self.proxy, Some(self.admin), async move {
                tokio::select! {
                    () = shutdown => {}
                    _ = px_rx.wait_for(|s| *s) => {}
                }
            })
            .await;
        let _ = tx.send(true);
        let _ = upstream.await;
        r
    }
}
