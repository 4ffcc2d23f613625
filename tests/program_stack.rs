//! A stack declared in Rust plans exactly like the same stack in a stack file.

#[path = "../examples/dev_host.rs"]
#[allow(dead_code)]
mod dev_host;

use std::path::Path;

use infra::plan::{Refreshed, plan};
use infra::state::State;

#[test]
fn the_dev_hosts_data_services_declared_in_code_plan_exactly_like_stacks_dev_toml() {
    let sources = infra::config::Sources::fixed(".", &[("ELASTIC_PASSWORD", "unused-here")]);
    let mut from_file =
        infra::config::load_file_with(&Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/dev.toml"), &sources)
            .unwrap();
    // The dev stack file also declares the environment the host is and the
    // delivery pipeline; the program declares the host's data services: its
    // group, its data volume, and the role that may attach the volume.
    let data = ["data_sg", "data", "app_instance_role"];
    from_file.resources.retain(|name, _| data.contains(&name.as_str()));
    from_file.outputs.retain(|name, _| ["security_group_id", "volume_id"].contains(&name.as_str()));
    let from_code = dev_host::dev_host();
    from_code.validate().unwrap();
    let a = plan(&from_file, &State::default(), &Refreshed::new()).unwrap();
    let b = plan(&from_code, &State::default(), &Refreshed::new()).unwrap();
    assert_eq!(a.steps.len(), 3);
    // The role's policy refers to the volume: known only once the volume exists.
    let role = a.steps.iter().find(|s| s.name == "app_instance_role").unwrap();
    assert_eq!(role.depends_on, ["data"]);
    assert_eq!(a, b);
    assert_eq!(infra::render::plan_text(&a), infra::render::plan_text(&b));
}
