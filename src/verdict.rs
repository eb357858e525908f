//! Verdicts (what a probe saw) and expectations (what the inventory says it should see), the
//! verdict groups every layer shares (blocked, denied, connected, no verdict), and the pass mark
//! (✓/✗/?) shown next to a verdict.
//!
//! The verdict names are the machine names used in every output format; they never change.

use std::fmt;

/// What one probe of one address:port saw, in telnet's terms.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Connected, and the session stayed up for the whole linger window.
    Open,
    /// Connected, then the peer closed (FIN) during the linger window.
    ClosedByPeer,
    /// Connected, then the peer reset (RST) the connection.
    ResetByPeer,
    /// Connected, and the service answered with an explicit refusal (SMTP 554, MySQL 1130,
    /// HTTP 403, a TLS alert, ...), whether or not it then closed.
    Rejected,
    /// The host answered the SYN with a RST (or ICMP port-unreachable): nothing listens.
    Refused,
    /// ICMP host/net unreachable or administratively prohibited came back.
    Unreachable,
    /// No answer at all until the connect timeout: packets are dropped.
    Filtered,
    /// The name could not be resolved.
    DnsError,
    /// Something on the scanning host failed (fds, ports, routes): says nothing about the target.
    LocalError,
    /// The probe was cut short by an interrupt: no verdict.
    Interrupted,
}

impl Verdict {
    /// Every verdict, in display order.
    pub const ALL: [Verdict; 10] = [
        Verdict::Open,
        Verdict::ClosedByPeer,
        Verdict::ResetByPeer,
        Verdict::Rejected,
        Verdict::Refused,
        Verdict::Unreachable,
        Verdict::Filtered,
        Verdict::DnsError,
        Verdict::LocalError,
        Verdict::Interrupted,
    ];

    /// The machine name (`closed-by-peer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Open => "open",
            Verdict::ClosedByPeer => "closed-by-peer",
            Verdict::ResetByPeer => "reset-by-peer",
            Verdict::Rejected => "rejected",
            Verdict::Refused => "refused",
            Verdict::Unreachable => "unreachable",
            Verdict::Filtered => "filtered",
            Verdict::DnsError => "dns-error",
            Verdict::LocalError => "local-error",
            Verdict::Interrupted => "interrupted",
        }
    }

    /// What telnet would have shown, and the most likely cause.
    pub fn meaning(self) -> &'static str {
        match self {
            Verdict::Open => {
                "connected and the session stayed up: firewall, service and access rules let you in"
            }
            Verdict::ClosedByPeer => {
                "connected, then the peer closed at once: the service is up but an access rule rejects you"
            }
            Verdict::ResetByPeer => {
                "connected, then the peer reset the connection: the service is up but an access rule rejects you"
            }
            Verdict::Rejected => {
                "connected, and the service refused you in words: an access rule or a capacity limit of the service"
            }
            Verdict::Refused => {
                "host reached, nothing listens on the port (or a firewall answers with a TCP reset)"
            }
            Verdict::Unreachable => {
                "ICMP unreachable/prohibited came back: a firewall rejects, or routing is broken"
            }
            Verdict::Filtered => "no answer until the timeout: a firewall drops the packets",
            Verdict::DnsError => "the name does not resolve",
            Verdict::LocalError => {
                "the scanning host itself failed (file descriptors, ports, routes): no verdict on the target"
            }
            Verdict::Interrupted => {
                "the scan was interrupted before this probe finished: no verdict"
            }
        }
    }

    /// Who can fix it.
    pub fn who(self) -> &'static str {
        match self {
            Verdict::Open => "nobody",
            Verdict::ClosedByPeer | Verdict::ResetByPeer => "the service's support team",
            Verdict::Rejected => "support team or operator",
            Verdict::Refused => "server admin",
            Verdict::Unreachable | Verdict::Filtered => "network engineer",
            Verdict::DnsError => "DNS admin",
            Verdict::LocalError | Verdict::Interrupted => "whoever runs telltale (rerun)",
        }
    }

    /// Parse a machine name.
    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The `blocked` group: the host or a firewall kept us out before any handshake. A failed
    /// positive control makes these untrusted (the scanner itself may reach nothing).
    pub const BLOCKED: [Verdict; 3] = [Verdict::Filtered, Verdict::Unreachable, Verdict::Refused];

    /// The `denied` group: connected, then the service refused us: it ended the session at
    /// once, or said no in words.
    pub const DENIED: [Verdict; 3] = [
        Verdict::ClosedByPeer,
        Verdict::ResetByPeer,
        Verdict::Rejected,
    ];

    /// In the [`BLOCKED`](Verdict::BLOCKED) group: the verdicts a failed positive control
    /// makes untrusted.
    pub fn is_blocked(self) -> bool {
        Verdict::BLOCKED.contains(&self)
    }

    /// The handshake completed (`open` or the [`DENIED`](Verdict::DENIED) group): the peer may
    /// have sent a banner, and an accept-all host answers this way on every port.
    pub fn is_connected(self) -> bool {
        self == Verdict::Open || Verdict::DENIED.contains(&self)
    }

    /// Says something about the target. False for `local-error` (the scanning host failed) and
    /// `interrupted` (the probe was cut short): comparing such a record says "rerun", never
    /// "newly closed". `dns-error` is a verdict (about the name).
    pub fn gives_verdict(self) -> bool {
        !matches!(self, Verdict::LocalError | Verdict::Interrupted)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A set of acceptable verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expect(u16);

/// The names accepted in `expect:` besides verdicts, and what they stand for.
pub const ALIASES: [(&str, &[Verdict]); 3] = [
    ("reachable", &[Verdict::Open]),
    ("blocked", &Verdict::BLOCKED),
    ("denied", &Verdict::DENIED),
];

/// The pass mark shown next to a verdict: `✓` as expected and trusted, `✗` not as expected,
/// `?` when it proves nothing (no expectation for this vantage, or untrusted because a positive
/// control failed).
pub fn mark(ok: Option<bool>, trusted: bool) -> &'static str {
    match ok {
        Some(true) if trusted => "✓",
        Some(false) => "✗",
        _ => "?",
    }
}

impl Default for Expect {
    fn default() -> Self {
        Expect::only(Verdict::Open)
    }
}

impl Expect {
    /// The empty set (used while building).
    pub const EMPTY: Expect = Expect(0);

    /// Exactly one verdict.
    pub fn only(v: Verdict) -> Expect {
        Expect(v.bit())
    }

    /// Parse one word: a verdict name or an alias.
    pub fn parse_word(word: &str) -> Result<Expect, String> {
        let word = word.trim();
        if let Some(v) = Verdict::parse(word) {
            if v == Verdict::Interrupted {
                return Err(format!("`{word}` cannot be expected"));
            }
            return Ok(Expect::only(v));
        }
        if let Some((_, vs)) = ALIASES.iter().find(|(a, _)| *a == word) {
            return Ok(vs.iter().fold(Expect::EMPTY, |e, v| e.with(*v)));
        }
        Err(format!(
            "unknown verdict `{word}`, expected one of: open, closed-by-peer, reset-by-peer, rejected, refused, \
             unreachable, filtered, dns-error, local-error, or an alias: reachable, blocked, denied"
        ))
    }

    /// This set plus `v`.
    pub fn with(self, v: Verdict) -> Expect {
        Expect(self.0 | v.bit())
    }

    /// Union.
    pub fn union(self, o: Expect) -> Expect {
        Expect(self.0 | o.0)
    }

    /// Whether `v` is acceptable.
    pub fn contains(self, v: Verdict) -> bool {
        self.0 & v.bit() != 0
    }

    /// Whether no verdict is acceptable.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The verdicts in this set, in display order.
    pub fn verdicts(self) -> impl Iterator<Item = Verdict> {
        Verdict::ALL.into_iter().filter(move |v| self.contains(*v))
    }

    /// Machine names, for JSON.
    pub fn names(self) -> Vec<&'static str> {
        self.verdicts().map(Verdict::as_str).collect()
    }
}

impl fmt::Display for Expect {
    /// Shows an alias when the set is exactly one, else the verdicts joined by `|`; `none` when
    /// empty (no expectation for this vantage).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.pad("none");
        }
        if self.0.count_ones() > 1 {
            for (alias, vs) in ALIASES {
                if vs.iter().fold(Expect::EMPTY, |e, v| e.with(*v)) == *self {
                    return f.pad(alias);
                }
            }
        }
        f.pad(&self.names().join("|"))
    }
}

impl serde::Serialize for Expect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_expand() {
        let blocked = Expect::parse_word("blocked").unwrap();
        assert!(blocked.contains(Verdict::Filtered));
        assert!(blocked.contains(Verdict::Unreachable));
        assert!(blocked.contains(Verdict::Refused));
        assert!(!blocked.contains(Verdict::Open));
        let denied = Expect::parse_word("denied").unwrap();
        assert_eq!(
            denied.names(),
            vec!["closed-by-peer", "reset-by-peer", "rejected"]
        );
        assert_eq!(
            Expect::parse_word("reachable").unwrap(),
            Expect::only(Verdict::Open)
        );
        assert_eq!(Expect::default(), Expect::only(Verdict::Open));
    }

    #[test]
    fn unknown_and_interrupted_are_refused() {
        assert!(
            Expect::parse_word("opne")
                .unwrap_err()
                .contains("unknown verdict `opne`")
        );
        assert!(Expect::parse_word("interrupted").is_err());
    }

    #[test]
    fn display_prefers_alias() {
        assert_eq!(
            Expect::parse_word("blocked").unwrap().to_string(),
            "blocked"
        );
        assert_eq!(
            Expect::only(Verdict::Refused)
                .with(Verdict::Open)
                .to_string(),
            "open|refused"
        );
    }

    #[test]
    fn groups_are_disjoint_and_match_the_aliases() {
        for v in Verdict::ALL {
            let groups = [v.is_blocked(), v.is_connected(), !v.gives_verdict()];
            assert!(
                groups.iter().filter(|g| **g).count() <= 1,
                "{v} in two groups"
            );
            let alias = |a: &str| Expect::parse_word(a).unwrap().contains(v);
            assert_eq!(v.is_blocked(), alias("blocked"), "{v}");
            assert_eq!(
                v.is_connected(),
                alias("reachable") || alias("denied"),
                "{v}"
            );
        }
        assert!(Verdict::DnsError.gives_verdict());
        assert!(!Verdict::Interrupted.gives_verdict());
        assert!(!Verdict::LocalError.gives_verdict());
        assert_eq!(mark(Some(true), true), "✓");
        assert_eq!(mark(Some(true), false), "?");
        assert_eq!(mark(Some(false), false), "✗");
        assert_eq!(mark(None, true), "?");
    }

    #[test]
    fn names_round_trip() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", v.as_str()));
        }
    }
}

/// What the inventory expects, possibly per vantage: `expect: open` or
/// `expect: {app: open, dmz: blocked, default: reachable}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectSpec {
    /// One expectation wherever the scan runs.
    Plain(Expect),
    /// Per vantage label, with an optional `default` for other vantages.
    PerVantage {
        /// (vantage, expectation), in inventory order.
        by: Vec<(String, Expect)>,
        /// For vantages not listed.
        default: Option<Expect>,
    },
}

impl Default for ExpectSpec {
    fn default() -> Self {
        ExpectSpec::Plain(Expect::default())
    }
}

impl ExpectSpec {
    /// The expectation for a run from `vantage`; None when a per-vantage map has neither that
    /// vantage nor a `default` (the result is then judged `ok: null`, never silently passed).
    pub fn for_vantage(&self, vantage: &str) -> Option<Expect> {
        match self {
            ExpectSpec::Plain(e) => Some(*e),
            ExpectSpec::PerVantage { by, default } => by
                .iter()
                .find(|(v, _)| v == vantage)
                .map(|(_, e)| *e)
                .or(*default),
        }
    }

    /// A target's expectation completed by its file's `defaults: expect:` (if any): a
    /// per-vantage map without `default` falls back to the inventory default.
    pub fn with_fallback(self, defaults: Option<&ExpectSpec>) -> ExpectSpec {
        match (self, defaults) {
            (ExpectSpec::PerVantage { by, default: None }, Some(ExpectSpec::Plain(e))) => {
                ExpectSpec::PerVantage {
                    by,
                    default: Some(*e),
                }
            }
            (
                ExpectSpec::PerVantage {
                    mut by,
                    default: None,
                },
                Some(ExpectSpec::PerVantage { by: more, default }),
            ) => {
                for (v, e) in more {
                    if !by.iter().any(|(x, _)| *x == *v) {
                        by.push((v.clone(), *e));
                    }
                }
                ExpectSpec::PerVantage {
                    by,
                    default: *default,
                }
            }
            (spec, _) => spec,
        }
    }
}

#[cfg(test)]
mod spec_tests {
    use super::*;

    #[test]
    fn per_vantage_falls_back_to_default_then_inventory_default() {
        let open = Expect::only(Verdict::Open);
        let blocked = Expect::parse_word("blocked").unwrap();
        let spec = ExpectSpec::PerVantage {
            by: vec![("app".into(), open), ("dmz".into(), blocked)],
            default: None,
        };
        assert_eq!(spec.for_vantage("app"), Some(open));
        assert_eq!(spec.for_vantage("dmz"), Some(blocked));
        assert_eq!(spec.for_vantage("ops"), None, "no default: no expectation");
        let filled = spec
            .clone()
            .with_fallback(Some(&ExpectSpec::Plain(blocked)));
        assert_eq!(filled.for_vantage("ops"), Some(blocked));
        assert_eq!(filled.for_vantage("app"), Some(open));
        let with_default = ExpectSpec::PerVantage {
            by: vec![],
            default: Some(open),
        };
        assert_eq!(
            with_default
                .with_fallback(Some(&ExpectSpec::Plain(blocked)))
                .for_vantage("x"),
            Some(open)
        );
        assert_eq!(
            ExpectSpec::Plain(blocked).for_vantage("anything"),
            Some(blocked)
        );
    }
}

impl fmt::Display for ExpectSpec {
    /// `open`, or `app=open,dmz=blocked,default=reachable`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectSpec::Plain(e) => write!(f, "{e}"),
            ExpectSpec::PerVantage { by, default } => {
                let mut parts: Vec<String> = by.iter().map(|(v, e)| format!("{v}={e}")).collect();
                if let Some(d) = default {
                    parts.push(format!("default={d}"));
                }
                f.write_str(&parts.join(","))
            }
        }
    }
}
