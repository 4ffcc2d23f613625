//! `ec2.instance`: one EC2 instance.
//!
//! The AMI is an explicit id or, by default, resolved at creation from an SSM
//! public parameter (Amazon Linux 2023, x86_64); a new AMI published behind the
//! parameter does not replace a running host. A changed instance type is applied
//! in place (stop, modify, start); a changed AMI, user data or placement replaces.
//!
//! The metadata service's options (`http_tokens`, `http_put_response_hop_limit`)
//! go with RunInstances (`MetadataOptions`), change in place with
//! ModifyInstanceMetadataOptions (both given, so neither falls back to its
//! default), and are read from DescribeInstances' `MetadataOptions`.
//!
//! A batched read cannot report `user_data`, `root_volume_size` or
//! `ami_parameter`; for those the planner trusts the recorded state. The root
//! volume carries the instance's tags except `infra:name`, so that it is never
//! taken for a declared `ec2.volume` of that name.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeValue, BlockDeviceMapping, EbsBlockDevice, Filter, HttpTokensState, Instance,
    InstanceMetadataOptionsRequest, InstanceStateName, InstanceType, Placement, ResourceType,
};

use super::ec2::{
    Filtered, arn, filter, name_tag, read_by_ids, read_by_stack_tag, read_tagged, region, tag_specification,
    tags_value, update_tags,
};
use super::shared::{ok_if_gone, put};
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, RecordedOutputs, Tagged, aws_error, tags_of};
use crate::model::kinds::instance::AL2023_PARAMETER;
pub use crate::model::kinds::instance::SCHEMA;
use crate::model::{Kind, Props, TAG_NAME, Value};

/// The error codes that mean the instance is already gone.
const GONE: &[&str] = &["InvalidInstanceID.NotFound"];

/// The root device name when the AMI does not say.
const DEFAULT_ROOT_DEVICE: &str = "/dev/xvda";

/// The metadata options of normalised properties (the schema's defaults filled in).
fn metadata_options(props: &Props) -> InstanceMetadataOptionsRequest {
    let limit = props.get("http_put_response_hop_limit").and_then(Value::as_int).and_then(|l| i32::try_from(l).ok());
    InstanceMetadataOptionsRequest::builder()
        .set_http_tokens(str_prop(props, "http_tokens").map(|t| HttpTokensState::from(t.as_str())))
        .set_http_put_response_hop_limit(limit)
        .build()
}

/// Terminated and terminating instances count as gone.
fn is_gone(state: &InstanceStateName) -> bool {
    matches!(state, InstanceStateName::ShuttingDown | InstanceStateName::Terminated)
}

fn str_prop(props: &Props, key: &str) -> Option<String> {
    props.get(key).and_then(Value::as_str).map(str::to_string)
}

fn str_list(props: &Props, key: &str) -> Option<Vec<String>> {
    let list = props.get(key)?.as_list()?;
    Some(list.iter().filter_map(Value::as_str).map(str::to_string).collect())
}

/// The root device name DescribeImages reports for `ami` (owned arguments,
/// so that a lookup can run on its own task).
async fn describe_root_device(ec2: aws_sdk_ec2::Client, ami: String) -> Result<String, ProviderError> {
    let out = ec2.describe_images().image_ids(&ami).send().await.map_err(|e| aws_error("DescribeImages", e))?;
    Ok(out.images().first().and_then(|i| i.root_device_name()).unwrap_or(DEFAULT_ROOT_DEVICE).to_string())
}

/// Instances, through the EC2 and SSM APIs.
pub struct Instances {
    ec2: aws_sdk_ec2::Client,
    ssm: aws_sdk_ssm::Client,
    /// The AMI each SSM parameter named, asked once per run.
    amis: tokio::sync::Mutex<BTreeMap<String, String>>,
    /// Each AMI's root device name, asked once per run: a cell per AMI, which
    /// a create waits on while a lookup started beforehand is in flight.
    root_devices: std::sync::Mutex<BTreeMap<String, RootDevice>>,
}

type RootDevice = Arc<tokio::sync::OnceCell<String>>;

impl Instances {
    pub fn new(ec2: aws_sdk_ec2::Client, ssm: aws_sdk_ssm::Client) -> Self {
        Instances {
            ec2,
            ssm,
            amis: tokio::sync::Mutex::new(BTreeMap::new()),
            root_devices: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Every instance matching `filters`, all pages, with its owner's account id.
    async fn describe(&self, filters: Vec<Filter>) -> Result<Vec<(String, Instance)>, ProviderError> {
        let mut pages = self.ec2.describe_instances().set_filters(Some(filters)).into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("DescribeInstances", e))? {
            for r in page.reservations.unwrap_or_default() {
                let owner = r.owner_id().unwrap_or_default().to_string();
                found.extend(r.instances.unwrap_or_default().into_iter().map(|i| (owner.clone(), i)));
            }
        }
        Ok(found)
    }

    fn observe(&self, owner: &str, i: &Instance) -> Observed {
        let id = i.instance_id().unwrap_or_default().to_string();
        let az = i.placement().and_then(|p| p.availability_zone());
        let mut props = Props::new();
        put(&mut props, "ami", i.image_id());
        put(&mut props, "instance_type", i.instance_type().map(|t| t.as_str()));
        put(&mut props, "subnet_id", i.subnet_id());
        put(&mut props, "availability_zone", az);
        let groups: Vec<&str> = i.security_groups().iter().filter_map(|g| g.group_id()).collect();
        props.insert("security_group_ids".into(), Value::from(groups));
        put(&mut props, "key_name", i.key_name());
        if let Some(m) = i.metadata_options() {
            put(&mut props, "http_tokens", m.http_tokens().map(|t| t.as_str()));
            if let Some(limit) = m.http_put_response_hop_limit() {
                props.insert("http_put_response_hop_limit".into(), Value::Int(i64::from(limit)));
            }
        }
        props.insert("tags".into(), tags_value(i.tags()));
        let mut outputs = Props::new();
        outputs.insert("id".into(), Value::from(id.as_str()));
        outputs.insert("arn".into(), Value::from(arn(&region(&self.ec2), owner, &format!("instance/{id}"))));
        put(&mut outputs, "private_ip", i.private_ip_address());
        put(&mut outputs, "public_ip", i.public_ip_address().filter(|ip| !ip.is_empty()));
        put(&mut outputs, "private_dns", i.private_dns_name());
        put(&mut outputs, "availability_zone", az);
        put(&mut outputs, "subnet_id", i.subnet_id());
        put(&mut outputs, "vpc_id", i.vpc_id());
        Observed { id, props, outputs }
    }

    async fn read_one(&self, id: &str) -> Result<Observed, ProviderError> {
        self.read_many(&[id.to_string()])
            .await?
            .remove(id)
            .ok_or_else(|| ProviderError::Invalid(format!("instance {id} no longer exists")))
    }

    /// The instance's state; `None` when AWS does not (or not yet) list it.
    async fn state(&self, id: &str) -> Result<Option<InstanceStateName>, ProviderError> {
        let found = self.describe(vec![filter("instance-id", &[id.to_string()])]).await?;
        Ok(found.into_iter().find_map(|(_, i)| i.state()?.name().cloned()))
    }

    /// Waits until the instance is in state `want`, and returns it (its owner
    /// and description) as the poll that found it read it; `None` for an
    /// instance that is gone, which counts as terminated. One that terminates
    /// while we wait for another state is an error.
    async fn wait_for(
        &self,
        ctx: &Ctx,
        id: &str,
        want: InstanceStateName,
    ) -> Result<Option<(String, Instance)>, ProviderError> {
        let terminating = want == InstanceStateName::Terminated;
        wait::until(ctx, &format!("instance {id} to be {want}"), Backoff::default(), || async {
            let found = self.describe(vec![filter("instance-id", &[id.to_string()])]).await?;
            let found = found.into_iter().find(|(_, i)| i.state().and_then(|s| s.name()).is_some());
            match found.as_ref().and_then(|(_, i)| i.state()?.name().cloned()) {
                Some(s) if s == want => Ok(Some(found)),
                None if terminating => Ok(Some(None)),
                Some(s) if is_gone(&s) && !terminating => {
                    Err(ProviderError::Invalid(format!("instance {id} is {s} while waiting for it to be {want}")))
                }
                _ => Ok(None),
            }
        })
        .await
    }

    /// The declared AMI, or the one the SSM parameter names.
    async fn ami(&self, props: &Props) -> Result<String, ProviderError> {
        if let Some(ami) = str_prop(props, "ami") {
            return Ok(ami);
        }
        let parameter = str_prop(props, "ami_parameter").unwrap_or_else(|| AL2023_PARAMETER.to_string());
        let mut amis = self.amis.lock().await;
        if let Some(ami) = amis.get(&parameter) {
            return Ok(ami.clone());
        }
        let out = self.ssm.get_parameter().name(&parameter).send().await.map_err(|e| aws_error("GetParameter", e))?;
        let ami = out
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Invalid(format!("the SSM parameter {parameter} has no value")))?;
        amis.insert(parameter, ami.clone());
        Ok(ami)
    }

    /// The AMI's root device name, to size the root volume.
    async fn root_device(&self, ami: &str) -> Result<String, ProviderError> {
        let cell = self.root_device_cell(ami);
        cell.get_or_try_init(|| describe_root_device(self.ec2.clone(), ami.to_string())).await.cloned()
    }

    /// The cell holding `ami`'s root device name, made empty on first use.
    fn root_device_cell(&self, ami: &str) -> RootDevice {
        let mut cells = self.root_devices.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cells.entry(ami.to_string()).or_default().clone()
    }

    /// Stops the instance (unless it is stopped), changes its type, and starts it
    /// again (unless it was stopped).
    async fn change_type(&self, ctx: &Ctx, id: &str, instance_type: &str) -> Result<(), ProviderError> {
        let was_stopped = self.state(id).await? == Some(InstanceStateName::Stopped);
        if !was_stopped {
            ctx.status("stopping to change the instance type");
            self.ec2.stop_instances().instance_ids(id).send().await.map_err(|e| aws_error("StopInstances", e))?;
            self.wait_for(ctx, id, InstanceStateName::Stopped).await?;
        }
        ctx.status(&format!("changing the instance type to {instance_type}"));
        self.ec2
            .modify_instance_attribute()
            .instance_id(id)
            .instance_type(AttributeValue::builder().value(instance_type).build())
            .send()
            .await
            .map_err(|e| aws_error("ModifyInstanceAttribute", e))?;
        if !was_stopped {
            ctx.status("starting");
            self.ec2.start_instances().instance_ids(id).send().await.map_err(|e| aws_error("StartInstances", e))?;
            self.wait_for(ctx, id, InstanceStateName::Running).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Filtered for Instances {
    const ID_FILTER: &'static str = "instance-id";

    async fn describe_live(&self, filters: Vec<Filter>) -> Result<Vec<(Option<String>, Observed)>, ProviderError> {
        let found = self.describe(filters).await?;
        Ok(found
            .iter()
            .filter(|(_, i)| !i.state().and_then(|s| s.name()).is_some_and(is_gone))
            .map(|(owner, i)| (name_tag(i.tags()), self.observe(owner, i)))
            .collect())
    }
}

#[async_trait]
impl Provider for Instances {
    fn kind(&self) -> Kind {
        Kind::Instance
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        read_by_ids(self, ids).await
    }

    async fn read_recorded(
        &self,
        stack: &str,
        ids: &[String],
        _outputs: &RecordedOutputs,
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        read_by_stack_tag(self, stack, ids).await
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        read_tagged(self, stack).await
    }

    /// The AMIs the SSM parameters of instances without a declared AMI name
    /// and, on a task of its own that refresh does not wait for, the root
    /// device of each AMI whose root volume is sized: a create that needs it
    /// waits for that lookup instead of making its own. A failure here is
    /// left for the create to meet and report.
    async fn prepare_creates(&self, declared: &[&Props]) {
        for props in declared {
            let Ok(ami) = self.ami(props).await else { continue };
            if props.contains_key("root_volume_size") {
                let cell = self.root_device_cell(&ami);
                let ec2 = self.ec2.clone();
                tokio::spawn(async move {
                    let _ = cell.get_or_try_init(|| describe_root_device(ec2, ami)).await;
                });
            }
        }
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let ami = self.ami(&props).await?;
        let instance_type = str_prop(&props, "instance_type")
            .ok_or_else(|| ProviderError::Invalid("an instance needs `instance_type`".into()))?;
        let subnet_id = str_prop(&props, "subnet_id");
        let placement = match (&subnet_id, str_prop(&props, "availability_zone")) {
            (None, Some(az)) => Some(Placement::builder().availability_zone(az).build()),
            _ => None,
        };
        let root_volume = match props.get("root_volume_size").and_then(Value::as_int) {
            Some(size) => Some(
                BlockDeviceMapping::builder()
                    .device_name(self.root_device(&ami).await?)
                    // Said explicitly rather than inherited from the AMI's mapping (which
                    // may say false): the root volume goes with the host, so a destroyed
                    // host leaves no orphan volume behind. The data lives on its own volume.
                    .ebs(EbsBlockDevice::builder().volume_size(size as i32).delete_on_termination(true).build())
                    .build(),
            ),
            None => None,
        };
        let tags = tags_of(&props);
        let root_tags: Vec<(String, String)> = tags.iter().filter(|(k, _)| k != TAG_NAME).cloned().collect();
        let tag_specs: Vec<_> =
            [tag_specification(ResourceType::Instance, &tags), tag_specification(ResourceType::Volume, &root_tags)]
                .into_iter()
                .flatten()
                .collect();
        let out = self
            .ec2
            .run_instances()
            .image_id(&ami)
            .instance_type(InstanceType::from(instance_type.as_str()))
            .min_count(1)
            .max_count(1)
            .set_subnet_id(subnet_id)
            .set_placement(placement)
            .set_security_group_ids(str_list(&props, "security_group_ids"))
            .set_key_name(str_prop(&props, "key_name"))
            .set_user_data(str_prop(&props, "user_data").map(aws_smithy_types::base64::encode))
            .set_block_device_mappings(root_volume.map(|m| vec![m]))
            .metadata_options(metadata_options(&props))
            .set_tag_specifications(Some(tag_specs).filter(|s| !s.is_empty()))
            .client_token(&ctx.client_token)
            .send()
            .await
            .map_err(|e| aws_error("RunInstances", e))?;
        let id = out
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .ok_or_else(|| ProviderError::Invalid("RunInstances returned no instance".into()))?
            .to_string();
        ctx.status(&format!("launched {id}"));
        // The poll that finds it running has read the whole instance.
        match self.wait_for(ctx, &id, InstanceStateName::Running).await? {
            Some((owner, instance)) => Ok(self.observe(&owner, &instance)),
            None => Err(ProviderError::Invalid(format!("instance {id} vanished after it was launched"))),
        }
    }

    async fn update(&self, ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        update_tags(&self.ec2, id, &before, &after).await?;
        let groups = str_list(&after, "security_group_ids");
        if groups.is_some() && groups != str_list(&before, "security_group_ids") {
            ctx.status("changing security groups");
            self.ec2
                .modify_instance_attribute()
                .instance_id(id)
                .set_groups(groups)
                .send()
                .await
                .map_err(|e| aws_error("ModifyInstanceAttribute", e))?;
        }
        let metadata = ["http_tokens", "http_put_response_hop_limit"];
        if metadata.iter().any(|k| before.get(*k) != after.get(*k)) {
            ctx.status("changing the instance metadata options");
            let options = metadata_options(&after);
            self.ec2
                .modify_instance_metadata_options()
                .instance_id(id)
                .set_http_tokens(options.http_tokens().cloned())
                .set_http_put_response_hop_limit(options.http_put_response_hop_limit())
                .send()
                .await
                .map_err(|e| aws_error("ModifyInstanceMetadataOptions", e))?;
        }
        let instance_type = str_prop(&after, "instance_type");
        if let Some(t) = instance_type.filter(|t| Some(t) != str_prop(&before, "instance_type").as_ref()) {
            self.change_type(ctx, id, &t).await?;
        }
        self.read_one(id).await
    }

    async fn delete(&self, ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        let result = self.ec2.terminate_instances().instance_ids(id).send().await;
        ok_if_gone(result.map(|_| ()).map_err(|e| aws_error("TerminateInstances", e)), GONE)?;
        self.wait_for(ctx, id, InstanceStateName::Terminated).await.map(|_| ())
    }
}
