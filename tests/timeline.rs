//! `--timeline`: the picture of an apply of the dev stack on the emulator,
//! opened in a real browser (Debian's Chromium, headless; installed on first
//! use by tests/ensure-chromium.sh, and the browser part skipped, saying so,
//! where it cannot be). The SVG must parse, hold a lane per resource and mark
//! the critical path that `--stats-json` reports. `UPDATE_GOLDEN=1` keeps the
//! screenshot as docs/timeline-dev.png, the picture README and docs/performance.md show.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Emulator, dev_project, run_infra};

fn ok(what: &str, out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "{what} failed:\n{}\n{}", out.1, out.2);
    out.1
}

/// Chromium, when it is there or can be installed; why not, otherwise.
fn chromium() -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ensure-chromium.sh");
    let out = Command::new("bash").arg(script).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(PathBuf::from("chromium"))
}

/// Chromium, headless, on `url` with `args`: what it printed.
fn headless(browser: &Path, args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_stack_s_apply_timeline_opens_in_a_browser_with_a_lane_per_resource_and_its_critical_path() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let picture = dir.join("apply.svg");
    let stats = dir.join("stats.json");
    let (svg_arg, stats_arg) = (picture.to_str().unwrap(), stats.to_str().unwrap());
    ok("apply", run_infra(&emu, dir, &["apply", "--yes", "--timeline", svg_arg, "--stats-json", stats_arg]));

    let text = std::fs::read_to_string(&picture).unwrap();
    let stats: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/dev.json")).unwrap()).unwrap();
    let resources: Vec<&String> = state["resources"].as_object().unwrap().keys().collect();
    assert_eq!(resources.len(), 17);
    for name in &resources {
        assert!(text.contains(&format!("data-lane=\"{name}\"")), "no lane for {name}");
    }
    let path = &stats["critical_path"];
    let segments = path["segments"].as_array().unwrap();
    assert!(path["calls"].as_u64().unwrap() >= 5, "{path}");
    assert_eq!(text.matches("class=\"critical\"").count(), segments.len());
    // The last segment of the path is the last thing the apply did.
    let last_end = segments.last().unwrap()["end_ms"].as_f64().unwrap();
    let trace_end =
        stats["trace"].as_array().unwrap().iter().map(|c| c["end_ms"].as_f64().unwrap()).fold(0.0, f64::max);
    assert!((last_end - trace_end).abs() < 1.0, "the path ends at {last_end} ms, the apply at {trace_end} ms");

    let browser = match chromium() {
        Ok(b) => b,
        Err(why) => {
            eprintln!("SKIPPED the browser half of this test: Chromium cannot run here: {why}");
            return;
        }
    };
    let url = format!("file://{}", picture.display());
    // As the browser parsed it: an SVG document with every lane, and no parser error.
    let dom = headless(&browser, &["--dump-dom"], &url);
    assert!(!dom.contains("parsererror") && dom.contains("<svg"), "{dom}");
    assert_eq!(dom.matches("class=\"lane\"").count(), resources.len() + 1, "a lane per resource and refresh's");
    assert!(dom.contains("class=\"critical-path\""));

    let height = text.split("height=\"").nth(1).and_then(|h| h.split('"').next()).unwrap();
    let png = dir.join("timeline.png");
    let size = format!("--window-size=1250,{}", height.parse::<f64>().unwrap().ceil());
    headless(&browser, &[&format!("--screenshot={}", png.display()), &size], &url);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 20_000, "a screenshot of {} bytes is too small to hold the picture", bytes.len());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::copy(&png, Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/timeline-dev.png")).unwrap();
    }
}

#[test]
fn a_timeline_file_that_is_neither_svg_nor_json_is_refused_before_anything_runs() {
    let project = dev_project();
    let dir = project.path();
    let out = common::infra_command("http://127.0.0.1:9", dir, &["apply", "--yes", "--timeline", "run.png"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--timeline run.png: name a .svg file (a picture) or a .json file (the data)"), "{stderr}");
    assert!(!dir.join("state/dev.json").exists(), "nothing ran");
}
