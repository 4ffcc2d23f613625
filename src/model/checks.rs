//! The names of the policy checks (`crate::check` runs them): data, so that
//! a declaration's `allow` names can be validated with the rest of the model.

/// A policy check.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub summary: &'static str,
}

pub const CHECKS: &[Check] = &[
    Check { name: "public_data_port", summary: "a data store's port open to the internet" },
    Check { name: "unencrypted_volume", summary: "an EBS volume not encrypted at rest" },
    Check { name: "closed_service_port", summary: "a port the deployed bundle serves that no security group opens" },
    Check { name: "unserved_open_port", summary: "a port a security group opens that nothing in the bundle serves" },
    Check {
        name: "immutable_update_with_data_volume",
        summary: "an immutable update of an environment whose instance attaches the one data volume",
    },
];
