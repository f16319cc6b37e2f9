//! Routes: path patterns with parameters, the subject they name, and the
//! methods each purpose may use on them.

use http::{HeaderMap, Method};

use super::path::{NormalPath, decode_component};
use crate::class::Purpose;

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Literal(String),
    Param(String),
}

/// A path pattern such as `/api/patients/{patient_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    template: String,
    segs: Vec<Seg>,
}

impl RoutePattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(template: &str) -> Result<RoutePattern, String> {
        if !template.starts_with('/') {
            return Err("a route path starts with `/`".into());
        }
        let mut segs = Vec::new();
        for s in template.split('/').filter(|s| !s.is_empty()) {
            if let Some(inner) = s.strip_prefix('{') {
                let Some(name) = inner.strip_suffix('}') else {
                    return Err(format!(
                        "segment `{s}`: a parameter is a whole segment `{{name}}`"
                    ));
                };
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(format!(
                        "parameter `{s}`: a name of letters, digits and `_`, like `{{patient_id}}`"
                    ));
                }
                if segs.iter().any(|g| matches!(g, Seg::Param(n) if n == name)) {
                    return Err(format!("parameter `{name}` appears twice"));
                }
                segs.push(Seg::Param(name.to_owned()));
            } else {
                if s.contains(['{', '}']) {
                    return Err(format!(
                        "segment `{s}`: a parameter is a whole segment `{{name}}`"
                    ));
                }
                // The pattern must already be in normal form, or it could
                // never match a normalized request path.
                match super::path::normalize(&format!("/{s}")) {
                    Ok(p) if p.as_str() == format!("/{s}") => {}
                    _ => {
                        return Err(format!(
                            "segment `{s}` is not in normal form (no dot segments, no escapes of letters or digits)"
                        ));
                    }
                }
                segs.push(Seg::Literal(s.to_owned()));
            }
        }
        Ok(RoutePattern {
            template: template.to_owned(),
            segs,
        })
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.segs
            .iter()
            .any(|s| matches!(s, Seg::Param(n) if n == name))
    }

    fn literal_count(&self) -> usize {
        self.segs
            .iter()
            .filter(|s| matches!(s, Seg::Literal(_)))
            .count()
    }

    fn matches(&self, path: &NormalPath) -> bool {
        path.len() == self.segs.len()
            && self.segs.iter().zip(path.segments()).all(|(s, p)| match s {
                Seg::Literal(l) => l == p,
                Seg::Param(_) => true,
            })
    }

    fn param<'p>(&self, path: &'p NormalPath, name: &str) -> Option<&'p str> {
        let i = self
            .segs
            .iter()
            .position(|s| matches!(s, Seg::Param(n) if n == name))?;
        path.segment(i)
    }
}

/// Where a route finds the subject (patient) id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectSource {
    Path(String),
    Query(String),
    Header(http::HeaderName),
}

impl SubjectSource {
    /// Parses `path:NAME`, `query:NAME` or `header:NAME`.
    pub fn parse(s: &str) -> Result<SubjectSource, String> {
        let (kind, name) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: write `path:NAME`, `query:NAME` or `header:NAME`"))?;
        if name.is_empty() {
            return Err(format!("`{s}`: the name after `{kind}:` is empty"));
        }
        match kind {
            "path" => Ok(SubjectSource::Path(name.to_owned())),
            "query" => Ok(SubjectSource::Query(name.to_owned())),
            "header" => http::HeaderName::from_bytes(name.as_bytes())
                .map(SubjectSource::Header)
                .map_err(|_| format!("`{name}` is not a valid header name")),
            _ => Err(format!(
                "`{kind}:`: the source is `path:`, `query:` or `header:`"
            )),
        }
    }
}

/// Methods as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSet(u16);

const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

impl MethodSet {
    pub const READ: MethodSet = MethodSet(0b11);
    pub const EMPTY: MethodSet = MethodSet(0);

    /// Parses one method name (upper case).
    pub fn with_name(self, name: &str) -> Option<MethodSet> {
        let i = METHODS.iter().position(|m| m.as_str() == name)?;
        Some(MethodSet(self.0 | 1 << i))
    }

    pub fn contains(self, m: &Method) -> bool {
        METHODS
            .iter()
            .position(|x| x == m)
            .is_some_and(|i| self.0 & 1 << i != 0)
    }
}

/// Allowed methods per purpose; a purpose not named gets the default
/// (`GET` and `HEAD` unless `"*"` says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodRules(pub [MethodSet; 9]);

impl Default for MethodRules {
    fn default() -> Self {
        MethodRules([MethodSet::READ; 9])
    }
}

impl MethodRules {
    pub fn allows(&self, p: Purpose, m: &Method) -> bool {
        self.0[p.index()].contains(m)
    }
}

/// A validated route.
#[derive(Debug, Clone)]
pub struct Route {
    pub pattern: RoutePattern,
    /// Index into the upstreams; 0 is the default one.
    pub upstream: usize,
    pub subject: Option<SubjectSource>,
    pub methods: MethodRules,
    /// Record-level consent in lists: the path of the records and the key
    /// of their subject id. Carried for the engine; not used here yet.
    pub records: Option<String>,
    pub record_subject: Option<String>,
    /// Members beside the records array that count its records (`total`);
    /// `None`: [`crate::redact::RecordSpec::DEFAULT_COUNTS`].
    pub record_counts: Option<Vec<String>>,
}

/// Why no subject could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectError {
    Missing,
    /// Given twice (a query parameter or a header): the upstream might read
    /// the other one.
    Ambiguous,
    Invalid,
}

impl Route {
    /// The subject id of a request on this route, if the route names one.
    pub fn subject(
        &self,
        path: &NormalPath,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<Option<String>, SubjectError> {
        let Some(source) = &self.subject else {
            return Ok(None);
        };
        let id = match source {
            SubjectSource::Path(name) => {
                let raw = self
                    .pattern
                    .param(path, name)
                    .ok_or(SubjectError::Missing)?;
                decode_component(raw, false).ok_or(SubjectError::Invalid)?
            }
            SubjectSource::Query(name) => {
                let mut found = None;
                for pair in query.unwrap_or("").split('&') {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if decode_component(k, true).as_deref() == Some(name.as_str()) {
                        if found.is_some() {
                            return Err(SubjectError::Ambiguous);
                        }
                        found = Some(decode_component(v, true).ok_or(SubjectError::Invalid)?);
                    }
                }
                found.ok_or(SubjectError::Missing)?
            }
            SubjectSource::Header(name) => {
                let mut values = headers.get_all(name).iter();
                let v = values.next().ok_or(SubjectError::Missing)?;
                if values.next().is_some() {
                    return Err(SubjectError::Ambiguous);
                }
                v.to_str()
                    .map_err(|_| SubjectError::Invalid)?
                    .trim()
                    .to_owned()
            }
        };
        if id.is_empty() || id.len() > 256 {
            return Err(SubjectError::Invalid);
        }
        Ok(Some(id))
    }
}

/// All routes; the most specific match wins (most literal segments, then
/// the first declared).
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Router {
        Router { routes }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn find(&self, path: &NormalPath) -> Option<&Route> {
        let mut best: Option<&Route> = None;
        for r in &self.routes {
            if r.pattern.matches(path)
                && best.is_none_or(|b| r.pattern.literal_count() > b.pattern.literal_count())
            {
                best = Some(r);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::path::normalize;

    fn route(p: &str, subject: Option<&str>) -> Route {
        Route {
            pattern: RoutePattern::parse(p).unwrap(),
            upstream: 0,
            subject: subject.map(|s| SubjectSource::parse(s).unwrap()),
            methods: MethodRules::default(),
            records: None,
            record_subject: None,
            record_counts: None,
        }
    }

    #[test]
    fn patterns_parse_and_reject() {
        assert!(RoutePattern::parse("/api/patients/{patient_id}").is_ok());
        assert!(RoutePattern::parse("api").is_err());
        assert!(RoutePattern::parse("/a/{x").is_err());
        assert!(RoutePattern::parse("/a/x{y}").is_err());
        assert!(RoutePattern::parse("/a/{x}/{x}").is_err());
        assert!(RoutePattern::parse("/a/../b").is_err());
        assert!(RoutePattern::parse("/a/%70").is_err());
    }

    #[test]
    fn most_specific_route_wins() {
        let r = Router::new(vec![
            route("/api/patients/{id}", Some("path:id")),
            route("/api/patients/search", None),
        ]);
        let p = normalize("/api/patients/search").unwrap();
        assert_eq!(
            r.find(&p).unwrap().pattern.template(),
            "/api/patients/search"
        );
        let p = normalize("/api/patients/42").unwrap();
        let hit = r.find(&p).unwrap();
        assert_eq!(
            hit.subject(&p, None, &HeaderMap::new()),
            Ok(Some("42".into()))
        );
        assert!(r.find(&normalize("/api/patients/42/x").unwrap()).is_none());
    }

    #[test]
    fn subjects_from_query_and_header() {
        let r = route("/api/search", Some("query:patient"));
        let p = normalize("/api/search").unwrap();
        let h = HeaderMap::new();
        assert_eq!(
            r.subject(&p, Some("a=1&patient=7%37"), &h),
            Ok(Some("77".into()))
        );
        assert_eq!(
            r.subject(&p, Some("patient=1&patient=2"), &h),
            Err(SubjectError::Ambiguous)
        );
        assert_eq!(r.subject(&p, Some("a=1"), &h), Err(SubjectError::Missing));
        let r = route("/api/search", Some("header:x-patient"));
        let mut h = HeaderMap::new();
        h.insert("x-patient", "9".parse().unwrap());
        assert_eq!(r.subject(&p, None, &h), Ok(Some("9".into())));
        h.append("x-patient", "8".parse().unwrap());
        assert_eq!(r.subject(&p, None, &h), Err(SubjectError::Ambiguous));
    }

    #[test]
    fn methods_per_purpose() {
        let mut m = MethodRules::default();
        assert!(m.allows(Purpose::Care, &Method::GET));
        assert!(!m.allows(Purpose::Care, &Method::POST));
        m.0[Purpose::Care.index()] = MethodSet::READ.with_name("POST").unwrap();
        assert!(m.allows(Purpose::Care, &Method::POST));
        assert!(MethodSet::EMPTY.with_name("BREW").is_none());
    }
}
