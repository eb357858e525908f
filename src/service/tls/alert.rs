//! TLS alerts by their registry names (`handshake_failure`, `certificate_required`, …), and
//! what a handshake or read error from rustls means for the probe: a refusal by the server in
//! words (an alert it sent), a silent close, or a failure of ours to speak with it.

use std::io;

use rustls::AlertDescription;

/// The IANA TLS Alert registry name of alert number `code` (RFC 8446 §6, RFC 5246 §7.2).
pub fn name(code: u8) -> String {
    let n = match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        other => return format!("alert_{other}"),
    };
    n.to_string()
}

/// What the server meant by alert `code`, for the rejection text.
pub fn meaning(code: u8) -> &'static str {
    match code {
        40 => "the server refused the handshake",
        49 => "the server denies this client access",
        112 => "the server does not serve the name sent (SNI)",
        116 => "the server requires a client certificate",
        42 | 46 | 48 => "the server rejected the client's certificate",
        70 | 71 => "the server refused the protocol version or ciphers offered",
        80 => "the server failed internally",
        _ => "the server ended the handshake with an alert",
    }
}

/// What went wrong on a TLS stream, from the io::Error tokio-rustls returns.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Failure {
    /// The server sent a fatal alert: its number.
    Alert(u8),
    /// The peer closed (FIN, or a close_notify) before we were done.
    Closed,
    /// The peer reset the connection.
    Reset,
    /// Anything else (not TLS, a protocol error, a local error): what rustls or the OS said.
    Other(String),
}

/// Classify an error from the handshake or a read.
pub(super) fn classify(e: &io::Error) -> Failure {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::AlertReceived(AlertDescription::CloseNotify) => Failure::Closed,
            rustls::Error::AlertReceived(a) => Failure::Alert(u8::from(*a)),
            other => Failure::Other(format!("TLS error: {other}")),
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Failure::Closed,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Failure::Reset,
        _ => Failure::Other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_match_rustls_numbers() {
        let cases = [
            (AlertDescription::HandshakeFailure, "handshake_failure"),
            (AlertDescription::AccessDenied, "access_denied"),
            (
                AlertDescription::CertificateRequired,
                "certificate_required",
            ),
            (AlertDescription::UnrecognisedName, "unrecognized_name"),
            (AlertDescription::ProtocolVersion, "protocol_version"),
            (AlertDescription::UnknownCA, "unknown_ca"),
            (AlertDescription::BadCertificate, "bad_certificate"),
            (AlertDescription::InternalError, "internal_error"),
            (
                AlertDescription::EncryptedClientHelloRequired,
                "ech_required",
            ),
        ];
        for (a, n) in cases {
            assert_eq!(name(u8::from(a)), n);
        }
        assert_eq!(name(250), "alert_250");
    }

    #[test]
    fn errors_classify() {
        let alert = |a| io::Error::new(io::ErrorKind::InvalidData, rustls::Error::AlertReceived(a));
        assert_eq!(
            classify(&alert(AlertDescription::CertificateRequired)),
            Failure::Alert(116)
        );
        assert_eq!(
            classify(&alert(AlertDescription::CloseNotify)),
            Failure::Closed
        );
        assert_eq!(
            classify(&io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tls handshake eof"
            )),
            Failure::Closed
        );
        assert_eq!(
            classify(&io::Error::from(io::ErrorKind::ConnectionReset)),
            Failure::Reset
        );
        let corrupt = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert!(matches!(classify(&corrupt), Failure::Other(s) if s.starts_with("TLS error")));
    }
}
