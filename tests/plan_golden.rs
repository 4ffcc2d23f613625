//! Golden tests of the planner and its renderers: no AWS, no emulator.
//!
//! Each scenario starts from the dev stack (or, for what only an `ec2.instance`
//! has, the fixture tests/fixtures/stacks/host.toml), "applies" plans in memory
//! (fake ids and outputs), changes the stack, state or observation, and compares
//! the rendered plan with `tests/golden/plan/<name>.txt` (and `.json`).
//! `UPDATE_GOLDEN=1 cargo test --test plan_golden` rewrites the files.

mod common;

use std::path::Path;

use infra::model::{Kind, Observed, Props, Stack, Value, map};
use infra::plan::{Action, Plan, Reason, Refreshed, ReplaceOrder, Request, plan, plan_with, refresh_only};
use infra::state::{Recorded, State};

/// The dev stack's `ELASTIC_PASSWORD` in these tests.
const PASSWORD: &str = "golden-elastic-password";

fn dev_stack() -> Stack {
    dev_stack_with(PASSWORD)
}

fn dev_stack_with(password: &str) -> Stack {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/dev.toml");
    let sources = infra::config::Sources::fixed(
        ".",
        &[("ELASTIC_PASSWORD", password), ("REDIS_PASSWORD", "redis-password-in-these-tests")],
    );
    let stack = infra::config::load_file_with(&path, &sources).expect("the dev stack loads");
    // What the engine does before it plans: `${aws.*}` bound to the account (moto's here).
    stack.bind_aws(&aws())
}

/// The account and region the plans here are made for.
fn aws() -> infra::model::AwsContext {
    infra::model::AwsContext { account_id: "123456789012".into(), region: "us-east-1".into() }
}

/// The fixture with the dev stack's former EC2 shape: a group, an `ec2.instance`
/// beside a data volume, and the volume's attachment.
fn host_stack() -> Stack {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stacks/host.toml");
    infra::config::load_file_with(&path, &infra::config::Sources::fixed(".", &[])).expect("the host fixture loads")
}

fn fake_outputs(kind: Kind, id: &str) -> Props {
    let mut out = Props::new();
    for attr in kind.schema().outputs {
        out.insert(attr.to_string(), Value::from(format!("{attr}-of-{id}")));
    }
    out.insert("id".into(), Value::from(id));
    match kind {
        Kind::Instance => {
            out.insert("availability_zone".into(), Value::from("us-east-1a"));
            out.insert("private_ip".into(), Value::from("172.31.10.20"));
        }
        Kind::Volume => {
            out.insert("availability_zone".into(), Value::from("us-east-1a"));
        }
        _ => {}
    }
    out
}

/// Carries out a plan in memory, as a perfect cloud would.
fn fake_apply(plan: &Plan, state: &mut State) {
    for step in &plan.steps {
        match step.action {
            Action::NoOp => {
                // As the engine does: protection set or lifted, no AWS call.
                if let Some(rec) = state.resources.get_mut(&step.name) {
                    rec.protect = step.protected;
                }
            }
            Action::Delete => {
                state.resources.remove(&step.name);
            }
            action => {
                let props: Props =
                    step.desired.iter().map(|(k, v)| (k.clone(), v.resolve(&|r| state.attr(r)))).collect();
                assert!(props.values().all(Value::is_known), "{}: unresolved {props:?}", step.name);
                let id = match (action, &step.id) {
                    (Action::Update, Some(id)) => id.clone(),
                    _ => format!("{}-{}-{}", step.kind.type_name().replace('.', "-"), step.name, state.serial),
                };
                let props = step.kind.schema().normalized(&props);
                let outputs = fake_outputs(step.kind, &id);
                state.resources.insert(
                    step.name.clone(),
                    Recorded {
                        kind: step.kind,
                        id,
                        props,
                        outputs,
                        depends_on: step.depends_on.clone(),
                        protect: step.protected,
                    },
                );
            }
        }
    }
    state.serial += 1;
}

/// What AWS reports for everything in state: exactly what was recorded, with
/// secrets in plain text (as AWS reports an option setting's value).
fn observe(state: &State) -> Refreshed {
    let reveal = |p: &Props| -> Props { p.iter().map(|(k, v)| (k.clone(), v.reveal())).collect() };
    state
        .resources
        .iter()
        .map(|(n, r)| {
            (n.clone(), Some(Observed { id: r.id.clone(), props: reveal(&r.props), outputs: r.outputs.clone() }))
        })
        .collect()
}

/// A state never applied, as the engine plans it: with the lineage that the
/// resources it creates are tagged with.
fn unapplied() -> State {
    State { lineage: Some("5e1f6c2a-golden-lineage".into()), ..State::default() }
}

fn applied(stack: &Stack) -> State {
    let mut state = unapplied();
    let p = plan(stack, &state, &Refreshed::new()).unwrap();
    fake_apply(&p, &mut state);
    state
}

fn golden(name: &str, plan: &Plan) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/plan");
    let text = anstream::adapter::strip_str(&infra::render::plan_text(plan)).to_string();
    let json = serde_json::to_string_pretty(&infra::render::plan_json(plan)).unwrap() + "\n";
    let markdown = infra::render::plan_markdown(plan);
    assert!(
        !text.contains(PASSWORD) && !json.contains(PASSWORD) && !markdown.contains(PASSWORD),
        "{name}: the plan shows the secret"
    );
    for (ext, actual) in [("txt", text), ("json", json), ("md", markdown)] {
        let path = dir.join(format!("{name}.{ext}"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_GOLDEN=1", path.display()));
        if expected != actual {
            panic!("{} differs from the plan:\n{}", path.display(), infra::render::unified(&expected, &actual, "  "));
        }
    }
}

fn actions(p: &Plan) -> Vec<(String, Action)> {
    p.steps.iter().map(|s| (s.name.clone(), s.action)).collect()
}

/// The planner normalises a declaration without references once, and takes it
/// as its own resolution: that holds only if normalising what is normal
/// changes nothing, for every kind the dev stack and the host fixture declare.
#[test]
fn normalising_a_normalised_declaration_changes_nothing() {
    let (dev, host) = (dev_stack(), host_stack());
    let resources = dev.resources.iter().chain(&host.resources);
    let mut kinds = std::collections::BTreeSet::new();
    for (name, res) in resources {
        let schema = res.kind.schema();
        let once = schema.normalized(&res.props);
        assert_eq!(schema.normalized(&once), once, "{name} ({})", res.kind);
        kinds.insert(res.kind);
    }
    assert_eq!(kinds.len(), Kind::ALL.len(), "every kind is declared by one of the two stacks");
}

#[test]
fn a_new_stack_plans_every_resource_as_a_create_with_unknowns_from_dependencies() {
    let p = plan(&dev_stack(), &unapplied(), &Refreshed::new()).unwrap();
    assert_eq!(p.summary().create, 17);
    assert!(p.steps.iter().all(|s| s.kind != Kind::Instance && s.kind != Kind::VolumeAttachment));
    // The environment's instance goes beside the data volume: the volume
    // declares its zone, so the plan knows it. The volume's id is AWS's to
    // give: the option setting that hands it to the instance is known after apply.
    let env = p.steps.iter().find(|s| s.name == "app_env").unwrap();
    let zone = env.changes.iter().find(|c| c.prop == "availability_zone").unwrap();
    assert_eq!(zone.after, Some(Value::from("us-east-1a")));
    let settings = env.changes.iter().find(|c| c.prop == "option_settings").unwrap();
    let volume_id = settings.after.as_ref().and_then(Value::as_list).unwrap().iter().find_map(|s| {
        let s = s.as_map()?;
        (s.get("name")? == &Value::from("DATA_VOLUME_ID")).then(|| s["value"].clone())
    });
    assert_eq!(volume_id, Some(Value::Unknown));
    golden("create", &p);
}

#[test]
fn a_plan_right_after_apply_has_no_changes() {
    let stack = dev_stack();
    let state = applied(&stack);
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    assert!(!p.has_changes(), "{}", infra::render::plan_text(&p));
    assert!(p.drift.is_empty());
    golden("noop", &p);
}

#[test]
fn a_new_instance_type_a_bigger_volume_and_a_new_port_update_in_place() {
    let mut stack = dev_stack();
    let state = applied(&stack);
    // The host is the environment's instance: its type is an option setting.
    let env = stack.resources.get_mut("app_env").unwrap();
    env.props.insert("instance_type".into(), Value::from("t3.large"));
    stack.resources.get_mut("data").unwrap().props.insert("size".into(), Value::Int(50));
    let sg = stack.resources.get_mut("data_sg").unwrap();
    let Some(Value::List(rules)) = sg.props.get_mut("ingress") else { panic!("ingress is a list") };
    rules.push(map([
        ("ports", Value::Int(9300)),
        ("cidrs", Value::List(vec![Value::from("172.31.0.0/16")])),
        ("description", Value::from("elasticsearch transport")),
    ]));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let changed: Vec<(String, Action)> = actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect();
    assert_eq!(
        changed,
        vec![("data".into(), Action::Update), ("data_sg".into(), Action::Update), ("app_env".into(), Action::Update)]
    );
    golden("update", &p);
}

#[test]
fn a_new_zone_replaces_the_data_volume_says_why_and_moves_the_environment_in_place() {
    // Once its protection is lifted: a protected volume is never replaced.
    let mut stack = unprotected(dev_stack());
    let state = applied(&stack);
    let data = stack.resources.get_mut("data").unwrap();
    data.props.insert("availability_zone".into(), Value::from("us-east-1b"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let changed: Vec<(String, Action)> = actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect();
    // What refers to the volume follows it: the instance role's policy and the
    // environment, which moves its instance beside the new volume without being
    // replaced. What the new volume reports of itself (its id, its zone) is
    // known once it exists: it is created beside the old one.
    assert_eq!(
        changed,
        vec![
            ("data".into(), Action::Replace),
            ("app_instance_role".into(), Action::Update),
            ("app_env".into(), Action::Update)
        ]
    );
    let data = p.steps.iter().find(|s| s.name == "data").unwrap();
    assert_eq!(data.reason, Some(infra::plan::Reason::ForcedBy(vec!["availability_zone".into()])));
    let env = p.steps.iter().find(|s| s.name == "app_env").unwrap();
    let zone = env.changes.iter().find(|c| c.prop == "availability_zone").unwrap();
    assert_eq!((zone.after.clone(), zone.forces_replace), (Some(Value::Unknown), false));
    // The policy's only unknown is the new volume's id: the plan shows the
    // policy with the id marked in place, and keeps the value itself unknown.
    let role = p.steps.iter().find(|s| s.name == "app_instance_role").unwrap();
    let policies = role.changes.iter().find(|c| c.prop == "inline_policies").unwrap();
    assert!(!policies.after.as_ref().unwrap().is_known());
    let preview = policies.preview.as_ref().and_then(Value::as_map).unwrap();
    let document = preview["data_volume"].as_str().unwrap();
    assert!(
        document.contains(r#""arn:aws:ec2:us-east-1:123456789012:volume/(known after apply: data.id)""#),
        "{document}"
    );
    golden("replace", &p);
}

#[test]
fn a_replaced_environment_leaves_the_data_volume_and_its_group_alone() {
    let mut stack = dev_stack();
    let state = applied(&stack);
    let env = stack.resources.get_mut("app_env").unwrap();
    env.props.insert("solution_stack_prefix".into(), Value::from("64bit Amazon Linux 2"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let acts = actions(&p);
    assert!(acts.contains(&("app_env".into(), Action::Replace)), "{acts:?}");
    // The data volume is declared apart from the host: it survives.
    assert!(acts.contains(&("data".into(), Action::NoOp)), "{acts:?}");
    assert!(acts.contains(&("data_sg".into(), Action::NoOp)), "{acts:?}");
}

#[test]
fn a_multi_line_change_renders_as_a_unified_diff() {
    // User data, which only an ec2.instance has, is a multi-line string that
    // forces a replacement; the host fixture's instance holds it.
    let mut stack = host_stack();
    let host = stack.resources.get_mut("host").unwrap();
    host.props.insert("user_data".into(), Value::from("#!/bin/sh\nyum install -y docker\necho one\n"));
    let state = applied(&stack);
    let host = stack.resources.get_mut("host").unwrap();
    host.props.insert("user_data".into(), Value::from("#!/bin/sh\nyum install -y docker\necho two\n"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let text = anstream::adapter::strip_str(&infra::render::plan_text(&p)).to_string();
    assert!(text.contains("-echo one") && text.contains("+echo two"), "{text}");
    golden("replace_diff", &p);
}

#[test]
fn a_resource_removed_from_the_stack_is_deleted_after_its_dependents() {
    let mut stack = dev_stack();
    let state = applied(&stack);
    // The environment (the host), the pipeline that deploys to it, and the
    // rule that starts the pipeline, with the role it starts it as.
    let removed = ["app_env", "pipeline", "source_events_role", "source_changed"];
    for name in removed {
        stack.resources.remove(name);
    }
    stack.outputs.retain(|_, v| v.refs().iter().all(|r| !removed.contains(&r.resource.as_str())));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let deletes: Vec<&str> = p.steps.iter().filter(|s| s.action == Action::Delete).map(|s| s.name.as_str()).collect();
    assert_eq!(deletes, vec!["source_changed", "source_events_role", "pipeline", "app_env"]);
    golden("delete", &p);
}

/// The dev stack with its data volume's protection lifted (`protect = false`).
fn unprotected(mut stack: Stack) -> Stack {
    stack.resources.get_mut("data").unwrap().protect = Some(false);
    stack
}

/// What `infra destroy` plans: the stack with nothing declared.
fn nothing(stack: &Stack) -> Stack {
    Stack { resources: Default::default(), outputs: Default::default(), ..stack.clone() }
}

fn destroy() -> Request {
    Request { destroy: true, ..Request::default() }
}

#[test]
fn destroying_the_dev_stack_deletes_the_environment_before_the_data_volume_and_says_the_data_goes() {
    // Once the volume's protection has been lifted (and applied).
    let stack = unprotected(dev_stack());
    let state = applied(&stack);
    assert!(state.resources.values().all(|r| !r.protect));
    let p = plan_with(&nothing(&stack), &state, &observe(&state), &destroy()).unwrap();
    assert!(p.refusal().is_none());
    let order: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
    let position = |name: &str| order.iter().position(|n| *n == name).unwrap();
    assert!(position("app_env") < position("data"), "the instance lets go of the volume first: {order:?}");
    let losing: Vec<&str> = p.steps.iter().filter(|s| s.deletes_data()).map(|s| s.name.as_str()).collect();
    assert_eq!(losing, ["data"]);
    golden("destroy", &p);
}

/// What AWS reports after changes made outside infra: the host resized in
/// the console, the pipeline deleted.
fn drifted(state: &State) -> Refreshed {
    let mut seen = observe(state);
    let env = seen.get_mut("app_env").unwrap().as_mut().unwrap();
    env.props.insert("instance_type".into(), Value::from("t3.xlarge"));
    seen.insert("pipeline".into(), None);
    seen
}

#[test]
fn changes_made_behind_the_tools_back_show_as_drift_and_are_planned_back() {
    let stack = dev_stack();
    let state = applied(&stack);
    let seen = drifted(&state);
    let p = plan(&stack, &state, &seen).unwrap();
    assert_eq!(p.drift.len(), 2);
    let acts = actions(&p);
    assert!(acts.contains(&("app_env".into(), Action::Update)));
    assert!(acts.contains(&("pipeline".into(), Action::Create)));
    golden("drift", &p);
}

#[test]
fn shrinking_a_volume_is_refused_when_planning() {
    let mut stack = dev_stack();
    let state = applied(&stack);
    stack.resources.get_mut("data").unwrap().props.insert("size".into(), Value::Int(10));
    let err = plan(&stack, &state, &observe(&state)).unwrap_err();
    assert!(err.to_string().starts_with("data: size cannot shrink from 30 GiB to 10 GiB"), "{err}");
}

#[test]
fn ignored_properties_never_change() {
    let mut stack = dev_stack();
    let state = applied(&stack);
    let mut seen = observe(&state);
    let env = seen.get_mut("app_env").unwrap().as_mut().unwrap();
    env.props.insert("instance_type".into(), Value::from("t3.xlarge"));
    stack.resources.get_mut("app_env").unwrap().ignore_changes.push("instance_type".into());
    let p = plan(&stack, &state, &seen).unwrap();
    assert!(!p.has_changes(), "{}", infra::render::plan_text(&p));
    assert!(p.drift.is_empty());
}

#[test]
fn an_ignored_property_keeps_what_aws_has_in_place_but_a_replacement_is_made_as_declared() {
    // The dev stack ignores app_env's version_label (the pipeline deploys versions).
    let stack = dev_stack();
    assert!(stack.resources["app_env"].ignore_changes.contains(&"version_label".to_string()));
    let state = applied(&stack);
    let declared = stack.resources["app_env"].props["version_label"].clone();
    let mut seen = observe(&state);
    let env = seen.get_mut("app_env").unwrap().as_mut().unwrap();
    env.props.insert("version_label".into(), Value::from("code-pipeline-1765000000000"));

    let in_place = plan(&stack, &state, &seen).unwrap();
    assert!(!in_place.has_changes(), "{}", infra::render::plan_text(&in_place));

    let request = Request { replace: vec!["app_env".into()], ..Request::default() };
    let replaced = plan_with(&stack, &state, &seen, &request).unwrap();
    let step = replaced.steps.iter().find(|s| s.name == "app_env").unwrap();
    assert_eq!(step.action, Action::Replace);
    assert_eq!(step.desired["version_label"], declared, "the new environment gets the declared version");

    // A replaced version: the environment leaves the old one, which is then
    // deleted. Its label is declared (bundle::prepare gives the content's), but
    // the new version, made beside the old one, takes a label of its own.
    let mut stack = stack;
    let label = Value::from("v-0123456789abcdef");
    stack.resources.get_mut("app_version").unwrap().props.insert("label".into(), label);
    let state = applied(&stack);
    let mut seen = observe(&state);
    let env = seen.get_mut("app_env").unwrap().as_mut().unwrap();
    env.props.insert("version_label".into(), Value::from("code-pipeline-1765000000000"));
    let request = Request { replace: vec!["app_version".into()], ..Request::default() };
    let replaced = plan_with(&stack, &state, &seen, &request).unwrap();
    let env = replaced.steps.iter().find(|s| s.name == "app_env").unwrap();
    assert_eq!(env.action, Action::Update, "{}", infra::render::plan_text(&replaced));
    assert!(env.changes.iter().any(|c| c.prop == "version_label"), "{:?}", env.changes);
}

#[test]
fn the_same_inputs_always_give_the_same_plan() {
    let stack = dev_stack();
    let state = applied(&stack);
    let a = plan(&stack, &state, &observe(&state)).unwrap();
    let b = plan(&stack, &state, &observe(&state)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_changed_policy_and_buildspec_render_as_unified_diffs() {
    let mut stack = dev_stack();
    // The dev stack's buildspec is a file in the source (deploy/dev/buildspec.yml);
    // an inline one is multi-line YAML, which a change shows as a diff.
    let inline = "version: 0.2\nphases:\n  build:\n    commands:\n      - test -f deploy/dev/docker-compose.yml\n\
                  artifacts:\n  base-directory: deploy/dev\n  files:\n    - '**/*'\n";
    stack.resources.get_mut("build").unwrap().props.insert("buildspec".into(), Value::from(inline));
    let state = applied(&stack);
    let role = stack.resources.get_mut("build_role").unwrap();
    let Some(Value::Map(policies)) = role.props.get_mut("inline_policies") else { panic!("inline policies") };
    let Some(Value::Template(parts)) = policies.get_mut("build") else { panic!("a policy with references") };
    for part in parts.iter_mut() {
        if let infra::model::Part::Lit(text) = part {
            *text = text.replace("\"logs:PutLogEvents\"", "\"logs:PutLogEvents\", \"logs:DescribeLogStreams\"");
        }
    }
    let build = stack.resources.get_mut("build").unwrap();
    let spec =
        build.props["buildspec"].as_str().unwrap().replace("      - test -f", "      - ls deploy/dev\n      - test -f");
    build.props.insert("buildspec".into(), Value::from(spec));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let changed: Vec<(String, Action)> = actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect();
    assert_eq!(changed, vec![("build_role".into(), Action::Update), ("build".into(), Action::Update)]);
    let text = anstream::adapter::strip_str(&infra::render::plan_text(&p)).to_string();
    assert!(text.contains("+        \"logs:DescribeLogStreams\","), "{text}");
    assert!(text.contains("+      - ls deploy/dev"), "{text}");
    golden("policy_and_buildspec", &p);
}

/// The plan in every format a person or a program reads.
fn every_rendering(p: &Plan) -> String {
    let report = infra::engine::DriftReport {
        stack: p.stack.clone(),
        drift: p.drift.clone(),
        unmanaged: vec![],
        foreign: vec![],
    };
    [
        anstream::adapter::strip_str(&infra::render::plan_text(p)).to_string(),
        infra::render::plan_json(p).to_string(),
        infra::render::plan_markdown(p),
        anstream::adapter::strip_str(&infra::render::drift_report_text(&report)).to_string(),
        infra::render::drift_json(&report).to_string(),
        infra::render::drift_markdown(&report),
        format!("{p:?}"),
    ]
    .join("\n")
}

#[test]
fn a_changed_secret_is_an_update_in_place_shown_as_secret_to_secret() {
    let state = applied(&dev_stack_with("the-old-password"));
    let stack = dev_stack_with("the-new-password");
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let changed: Vec<(String, Action)> = actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect();
    // The parameter holding it changes in place; the environment names it by ARN, unchanged.
    assert_eq!(changed, vec![("elastic_password".into(), Action::Update)]);
    let text = anstream::adapter::strip_str(&infra::render::plan_text(&p)).to_string();
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("~ value") && l.trim_end().ends_with("= [secret]")),
        "{text}"
    );
    let all = every_rendering(&p);
    assert!(!all.contains("the-old-password") && !all.contains("the-new-password"), "{all}");
    golden("secret_change", &p);
}

#[test]
fn a_secret_changed_behind_the_tools_back_is_drift_that_never_shows_it() {
    let stack = dev_stack();
    let state = applied(&stack);
    let mut seen = observe(&state);
    let parameter = seen.get_mut("elastic_password").unwrap().as_mut().unwrap();
    // SSM answers GetParameter (with decryption) in plain text.
    assert_eq!(parameter.props["value"], Value::from(PASSWORD), "AWS reports it in plain text");
    parameter.props.insert("value".into(), Value::from("set-in-the-console"));
    let p = plan(&stack, &state, &seen).unwrap();
    assert_eq!(p.drift.len(), 1, "{}", infra::render::plan_text(&p));
    assert_eq!(
        actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect::<Vec<_>>(),
        vec![("elastic_password".into(), Action::Update)]
    );
    let all = every_rendering(&p);
    assert!(!all.contains("set-in-the-console") && !all.contains(PASSWORD), "{all}");
    assert!(all.contains("value  recorded [secret], live [secret]"), "{all}");
    golden("secret_drift", &p);
}

fn refusal_text(p: &Plan) -> String {
    p.refusal().expect("the plan is refused").to_string()
}

#[test]
fn the_dev_stack_protects_its_data_volume_and_state_records_it() {
    let stack = dev_stack();
    assert_eq!(stack.resources["data"].protect, Some(true));
    let state = applied(&stack);
    let protected: Vec<&str> = state.resources.iter().filter(|(_, r)| r.protect).map(|(n, _)| n.as_str()).collect();
    assert_eq!(protected, ["data"]);
}

#[test]
fn a_destroy_of_a_stack_holding_a_protected_volume_is_refused_as_a_whole_and_names_the_volume() {
    let stack = dev_stack();
    let state = applied(&stack);
    let p = plan_with(&nothing(&stack), &state, &observe(&state), &destroy()).unwrap();
    let refused: Vec<&str> = p.steps.iter().filter(|s| s.refused()).map(|s| s.name.as_str()).collect();
    assert_eq!(refused, ["data"]);
    let message = refusal_text(&p);
    assert!(
        message.starts_with("`data` (ec2.volume ec2-volume-data-0) is protected: destroy would delete it"),
        "{message}"
    );
    assert!(message.contains("set `protect = false`") && message.contains("--exclude-protected"), "{message}");
    golden("destroy_protected", &p);
}

#[test]
fn destroy_excluding_protected_keeps_the_volume_and_deletes_everything_else() {
    let stack = dev_stack();
    let state = applied(&stack);
    let request = Request { exclude_protected: true, ..destroy() };
    let p = plan_with(&nothing(&stack), &state, &observe(&state), &request).unwrap();
    assert!(p.refusal().is_none());
    assert_eq!(p.kept, ["data"]);
    let deleted = p.steps.iter().filter(|s| s.action == Action::Delete).count();
    assert_eq!(deleted, state.resources.len() - 1);
    let mut after = state.clone();
    fake_apply(&p, &mut after);
    assert_eq!(after.resources.keys().collect::<Vec<_>>(), ["data"]);
    assert!(after.resources["data"].protect, "state still records the protection");
    golden("destroy_exclude_protected", &p);
}

#[test]
fn excluding_protected_also_keeps_what_the_protected_resource_depends_on() {
    // The host fixture with its instance protected: the instance needs its
    // group and the volume its zone comes from; the attachment depends on it
    // and goes.
    let mut stack = host_stack();
    stack.resources.get_mut("host").unwrap().protect = Some(true);
    let state = applied(&stack);
    let request = Request { exclude_protected: true, ..destroy() };
    let p = plan_with(&nothing(&stack), &state, &observe(&state), &request).unwrap();
    assert_eq!(p.kept, ["data", "data_sg", "host"]);
    let deleted: Vec<&str> = p.steps.iter().filter(|s| s.action == Action::Delete).map(|s| s.name.as_str()).collect();
    assert_eq!(deleted, ["data_attachment"]);
}

#[test]
fn a_protected_resource_removed_from_the_stack_file_is_still_protected_by_state() {
    let mut stack = dev_stack();
    stack.resources.get_mut("pipeline").unwrap().protect = Some(true);
    let state = applied(&stack);
    // The pipeline's block leaves the file, with the rule that starts it and its role.
    for name in ["pipeline", "source_events_role", "source_changed"] {
        stack.resources.remove(name);
    }
    stack.outputs.remove("pipeline");
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let step = p.steps.iter().find(|s| s.name == "pipeline").unwrap();
    assert_eq!((step.action, step.refused()), (Action::Delete, true));
    let message = refusal_text(&p);
    assert!(message.contains("its block left the stack file"), "{message}");
    assert!(message.contains("`infra state rm`"), "{message}");
    golden("remove_protected", &p);
}

#[test]
fn a_force_new_change_to_a_protected_volume_is_refused_and_marked() {
    let mut stack = dev_stack();
    let state = applied(&stack);
    stack.resources.get_mut("data").unwrap().props.insert("availability_zone".into(), Value::from("us-east-1b"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let data = p.steps.iter().find(|s| s.name == "data").unwrap();
    assert_eq!((data.action, data.refused()), (Action::Replace, true));
    assert!(refusal_text(&p).contains("availability_zone cannot change in place"), "{}", refusal_text(&p));
    golden("replace_protected", &p);
}

#[test]
fn protect_false_lifts_the_protection_in_an_apply_that_changes_nothing_in_aws() {
    let state = applied(&dev_stack());
    let stack = unprotected(dev_stack());
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    assert!(p.has_changes() && p.refusal().is_none());
    let data = p.steps.iter().find(|s| s.name == "data").unwrap();
    assert_eq!((data.action, data.protection_changed, data.protected), (Action::NoOp, true, false));
    assert_eq!(p.summary().protection, 1);
    let mut after = state.clone();
    fake_apply(&p, &mut after);
    assert!(!after.resources["data"].protect);
    // Leaving `protect` out keeps what state records; it never lifts it.
    let mut silent = dev_stack();
    silent.resources.get_mut("data").unwrap().protect = None;
    let p2 = plan(&silent, &state, &observe(&state)).unwrap();
    assert!(!p2.has_changes() && p2.steps.iter().find(|s| s.name == "data").unwrap().protected);
    golden("protection_lifted", &p);
}

#[test]
fn a_targeted_plan_holds_only_its_target_and_what_it_needs_and_a_later_full_plan_shows_the_rest() {
    let stack = dev_stack();
    let request = Request { targets: vec!["app_env".into()], ..Request::default() };
    let p = plan_with(&stack, &unapplied(), &Refreshed::new(), &request).unwrap();
    let names: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "app",
            "artifacts",
            "data",
            "data_sg",
            "eb_service_role",
            "elastic_password",
            "redis_password",
            "app_instance_role",
            "app_version",
            "app_instance_profile",
            "app_env"
        ]
    );
    assert_eq!(p.targeted, ["app_env"]);
    assert_eq!(
        p.left_out,
        ["build_role", "build", "pipeline_role", "pipeline", "source_events_role", "source_changed"]
    );
    golden("targeted", &p);

    // What a saved targeted plan does when applied: only its steps.
    let mut state = unapplied();
    fake_apply(&p, &mut state);
    assert_eq!(state.resources.len(), names.len());
    let full = plan(&stack, &state, &observe(&state)).unwrap();
    let mut rest: Vec<&str> = full.steps.iter().filter(|s| s.action != Action::NoOp).map(|s| s.name.as_str()).collect();
    rest.sort();
    assert_eq!(rest, ["build", "build_role", "pipeline", "pipeline_role", "source_changed", "source_events_role"]);
    assert!(full.steps.iter().filter(|s| s.action == Action::Create).all(|s| s.reason == Some(Reason::New)));
}

#[test]
fn a_targeted_destroy_deletes_the_target_and_what_depends_on_it() {
    let stack = unprotected(dev_stack());
    let state = applied(&stack);
    let request = Request { targets: vec!["app_env".into()], ..destroy() };
    let p = plan_with(&nothing(&stack), &state, &observe(&state), &request).unwrap();
    let names: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["source_changed", "source_events_role", "pipeline", "pipeline_role", "app_env"]);
}

/// The plan of the applied, unchanged dev stack with `--replace name`.
fn replacing(name: &str) -> Plan {
    let stack = dev_stack();
    let state = applied(&stack);
    let request = Request { replace: vec![name.into()], ..Request::default() };
    plan_with(&stack, &state, &observe(&state), &request).unwrap()
}

#[test]
fn a_replace_request_replaces_an_unchanged_resource_and_says_so() {
    let p = replacing("app_env");
    let env = p.steps.iter().find(|s| s.name == "app_env").unwrap();
    assert_eq!(
        (env.action, env.reason.clone(), env.replace_requested),
        (Action::Replace, Some(Reason::ReplaceRequested), true)
    );
    // What refers to the environment (the pipeline by name, its role by id and name)
    // learns it anew; nothing else changes.
    let changed: Vec<(String, Action)> = actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect();
    assert_eq!(
        changed,
        vec![
            ("app_env".into(), Action::Replace),
            ("pipeline_role".into(), Action::Update),
            ("pipeline".into(), Action::Update)
        ]
    );
    golden("replace_requested", &p);
}

/// The steps of a plan that change anything: resource, action and, for a
/// replacement, its order.
fn changed(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .filter(|s| s.action != Action::NoOp)
        .map(|s| match s.order {
            Some(order) => format!("{} {} ({})", s.action.symbol(), s.name, order.words()),
            None => format!("{} {}", s.action.symbol(), s.name),
        })
        .collect()
}

/// Applies `p` in memory and plans again: a plan that applied converges.
fn replans_empty(stack: &Stack, state: &State, p: &Plan) {
    let mut state = state.clone();
    fake_apply(p, &mut state);
    let again = plan(stack, &state, &observe(&state)).unwrap();
    assert!(!again.has_changes(), "after the replacement the plan still changes {:?}", changed(&again));
}

#[test]
fn every_resource_of_the_dev_stack_can_be_replaced_in_an_order_that_runs() {
    // The data volume once its protection is lifted: protected, it is refused
    // (`protection_wins_over_a_replace_request`).
    let stack = unprotected(dev_stack());
    let state = applied(&stack);
    let expected: &[(&str, &[&str])] = &[
        (
            "app",
            &[
                "-/+ app (create first)",
                "-/+ app_version (create first)",
                "-/+ app_env (delete first)",
                "~ pipeline_role",
                "~ pipeline",
            ],
        ),
        ("app_env", &["-/+ app_env (delete first)", "~ pipeline_role", "~ pipeline"]),
        ("app_instance_profile", &["-/+ app_instance_profile (create first)", "~ app_env"]),
        ("app_instance_role", &["-/+ app_instance_role (create first)", "~ app_instance_profile", "~ pipeline_role"]),
        ("app_version", &["-/+ app_version (create first)", "~ app_env"]),
        (
            "artifacts",
            &[
                "-/+ artifacts (create first)",
                "-/+ app_version (create first)",
                "~ build_role",
                "~ pipeline_role",
                "~ app_env",
                "~ pipeline",
                "~ source_changed",
            ],
        ),
        ("build", &["-/+ build (create first)", "~ pipeline", "~ pipeline_role"]),
        ("build_role", &["-/+ build_role (create first)", "~ build"]),
        ("data", &["-/+ data (create first)", "~ app_instance_role", "~ app_env"]),
        ("data_sg", &["-/+ data_sg (create first)", "~ app_env"]),
        ("eb_service_role", &["-/+ eb_service_role (create first)", "~ app_env", "~ pipeline_role"]),
        ("elastic_password", &["-/+ elastic_password (create first)", "~ app_instance_role", "~ app_env"]),
        ("pipeline", &["-/+ pipeline (create first)", "~ source_events_role", "~ source_changed"]),
        ("pipeline_role", &["-/+ pipeline_role (create first)", "~ pipeline"]),
        ("redis_password", &["-/+ redis_password (create first)", "~ app_instance_role", "~ app_env"]),
        ("source_changed", &["-/+ source_changed (create first)"]),
        ("source_events_role", &["-/+ source_events_role (create first)", "~ source_changed"]),
    ];
    let names: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, stack.resources.keys().map(String::as_str).collect::<Vec<_>>(), "every resource, once");
    for (name, steps) in expected {
        let request = Request { replace: vec![name.to_string()], ..Request::default() };
        let p = plan_with(&stack, &state, &observe(&state), &request).unwrap();
        let mut actual = changed(&p);
        let mut steps: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
        actual.sort();
        steps.sort();
        assert_eq!(actual, steps, "--replace {name}");
        assert!(p.refusal().is_none(), "--replace {name}");
        golden(&format!("replace_each/{name}"), &p);
        replans_empty(&stack, &state, &p);
    }
}

#[test]
fn a_force_new_edit_of_the_group_creates_the_new_group_first_and_moves_the_environment_to_it() {
    let mut stack = dev_stack();
    let state = applied(&stack);
    let sg = stack.resources.get_mut("data_sg").unwrap();
    sg.props.insert("description".into(), Value::from("dev data services"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    assert_eq!(changed(&p), ["-/+ data_sg (create first)", "~ app_env"]);
    replans_empty(&stack, &state, &p);
    golden("replace_group_description", &p);
}

#[test]
fn a_group_whose_declared_name_stays_is_deleted_first_and_the_environment_using_it_is_replaced_after_it() {
    let mut stack = dev_stack();
    stack.resources.get_mut("data_sg").unwrap().props.insert("name".into(), Value::from("dev-data"));
    let state = applied(&stack);
    let sg = stack.resources.get_mut("data_sg").unwrap();
    sg.props.insert("description".into(), Value::from("dev data services"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    // The environment's instances keep the group in use: EC2 would refuse its
    // delete. The pipeline only names the environment, and learns the new name.
    assert_eq!(
        changed(&p),
        ["-/+ data_sg (delete first)", "-/+ app_env (delete first)", "~ pipeline_role", "~ pipeline"]
    );
    let env = p.steps.iter().find(|s| s.name == "app_env").unwrap();
    assert_eq!(env.reason, Some(Reason::DependencyReplacedFirst("data_sg".into())));
    replans_empty(&stack, &state, &p);
    golden("replace_named_group", &p);
}

#[test]
fn a_declared_name_that_changes_lets_the_replacement_be_created_first() {
    let mut stack = dev_stack();
    stack.resources.get_mut("build").unwrap().props.insert("name".into(), Value::from("dev-build"));
    let state = applied(&stack);
    stack.resources.get_mut("build").unwrap().props.insert("name".into(), Value::from("dev-packager"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    // The pipeline's role may start builds of this project only: it follows the new ARN.
    assert_eq!(changed(&p), ["-/+ build (create first)", "~ pipeline_role", "~ pipeline"]);
    let build = p.steps.iter().find(|s| s.name == "build").unwrap();
    assert_eq!(
        (build.order, &build.reason),
        (Some(ReplaceOrder::CreateFirst), &Some(Reason::ForcedBy(vec!["name".into()])))
    );
    replans_empty(&stack, &state, &p);
}

#[test]
fn an_apply_stopped_between_a_replacements_create_and_delete_leaves_the_old_one_for_the_next_plan_to_delete() {
    let stack = dev_stack();
    let mut state = applied(&stack);
    // The new group was created and recorded; the environment still uses the
    // old one, which state keeps under its deposed key.
    let old = state.resources["data_sg"].clone();
    let key = state.depose("data_sg", &old.id).unwrap();
    let mut new = old.clone();
    new.id = "sg-new".into();
    new.outputs.insert("id".into(), Value::from("sg-new"));
    state.resources.insert("data_sg".into(), new);
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    assert_eq!(changed(&p), ["~ app_env".to_string(), format!("- {key}")]);
    let ops = infra::plan::operations(&p, &state);
    let delete = ops.iter().find(|o| o.resource == key).unwrap();
    let waits: Vec<String> = delete.after.iter().map(|&i| ops[i].to_string()).collect();
    assert_eq!(waits, ["update app_env"], "the environment moves to the new group before the old one goes");
    replans_empty(&stack, &state, &p);
    golden("deposed", &p);
}

#[test]
fn an_ignored_property_still_holding_what_an_interrupted_replacement_s_old_copy_gave_follows_the_new_one() {
    // app_env ignores version_label; a replaced version was created and recorded,
    // and the apply stopped before the environment moved to it. Elastic Beanstalk
    // refuses to delete a version an environment runs, so the environment moves.
    let stack = dev_stack();
    let mut state = applied(&stack);
    let old = state.resources["app_version"].clone();
    let key = state.depose("app_version", &old.id).unwrap();
    let mut new = old.clone();
    let old_label = old.outputs["label"].as_str().unwrap().to_string();
    let new_label = format!("{old_label}-6f9619ff");
    new.id = format!("dev-app/{new_label}");
    new.outputs.insert("label".into(), Value::from(new_label.as_str()));
    state.resources.insert("app_version".into(), new);
    let mut seen = observe(&state);
    let p = plan(&stack, &state, &seen).unwrap();
    assert_eq!(changed(&p), ["~ app_env".to_string(), format!("- {key}")], "{}", infra::render::plan_text(&p));
    let env = p.steps.iter().find(|s| s.name == "app_env").unwrap();
    let moved = env.changes.iter().find(|c| c.prop == "version_label").unwrap();
    assert_eq!(moved.after, Some(Value::from(new_label.as_str())), "{:?}", env.changes);
    let ops = infra::plan::operations(&p, &state);
    let delete = ops.iter().find(|o| o.resource == key).unwrap();
    let waits: Vec<String> = delete.after.iter().map(|&i| ops[i].to_string()).collect();
    assert_eq!(waits, ["update app_env"], "the environment leaves the old version before it goes");

    // The pipeline deployed a version of its own meanwhile: the old copy is not
    // in use, and the ignored property keeps what AWS has.
    let env = seen.get_mut("app_env").unwrap().as_mut().unwrap();
    env.props.insert("version_label".into(), Value::from("code-pipeline-1765000000000"));
    let p = plan(&stack, &state, &seen).unwrap();
    assert_eq!(changed(&p), [format!("- {key}")], "{}", infra::render::plan_text(&p));
}

#[test]
fn protection_wins_over_a_replace_request() {
    let message = refusal_text(&replacing("data"));
    assert!(
        message.starts_with("`data` (ec2.volume ec2-volume-data-0) is protected: --replace would replace it"),
        "{message}"
    );
}

#[test]
fn a_target_or_replacement_naming_no_resource_is_an_error_naming_it() {
    let stack = dev_stack();
    let state = applied(&stack);
    let seen = observe(&state);
    let target = Request { targets: vec!["hots".into()], ..Request::default() };
    let err = plan_with(&stack, &state, &seen, &target).unwrap_err().to_string();
    assert!(err.starts_with("`--target hots`: the stack `dev` has no resource `hots` (it has: app, app_env,"), "{err}");
    let replace = Request { replace: vec!["nope".into()], ..Request::default() };
    let err = plan_with(&stack, &state, &seen, &replace).unwrap_err().to_string();
    assert!(err.starts_with("`--replace nope`: the stack `dev` declares no resource `nope`"), "{err}");
    let fresh = Request { replace: vec!["data".into()], ..Request::default() };
    let err = plan_with(&stack, &unapplied(), &Refreshed::new(), &fresh).unwrap_err().to_string();
    assert!(err.contains("does not exist yet, so there is nothing to replace"), "{err}");
}

#[test]
fn a_refresh_only_plan_shows_what_refresh_would_accept_and_no_steps() {
    let stack = dev_stack();
    let state = applied(&stack);
    let mut seen = drifted(&state);
    let env = seen.get_mut("app_env").unwrap().as_mut().unwrap();
    env.outputs.insert("private_ip".into(), Value::from("172.31.99.99"));
    let p = refresh_only(&stack, &state, &seen).unwrap();
    assert!(p.refresh_only && p.steps.is_empty() && p.has_changes());
    assert_eq!(p.drift.len(), 2);
    assert_eq!(p.outputs_renewed, ["app_env"]);
    assert!(!refresh_only(&stack, &state, &observe(&state)).unwrap().has_changes());
    golden("refresh_only", &p);
}

/// The plan a pull request on the dev stack gets as its comment
/// (examples/ci/github-actions-plan-apply.yml): a bigger host and one more
/// rule, priced as `infra plan` prices it.
fn pull_request_plan() -> Plan {
    let mut stack = dev_stack();
    let state = applied(&stack);
    let env = stack.resources.get_mut("app_env").unwrap();
    env.props.insert("instance_type".into(), Value::from("t3.large"));
    let sg = stack.resources.get_mut("data_sg").unwrap();
    let Some(Value::List(rules)) = sg.props.get_mut("ingress") else { panic!("data_sg has ingress rules") };
    let mut rule = rules[2].clone();
    if let Value::Map(m) = &mut rule {
        m.insert("ports".into(), Value::from(9300));
        m.insert("description".into(), Value::from("elasticsearch transport"));
    }
    rules.push(rule);
    let mut p = plan(&stack, &state, &observe(&state)).unwrap();
    let table = infra::cost::PriceTable::shipped().unwrap();
    let region = infra::cost::region_of(&stack).unwrap();
    p.cost = Some(infra::plan::cost::delta(&p, &stack.cost.usage, &table, &region).unwrap());
    p
}

#[test]
fn a_pull_request_s_plan_comment_shows_what_changes_and_what_it_costs() {
    let p = pull_request_plan();
    let changed: Vec<(String, Action)> = actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect();
    assert_eq!(changed, vec![("data_sg".into(), Action::Update), ("app_env".into(), Action::Update)]);
    golden("pull_request", &p);
    let markdown = infra::render::plan_markdown(&p);
    assert!(markdown.contains("**Cost:** +$"), "{markdown}");

    // docs/state.md shows the comment as GitHub renders it: the same markdown.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/state.md")).unwrap();
    let start = "<!-- the comment: tests/golden/plan/pull_request.md -->\n";
    let shown = readme.split(start).nth(1).and_then(|rest| rest.split("<!-- end of the comment -->").next());
    assert_eq!(shown, Some(markdown.as_str()), "docs/state.md's plan comment is not tests/golden/plan/pull_request.md");

    // As GitHub renders it (cmark-gfm, GitHub's renderer): a heading and a table
    // per resource, the cost in bold, no table cell broken by a `|` in a value.
    common::ensure_venv();
    let render = "import cmarkgfm, sys; print(cmarkgfm.github_flavored_markdown_to_html(sys.stdin.read()))";
    let mut python = std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
        .args(["-c", render])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), markdown.as_bytes()).unwrap();
    let html = String::from_utf8(python.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(html.matches("<table>").count(), 2, "{html}");
    assert_eq!(html.matches("<h3>").count(), 2, "{html}");
    assert!(html.contains("<strong>Cost:</strong> +$30.37/month"), "{html}");
    for row in html.split("<tr>").skip(1) {
        assert_eq!(row.matches("<td>").count() + row.matches("<th>").count(), 4, "a row of four cells: {row}");
    }
}
