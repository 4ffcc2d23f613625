//! The schema of `elasticbeanstalk.environment`: an Elastic Beanstalk environment, its
//! option settings and the properties that stand for some of them
//! ([`crate::provider::eb_environment`] talks to AWS).

use std::collections::BTreeSet;

use crate::model::schema::{BASE, Default, Field, Replacement, Schema, Ty};
use crate::model::{Path, Props, ValidationError, Value};

pub const LAUNCH: &str = "aws:autoscaling:launchconfiguration";

pub const ENVIRONMENT: &str = "aws:elasticbeanstalk:environment";

pub const ASG: &str = "aws:autoscaling:asg";

pub const VPC: &str = "aws:ec2:vpc";

const SETTING_FIELDS: &[Field] = &[
    Field::new("namespace", Ty::Str, "the option's namespace: aws:elasticbeanstalk:application:environment, ...")
        .required(),
    Field::new("name", Ty::Str, "the option's name").required(),
    Field::new("value", Ty::Str, "the option's value").required(),
];

const SETTING: Ty = Ty::Object(SETTING_FIELDS);

pub static SCHEMA: Schema = Schema {
    type_name: "elasticbeanstalk.environment",
    fields: &[
        Field::new(
            "name",
            Ty::Str,
            "the environment name (4-40 letters, digits, hyphens); defaults to <stack>-<resource>",
        )
        .force_new(),
        Field::new("application", Ty::Str, "the application's name").required().force_new().keeps_in_use(),
        Field::new("platform", Ty::Str, "what the solution stack runs: its name ends with `running <platform>`")
            .default(Default::Str("Docker"))
            .force_new(),
        Field::new("solution_stack_prefix", Ty::Str, "the start of the solution stack's name")
            .default(Default::Str("64bit Amazon Linux 2023"))
            .force_new(),
        Field::new("version_label", Ty::Str, "the application version to run, usually `${version.label}`"),
        Field::new("instance_type", Ty::Str, "the EC2 instance type").default(Default::Str("t3.medium")),
        Field::new("single_instance", Ty::Bool, "one instance without a load balancer").default(Default::Bool(true)),
        Field::new("instance_profile", Ty::Str, "the instance profile's name, for the instances' permissions")
            .keeps_in_use(),
        Field::new(
            "security_groups",
            Ty::Set(&Ty::Str),
            "the instances' security group ids, beside Elastic Beanstalk's own group unless the stack disables it",
        )
        .keeps_in_use(),
        Field::new(
            "availability_zone",
            Ty::Str,
            "the zone the instances run in (the default VPC's subnet there), such as their data volume's",
        ),
        Field::new("vpc_id", Ty::Str, "the VPC of `subnets`, for an environment outside the default VPC"),
        Field::new("subnets", Ty::Set(&Ty::Str), "the subnets the instances run in (with `vpc_id`)"),
        Field::new("option_settings", Ty::Set(&SETTING), "any other option settings"),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "name", "arn", "cname", "endpoint_url", "solution_stack", "instance_id", "private_ip"],
    taggable: true,
    check,
    trim_observed: Some(trim_observed),
    volatile_outputs: &["instance_id", "private_ip"],
    update_renews_outputs: replaces_instances,
    replacement: Replacement::DeleteFirst,
    replacement_why: "its instances take what is given to one instance at a time (a data volume they attach), so a second environment would wait on the first",
    id_form: "the environment id, `e-...`",
    ..BASE
};

/// The properties whose change makes Elastic Beanstalk replace the instances.
const LAUNCH_PROPERTIES: &[&str] = &[
    "instance_type",
    "instance_profile",
    "security_groups",
    "single_instance",
    "availability_zone",
    "vpc_id",
    "subnets",
];

/// Namespaces of option settings that configure the instances themselves
/// (their launch template, network and placement): a change replaces them.
const LAUNCH_NAMESPACES: &[&str] = &[LAUNCH, "aws:ec2:instances", VPC];

/// Whether going from `before` to `after` replaces the instances: a launch
/// property changed, or an option setting of a launch namespace (or the
/// group's zones) was added, removed or changed.
pub fn replaces_instances(before: &Props, after: &Props) -> bool {
    if LAUNCH_PROPERTIES.iter().any(|p| before.get(*p) != after.get(*p) && after.contains_key(*p)) {
        return true;
    }
    let launch_settings = |props: &Props| -> BTreeSet<Value> {
        let list = props.get("option_settings").and_then(Value::as_list).unwrap_or_default();
        list.iter()
            .filter(|s| match setting_key(s) {
                Some((ns, name)) => {
                    LAUNCH_NAMESPACES.contains(&ns) || (ns == ASG && name == "Custom Availability Zones")
                }
                // Not known until apply: it may be one.
                None => true,
            })
            .cloned()
            .collect()
    };
    after.contains_key("option_settings") && launch_settings(before) != launch_settings(after)
}

/// How a property of its own is written as an option setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// The string as it is.
    Str,
    /// `true` is `SingleInstance`, `false` is `LoadBalanced`.
    EnvironmentType,
    /// A set of strings, comma-separated.
    List,
}

/// The option settings that properties of their own stand for.
pub const CONVENIENCE: &[(&str, &str, &str, Codec)] = &[
    ("instance_type", LAUNCH, "InstanceType", Codec::Str),
    ("instance_profile", LAUNCH, "IamInstanceProfile", Codec::Str),
    ("security_groups", LAUNCH, "SecurityGroups", Codec::List),
    ("single_instance", ENVIRONMENT, "EnvironmentType", Codec::EnvironmentType),
    ("availability_zone", ASG, "Custom Availability Zones", Codec::Str),
    ("vpc_id", VPC, "VPCId", Codec::Str),
    ("subnets", VPC, "Subnets", Codec::List),
];

impl Codec {
    /// The setting's value for a (normalised) property value.
    pub fn encode(self, value: &Value) -> Option<String> {
        match self {
            Codec::Str => value.as_str().map(str::to_string),
            Codec::EnvironmentType => {
                value.as_bool().map(|single| if single { "SingleInstance" } else { "LoadBalanced" }.to_string())
            }
            Codec::List => {
                let items: Option<Vec<&str>> = value.as_list()?.iter().map(Value::as_str).collect();
                Some(items?.join(","))
            }
        }
    }

    /// The property's value for what AWS reports. Of `SecurityGroups`, Elastic
    /// Beanstalk's own group is left out.
    pub fn decode(self, value: &str) -> Value {
        match self {
            Codec::Str => Value::from(value),
            Codec::EnvironmentType => Value::Bool(value == "SingleInstance"),
            Codec::List => {
                let mut items: Vec<&str> =
                    value.split(',').map(str::trim).filter(|v| !v.is_empty() && !is_eb_group(v)).collect();
                items.sort_unstable();
                items.dedup();
                Value::List(items.into_iter().map(Value::from).collect())
            }
        }
    }
}

/// The security group Elastic Beanstalk makes for an environment, by its name
/// (`awseb-e-abc123-stack-AWSEBSecurityGroup-XYZ`).
pub fn is_eb_group(group: &str) -> bool {
    group.starts_with("awseb-")
}

pub fn check(props: &Props) -> Result<(), ValidationError> {
    if let Some(name) = props.get("name").and_then(Value::as_str)
        && !valid_name(name)
    {
        return Err(ValidationError::new(Path::root().key("name"), format!("invalid environment name {name:?}"))
            .hint("use 4 to 40 letters, digits and hyphens, not starting or ending with a hyphen"));
    }
    for key in props.get("tags").and_then(Value::as_map).into_iter().flat_map(|t| t.keys()) {
        if is_system_tag(key) {
            return Err(ValidationError::new(
                Path::root().key("tags").key(key),
                format!("tag `{key}` is Elastic Beanstalk's"),
            )
            .hint("Elastic Beanstalk sets Name and elasticbeanstalk:* tags itself"));
        }
    }
    if props.contains_key("availability_zone") && props.contains_key("subnets") {
        return Err(ValidationError::new(
            Path::root().key("availability_zone"),
            "set either `availability_zone` or `subnets`",
        )
        .hint("Elastic Beanstalk places instances in `subnets` when given, and ignores the zone"));
    }
    let mut seen = BTreeSet::new();
    for (i, setting) in props.get("option_settings").and_then(Value::as_list).unwrap_or_default().iter().enumerate() {
        let Some((namespace, name)) = setting_key(setting) else { continue };
        let at = Path::root().key("option_settings").index(i);
        if let Some((prop, ..)) = CONVENIENCE.iter().find(|(_, ns, n, _)| *ns == namespace && *n == name) {
            return Err(ValidationError::new(at, format!("{namespace} {name} is set by `{prop}`"))
                .hint(format!("set `{prop}` instead")));
        }
        if !seen.insert((namespace, name)) {
            return Err(ValidationError::new(at, format!("{namespace} {name} is set twice")));
        }
    }
    Ok(())
}

pub fn valid_name(name: &str) -> bool {
    (4..=40).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A declared setting's namespace and name (when they are plain strings).
pub fn setting_key(setting: &Value) -> Option<(&str, &str)> {
    let m = setting.as_map()?;
    Some((m.get("namespace")?.as_str()?, m.get("name")?.as_str()?))
}

/// Narrows what AWS reports to what the stack manages: of the option settings,
/// only those the stack declared; of the solution stack's name, the part the
/// declared `solution_stack_prefix` covers.
pub fn trim_observed(recorded: &Props, observed: &mut Props) {
    if let (Some(want), Some(Value::Str(seen))) =
        (recorded.get("solution_stack_prefix").and_then(Value::as_str), observed.get_mut("solution_stack_prefix"))
        && seen.strip_prefix(want).is_some_and(|rest| rest.starts_with(' '))
    {
        *seen = want.to_string();
    }
    let Some(declared) = recorded.get("option_settings").and_then(Value::as_list) else {
        observed.remove("option_settings");
        return;
    };
    let declared: BTreeSet<(&str, &str)> = declared.iter().filter_map(setting_key).collect();
    if let Some(Value::List(settings)) = observed.get_mut("option_settings") {
        settings.retain(|s| setting_key(s).is_some_and(|k| declared.contains(&k)));
    }
}

/// The tags Elastic Beanstalk puts on every environment (`Name`,
/// `elasticbeanstalk:environment-name`, `elasticbeanstalk:environment-id`),
/// which cannot be changed: not the stack's to manage.
pub fn is_system_tag(key: &str) -> bool {
    key == "Name" || key.starts_with("elasticbeanstalk:") || key.starts_with("aws:")
}
