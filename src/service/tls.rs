//! TLS (and HTTPS): the handshake with rustls, the certificate's facts, and the alerts that
//! mean a refusal (handshake_failure, access_denied, certificate_required, unrecognized_name).
//!
//! Not built yet: `tls` and `https` targets are probed as plain TCP until this lands.

/// What a TLS handshake showed about the server's certificate.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TlsInfo {
    /// Negotiated protocol version (`TLSv1.3`).
    pub version: String,
    /// Leaf certificate subject.
    pub subject: String,
    /// Leaf certificate issuer.
    pub issuer: String,
    /// Not-after, RFC 3339 UTC.
    pub not_after: String,
    /// Whole days until not-after (negative: expired).
    pub days_left: i64,
    /// The chain verifies against the system roots for the name probed.
    pub verified: bool,
    /// Why it does not verify.
    pub verify_error: Option<String>,
}
