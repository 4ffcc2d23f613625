//! Golden tests of the planner and its renderers: no AWS, no emulator.
//!
//! Each scenario starts from the dev stack (or, for what only an `ec2.instance`
//! has, the fixture tests/fixtures/stacks/host.toml), "applies" plans in memory
//! (fake ids and outputs), changes the stack, state or observation, and compares
//! the rendered plan with `tests/golden/plan/<name>.txt` (and `.json`).
//! `UPDATE_GOLDEN=1 cargo test --test plan_golden` rewrites the files.

use std::path::Path;

use infra::model::{Kind, Observed, Props, Stack, Value, map};
use infra::plan::{Action, Plan, Refreshed, plan};
use infra::state::{Recorded, State};

/// The dev stack's `ELASTIC_PASSWORD` in these tests.
const PASSWORD: &str = "golden-elastic-password";

fn dev_stack() -> Stack {
    dev_stack_with(PASSWORD)
}

fn dev_stack_with(password: &str) -> Stack {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/dev.toml");
    let sources = infra::config::Sources::fixed(".", &[("ELASTIC_PASSWORD", password)]);
    infra::config::load_file_with(&path, &sources).expect("the dev stack loads")
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
            Action::NoOp => {}
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

fn applied(stack: &Stack) -> State {
    let mut state = State::default();
    let p = plan(stack, &state, &Refreshed::new()).unwrap();
    fake_apply(&p, &mut state);
    state
}

fn golden(name: &str, plan: &Plan) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/plan");
    let text = anstream::adapter::strip_str(&infra::render::plan_text(plan)).to_string();
    let json = serde_json::to_string_pretty(&infra::render::plan_json(plan)).unwrap() + "\n";
    assert!(!text.contains(PASSWORD) && !json.contains(PASSWORD), "{name}: the plan shows the secret");
    for (ext, actual) in [("txt", text), ("json", json)] {
        let path = dir.join(format!("{name}.{ext}"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
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

#[test]
fn a_new_stack_plans_every_resource_as_a_create_with_unknowns_from_dependencies() {
    let p = plan(&dev_stack(), &State::default(), &Refreshed::new()).unwrap();
    assert_eq!(p.summary().create, 12);
    assert!(p.steps.iter().all(|s| s.kind != Kind::Instance && s.kind != Kind::VolumeAttachment));
    // The environment's instance goes beside the data volume, whose zone is an
    // output known once the volume exists.
    let env = p.steps.iter().find(|s| s.name == "app_env").unwrap();
    let zone = env.changes.iter().find(|c| c.prop == "availability_zone").unwrap();
    assert_eq!(zone.after, Some(Value::Unknown));
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
    let mut stack = dev_stack();
    let state = applied(&stack);
    let data = stack.resources.get_mut("data").unwrap();
    data.props.insert("availability_zone".into(), Value::from("us-east-1b"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let changed: Vec<(String, Action)> = actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect();
    // What refers to the volume (its zone, id or ARN) is known only after the
    // new volume exists: the instance role's policy and the environment, which
    // moves its instance beside the new volume without being replaced.
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
    // The environment (the host), and the pipeline that deploys to it.
    stack.resources.remove("app_env");
    stack.resources.remove("pipeline");
    stack.outputs.retain(|_, v| v.refs().iter().all(|r| r.resource != "app_env" && r.resource != "pipeline"));
    let p = plan(&stack, &state, &observe(&state)).unwrap();
    let deletes: Vec<&str> = p.steps.iter().filter(|s| s.action == Action::Delete).map(|s| s.name.as_str()).collect();
    assert_eq!(deletes, vec!["pipeline", "app_env"]);
    golden("delete", &p);
}

#[test]
fn destroying_the_dev_stack_deletes_the_environment_before_the_data_volume_and_says_the_data_goes() {
    let stack = dev_stack();
    let state = applied(&stack);
    // What `infra destroy` plans: the stack with nothing declared.
    let nothing = Stack { resources: Default::default(), outputs: Default::default(), ..stack.clone() };
    let p = plan(&nothing, &state, &observe(&state)).unwrap();
    let order: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
    let position = |name: &str| order.iter().position(|n| *n == name).unwrap();
    assert!(position("app_env") < position("data"), "the instance lets go of the volume first: {order:?}");
    let losing: Vec<&str> = p.steps.iter().filter(|s| s.deletes_data()).map(|s| s.name.as_str()).collect();
    assert_eq!(losing, ["data"]);
    golden("destroy", &p);
}

#[test]
fn changes_made_behind_the_tools_back_show_as_drift_and_are_planned_back() {
    let stack = dev_stack();
    let state = applied(&stack);
    let mut seen = observe(&state);
    let env = seen.get_mut("app_env").unwrap().as_mut().unwrap();
    env.props.insert("instance_type".into(), Value::from("t3.xlarge"));
    seen.insert("pipeline".into(), None);
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
    let report = infra::engine::DriftReport { stack: p.stack.clone(), drift: p.drift.clone(), unmanaged: vec![] };
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
    assert_eq!(changed, vec![("app_env".into(), Action::Update)]);
    let text = anstream::adapter::strip_str(&infra::render::plan_text(&p)).to_string();
    assert!(
        text.contains(r#"~ { name = "ELASTIC_PASSWORD", namespace = "aws:elasticbeanstalk:application:environment", value = [secret] -> [secret] }"#),
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
    let env = seen.get_mut("app_env").unwrap().as_mut().unwrap();
    let Some(Value::List(settings)) = env.props.get_mut("option_settings") else { panic!("option settings") };
    for s in settings.iter_mut() {
        let Value::Map(m) = s else { continue };
        if m["name"] == Value::from("ELASTIC_PASSWORD") {
            assert_eq!(m["value"], Value::from(PASSWORD), "AWS reports it in plain text");
            m.insert("value".into(), Value::from("set-in-the-console"));
        }
    }
    let p = plan(&stack, &state, &seen).unwrap();
    assert_eq!(p.drift.len(), 1, "{}", infra::render::plan_text(&p));
    assert_eq!(
        actions(&p).into_iter().filter(|(_, a)| *a != Action::NoOp).collect::<Vec<_>>(),
        vec![("app_env".into(), Action::Update)]
    );
    let all = every_rendering(&p);
    assert!(!all.contains("set-in-the-console") && !all.contains(PASSWORD), "{all}");
    assert!(all.contains("value = [secret] -> [secret] }  (changed outside infra)"), "{all}");
    golden("secret_drift", &p);
}
