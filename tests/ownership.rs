//! Ownership is the state's lineage, not the stack's name, on the emulator:
//! two projects that both call their stack `shared`, in one account, never
//! adopt, change or delete each other's resources; a resource of this state's
//! lineage that state lost track of is adopted, shown in every format and
//! asked about like any other change, even when state lost track of every
//! resource; a stack applied before lineage tags gets them as an ordinary
//! plan step.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Emulator, run_infra};
use infra::plan::{Refreshed, Request};
use serde_json::Value as J;

const STACK: &str = r#"
[stack]
region = "us-east-1"

[resources.sg]
type = "ec2.security_group"
description = "shared by name only"
ingress = [{ protocol = "tcp", ports = 6379, cidrs = ["10.0.0.0/16"] }]

[resources.data]
type = "ec2.volume"
availability_zone = "us-east-1a"
size = 10

[resources.role]
type = "iam.role"
assume_role_policy = { Version = "2012-10-17", Statement = [
  { Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" },
] }

[resources.artifacts]
type = "s3.bucket"
"#;

fn project() -> tempfile::TempDir {
    common::project_of("shared", STACK)
}

fn ok(what: &str, out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "{what} failed:\nstdout:\n{}\nstderr:\n{}", out.1, out.2);
    out.1
}

fn json(text: &str) -> J {
    serde_json::from_str(text).expect("--json prints JSON")
}

/// The state file as JSON: (resource name -> cloud id), and the lineage.
fn recorded(dir: &Path) -> (Vec<(String, String)>, String) {
    let state = common::store(dir, "shared").load().unwrap();
    let ids = state.resources.iter().map(|(name, r)| (name.clone(), r.id.clone())).collect();
    (ids, state.lineage.expect("an applied state has a lineage"))
}

fn step<'a>(plan: &'a J, name: &str) -> &'a J {
    plan["steps"].as_array().unwrap().iter().find(|s| s["resource"] == name).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_projects_with_the_same_stack_name_in_one_account_never_adopt_or_delete_each_others_resources() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let (first, second) = (project(), project());

    ok("the first project's apply", run_infra(&emu, first.path(), &["apply", "--yes"]));
    let (first_ids, first_lineage) = recorded(first.path());
    assert_eq!(first_ids.len(), 4);

    // The second project's plan finds the first's resources by their stack and
    // name tags, adopts none of them, and says why.
    let plan = json(&ok("the second project's plan", run_infra(&emu, second.path(), &["plan", "--json"])));
    let foreign = plan["foreign"].as_array().expect("the plan lists what another state's tags claim");
    let mut claimed: Vec<(String, String)> =
        foreign.iter().map(|f| (f["resource"].as_str().unwrap().into(), f["id"].as_str().unwrap().into())).collect();
    claimed.sort();
    assert_eq!(claimed, first_ids, "every resource of the first project is reported, and only those");
    assert!(foreign.iter().all(|f| f["lineage"] == first_lineage.as_str()));
    for name in ["sg", "data", "role", "artifacts"] {
        let s = step(&plan, name);
        assert_eq!(s["action"], "create", "{name} is created anew: {s}");
        assert!(s.get("adopted").is_none(), "{name} is not adopted: {s}");
    }
    assert_eq!(step(&plan, "role")["name_taken"], true, "the role's generated name is taken");
    let text = ok("the second project's text plan", run_infra(&emu, second.path(), &["plan"]));
    assert!(
        text.contains(&format!("is tagged for this stack as `role` by another state, lineage {first_lineage}")),
        "{text}"
    );
    let markdown = ok("the markdown plan", run_infra(&emu, second.path(), &["plan", "--format", "markdown"]));
    assert!(markdown.contains("### Not this state's, and left alone"), "{markdown}");

    // Its apply makes its own, under names of their own where names are unique.
    ok("the second project's apply", run_infra(&emu, second.path(), &["apply", "--yes"]));
    let (second_ids, second_lineage) = recorded(second.path());
    assert_ne!(second_lineage, first_lineage);
    for ((name, a), (_, b)) in first_ids.iter().zip(&second_ids) {
        assert_ne!(a, b, "{name}: each project has its own");
    }
    let roles = iam.list_roles().send().await.unwrap();
    let role_names: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(role_names.iter().filter(|n| n.starts_with("shared-role")).count(), 2, "{role_names:?}");

    // Each sees the other's as foreign and not as drift; each plan is empty.
    for dir in [first.path(), second.path()] {
        ok("an empty plan", run_infra(&emu, dir, &["plan", "--detailed-exitcode"]));
        let drift = json(&ok("a clean drift check", run_infra(&emu, dir, &["drift", "--format", "json"])));
        assert_eq!(drift["drifted"], false, "{drift}");
        assert_eq!(drift["foreign"].as_array().unwrap().len(), 4, "{drift}");
    }

    // The second destroys its own; the first's are all still there, unchanged.
    ok("the second project's destroy", run_infra(&emu, second.path(), &["destroy", "--yes"]));
    let first_role = &first_ids.iter().find(|(n, _)| n == "role").unwrap().1;
    iam.get_role().role_name(first_role).send().await.expect("the first project's role is still there");
    let first_volume = &first_ids.iter().find(|(n, _)| n == "data").unwrap().1;
    let volumes = ec2.describe_volumes().volume_ids(first_volume).send().await.unwrap();
    assert_eq!(volumes.volumes().len(), 1, "the first project's volume is still there");
    ok(
        "the first project's plan after the second's destroy",
        run_infra(&emu, first.path(), &["plan", "--detailed-exitcode"]),
    );
    ok("the first project's destroy", run_infra(&emu, first.path(), &["destroy", "--yes"]));
    assert!(iam.get_role().role_name(first_role).send().await.is_err(), "each destroyed its own");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_state_lost_track_of_is_adopted_only_with_this_states_lineage_and_shown_in_every_format() {
    let emu = Emulator::start();
    let project = project();
    let dir = project.path();
    ok("apply", run_infra(&emu, dir, &["apply", "--yes"]));
    let (ids, _) = recorded(dir);
    let role = ids.iter().find(|(n, _)| n == "role").unwrap().1.clone();
    ok("state rm", run_infra(&emu, dir, &["state", "rm", "role"]));

    // Every format shows the adoption; the summary counts it as a change.
    let plan = json(&ok("plan --json", run_infra(&emu, dir, &["plan", "--json"])));
    assert_eq!(step(&plan, "role")["adopted"]["id"], role.as_str(), "{plan}");
    assert_eq!(plan["summary"]["adopt"], 1);
    assert_eq!(plan["has_changes"], true);
    let text = ok("plan", run_infra(&emu, dir, &["plan"]));
    assert!(text.contains("[adopt: found in AWS by its tags"), "{text}");
    assert!(text.contains("1 to adopt"), "{text}");
    let markdown = ok("plan --format markdown", run_infra(&emu, dir, &["plan", "--format", "markdown"]));
    assert!(markdown.contains(&format!("**Adopted:** `{role}`")), "{markdown}");
    let (code, _, _) = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "an adoption is a change");

    // Apply asks, like any other change: refused without an answer, nothing recorded.
    let state_before = std::fs::read(dir.join("state/shared.json")).unwrap();
    let (code, _, stderr) = run_infra(&emu, dir, &["apply"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert_eq!(std::fs::read(dir.join("state/shared.json")).unwrap(), state_before, "nothing was recorded");
    ok("apply --yes", run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(recorded(dir).0, ids, "the role is recorded again under its id");
    ok("an empty plan", run_infra(&emu, dir, &["plan", "--detailed-exitcode"]));

    // A lost state is a new lineage: nothing is adopted, all is reported.
    std::fs::remove_file(dir.join("state/shared.json")).unwrap();
    let plan = json(&ok("plan over a lost state", run_infra(&emu, dir, &["plan", "--json"])));
    assert_eq!(plan["summary"]["create"], 4, "{plan}");
    assert!(plan["steps"].as_array().unwrap().iter().all(|s| s.get("adopted").is_none()));
    assert_eq!(plan["foreign"].as_array().unwrap().len(), 4);
    let text = ok("plan over a lost state", run_infra(&emu, dir, &["plan"]));
    assert!(text.contains(&format!("use `infra import role {role}` if it is yours")), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_applied_before_lineage_tags_gets_them_as_a_plan_step_and_then_plans_empty() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let project = project();
    let dir = project.path();
    ok("apply", run_infra(&emu, dir, &["apply", "--yes"]));

    // As an earlier `infra` left it: no lineage tag in AWS nor in state.
    let store = common::store(dir, "shared");
    let mut state = store.load().unwrap();
    let role = state.resources["role"].id.clone();
    iam.untag_role().role_name(&role).tag_keys("infra:lineage").send().await.unwrap();
    let rec = state.resources.get_mut("role").unwrap();
    let infra::model::Value::Map(tags) = rec.props.get_mut("tags").unwrap() else { panic!("tags are a map") };
    tags.remove("infra:lineage");
    store.save(&mut state).unwrap();

    let plan = json(&ok("plan", run_infra(&emu, dir, &["plan", "--json"])));
    assert_eq!(common::changed_steps(&serde_json::to_string(&plan).unwrap()), [("role".into(), "update".into())]);
    let change = &step(&plan, "role")["changes"][0];
    assert_eq!(change["property"], "tags", "{change}");
    ok("apply", run_infra(&emu, dir, &["apply", "--yes"]));
    let tags = iam.list_role_tags().role_name(&role).send().await.unwrap();
    let lineage = recorded(dir).1;
    assert!(tags.tags().iter().any(|t| t.key() == "infra:lineage" && t.value() == lineage), "{tags:?}");
    ok("an empty plan", run_infra(&emu, dir, &["plan", "--detailed-exitcode"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_that_lost_track_of_every_resource_adopts_them_all_instead_of_planning_them_anew() {
    let emu = Emulator::start();
    let project = project();
    let dir = project.path();
    ok("apply", run_infra(&emu, dir, &["apply", "--yes"]));
    let (ids, lineage) = recorded(dir);
    ok("state rm", run_infra(&emu, dir, &["state", "rm", "sg", "data", "role", "artifacts"]));
    let state = common::store(dir, "shared").load().unwrap();
    assert!(state.resources.is_empty() && state.pending.is_empty(), "state records nothing, as before a first plan");
    assert_eq!(state.lineage.as_deref(), Some(lineage.as_str()), "but keeps its lineage");

    // The plan made for a state that records nothing gives way to what the
    // tag search found: four adoptions, no create.
    for args in [&["plan", "--json"][..], &["plan", "--json", "--no-cost"][..]] {
        let plan = json(&ok("plan --json", run_infra(&emu, dir, args)));
        assert_eq!(plan["summary"]["adopt"], 4, "{plan}");
        assert_eq!(plan["summary"]["create"], 0, "{plan}");
        for (name, id) in &ids {
            assert_eq!(step(&plan, name)["adopted"]["id"], id.as_str(), "{name}: {plan}");
        }
    }
    let text = ok("plan", run_infra(&emu, dir, &["plan"]));
    assert!(text.contains("4 to adopt"), "{text}");
    ok("apply --yes", run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(recorded(dir).0, ids, "each resource is recorded again under its own id");
    ok("an empty plan", run_infra(&emu, dir, &["plan", "--detailed-exitcode"]));
}

/// Plans `stack` as `infra plan` does, with a `show` that counts the plans it
/// is run on: once when the plan made beside refresh stands, twice when it is
/// made again after refresh.
async fn plan_counting(
    engine: &infra::engine::Engine,
    stack: &Arc<infra::model::Stack>,
    request: &Request,
) -> (infra::engine::Planned, usize) {
    let shows = Arc::new(AtomicUsize::new(0));
    let counter = shows.clone();
    let show: infra::engine::Show<()> = Arc::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let (planned, ()) = engine.plan_shown(stack.clone(), request, show).await.unwrap();
    (planned, shows.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_plan_made_beside_refresh_stands_when_refresh_finds_nothing_and_is_made_again_when_it_finds_a_name_taken()
 {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let (first, other) = (project(), project());
    let stack = Arc::new(infra::config::load_file(&first.path().join("stacks/shared.toml")).unwrap());
    let engine = infra::engine::Engine::new(&config, &first.path().join("state"), "shared");

    // Nothing in AWS yet: the plan made beside refresh stands, and it is the
    // planner's plan for the state as recorded.
    let targeted = Request { targets: vec!["sg".into()], ..Request::default() };
    for request in [Request::default(), targeted] {
        let (planned, shows) = plan_counting(&engine, &stack, &request).await;
        assert_eq!(shows, 1, "one plan, made beside refresh");
        let recorded = infra::plan::plan_with(&stack, &planned.state, &Refreshed::new(), &request).unwrap();
        assert_eq!(planned.plan, recorded);
        assert!(planned.plan.foreign.is_empty());
    }

    // Another project of the same name applies: refresh finds its resources,
    // so the plan is made again, with the names they hold.
    ok("the other project's apply", run_infra(&emu, other.path(), &["apply", "--yes"]));
    let (planned, shows) = plan_counting(&engine, &stack, &Request::default()).await;
    assert_eq!(shows, 2, "the plan made beside refresh gives way to one made after it");
    assert_eq!(planned.plan.foreign.len(), 4, "{:?}", planned.plan.foreign);
    assert!(planned.plan.steps.iter().any(|s| s.name == "role" && s.name_taken), "the role's name is taken");
}
