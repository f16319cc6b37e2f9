//! Who is asking: an mTLS certificate name or an API key, matched against
//! the configured clients.

use sha2::{Digest, Sha256};

use crate::config::ClientConfig;

/// The configured clients.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    list: Vec<ClientConfig>,
}

/// Why no client was identified (all `401 unauthenticated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    NoCredential,
    UnknownKey,
    UnknownCertificate,
    /// A certificate and a key that name different clients.
    Conflict,
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    // Constant time in the compared bytes; the early exits of `==` would
    // leak how much of a hash matched.
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl Clients {
    pub fn new(list: Vec<ClientConfig>) -> Clients {
        Clients { list }
    }

    /// The client of an API key. Every stored hash is compared, so the time
    /// taken does not depend on which client (if any) matched.
    pub fn by_key(&self, key: &[u8]) -> Option<&ClientConfig> {
        let digest: [u8; 32] = Sha256::digest(key).into();
        let mut found = None;
        for c in &self.list {
            if let Some(h) = &c.api_key_sha256
                && ct_eq(h, &digest)
                && found.is_none()
            {
                found = Some(c);
            }
        }
        found
    }

    /// The client of a verified certificate, by its subject CN or a SAN.
    pub fn by_cert_names(&self, names: &[String]) -> Option<&ClientConfig> {
        self.list.iter().find(|c| {
            c.tls_name
                .as_ref()
                .is_some_and(|n| names.iter().any(|x| x == n))
        })
    }

    /// Identifies a request from its connection's certificate names and
    /// its `x-api-key`.
    pub fn identify(
        &self,
        cert_names: Option<&[String]>,
        api_key: Option<&[u8]>,
    ) -> Result<&ClientConfig, AuthError> {
        let by_cert =
            cert_names.map(|n| self.by_cert_names(n).ok_or(AuthError::UnknownCertificate));
        let by_key = api_key.map(|k| self.by_key(k).ok_or(AuthError::UnknownKey));
        match (by_cert, by_key) {
            (None, None) => Err(AuthError::NoCredential),
            (Some(Ok(c)), None | Some(Err(_))) => match by_key {
                Some(Err(e)) => Err(e),
                _ => Ok(c),
            },
            (Some(Ok(c)), Some(Ok(k))) if c.id == k.id => Ok(c),
            (Some(Ok(_)), Some(Ok(_))) => Err(AuthError::Conflict),
            // A certificate that names no client: an API key may still say
            // who it is (a shared edge certificate, say).
            (Some(Err(_)), Some(k)) => k,
            (Some(Err(e)), None) => Err(e),
            (None, Some(k)) => k,
        }
    }
}

/// The names a client certificate carries: the subject CN and the DNS and
/// URI SANs. An unparsable certificate yields none.
pub fn cert_names(der: &[u8]) -> Vec<String> {
    use x509_parser::prelude::*;
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(s) | GeneralName::URI(s) | GeneralName::RFC822Name(s) => {
                    names.push((*s).to_owned())
                }
                _ => {}
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::Purpose;

    fn client(id: &str, key: Option<&str>, tls: Option<&str>) -> ClientConfig {
        ClientConfig {
            id: id.into(),
            api_key_sha256: key.map(|k| Sha256::digest(k.as_bytes()).into()),
            tls_name: tls.map(str::to_owned),
            purposes: vec![Purpose::Care],
        }
    }

    #[test]
    fn keys_and_certificates() {
        let c = Clients::new(vec![
            client("a", Some("key-a"), None),
            client("b", Some("key-b"), Some("b.clients")),
        ]);
        assert_eq!(c.identify(None, Some(b"key-a")).unwrap().id, "a");
        assert_eq!(c.identify(None, Some(b"key-x")), Err(AuthError::UnknownKey));
        assert_eq!(c.identify(None, None), Err(AuthError::NoCredential));
        let names = vec!["b.clients".to_owned()];
        assert_eq!(c.identify(Some(&names), None).unwrap().id, "b");
        assert_eq!(c.identify(Some(&names), Some(b"key-b")).unwrap().id, "b");
        assert_eq!(
            c.identify(Some(&names), Some(b"key-a")),
            Err(AuthError::Conflict)
        );
        assert_eq!(
            c.identify(Some(&names), Some(b"nope")),
            Err(AuthError::UnknownKey)
        );
        let other = vec!["x".to_owned()];
        assert_eq!(
            c.identify(Some(&other), None),
            Err(AuthError::UnknownCertificate)
        );
        assert_eq!(c.identify(Some(&other), Some(b"key-a")).unwrap().id, "a");
    }
}
