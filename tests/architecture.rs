//! The layers of `src/` stay one-way, as rust-analyzer's tidy tests keep its
//! rules: every `crate::` path in the code (imports, and paths written in
//! place) is read, each file is mapped to its layer as ARCHITECTURE.md lists
//! them ("## Layers"), and the test fails naming the file, the line and both
//! layers when a lower layer reaches up, or when two modules (or two files of
//! one module) import each other. Comments are not read: a doc link is not
//! an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layers ARCHITECTURE.md lists, from the ground up: module -> layer number.
fn layers() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = text.split("\n## Layers\n").nth(1).expect("ARCHITECTURE.md has a `## Layers` section");
    let section = section.split("\n## ").next().unwrap();
    let mut layers = BTreeMap::new();
    for line in section.lines() {
        let Some((number, rest)) = line.split_once(". ") else { continue };
        let Ok(number) = number.trim().parse::<usize>() else { continue };
        for module in rest.split('`').skip(1).step_by(2) {
            let module = module.trim_end_matches('/').trim_end_matches(".rs").to_string();
            assert!(layers.insert(module.clone(), number).is_none(), "`{module}` is listed twice");
        }
    }
    assert!(layers.len() > 5, "ARCHITECTURE.md lists too few layers: {layers:?}");
    layers
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/plan/diff.rs` -> `plan`.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The text with `//` comments (and so doc comments) and string literals
/// blanked out, keeping line numbers.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let (mut in_str, mut in_comment) = (false, false);
    while let Some(c) = chars.next() {
        if in_comment {
            if c == '\n' {
                in_comment = false;
                out.push('\n');
            }
            continue;
        }
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_str = false,
                '\n' => out.push('\n'),
                _ => {}
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => in_comment = true,
            '"' => in_str = true,
            // A char literal holding a quote: '"'.
            '\'' if chars.peek() == Some(&'"') => {
                chars.next();
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// One `crate::` path: where it is, and the path's segments after `crate`.
struct Use {
    line: usize,
    path: Vec<String>,
}

/// Every `crate::` path in `code`, groups (`crate::{a::B, c}`) expanded to
/// their first segments.
fn crate_paths(code: &str) -> Vec<Use> {
    paths_after(code, "crate::")
}

/// Every path in `code` that starts with `prefix` (`crate::`, `super::`),
/// without it.
fn paths_after(code: &str, prefix: &str) -> Vec<Use> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find(prefix) {
        let start = at + i;
        at = start + prefix.len();
        // `crate` as a whole word, not the end of `my_crate::`.
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        let rest = &code[at..];
        if rest.starts_with('{') {
            let end = matching_brace(rest);
            for item in split_top(&rest[1..end]) {
                found.push(Use { line, path: segments(item.trim()) });
            }
        } else {
            found.push(Use { line, path: segments(rest) });
        }
    }
    found.retain(|u| !u.path.is_empty());
    found
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// The items of a `{...}` group, split at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut from, mut out) = (0, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[from..]);
    out
}

/// `a::b::C` (up to the first character that is not part of a path) as segments.
fn segments(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        out.push(rest[..end].to_string());
        match rest[end..].strip_prefix("::") {
            Some(next) if !next.starts_with('{') => rest = next,
            Some(next) => {
                // `a::{b, c}`: each item in turn is a path too; the first
                // segment of the group is enough to name a file below.
                let group = &next[1..matching_brace(next)];
                if let Some(first) = split_top(group).first() {
                    out.extend(segments(first.trim()));
                }
                break;
            }
            None => break,
        }
    }
    out
}

/// The file a path leads to, as deep as files go: `plan::diff::plan` ->
/// `plan/diff.rs`; `plan::Plan` -> `plan/mod.rs`.
fn file_of(src: &Path, path: &[String]) -> PathBuf {
    let mut dir = src.to_path_buf();
    let mut file = src.join("lib.rs");
    for segment in path {
        if dir.join(format!("{segment}.rs")).is_file() {
            file = dir.join(format!("{segment}.rs"));
            dir = dir.join(segment);
        } else if dir.join(segment).join("mod.rs").is_file() {
            file = dir.join(segment).join("mod.rs");
            dir = dir.join(segment);
        } else {
            break;
        }
    }
    file
}

/// Names at the crate root that live elsewhere: `lib.rs`'s `pub use X as
/// Y;` and `pub use a::b;`, and exported macros, by the file defining them.
fn root_names(src: &Path, all: &[PathBuf]) -> BTreeMap<String, PathBuf> {
    let mut names = BTreeMap::new();
    let lib = code_only(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    for line in lib.lines() {
        let Some(path) = line.trim().strip_prefix("pub use ").and_then(|l| l.strip_suffix(';')) else { continue };
        let (path, name) = match path.split_once(" as ") {
            Some((path, name)) => (path, name.trim().to_string()),
            None => (path, path.rsplit("::").next().unwrap().to_string()),
        };
        names.insert(name, file_of(src, &segments(path)));
    }
    for file in all {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for (i, _) in code.match_indices("macro_rules!") {
            let name = segments(code[i + "macro_rules!".len()..].trim_start());
            if let Some(name) = name.first() {
                names.insert(name.clone(), file.clone());
            }
        }
    }
    names
}

/// A reach from one file to another: (from, line, to).
type Edge = (PathBuf, usize, PathBuf);

fn edges() -> Vec<Edge> {
    let src = root().join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    all.sort();
    let roots = root_names(&src, &all);
    let mut edges = Vec::new();
    for file in &all {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        // `super::` from a file that is not a module's root: its siblings.
        let siblings = (!is_mod(file.strip_prefix(&src).unwrap())).then(|| file.parent().unwrap().to_path_buf());
        let near = siblings.iter().flat_map(|dir| paths_after(&code, "super::").into_iter().map(move |u| (dir, u)));
        let near: Vec<(PathBuf, usize)> = near
            .filter(|(dir, u)| dir.join(format!("{}.rs", u.path[0])).is_file())
            .map(|(dir, u)| (dir.join(format!("{}.rs", u.path[0])), u.line))
            .collect();
        let rel = |p: &Path| p.strip_prefix(&src).unwrap().to_path_buf();
        edges.extend(near.into_iter().filter(|(to, _)| to != file).map(|(to, line)| (rel(file), line, rel(&to))));
        for u in crate_paths(&code) {
            let to = match roots.get(&u.path[0]) {
                Some(elsewhere) => elsewhere.clone(),
                None => file_of(&src, &u.path),
            };
            if to != *file {
                edges.push((rel(file), u.line, rel(&to)));
            }
        }
    }
    edges
}

/// What breaks the layers: a message per offence.
fn offences(layers: &BTreeMap<String, usize>, edges: &[Edge]) -> Vec<String> {
    let layer = |rel: &Path| {
        let module = module_of(rel);
        *layers
            .get(&module)
            .unwrap_or_else(|| panic!("src/{}: module `{module}` is in no layer of ARCHITECTURE.md", rel.display()))
    };
    let mut out = Vec::new();
    for (from, line, to) in edges {
        let (lf, lt) = (layer(from), layer(to));
        if lt > lf {
            out.push(format!(
                "src/{}:{line}: `{}` (layer {lf}) imports `{}` (layer {lt}) from a higher layer",
                from.display(),
                module_of(from),
                to.display(),
            ));
        }
    }
    // Two modules that import each other, or two sibling files of one module.
    let mut pairs: BTreeMap<(String, String), (PathBuf, usize)> = BTreeMap::new();
    for (from, line, to) in edges {
        let (mf, mt) = (module_of(from), module_of(to));
        if mf != mt {
            pairs.entry((mf, mt)).or_insert((from.clone(), *line));
        } else if from.parent() == to.parent() && !is_mod(from) && !is_mod(to) {
            pairs.entry((from.display().to_string(), to.display().to_string())).or_insert((from.clone(), *line));
        }
    }
    let mut seen = BTreeSet::new();
    for ((a, b), (file, line)) in &pairs {
        if let Some((back, back_line)) = pairs.get(&(b.clone(), a.clone()))
            && seen.insert((a.min(b).clone(), a.max(b).clone()))
        {
            out.push(format!(
                "`{a}` and `{b}` import each other: src/{}:{line} and src/{}:{back_line}",
                file.display(),
                back.display()
            ));
        }
    }
    out
}

fn is_mod(rel: &Path) -> bool {
    rel.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs")
}

#[test]
fn imports_only_go_down_the_layers_architecture_md_lists_and_no_two_modules_import_each_other() {
    let offences = offences(&layers(), &edges());
    assert!(offences.is_empty(), "the layers are broken:\n{}", offences.join("\n"));
}

#[test]
fn the_check_finds_a_planted_upward_import_and_a_planted_circle() {
    let layers: BTreeMap<String, usize> =
        [("model", 1), ("plan", 5), ("cli", 9)].iter().map(|(m, l)| (m.to_string(), *l)).collect();
    let code = code_only(
        "// use crate::cli::main_with; (a comment is not an import)\n\
         use crate::{plan::Plan, model::{Kind, Value}};\n\
         fn f() -> crate::cli::Args { todo!(\"crate::cli\") }\n",
    );
    let uses = crate_paths(&code);
    let found: Vec<(usize, String)> = uses.iter().map(|u| (u.line, u.path.join("::"))).collect();
    assert_eq!(found, [(2, "plan::Plan".into()), (2, "model::Kind".into()), (3, "cli::Args".into())]);

    let edge = |from: &str, line, to: &str| (PathBuf::from(from), line, PathBuf::from(to));
    let planted = [edge("model/kind.rs", 3, "cli/mod.rs"), edge("plan/mod.rs", 7, "model/mod.rs")];
    assert_eq!(
        offences(&layers, &planted),
        ["src/model/kind.rs:3: `model` (layer 1) imports `cli/mod.rs` (layer 9) from a higher layer"]
    );
    let circle = [edge("cli/common.rs", 4, "cli/stacks.rs"), edge("cli/stacks.rs", 9, "cli/common.rs")];
    assert_eq!(
        offences(&layers, &circle),
        ["`cli/common.rs` and `cli/stacks.rs` import each other: src/cli/common.rs:4 and src/cli/stacks.rs:9"]
    );
}
