//! The service keys of a target as written: `service:` (a name from the service table),
//! `hello:` (`true`/`false`) and `cert_min_days:` (0 to 3650), each checked inside its visitor so
//! the error carries the value's position.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::service::Service;

/// `service:`.
pub(in crate::inventory) struct ServiceKey(pub Service);

/// The names `service:` accepts, for error messages.
fn service_names() -> String {
    Service::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'de> Deserialize<'de> for ServiceKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ServiceKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a service name: {}", service_names())
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ServiceKey, E> {
                Service::parse(s).map(ServiceKey).ok_or_else(|| {
                    E::custom(format!(
                        "unknown service `{s}`, expected one of: {}",
                        service_names()
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// `hello:`.
pub(in crate::inventory) struct HelloKey(pub bool);

impl<'de> Deserialize<'de> for HelloKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HelloKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`true` or `false`")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<HelloKey, E> {
                Ok(HelloKey(b))
            }
        }
        d.deserialize_bool(V)
    }
}

/// Most days `cert_min_days:` / `--cert-min-days` accept (ten years).
pub const CERT_MIN_DAYS_MAX: u64 = 3650;

/// `cert_min_days:`.
pub(in crate::inventory) struct CertDaysKey(pub u32);

impl<'de> Deserialize<'de> for CertDaysKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CertDaysKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a whole number of days, 0 to {CERT_MIN_DAYS_MAX}")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<CertDaysKey, E> {
                if n > CERT_MIN_DAYS_MAX {
                    return Err(E::custom(format!(
                        "cert_min_days {n} is too large, expected 0 to {CERT_MIN_DAYS_MAX}"
                    )));
                }
                Ok(CertDaysKey(n as u32))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<CertDaysKey, E> {
                if n < 0 {
                    return Err(E::custom(format!(
                        "cert_min_days {n} is negative, expected 0 to {CERT_MIN_DAYS_MAX}"
                    )));
                }
                self.visit_u64(n as u64)
            }
        }
        d.deserialize_u64(V)
    }
}
