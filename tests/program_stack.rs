//! A stack declared in Rust plans exactly like the same stack in a stack file.

#[path = "../examples/dev_host.rs"]
#[allow(dead_code)]
mod dev_host;

use std::path::Path;

use infra::plan::{Refreshed, plan};
use infra::state::State;

#[test]
fn the_dev_host_declared_in_code_plans_exactly_like_stacks_dev_toml() {
    let sources = infra::config::Sources::fixed(".", &[("ELASTIC_PASSWORD", "unused-here")]);
    let mut from_file =
        infra::config::load_file_with(&Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/dev.toml"), &sources)
            .unwrap();
    // The dev stack file also declares the delivery pipeline; the program declares the host.
    let host = ["data_sg", "host", "data", "data_attachment"];
    from_file.resources.retain(|name, _| host.contains(&name.as_str()));
    from_file
        .outputs
        .retain(|name, _| ["instance_id", "private_ip", "security_group_id", "volume_id"].contains(&name.as_str()));
    let from_code = dev_host::dev_host();
    from_code.validate().unwrap();
    let a = plan(&from_file, &State::default(), &Refreshed::new()).unwrap();
    let b = plan(&from_code, &State::default(), &Refreshed::new()).unwrap();
    assert_eq!(a.steps.len(), 4);
    assert_eq!(a, b);
    assert_eq!(infra::render::plan_text(&a), infra::render::plan_text(&b));
}
