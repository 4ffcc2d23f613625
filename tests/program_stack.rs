//! The dev stack declared by the typed program `examples/dev.rs` plans, with
//! no AWS at all, exactly like `stacks/dev.toml`.

#[path = "../examples/dev.rs"]
#[allow(dead_code)]
mod dev;

use std::path::Path;

use infra::plan::{Refreshed, plan};
use infra::program::Ctx;
use infra::state::State;

#[test]
fn the_dev_stack_declared_by_the_typed_program_plans_exactly_like_stacks_dev_toml() {
    let sources =
        infra::config::Sources::fixed(".", &[("ELASTIC_PASSWORD", "unused-here"), ("REDIS_PASSWORD", "unused-here")]);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/dev.toml");
    let (from_file, extras) = infra::config::load_file_extras(&path, &sources).unwrap();
    let mut ctx = Ctx::new("dev", extras.config.clone(), &path);
    dev::declare(&mut ctx).unwrap();
    let from_code = infra::program::complete(ctx.into_stack(), from_file.clone(), &extras).unwrap();
    assert_eq!(from_code.resources.keys().collect::<Vec<_>>(), from_file.resources.keys().collect::<Vec<_>>());
    // Bound as the engine binds them before planning.
    let aws = infra::model::AwsContext { account_id: "123456789012".into(), region: "us-east-1".into() };
    let (from_file, from_code) = (from_file.bind_aws(&aws), from_code.bind_aws(&aws));
    let a = plan(&from_file, &State::default(), &Refreshed::new()).unwrap();
    let b = plan(&from_code, &State::default(), &Refreshed::new()).unwrap();
    assert_eq!(a.steps.len(), 17);
    // The instances' role refers to the volume and the parameters: known only once they exist.
    let role = b.steps.iter().find(|s| s.name == "app_instance_role").unwrap();
    assert_eq!(role.depends_on, ["data", "elastic_password", "redis_password"]);
    // The same steps and changes. (What the two would send AWS differs only in
    // the JSON text of policies, which the file writes by hand and the program
    // serialises; once resolved, they are compared by meaning.)
    let steps = |p: &infra::plan::Plan| -> Vec<_> {
        p.steps.iter().map(|s| (s.name.clone(), s.action, s.changes.clone(), s.depends_on.clone())).collect()
    };
    assert!(steps(&a) == steps(&b), "the program's steps differ from the file's");
    assert_eq!(infra::render::plan_text(&a), infra::render::plan_text(&b));
}
