//! Certificate verification that never refuses: the probe's [`Recorder`] accepts every server
//! certificate (so the handshake completes and the certificate is always seen) and records,
//! for the record's `verified`/`verify_error`, whether rustls' own `WebPkiServerVerifier` with
//! the system roots (rustls-native-certs: `/etc/ssl/certs`, `SSL_CERT_FILE`, `SSL_CERT_DIR`)
//! would have accepted it for the name probed, and why not. Handshake signatures are still
//! checked for real (with the ring provider's algorithms). It also notes which TLS version's
//! signature check ran, so a handshake that fails later still tells the version.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// What the handshake showed the verifier.
#[derive(Clone, Debug, Default)]
pub(super) struct Seen {
    /// The leaf certificate (DER).
    pub leaf: Option<Vec<u8>>,
    /// `Ok` when the system roots verify it for the name; else why not.
    pub verdict: Option<Result<(), String>>,
    /// `TLSv1.2` / `TLSv1.3`, from which signature check ran.
    pub version: Option<&'static str>,
}

/// The accept-all, record-everything verifier of one probe.
#[derive(Debug)]
pub(super) struct Recorder {
    seen: Mutex<Seen>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Recorder {
    /// A fresh recorder.
    pub fn new() -> Recorder {
        Recorder {
            seen: Mutex::new(Seen::default()),
            algorithms: provider().signature_verification_algorithms,
        }
    }

    /// What was seen so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn note(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.seen.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match system_verifier() {
            Ok(v) => v
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map(|_| ())
                .map_err(|e| why(&e)),
            Err(e) => Err(e.clone()),
        };
        self.note(|s| {
            s.leaf = Some(end_entity.as_ref().to_vec());
            s.verdict = Some(verdict);
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.note(|s| s.version = Some("TLSv1.2"));
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.note(|s| s.version = Some("TLSv1.3"));
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The client config of one probe: TLS 1.3 and 1.2, SNI on (rustls sends none for an IP
/// address), no client certificate, no session resumption, `recorder` as the verifier.
pub(super) fn client_config(recorder: Arc<Recorder>) -> Result<ClientConfig, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(recorder)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// The ring crypto provider (built once).
fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// rustls' verifier with the system roots, loaded once; the error says why there is none.
fn system_verifier() -> &'static Result<Arc<WebPkiServerVerifier>, String> {
    static V: OnceLock<Result<Arc<WebPkiServerVerifier>, String>> = OnceLock::new();
    V.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            let errs: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
            return Err(format!("no system root certificates ({})", errs.join("; ")));
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| format!("no system verifier: {e}"))
    })
}

/// Why rustls refused a certificate, in its own variant's words (`UnknownIssuer`, `Expired`,
/// `NotValidForName`), with the names the certificate is valid for when that is the reason.
pub(super) fn why(e: &rustls::Error) -> String {
    let rustls::Error::InvalidCertificate(c) = e else {
        return e.to_string();
    };
    match c {
        CertificateError::ExpiredContext { .. } => "Expired".into(),
        CertificateError::NotValidYetContext { .. } => "NotValidYet".into(),
        CertificateError::NotValidForNameContext { presented, .. } => {
            let names: Vec<&str> = presented.iter().take(6).map(|p| bare_name(p)).collect();
            let more = if presented.len() > names.len() {
                ", …"
            } else {
                ""
            };
            format!("NotValidForName (valid for {}{more})", names.join(", "))
        }
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "UnsupportedSignatureAlgorithm".into()
        }
        CertificateError::InvalidPurposeContext { .. } => "InvalidPurpose".into(),
        CertificateError::ExpiredRevocationListContext { .. } => "ExpiredRevocationList".into(),
        CertificateError::Other(o) => format!("Other: {o}"),
        other => format!("{other:?}"),
    }
}

/// `lab.test` from rustls' `DnsName("lab.test")`, `127.0.0.1` from `IpAddress(127.0.0.1)`.
fn bare_name(presented: &str) -> &str {
    let inner = presented
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .unwrap_or(presented);
    inner.trim_matches('"')
}

/// Load the system roots now (once per process; reading them takes milliseconds), so that
/// no probe's handshake time includes it.
pub fn warm() {
    let _ = system_verifier();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_short() {
        let e = |c| rustls::Error::InvalidCertificate(c);
        assert_eq!(why(&e(CertificateError::UnknownIssuer)), "UnknownIssuer");
        assert_eq!(why(&e(CertificateError::Expired)), "Expired");
        assert_eq!(
            why(&e(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(10)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(5)),
            })),
            "Expired"
        );
        assert_eq!(
            why(&e(CertificateError::NotValidForName)),
            "NotValidForName"
        );
    }

    #[test]
    fn config_builds() {
        assert!(client_config(Arc::new(Recorder::new())).is_ok());
    }
}
