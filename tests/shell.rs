//! Where users live: the completion script `infra completions bash` prints,
//! run by a real bash as its completion would be; the manual page `infra man`
//! prints, rendered by a real `man`; and the commit `infra --version` names.

use std::process::Command;

fn infra(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_infra")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The words bash's completion of `line` offers (COMPREPLY), with the script loaded.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n_infra infra '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash").arg("-c").arg(program).output().expect("bash runs");
    assert!(out.status.success(), "bash failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect()
}

#[test]
fn bash_completes_infra_pl_to_plan_and_a_command_s_options_and_values() {
    let (code, script) = infra(&["completions", "bash"]);
    assert_eq!(code, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("infra.bash");
    std::fs::write(&path, script).unwrap();

    assert_eq!(bash_completes(&path, &["infra", "pl"]), ["plan"]);
    let options = bash_completes(&path, &["infra", "plan", "--det"]);
    assert_eq!(options, ["--detailed-exitcode"]);
    let mut formats = bash_completes(&path, &["infra", "policy", "--for", ""]);
    formats.sort();
    assert_eq!(formats, ["all", "apply", "destroy", "drift", "plan"]);
}

#[test]
fn every_shell_clap_complete_knows_gets_a_script_naming_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, script) = infra(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(script.contains("drift") && script.contains("policy"), "{shell}: {script}");
    }
    let (code, _) = infra(&["completions", "tcsh"]);
    assert_eq!(code, 1, "an unknown shell is a usage error");
}

#[test]
fn man_renders_a_page_with_every_command() {
    let (code, page) = infra(&["man"]);
    assert_eq!(code, 0);
    assert!(page.starts_with(".ie") || page.contains(".TH infra 1"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("infra.1");
    std::fs::write(&path, page).unwrap();
    let Ok(out) = Command::new("man").arg("-l").arg(&path).env("MANWIDTH", "100").env("MANPAGER", "cat").output()
    else {
        eprintln!("man is not installed here: the page's roff is checked above, not its rendering");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "man failed: {}", String::from_utf8_lossy(&out.stderr));
    for word in ["NAME", "SYNOPSIS", "Infrastructure as code for AWS", "plan", "apply", "destroy", "drift", "policy"] {
        assert!(text.contains(word), "the rendered page lacks {word:?}:\n{text}");
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let (code, version) = infra(&["--version"]);
    assert_eq!(code, 0);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(version.trim(), format!("infra {} ({head})", env!("CARGO_PKG_VERSION")));
}

#[test]
fn the_top_level_help_gives_each_command_one_line() {
    let (code, help) = infra(&["--help"]);
    assert_eq!(code, 0);
    let commands: Vec<&str> =
        help.lines().skip_while(|l| *l != "Commands:").skip(1).take_while(|l| !l.is_empty()).collect();
    assert!(commands.len() >= 15, "{help}");
    for line in &commands {
        assert!(
            line.starts_with("  ") && !line.starts_with("   "),
            "a command's summary runs onto a second line ({line:?}):\n{help}"
        );
    }
}
