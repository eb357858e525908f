//! Value parsers for the command line: durations within their bounds, source addresses, sizes,
//! `K/N` shards, `FORMAT=FILE`, rates, `OLD=NEW` vantage pairs, port lists, and `--expect` words
//! (which also feed shell completion). Each error says what was expected.

use std::path::PathBuf;
use std::time::Duration;

use crate::report::Format;

pub(super) fn timeout(s: &str) -> Result<Duration, String> {
    crate::inventory::TIMEOUT.parse(s)
}

pub(super) fn linger(s: &str) -> Result<Duration, String> {
    crate::inventory::LINGER.parse(s)
}

pub(super) fn greeting_wait(s: &str) -> Result<Duration, String> {
    crate::inventory::GREETING_WAIT.parse(s)
}

pub(super) fn attempt_gap(s: &str) -> Result<Duration, String> {
    crate::inventory::ATTEMPT_GAP.parse(s)
}

pub(super) fn port_list(s: &str) -> Result<crate::inventory::PortSet, String> {
    crate::inventory::parse_port_list(s).map(crate::inventory::PortSet::from_ranges)
}

pub(super) fn source(s: &str) -> Result<std::net::IpAddr, String> {
    crate::inventory::parse_source(s)
}

pub(super) fn size(s: &str) -> Result<u64, String> {
    crate::input::parse_size(s)
}

pub(super) fn shard(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("bad shard `{s}`, expected K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse::<u32>().map_err(|_| bad())?,
        n.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

pub(super) fn also(s: &str) -> Result<(Format, PathBuf), String> {
    use clap::ValueEnum;
    let (f, path) = s
        .split_once('=')
        .ok_or_else(|| format!("bad --also `{s}`, expected FORMAT=FILE"))?;
    let format = Format::from_str(f, true).map_err(|_| {
        format!(
            "bad --also format `{f}`, expected one of table, ndjson, json, csv, junit, prometheus"
        )
    })?;
    if path.is_empty() {
        return Err(format!("bad --also `{s}`, expected FORMAT=FILE"));
    }
    Ok((format, PathBuf::from(path)))
}

pub(super) fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("bad rate `{s}`, expected connects per second > 0")),
    }
}

pub(super) fn vantage_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => Err(format!("bad vantage map `{s}`, expected OLD=NEW")),
    }
}

/// Parses `--expect`'s comma list, and offers the verdicts and aliases to shell completion.
#[derive(Clone, Copy, Debug)]
pub(super) struct ExpectWords;

impl clap::builder::TypedValueParser for ExpectWords {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)?;
        for w in text.split(',') {
            if let Err(e) = crate::verdict::Expect::parse_word(w) {
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!("invalid value '{text}' for '--expect': {e}\n"),
                )
                .with_cmd(cmd));
            }
        }
        Ok(text)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let verdicts = crate::verdict::Verdict::ALL
            .into_iter()
            .filter(|v| *v != crate::verdict::Verdict::Interrupted)
            .map(|v| clap::builder::PossibleValue::new(v.as_str()));
        let aliases = crate::verdict::ALIASES
            .into_iter()
            .map(|(a, _)| clap::builder::PossibleValue::new(a));
        Some(Box::new(verdicts.chain(aliases)))
    }
}
