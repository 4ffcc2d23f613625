//! docs/resources.md is generated from the resource schemas, so the reference
//! can never drift from the code. `UPDATE_GOLDEN=1 cargo test --test docs`
//! rewrites it. The README's floor table is checked against `model::floor`.

use std::fmt::Write;

use infra::model::Kind;
use infra::model::schema::{Default, Field, Replacement, Ty};

fn ty(t: &Ty) -> String {
    match t {
        Ty::Str => "string".into(),
        Ty::Int { min, max } => format!("integer {min}..{max}"),
        Ty::Bool => "bool".into(),
        Ty::Cidr => "CIDR".into(),
        Ty::Ports => "port or range".into(),
        Ty::Enum(options) => options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(" \\| "),
        Ty::List(inner) => format!("list of {}", ty(inner)),
        Ty::Set(inner) => format!("set of {}", ty(inner)),
        Ty::Object(_) => "table".into(),
        Ty::Map(inner) => format!("table of {}", ty(inner)),
        Ty::Json => "JSON document".into(),
    }
}

fn fields(out: &mut String, fields: &[Field], prefix: &str) {
    for f in fields {
        let default = match f.default {
            Default::None => String::new(),
            Default::Str(s) => format!("`\"{s}\"`"),
            Default::Int(i) => format!("`{i}`"),
            Default::Bool(b) => format!("`{b}`"),
        };
        let mut notes = Vec::new();
        if f.required {
            notes.push("required");
        }
        if f.force_new {
            notes.push("replaces");
        }
        if f.secret {
            notes.push("secret");
        }
        if f.keeps_in_use {
            notes.push("keeps in use");
        }
        let _ = writeln!(
            out,
            "| `{prefix}{}` | {} | {} | {} | {} |",
            f.name,
            ty(&f.ty),
            default,
            notes.join(", "),
            f.doc.replace('|', "\\|")
        );
        let inner = match &f.ty {
            Ty::Object(inner) => Some(*inner),
            Ty::List(Ty::Object(inner)) | Ty::Set(Ty::Object(inner)) => Some(*inner),
            _ => None,
        };
        if let Some(inner) = inner {
            self::fields(out, inner, &format!("{prefix}{}.", f.name));
        }
    }
}

fn reference() -> String {
    let mut out = String::from(
        "# Resource types\n\nGenerated from the schemas in `src/model/kinds/` by `tests/docs.rs`; do not edit by hand.\n\
         \"replaces\": a change to the property replaces the resource; every other property changes in place. \
         \"keeps in use\": what the property refers to cannot be deleted while it does; when that resource is \
         replaced by deleting it first, this one is replaced with it.\n\
         Every resource has the attribute `id`; tags marked on taggable kinds also carry `infra:stack` and `infra:name`.\n",
    );
    for kind in Kind::ALL {
        let s = kind.schema();
        let _ = writeln!(out, "\n## `{}`\n", s.type_name);
        let _ = writeln!(out, "| property | type | default | | meaning |\n| --- | --- | --- | --- | --- |");
        fields(&mut out, s.fields, "");
        let _ = writeln!(
            out,
            "\nAttributes: {}.{}{} Its id (for `infra import`): {}.",
            s.outputs.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", "),
            if s.taggable { " Taggable." } else { "" },
            match s.replacement {
                Replacement::DeleteFirst => format!(" A replacement deletes the old one first: {}.", s.replacement_why),
                Replacement::CreateFirst { unique_name: Some(name) } => format!(
                    " A replacement creates the new one first ({}), unless `{name}` is declared and stays the same.",
                    s.replacement_why
                ),
                Replacement::CreateFirst { unique_name: None } =>
                    format!(" A replacement creates the new one first: {}.", s.replacement_why),
            },
            s.id_form,
        );
    }
    out
}

#[test]
fn the_resource_reference_matches_the_schemas() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/resources.md");
    let actual = reference();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(expected == actual, "docs/resources.md is out of date; run UPDATE_GOLDEN=1 cargo test --test docs");
}

/// docs/checks.md: every policy check, what it catches and why (from
/// `infra::check::CHECKS`), the findings its fixture prints
/// (`tests/fixtures/checks/<check>.expected`, held by tests/policy_checks.rs),
/// and how to allow it.
fn checks_reference() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = String::from(
        "# Policy checks\n\nGenerated from `src/model/checks.rs` and the fixtures in `tests/fixtures/checks/` by \
         `tests/docs.rs`; do not edit by hand.\n\n\
         `infra check` runs every check on the stack file alone (no AWS), and `infra plan` and `infra apply` run \
         them first: a finding fails the command unless its resource allows it with a reason,\n\
         `allow = { <check> = \"why\" }`, which `infra check` then lists as allowed. An empty reason is refused.\n",
    );
    for c in infra::check::CHECKS {
        let fixture = format!("tests/fixtures/checks/{}.toml", c.name);
        let expected = std::fs::read_to_string(root.join(&fixture).with_extension("expected")).unwrap_or_default();
        let _ = writeln!(out, "\n## `{}`\n\n{}.\n\nWhy: {}\n", c.name, upper_first(c.summary), c.why);
        let _ = writeln!(out, "What `infra check` prints for [`{fixture}`](../{fixture}):\n\n```");
        for line in expected.lines().filter(|l| l.contains(&format!(": {}: ", c.name))) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "```\n\nTo allow it: `allow = {{ {} = \"why\" }}` on the resource.", c.name);
    }
    out
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[test]
fn the_checks_reference_matches_the_checks_and_their_fixtures() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/checks.md");
    let actual = checks_reference();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(expected == actual, "docs/checks.md is out of date; run UPDATE_GOLDEN=1 cargo test --test docs");
}

#[test]
fn the_readme_floor_table_gives_every_kind_the_calls_aws_forces_in_their_order() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for kind in Kind::ALL {
        let prefix = format!("| `{}` |", kind.type_name());
        let row = readme
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("README has no floor row for {kind:?}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        for (cell, op) in [(cells[2], "create"), (cells[3], "delete")] {
            // Each step of the chain is named by its first word ("PutBucketVersioning and its other settings").
            let named: Vec<&str> = cell.split('→').map(|step| step.split_whitespace().next().unwrap_or("")).collect();
            assert_eq!(named, infra::model::floor::forced(*kind, op), "{prefix} {op}: `{cell}`");
        }
    }
}
