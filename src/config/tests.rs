use std::path::{Path, PathBuf};

use super::*;
use crate::model::{Kind, Part, Value, map};

/// The value the dev stack's `ELASTIC_PASSWORD` has in these tests.
const PASSWORD: &str = "test-elastic-password";

fn sources() -> Sources {
    Sources::fixed(".", &[("ELASTIC_PASSWORD", PASSWORD), ("REDIS_PASSWORD", PASSWORD)])
}

fn load(text: &str) -> Result<Stack, LoadError> {
    load_str_with("t", Path::new("t.toml"), text, &sources())
}

fn err(text: &str) -> LoadError {
    match load(text) {
        Ok(stack) => panic!("expected an error, loaded {stack:?}"),
        Err(e) => e,
    }
}

/// The text the error underlines.
fn underlined(e: &LoadError) -> String {
    let snippet = e.snippet.as_deref().unwrap_or("");
    snippet.chars().skip(e.col - 1).take(e.width).collect()
}

const SG: &str = r#"
[resources.sg]
type = "ec2.security_group"
ingress = [
  { ports = "6379-6381", cidrs = ["10.0.0.0/16"] },
  { ports = "90-80", cidrs = ["10.0.0.0/16"] },
]
"#;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn the_dev_stack_loads_and_validates() {
    let stack = load_file_with(&repo_file("stacks/dev.toml"), &sources()).unwrap();
    assert_eq!(stack.name, "dev");
    assert_eq!(stack.region.as_deref(), Some("us-east-1"));
    assert_eq!(stack.tags.get("env").map(String::as_str), Some("dev"));
    let names: Vec<&str> = stack.resources.keys().map(String::as_str).collect();
    for name in ["app_env", "data", "data_sg"] {
        assert!(names.contains(&name), "{names:?}");
    }
    assert_eq!(names.len(), 17);
    assert_eq!(stack.resources["data_sg"].kind, Kind::SecurityGroup);
    assert_eq!(stack.outputs["instance_id"], Value::reference("app_env", "instance_id"));
    let ingress = stack.resources["data_sg"].props["ingress"].as_list().unwrap();
    assert_eq!(ingress[0].as_map().unwrap()["cidrs"], Value::from(vec!["172.31.0.0/16"]));
    // `cidrs = "${config.ssh_cidrs}"`: the whole (empty) list replaces the string.
    assert_eq!(ingress[4].as_map().unwrap()["cidrs"], Value::List(vec![]));
}

#[test]
fn a_reversed_port_range_is_reported_at_its_value() {
    let e = err(SG);
    assert_eq!((e.line, e.col), (6, 13));
    assert_eq!(underlined(&e), "\"90-80\"");
    assert_eq!(e.message, "port range 90-80 is reversed");
    assert!(e.hint.is_some());
}

#[test]
fn an_unknown_property_is_reported_at_its_key_with_a_suggestion() {
    let e = err("[resources.v]\ntype = \"ec2.volume\"\navailability_zone = \"a\"\nsize = 1\nvolume_tpye = \"gp3\"\n");
    assert_eq!((e.line, e.col, underlined(&e).as_str()), (5, 1, "volume_tpye"));
    assert_eq!(e.hint.as_deref(), Some("did you mean `volume_type`?"));
}

#[test]
fn an_unknown_field_inside_a_rule_is_reported_at_its_key() {
    let e = err(
        "[resources.sg]\ntype = \"ec2.security_group\"\ningress = [{ ports = 1, cidrs = [], protocl = \"tcp\" }]\n",
    );
    assert_eq!(underlined(&e), "protocl");
}

#[test]
fn a_missing_type_is_reported_at_the_resource_header() {
    let e = err("[resources.web]\nsize = 1\n");
    assert_eq!(underlined(&e), "[resources.web]");
    assert_eq!(e.message, "resource `web` has no `type`");
}

#[test]
fn an_unknown_type_suggests_the_closest_known_one() {
    let e = err("[resources.web]\ntype = \"ec2.instanse\"\n");
    assert_eq!(underlined(&e), "\"ec2.instanse\"");
    assert_eq!(e.hint.as_deref(), Some("did you mean `ec2.instance`?"));
}

#[test]
fn a_whole_config_reference_takes_the_config_value_of_any_type() {
    let stack = load(
        "[config]\nports = [22, 80]\n[resources.sg]\ntype = \"ec2.security_group\"\ntags = { a = \"${config.ports}\" }\n",
    );
    // A list where the schema wants a string: the whole value was substituted.
    let e = stack.unwrap_err();
    assert_eq!(e.message, "expected a string, found a list");
    assert_eq!(underlined(&e), "\"${config.ports}\"");
}

#[test]
fn a_config_reference_inside_a_string_is_interpolated() {
    let stack = load(
        "[config]\nenv = \"dev\"\nn = 3\n[resources.sg]\ntype = \"ec2.security_group\"\n\
         name = \"${config.env}-sg-${config.n}\"\ndescription = \"for ${config.env}: $${x}\"\n",
    )
    .unwrap();
    let props = &stack.resources["sg"].props;
    assert_eq!(props["name"], Value::from("dev-sg-3"));
    assert_eq!(props["description"], Value::from("for dev: ${x}"));
}

#[test]
fn config_and_resource_references_mix_in_one_template() {
    let stack = load(
        "[config]\nenv = \"dev\"\n[resources.a]\ntype = \"ec2.security_group\"\n\
         [resources.b]\ntype = \"ec2.security_group\"\nname = \"${config.env}-${a.name}\"\n",
    )
    .unwrap();
    assert_eq!(
        stack.resources["b"].props["name"],
        Value::Template(vec![Part::Lit("dev-".into()), Part::Ref(crate::model::Ref::new("a", "name"))])
    );
}

#[test]
fn an_unknown_config_key_is_reported_at_its_string() {
    let e = err("[config]\nvpc_cidr = \"10.0.0.0/16\"\n[outputs]\nx = \"cidr: ${config.vpc_cdir}\"\n");
    assert_eq!(e.message, "unknown config key `vpc_cdir`");
    assert_eq!((e.line, underlined(&e).as_str()), (4, "\"cidr: ${config.vpc_cdir}\""));
    assert_eq!(e.hint.as_deref(), Some("did you mean `vpc_cidr`?"));
}

#[test]
fn a_list_cannot_be_interpolated_into_a_longer_string() {
    let e = err("[config]\nl = [1]\n[outputs]\nx = \"a ${config.l}\"\n");
    assert_eq!(e.message, "`${config.l}` is a list and cannot be part of a longer string");
}

#[test]
fn config_values_cannot_hold_references() {
    let e = err("[config]\nx = \"${a.id}\"\n");
    assert_eq!(e.message, "a config value cannot hold a reference");
}

#[test]
fn config_is_not_a_resource_name() {
    let e = err("[resources.config]\ntype = \"ec2.security_group\"\n");
    assert_eq!(e.message, "`config` cannot name a resource");
    assert_eq!(underlined(&e), "config");
}

#[test]
fn aws_is_not_a_resource_name() {
    let e = err("[resources.aws]\ntype = \"ec2.security_group\"\n");
    assert_eq!(e.message, "`aws` cannot name a resource");
    assert_eq!(underlined(&e), "aws");
}

#[test]
fn an_aws_reference_binds_to_the_account_and_region_and_leaves_other_references() {
    use crate::model::AwsContext;
    let stack = load(
        "[resources.a]\ntype = \"ec2.security_group\"\n[resources.b]\ntype = \"ec2.security_group\"\n\
         description = \"arn:${aws.partition}:ec2:${aws.region}:${aws.account_id}:security-group/${a.id}\"\n",
    )
    .unwrap();
    assert!(stack.uses_aws());
    assert_eq!(stack.resources["b"].dependencies().into_iter().collect::<Vec<_>>(), ["a"]);
    let aws = AwsContext { account_id: "123456789012".into(), region: "cn-north-1".into() };
    let bound = stack.bind_aws(&aws);
    assert!(!bound.uses_aws());
    assert_eq!(
        bound.resources["b"].props["description"],
        Value::Template(vec![
            Part::Lit("arn:aws-cn:ec2:cn-north-1:123456789012:security-group/".into()),
            Part::Ref(crate::model::Ref::new("a", "id"))
        ])
    );
}

#[test]
fn an_unknown_aws_attribute_is_reported_with_the_ones_there_are() {
    let e = err("[resources.a]\ntype = \"ec2.security_group\"\ndescription = \"${aws.acount_id}\"\n");
    assert_eq!(e.message, "`${aws.acount_id}`: `aws` has no attribute `acount_id`");
    assert_eq!(e.hint.as_deref(), Some("attributes: account_id, region, partition"));
}

#[test]
fn a_float_is_refused() {
    let e = err("[config]\nsize = 1.5\n");
    assert_eq!(e.message, "expected a whole number, found a float");
    assert_eq!(underlined(&e), "1.5");
}

#[test]
fn integers_in_any_radix_are_numbers_and_too_large_ones_are_errors() {
    let stack =
        load("[config]\nsize = 30\n[resources.v]\ntype = \"ec2.volume\"\navailability_zone = \"a\"\nsize = 0x1e\n")
            .unwrap();
    assert_eq!(stack.resources["v"].props["size"], Value::Int(30));
    let e = err("[config]\nsize = 99999999999999999999\n");
    assert_eq!(e.message, "number 99999999999999999999 is out of range");
}

#[test]
fn meta_keys_are_not_properties() {
    let stack = load(
        "[resources.a]\ntype = \"ec2.security_group\"\n[resources.b]\ntype = \"ec2.security_group\"\n\
         depends_on = [\"a\"]\nignore_changes = [\"tags\"]\n",
    )
    .unwrap();
    let b = &stack.resources["b"];
    assert_eq!((b.depends_on.clone(), b.ignore_changes.clone()), (vec!["a".into()], vec!["tags".into()]));
    assert!(b.props.is_empty());
}

#[test]
fn a_dangling_depends_on_is_reported_at_its_name() {
    let e = err("[resources.b]\ntype = \"ec2.security_group\"\ndepends_on = [\"a\"]\n");
    assert_eq!(underlined(&e), "\"a\"");
}

#[test]
fn a_dangling_reference_in_a_list_is_reported_at_its_string() {
    let e = err("[resources.a]\ntype = \"ec2.security_group\"\n[resources.host]\ntype = \"ec2.instance\"\n\
         instance_type = \"t3.medium\"\nsecurity_group_ids = [\n  \"${a.id}\",\n  \"${b.id}\",\n]\n");
    assert_eq!((e.line, underlined(&e).as_str()), (8, "\"${b.id}\""));
    assert_eq!(e.hint.as_deref(), Some("resources: a, host"));
}

#[test]
fn unknown_keys_at_the_top_and_in_stack_are_errors() {
    let e = err("[stack]\nregion = \"us-east-1\"\n\n[ouputs]\n");
    assert_eq!(
        (e.message.as_str(), e.hint.as_deref()),
        ("unknown top-level key `ouputs`", Some("did you mean `outputs`?"))
    );
    assert_eq!(underlined(&e), "ouputs");
    let e = err("[stack]\nregoin = \"us-east-1\"\n");
    assert_eq!(e.message, "unknown key `regoin` in [stack]");
    assert_eq!(e.hint.as_deref(), Some("did you mean `region`?"));
}

#[test]
fn a_duplicate_resource_is_named_as_such() {
    let e = err("[resources.a]\ntype = \"ec2.security_group\"\n[resources.a]\ntype = \"ec2.volume\"\n");
    assert_eq!((e.line, e.message.as_str()), (3, "duplicate resource name `a`"));
}

#[test]
fn a_cycle_is_reported_at_a_resource_on_it() {
    let e = err("[resources.a]\ntype = \"ec2.security_group\"\nname = \"${b.name}\"\n\
         [resources.b]\ntype = \"ec2.security_group\"\nname = \"${a.name}\"\n");
    assert_eq!(e.message, "dependency cycle: a -> b -> a");
    assert_eq!(underlined(&e), "[resources.a]");
}

#[test]
fn a_rule_map_is_built_from_an_inline_table() {
    let stack =
        load("[resources.sg]\ntype = \"ec2.security_group\"\ningress = [{ ports = 22, cidrs = [] }]\n").unwrap();
    assert_eq!(
        stack.resources["sg"].props["ingress"],
        Value::List(vec![map([("cidrs", Value::List(vec![])), ("ports", Value::Int(22))])])
    );
}

#[test]
fn no_prefix_of_the_dev_stack_panics_and_every_error_has_a_place() {
    let text = std::fs::read_to_string(repo_file("stacks/dev.toml")).unwrap();
    let mut errors = 0;
    for (end, _) in text.char_indices() {
        if let Err(e) = load(&text[..end]) {
            errors += 1;
            assert!(e.line >= 1 && e.col >= 1 && e.width >= 1, "{e}");
            assert!(e.snippet.is_some(), "{e}");
            assert!(!e.to_string().contains(PASSWORD), "an error shows the secret: {e}");
        }
    }
    assert!(errors > 0);
}

#[test]
fn bytes_that_are_not_utf8_are_reported_at_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, b"[stack]\nregion = \"us-\xe9ast-1\"\n").unwrap();
    let e = load_file(&path).unwrap_err();
    assert_eq!((e.line, e.col, e.width), (2, 14, 1));
    assert!(e.message.contains("not valid UTF-8"), "{e}");
}

#[test]
fn a_file_over_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.toml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(50 * 1024 * 1024).unwrap();
    let e = load_file(&path).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.to_string().contains("too large (52428800 bytes); the limit is 10 MiB"), "{e}");
}

#[test]
fn a_missing_file_is_an_error_without_a_place() {
    let e = load_file(Path::new("stacks/does-not-exist.toml")).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.to_string().starts_with("stacks/does-not-exist.toml: cannot read the stack file: "), "{e}");
}

#[test]
fn stacks_are_listed_by_name_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("stacks")).unwrap();
    for f in ["prod.toml", "dev.toml", "notes.md"] {
        std::fs::write(dir.path().join("stacks").join(f), "").unwrap();
    }
    assert_eq!(list_stacks(dir.path()).unwrap(), ["dev", "prod"]);
    assert_eq!(list_stacks(&dir.path().join("nowhere")).unwrap_err().line, 0);
}

#[test]
fn no_single_character_edit_of_the_dev_stack_panics() {
    let text = std::fs::read_to_string(repo_file("stacks/dev.toml")).unwrap();
    let mut errors = 0;
    // Characters replaced with a few that TOML and references treat specially: each of
    // the eight at every eleventh character, from its own offset, so that eight of every
    // eleven positions are edited once (the stack file is 25 KB: every position with
    // every character would take minutes).
    for (offset, new) in ['"', '[', '{', '=', '\n', 'é', '$', '0'].into_iter().enumerate() {
        for (at, c) in text.char_indices().skip(offset).step_by(11) {
            let edited = format!("{}{new}{}", &text[..at], &text[at + c.len_utf8()..]);
            if let Err(e) = load(&edited) {
                errors += 1;
                assert!(e.line >= 1 && e.col >= 1 && e.width >= 1, "{e}");
                assert!(!e.to_string().is_empty());
                assert!(!e.to_string().contains(PASSWORD), "an error shows the secret: {e}");
            }
        }
    }
    assert!(errors > 0);
}

const SECRET_STACK: &str = r#"
[secrets]
pw = { env = "ELASTIC_PASSWORD" }
token = { file = "token.txt" }

[resources.build]
type = "codebuild.project"
service_role = "arn:aws:iam::1:role/r"
environment_variables = { PW = "${secret.pw}", URL = "https://u:${secret.pw}@${app.name}/x", TOKEN = "${secret.token}" }

[resources.app]
type = "elasticbeanstalk.application"
"#;

#[test]
fn a_secret_is_read_from_the_environment_or_a_file_and_stays_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.txt"), "t0k3n\n").unwrap();
    let sources = Sources::fixed(dir.path(), &[("ELASTIC_PASSWORD", PASSWORD)]);
    let stack = load_str_with("t", Path::new("t.toml"), SECRET_STACK, &sources).unwrap();
    let vars = stack.resources["build"].props["environment_variables"].as_map().unwrap();
    assert_eq!(vars["PW"], Value::secret(PASSWORD));
    // The trailing newline of the file is not part of the secret.
    assert_eq!(vars["TOKEN"], Value::secret("t0k3n"));
    // In a longer string with a reference, the whole string is a secret.
    let Value::Secret(url) = &vars["URL"] else { panic!("not a secret") };
    assert!(matches!(url.expose(), Value::Template(_)));
    assert!(stack.has_secrets());
    assert!(!format!("{stack:?}").contains(PASSWORD));
}

#[test]
fn a_missing_environment_variable_is_a_load_error_naming_it_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.txt"), "x").unwrap();
    let e = load_str_with("t", Path::new("t.toml"), SECRET_STACK, &Sources::fixed(dir.path(), &[])).unwrap_err();
    assert_eq!(e.message, "secret `pw`: the environment variable `ELASTIC_PASSWORD` is not set");
    assert_eq!((e.line, underlined(&e).as_str()), (3, "\"ELASTIC_PASSWORD\""));
}

#[test]
fn a_missing_secret_file_is_a_load_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources::fixed(dir.path(), &[("ELASTIC_PASSWORD", PASSWORD)]);
    let e = load_str_with("t", Path::new("t.toml"), SECRET_STACK, &sources).unwrap_err();
    assert!(e.message.starts_with("secret `token`: cannot read the file `token.txt`: "), "{e}");
    assert_eq!((e.line, underlined(&e).as_str()), (4, "\"token.txt\""));
}

#[test]
fn an_unknown_or_malformed_secret_is_a_load_error_at_its_place() {
    let e = err("[secrets]\npassword = { env = \"ELASTIC_PASSWORD\" }\n[outputs]\nx = \"${secret.pasword}\"\n");
    assert_eq!((e.message.as_str(), e.hint.as_deref()), ("unknown secret `pasword`", Some("did you mean `password`?")));
    assert_eq!((e.line, underlined(&e).as_str()), (4, "\"${secret.pasword}\""));
    let e = err("[secrets]\npw = { env = \"A\", file = \"b\" }\n");
    assert_eq!(e.message, "secret `pw` must name exactly one source: `env` or `file`");
    let e = err("[secrets]\npw = \"hunter2\"\n");
    assert_eq!(e.message, "expected a table, found a string");
    assert!(e.hint.unwrap().contains("{ env = \"VARIABLE\" }"));
    let e = err("[secrets]\npw = { evn = \"A\" }\n");
    assert_eq!(
        (e.message.as_str(), e.hint.as_deref()),
        ("unknown key `evn` in secret `pw`", Some("a secret takes one of: env, file"))
    );
    let e = err("[resources.secret]\ntype = \"ec2.security_group\"\n");
    assert_eq!(e.message, "`secret` cannot name a resource");
}

#[test]
fn a_secret_of_the_wrong_type_is_refused_without_showing_it() {
    let e = err("[secrets]\npw = { env = \"ELASTIC_PASSWORD\" }\n[resources.v]\ntype = \"ec2.volume\"\n\
                 availability_zone = \"a\"\nsize = 1\nvolume_type = \"${secret.pw}\"\n");
    assert!(e.message.starts_with("the secret's value is not valid here: expected one of: "), "{e}");
    assert!(!e.to_string().contains(PASSWORD), "{e}");
    assert_eq!(underlined(&e), "\"${secret.pw}\"");
}

#[test]
fn the_stack_name_is_substituted_whole_and_inside_strings() {
    let stack = load(
        r#"
[resources.role]
type = "iam.role"
description = "${stack.name}"
assume_role_policy = { Condition = { StringEquals = { "aws:ResourceTag/infra:stack" = "${stack.name}" } }, Note = "stack ${stack.name} here" }
"#,
    )
    .unwrap();
    let props = &stack.resources["role"].props;
    assert_eq!(props["description"], Value::from(stack.name.as_str()));
    let policy = props["assume_role_policy"].as_map().unwrap();
    assert_eq!(policy["Note"], Value::from(format!("stack {} here", stack.name)));
    let condition = &policy["Condition"].as_map().unwrap()["StringEquals"];
    assert_eq!(condition.as_map().unwrap()["aws:ResourceTag/infra:stack"], Value::from(stack.name.as_str()));
}

#[test]
fn an_unknown_stack_attribute_and_a_resource_named_stack_are_refused() {
    let e = err("[resources.a]\ntype = \"iam.role\"\ndescription = \"${stack.region}\"\n");
    assert_eq!(e.message, "unknown stack attribute `region`");
    let e = err("[resources.stack]\ntype = \"iam.role\"\n");
    assert_eq!(e.message, "`stack` cannot name a resource");
}
