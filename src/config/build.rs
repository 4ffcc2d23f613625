//! From TOML text to a [`Stack`]: the file's shape (tables, meta keys, value
//! types), `${config.KEY}` substitution, and a record of where each part came from.
//! Schema, reference and cycle checks are left to [`Stack::validate`].

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::Sources;
use super::spans::Spans;
use crate::model::schema::describe;
use crate::model::{Backend, Kind, Part, Path, Resource, Stack, Value};

/// A problem found while building, at a byte range of the file.
#[derive(Debug)]
pub struct Problem {
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Problem { span, message: message.into(), hint: None }
    }
    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

type Key<'i> = Spanned<DeString<'i>>;
type Val<'i> = Spanned<DeValue<'i>>;

pub(super) const TOP_LEVEL: &[&str] = &["stack", "backend", "config", "secrets", "cost", "resources", "outputs"];
pub(super) const BACKENDS: &[&str] = &["s3"];
pub(super) const S3_KEYS: &[&str] = &["bucket", "key_prefix", "region", "expected_owner", "kms_key_id"];
pub(super) const SECRET_SOURCES: &[&str] = &["env", "file"];
/// Secret files larger than this are refused: a secret is a password or a key.
const MAX_SECRET_SIZE: u64 = 64 * 1024;
/// What `${<name>.KEY}` refers to besides resources: no resource takes these names.
pub(super) const REFERRED_TABLES: &[&str] = &["config", "secret", "stack"];
pub(super) const STACK_KEYS: &[&str] = &["region", "tags", "program", "program_timeout"];
/// How long a stack program may take to declare its stack, unless `program_timeout` says.
pub const PROGRAM_TIMEOUT_SECS: u64 = 600;

/// How strings are read: `[config]` values are plain; elsewhere strings may hold
/// references, and `${config.KEY}` and `${stack.name}` are substituted.
#[derive(Clone, Copy, PartialEq)]
enum Strings {
    Plain,
    Exprs,
}

/// What a stack file gives besides the stack: for a stack declared by a
/// program (`[stack] program`), what the program reads.
#[derive(Default)]
pub struct Extras {
    /// `[config]`.
    pub config: BTreeMap<String, Value>,
    /// `[secrets]`, read, by name (each a [`Value::Secret`]).
    pub secrets: BTreeMap<String, Value>,
    /// `[stack] program` and `program_timeout` (seconds).
    pub program: Option<(String, u64)>,
}

/// Parses `text` and builds the stack it declares, recording the spans of its
/// parts in `spans`; `[secrets]` are read from `sources`.
pub fn build(name: &str, text: &str, sources: &Sources, spans: Spans) -> Result<(Stack, Spans, Extras), Problem> {
    let doc = DeTable::parse(text).map_err(|e| syntax_problem(text, &e))?;
    let root = doc.get_ref();
    for (key, _) in entries(root) {
        if !TOP_LEVEL.contains(&key_str(key)) {
            let message = format!("unknown top-level key `{}`", key_str(key));
            return Err(unknown_key(key, message, TOP_LEVEL, "top-level tables"));
        }
    }
    let mut b = Builder { text, stack_name: name, config: BTreeMap::new(), secrets: BTreeMap::new(), spans };
    let mut stack = Stack::new(name);
    if let Some(config) = root.get("config") {
        for (key, value) in entries(table(config)?) {
            let v = b.value(value, &Path::root().key("config").key(key_str(key)), Strings::Plain)?;
            b.config.insert(key_str(key).to_string(), v);
        }
    }
    if let Some(secrets) = root.get("secrets") {
        for (key, value) in entries(table(secrets)?) {
            let secret = b.secret(key, value, sources)?;
            b.secrets.insert(key_str(key).to_string(), secret);
        }
    }
    let mut program = None;
    if let Some(settings) = root.get("stack") {
        program = b.settings(settings, &mut stack)?;
    }
    if let Some(backend) = root.get("backend") {
        stack.backend = Some(b.backend(backend)?);
    }
    if root.get("cost").is_some() {
        stack.cost = cost_settings(text)?;
    }
    if let Some(resources) = root.get("resources") {
        for (key, value) in entries(table(resources)?) {
            let resource = b.resource(key, value)?;
            stack.resources.insert(key_str(key).to_string(), resource);
        }
    }
    if let Some(outputs) = root.get("outputs") {
        for (key, value) in entries(table(outputs)?) {
            let at = Path::root().key("outputs").key(key_str(key));
            b.spans.record(&at, Some(key.span()), value.span());
            let v = b.value(value, &at, Strings::Exprs)?;
            stack.outputs.insert(key_str(key).to_string(), v);
        }
    }
    if program.is_some()
        && let Some((key, _)) = entries(root).into_iter().find(|(k, _)| ["resources", "outputs"].contains(&key_str(k)))
    {
        return Err(Problem::new(key.span(), format!("a stack with a `program` declares no [{}]", key_str(key)))
            .hint("the program declares the resources and outputs: remove this table, or `program` from [stack]"));
    }
    let secrets = b.secrets.into_iter().map(|(k, v)| (k, Value::secret(v))).collect();
    Ok((stack, b.spans, Extras { config: b.config, secrets, program }))
}

struct Builder<'t> {
    text: &'t str,
    /// The stack's name, for `${stack.name}`.
    stack_name: &'t str,
    config: BTreeMap<String, Value>,
    /// Secret values by name, as read from their sources.
    secrets: BTreeMap<String, String>,
    spans: Spans,
}

impl Builder<'_> {
    /// `name = { env = "VAR" }` or `name = { file = "path" }` in `[secrets]`: the
    /// secret's value, read now. Errors name the variable or file, never a value.
    fn secret(&mut self, key: &Key, v: &Val, sources: &Sources) -> Result<String, Problem> {
        let name = key_str(key);
        let shape = "declare a secret as `{ env = \"VARIABLE\" }` or `{ file = \"path/to/file\" }`";
        if !valid_name(name) {
            return Err(Problem::new(key.span(), format!("invalid secret name `{name}`"))
                .hint("use letters, digits, `_` and `-`, so that `${secret.NAME}` can refer to it"));
        }
        let DeValue::Table(t) = v.get_ref() else {
            return Err(Problem { hint: Some(shape.into()), ..expected("a table", v) });
        };
        let found = entries(t);
        for (k, _) in &found {
            if !SECRET_SOURCES.contains(&key_str(k)) {
                let message = format!("unknown key `{}` in secret `{name}`", key_str(k));
                return Err(unknown_key(k, message, SECRET_SOURCES, "a secret takes one of"));
            }
        }
        let [(source, value)] = found.as_slice() else {
            return Err(Problem::new(
                v.span(),
                format!("secret `{name}` must name exactly one source: `env` or `file`"),
            )
            .hint(shape));
        };
        let DeValue::String(what) = value.get_ref() else {
            return Err(expected(if key_str(source) == "env" { "a variable name" } else { "a file path" }, value));
        };
        let at = value.span();
        let read = match key_str(source) {
            "env" => match (sources.env)(what) {
                None => {
                    return Err(Problem::new(at, format!("secret `{name}`: the environment variable `{what}` is not set"))
                        .hint(format!("set it before running infra (export {what}=...), or read the secret from a file: `{{ file = \"secrets/{name}\" }}`")));
                }
                Some(value) => value,
            },
            _ => read_secret_file(&sources.dir.join(what.as_ref() as &str)).map_err(|why| {
                Problem::new(at.clone(), format!("secret `{name}`: cannot read the file `{what}`: {why}"))
                    .hint("the path is relative to the project directory (the one holding `stacks/`)")
            })?,
        };
        if read.is_empty() {
            return Err(Problem::new(at, format!("secret `{name}`: `{what}` is empty"))
                .hint("an empty secret is almost always a mistake"));
        }
        self.spans.record(&Path::root().key("secrets").key(name), Some(key.span()), v.span());
        Ok(read)
    }

    /// A secret's value by name, or the error naming the secrets there are.
    fn secret_value(&self, name: &str, span: &Range<usize>) -> Result<&str, Problem> {
        self.secrets.get(name).map(String::as_str).ok_or_else(|| {
            let names: Vec<&str> = self.secrets.keys().map(String::as_str).collect();
            let hint = match did_you_mean(name, &names) {
                Some(hint) => hint,
                None if names.is_empty() => {
                    format!("declare it in a [secrets] table: `{name} = {{ env = \"VARIABLE\" }}`")
                }
                None => format!("secrets: {}", names.join(", ")),
            };
            Problem::new(span.clone(), format!("unknown secret `{name}`")).hint(hint)
        })
    }

    /// `[stack]`: the region and the stack's tags; the program that declares
    /// the stack, if one does, with its timeout and the span of its key.
    fn settings(&mut self, v: &Val, stack: &mut Stack) -> Result<Option<(String, u64)>, Problem> {
        let mut program = None;
        let mut timeout = PROGRAM_TIMEOUT_SECS;
        for (key, value) in entries(table(v)?) {
            match key_str(key) {
                "program" => program = Some(self.plain_string(value)?),
                "program_timeout" => match value.get_ref() {
                    DeValue::Integer(n) => match n.as_str().parse::<u64>() {
                        Ok(secs) if secs > 0 => timeout = secs,
                        _ => return Err(expected("a number of seconds, at least 1", value)),
                    },
                    _ => return Err(expected("a number of seconds", value)),
                },
                "region" => stack.region = Some(self.plain_string(value)?),
                "tags" => {
                    for (tag, tv) in entries(table(value)?) {
                        stack.tags.insert(key_str(tag).to_string(), self.plain_string(tv)?);
                    }
                }
                name => {
                    let message = format!("unknown key `{name}` in [stack]");
                    return Err(unknown_key(key, message, STACK_KEYS, "[stack] takes"));
                }
            }
        }
        Ok(program.map(|command| (command, timeout)))
    }

    /// `[backend]`: where state lives; one table,
    /// `s3 = { bucket, key_prefix, region, expected_owner, kms_key_id }`.
    fn backend(&mut self, v: &Val) -> Result<Backend, Problem> {
        let shape = "declare it as `[backend.s3]` with `bucket = \"...\"` (and optionally `key_prefix`, `region`)";
        let found = entries(table(v)?);
        for (key, _) in &found {
            if !BACKENDS.contains(&key_str(key)) {
                let message = format!("unknown backend `{}`", key_str(key));
                return Err(unknown_key(key, message, BACKENDS, "backends"));
            }
        }
        let [(_, s3)] = found.as_slice() else {
            return Err(Problem::new(v.span(), "[backend] must name exactly one backend").hint(shape));
        };
        let mut bucket = None;
        let mut key_prefix = String::new();
        let mut region = None;
        let (mut expected_owner, mut kms_key_id) = (None, None);
        for (key, value) in entries(table(s3)?) {
            match key_str(key) {
                "bucket" => bucket = Some((self.plain_string(value)?, value.span())),
                "key_prefix" => key_prefix = self.plain_string(value)?,
                "region" => region = Some(self.plain_string(value)?),
                "expected_owner" => {
                    let account = self.plain_string(value)?;
                    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(Problem::new(value.span(), format!("`{account}` is not an AWS account id"))
                            .hint("`expected_owner` is the 12-digit id of the account that owns the bucket"));
                    }
                    expected_owner = Some(account);
                }
                "kms_key_id" => kms_key_id = Some(self.plain_string(value)?),
                name => {
                    let message = format!("unknown key `{name}` in [backend.s3]");
                    return Err(unknown_key(key, message, S3_KEYS, "[backend.s3] takes"));
                }
            }
        }
        let (bucket, span) =
            bucket.ok_or_else(|| Problem::new(s3.span(), "[backend.s3] has no `bucket`").hint(shape))?;
        if !valid_bucket_name(&bucket) {
            return Err(Problem::new(span, format!("`{bucket}` is not a valid S3 bucket name"))
                .hint("3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit"));
        }
        Ok(Backend::S3 { bucket, key_prefix, region, expected_owner, kms_key_id })
    }

    /// `[resources.<name>]`: `type`, the meta keys (`depends_on`,
    /// `ignore_changes`, `allow`, `protect`), and properties.
    fn resource(&mut self, key: &Key, v: &Val) -> Result<Resource, Problem> {
        let name = key_str(key);
        if name == crate::model::AWS {
            return Err(Problem::new(key.span(), "`aws` cannot name a resource")
                .hint("`${aws.account_id}`, `${aws.region}` and `${aws.partition}` are AWS's; choose another name"));
        }
        if REFERRED_TABLES.contains(&name) {
            return Err(Problem::new(key.span(), format!("`{name}` cannot name a resource")).hint(format!(
                "`${{{name}.KEY}}` refers to the [{name}{}] table; choose another name",
                if name == "secret" { "s" } else { "" }
            )));
        }
        let at = Path::root().key("resources").key(name);
        self.spans.record(&at, Some(key.span()), v.span());
        let t = table(v)?;
        let types: Vec<&str> = Kind::ALL.iter().map(|k| k.type_name()).collect();
        let Some(ty) = t.get("type") else {
            return Err(Problem::new(v.span(), format!("resource `{name}` has no `type`"))
                .hint(format!("add `type = \"...\"`; known types: {}", types.join(", "))));
        };
        let DeValue::String(type_name) = ty.get_ref() else {
            return Err(expected("a resource type string", ty));
        };
        let kind = Kind::from_type_name(type_name).ok_or_else(|| {
            Problem::new(ty.span(), format!("unknown resource type `{type_name}`"))
                .hint(did_you_mean(type_name, &types).unwrap_or(format!("known types: {}", types.join(", "))))
        })?;
        let mut resource = Resource::new(kind);
        for (key, value) in entries(t) {
            let prop_at = at.key(key_str(key));
            self.spans.record(&prop_at, Some(key.span()), value.span());
            match key_str(key) {
                "type" => {}
                "depends_on" => resource.depends_on = self.names(value, &prop_at)?,
                "ignore_changes" => resource.ignore_changes = self.names(value, &prop_at)?,
                "allow" => resource.allow = self.allowances(value, &prop_at)?,
                "protect" => match value.get_ref() {
                    DeValue::Boolean(b) => resource.protect = Some(*b),
                    _ => {
                        return Err(Problem {
                            hint: Some(
                                "`protect = true` keeps any plan from deleting or replacing it; \
                                 `protect = false` lifts that"
                                    .into(),
                            ),
                            ..expected("true or false", value)
                        });
                    }
                },
                prop => {
                    let v = self.value(value, &prop_at, Strings::Exprs)?;
                    resource.props.insert(prop.to_string(), v);
                }
            }
        }
        Ok(resource)
    }

    /// `allow = { check_name = "reason" }`: policy checks this resource may fail.
    fn allowances(&mut self, v: &Val, at: &Path) -> Result<BTreeMap<String, String>, Problem> {
        let DeValue::Table(t) = v.get_ref() else {
            return Err(expected("a table of check names and reasons", v));
        };
        let mut out = BTreeMap::new();
        for (key, reason) in t.iter() {
            self.spans.record(&at.key(key_str(key)), Some(key.span()), reason.span());
            match reason.get_ref() {
                DeValue::String(r) => out.insert(key_str(key).to_string(), r.to_string()),
                _ => return Err(expected("a reason string", reason)),
            };
        }
        Ok(out)
    }

    /// A list of plain names (`depends_on`, `ignore_changes`).
    fn names(&mut self, v: &Val, at: &Path) -> Result<Vec<String>, Problem> {
        let DeValue::Array(items) = v.get_ref() else { return Err(expected("a list of names", v)) };
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            self.spans.record(&at.index(i), None, item.span());
            match item.get_ref() {
                DeValue::String(s) => names.push(s.to_string()),
                _ => return Err(expected("a name string", item)),
            }
        }
        Ok(names)
    }

    /// Any value, recording the spans of its parts under `at`.
    fn value(&mut self, v: &Val, at: &Path, strings: Strings) -> Result<Value, Problem> {
        match v.get_ref() {
            DeValue::String(s) => self.string(s, v.span(), strings),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).map(Value::Int).map_err(|_| {
                let shown = self.text.get(v.span()).unwrap_or(i.as_str());
                Problem::new(v.span(), format!("number {shown} is out of range")).hint(format!(
                    "numbers go from {} to {}",
                    i64::MIN,
                    i64::MAX
                ))
            }),
            DeValue::Boolean(b) => Ok(Value::Bool(*b)),
            DeValue::Float(_) => Err(expected("a whole number", v)),
            DeValue::Datetime(_) => Err(expected("a string", v)),
            DeValue::Array(items) => {
                let mut list = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    self.spans.record(&at.index(i), None, item.span());
                    list.push(self.value(item, &at.index(i), strings)?);
                }
                Ok(Value::List(list))
            }
            DeValue::Table(t) => {
                let mut map = BTreeMap::new();
                for (key, item) in entries(t) {
                    let item_at = at.key(key_str(key));
                    self.spans.record(&item_at, Some(key.span()), item.span());
                    map.insert(key_str(key).to_string(), self.value(item, &item_at, strings)?);
                }
                Ok(Value::Map(map))
            }
        }
    }

    /// A string: references parsed, `${config.KEY}` and `${secret.NAME}`
    /// substituted. A string with a secret in it is a secret as a whole.
    fn string(&self, s: &str, span: Range<usize>, strings: Strings) -> Result<Value, Problem> {
        let parsed =
            Value::parse_str(s).map_err(|m| Problem::new(span.clone(), m).hint("write `$${` for a literal `${`"))?;
        match (strings, parsed) {
            (Strings::Plain, v @ Value::Str(_)) => Ok(v),
            (Strings::Plain, _) => Err(Problem::new(span, "a config value cannot hold a reference")
                .hint("config values are plain; write `$${` for a literal `${`")),
            (Strings::Exprs, Value::Ref(r)) if r.resource == "config" => self.config_value(&r.attr, &span).cloned(),
            (Strings::Exprs, Value::Ref(r)) if r.resource == "stack" => {
                Ok(Value::Str(self.stack_attr(&r.attr, &span)?))
            }
            (Strings::Exprs, Value::Ref(r)) if r.resource == "secret" => {
                Ok(Value::secret(self.secret_value(&r.attr, &span)?))
            }
            (Strings::Exprs, Value::Template(parts)) => {
                let mut out: Vec<Part> = Vec::new();
                let mut secret = false;
                for part in parts {
                    let part = match part {
                        Part::Ref(r) if r.resource == "config" => Part::Lit(self.config_text(&r.attr, &span)?),
                        Part::Ref(r) if r.resource == "stack" => Part::Lit(self.stack_attr(&r.attr, &span)?),
                        Part::Ref(r) if r.resource == "secret" => {
                            secret = true;
                            Part::Lit(self.secret_value(&r.attr, &span)?.to_string())
                        }
                        other => other,
                    };
                    Part::push(&mut out, part);
                }
                let v = Part::join(out);
                Ok(if secret { Value::secret(v) } else { v })
            }
            (Strings::Exprs, v) => Ok(v),
        }
    }

    /// `${stack.name}`: the stack's name (its file's name), such as the value of
    /// the `infra:stack` tag on everything it owns.
    fn stack_attr(&self, attr: &str, span: &Range<usize>) -> Result<String, Problem> {
        match attr {
            "name" => Ok(self.stack_name.to_string()),
            other => Err(Problem::new(span.clone(), format!("unknown stack attribute `{other}`"))
                .hint("`${stack.name}` is the stack's name")),
        }
    }

    fn config_value(&self, key: &str, span: &Range<usize>) -> Result<&Value, Problem> {
        self.config.get(key).ok_or_else(|| {
            let keys: Vec<&str> = self.config.keys().map(String::as_str).collect();
            let hint = match did_you_mean(key, &keys) {
                Some(hint) => hint,
                None if keys.is_empty() => format!("declare it in a [config] table: `{key} = ...`"),
                None => format!("config keys: {}", keys.join(", ")),
            };
            Problem::new(span.clone(), format!("unknown config key `{key}`")).hint(hint)
        })
    }

    /// A config value as text inside a longer string.
    fn config_text(&self, key: &str, span: &Range<usize>) -> Result<String, Problem> {
        match self.config_value(key, span)? {
            Value::Str(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(Problem::new(
                span.clone(),
                format!("`${{config.{key}}}` is {} and cannot be part of a longer string", describe(other)),
            )
            .hint(format!("use it alone, as the whole value: \"${{config.{key}}}\""))),
        }
    }

    /// A `[stack]` setting: a string, possibly from config, never a reference.
    fn plain_string(&self, v: &Val) -> Result<String, Problem> {
        let DeValue::String(s) = v.get_ref() else { return Err(expected("a string", v)) };
        match self.string(s, v.span(), Strings::Exprs)? {
            Value::Str(s) => Ok(s),
            other => Err(Problem::new(v.span(), format!("expected a plain string, found {}", describe(&other)))
                .hint("[stack] and [backend] settings cannot refer to resources")),
        }
    }
}

/// `[cost]`, read with serde from the whole text (its tables may be spread
/// over the file); the error points where the TOML reader says.
fn cost_settings(text: &str) -> Result<crate::cost::Settings, Problem> {
    #[derive(serde::Deserialize)]
    struct File {
        cost: crate::cost::Settings,
    }
    toml::from_str::<File>(text).map(|f| f.cost).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Problem::new(span, format!("[cost]: {}", e.message())).hint("see docs/cost.md for the [cost] tables")
    })
}

/// S3's rules for a general purpose bucket's name (the common ones).
fn valid_bucket_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(name.chars().next())
        && edge(name.chars().last())
        && !name.contains("..")
}

/// A secret file's text, without its trailing newline.
fn read_secret_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_SIZE + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SECRET_SIZE {
        return Err(format!("it is larger than {} KiB", MAX_SECRET_SIZE / 1024));
    }
    let text = String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn key_str<'a>(key: &'a Key) -> &'a str {
    key.get_ref().as_ref()
}

/// A table's entries in the order they appear in the file.
fn entries<'a, 'i>(t: &'a DeTable<'i>) -> Vec<(&'a Key<'i>, &'a Val<'i>)> {
    let mut entries: Vec<_> = t.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

fn table<'a, 'i>(v: &'a Val<'i>) -> Result<&'a DeTable<'i>, Problem> {
    match v.get_ref() {
        DeValue::Table(t) => Ok(t),
        _ => Err(expected("a table", v)),
    }
}

fn expected(what: &str, v: &Val) -> Problem {
    let found = match v.get_ref() {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a number",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    };
    let problem = Problem::new(v.span(), format!("expected {what}, found {found}"));
    match v.get_ref() {
        DeValue::Float(_) => problem.hint("numbers in stack files are whole numbers; quote the value if it is text"),
        DeValue::Datetime(_) => problem.hint("quote the date to make it a string"),
        _ => problem,
    }
}

/// An unknown key, with a suggestion or the list of the `known` ones.
fn unknown_key(key: &Key, message: String, known: &[&str], what: &str) -> Problem {
    let name = key_str(key);
    Problem::new(key.span(), message).hint(did_you_mean(name, known).unwrap_or(format!("{what}: {}", known.join(", "))))
}

/// "did you mean `x`?" for the closest of `known`, when one is close enough.
pub fn did_you_mean(word: &str, known: &[&str]) -> Option<String> {
    known
        .iter()
        .map(|k| (similar::TextDiff::from_chars(word, *k).ratio(), k))
        .filter(|(ratio, _)| *ratio >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

/// A TOML syntax error, with duplicate keys and tables said plainly.
fn syntax_problem(text: &str, e: &toml::de::Error) -> Problem {
    let span = e.span().unwrap_or(0..0);
    if e.message() != "duplicate key" {
        let problem = Problem::new(span.clone(), format!("invalid TOML: {}", e.message()));
        return match text.get(span).filter(|_| e.message().starts_with("string values must be quoted")) {
            Some(word) => problem.hint(format!("write \"{word}\"")),
            None => problem,
        };
    }
    let key = text.get(span.clone()).unwrap_or("").trim_matches(|c| c == '"' || c == '\'');
    let line_start = text.get(..span.start).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    let line = text.get(line_start..).and_then(|t| t.lines().next()).unwrap_or("").trim();
    let header = line.strip_prefix('[').and_then(|h| h.split(']').next()).map(|h| h.trim_start_matches('['));
    let segments: Vec<&str> = header
        .map(|h| h.split('.').map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'')).collect())
        .unwrap_or_default();
    match (segments.as_slice(), header) {
        (["resources", name], _) if *name == key => Problem::new(span, format!("duplicate resource name `{key}`"))
            .hint(format!("[resources.{key}] is declared twice; resource names must be unique")),
        ([.., last], Some(header)) if *last == key => {
            Problem::new(span, format!("duplicate table [{}]", header.trim()))
                .hint("a table can be declared only once; merge the two")
        }
        _ => Problem::new(span, format!("duplicate key `{key}`")).hint("a key can be set only once in a table"),
    }
}
