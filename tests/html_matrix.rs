//! The HTML matrix of `telltale merge --format html`: self-contained (no external asset), and
//! opened in headless Chromium (inside `unshare -rn`, a `file://` URL): a real screenshot, the
//! DOM with the expected cells, and the filter box hiding rows. `.ci/run` installs Chromium;
//! without it the test fails with the install command, never skips.
//!
//! Network: every packet stays inside namespaces created here (`unshare -rnmpf`: only `lo`, a
//! resolv.conf pointing at 127.0.0.1 bind-mounted), or on 127.0.0.0/8.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::fleet::*;
use common::{read_file as read, show_output as show};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Debian's `chromium`, which `.ci/run` installs. A test never installs anything: when it is
/// missing this fails loudly with the install command (a skip would hide the browser check).
fn chromium() -> &'static str {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the HTML matrix must be checked in a real browser. \
         Install it with `apt-get install -y chromium` (.ci/run does)."
    );
    CHROMIUM
}

/// Run chromium headless on a file:// URL inside an empty network namespace.
fn chromium_run(profile: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["-s", "KILL", "90", "unshare", "-rn", chromium()])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .env("HOME", profile);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run chromium: {e}"))
}

#[test]
fn html_matrix_is_self_contained_and_renders_in_chromium() {
    let tv = three_vantages();
    let html_path = tv.dir.path().join("matrix.html");
    let out = tv.merge(&["--format", "html", "-o", p(&html_path)]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(
        out.stdout.is_empty(),
        "-o: nothing on stdout\n{}",
        show(&out)
    );
    let html = read(&html_path);

    // Self-contained: no external assets of any kind.
    for bad in ["http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(
            !html.contains(bad),
            "the page must not reference external assets (`{bad}` found)"
        );
    }
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains("position:sticky"),
        "no sticky header:\n{html}"
    );
    assert!(
        html.contains("<input id=\"filter\""),
        "no filter input:\n{html}"
    );

    let profile = tv.dir.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let url = format!("file://{}", html_path.display());

    // Screenshot: a real, non-trivial PNG of the window size.
    let png = tv.dir.path().join("matrix.png");
    let out = chromium_run(
        &profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,800",
            &url,
        ],
    );
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|e| panic!("no screenshot {} ({e})\n{}", png.display(), show(&out)));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG\n{}",
        show(&out)
    );
    assert!(
        bytes.len() > 5 * 1024,
        "screenshot only {} bytes: blank page?",
        bytes.len()
    );
    let be32 = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!((be32(16), be32(20)), (1200, 800), "screenshot size");
    if let Some(keep) = std::env::var_os("TELLTALE_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }

    // DOM as the browser built it: the table with the vantage columns and the expected cells.
    let out = chromium_run(&profile, &["--dump-dom", &url]);
    assert!(out.status.success(), "chromium --dump-dom\n{}", show(&out));
    let dom = String::from_utf8_lossy(&out.stdout);
    for want in [
        "<th>app</th><th>dmz</th><th>ops</th>",
        "filtered ✗",
        "unreachable ✓",
        "open ?",
        "refused ✓",
        "4 rows × 3 vantages, 3 not as expected",
    ] {
        assert!(dom.contains(want), "DOM dump lacks `{want}`:\n{dom}");
    }
    assert_eq!(dom.matches("<tr>").count(), 5, "header + 4 rows:\n{dom}");

    // The filter box works in the browser: typing `1003` hides every other row.
    let filtered = tv.dir.path().join("filtered.html");
    std::fs::write(
        &filtered,
        html.replace(
            "</body>",
            "<script>const i=document.getElementById('filter');i.value='1003';\
             i.dispatchEvent(new Event('input'));</script></body>",
        ),
    )
    .unwrap();
    let out = chromium_run(
        &profile,
        &["--dump-dom", &format!("file://{}", filtered.display())],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let hidden = dom.matches("<tr style=\"display: none;\">").count();
    assert_eq!(
        hidden, 3,
        "filter `1003` must hide the 3 other rows:\n{dom}"
    );
}
