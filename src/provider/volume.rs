//! `ec2.volume`: an EBS volume.
//!
//! Growing, and changing type, IOPS or throughput, are in-place modifications;
//! shrinking is refused when the plan is made, since EBS cannot shrink a volume.
//!
//! A volume may be attached by something other than the stack (the dev stack's
//! Elastic Beanstalk instance attaches its data volume itself): delete waits
//! until it is detached when the instance holding it is being terminated, and
//! fails at once, naming the instance, when it is running (a replacement of the
//! data volume while its environment runs: the data must be moved by hand).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, InstanceStateName, ResourceType, Volume, VolumeState, VolumeType};

use super::ec2::{
    Filtered, arn, filter, name_tag, read_by_ids, read_by_stack_tag, read_tagged, region, tag_specification,
    tags_value, update_tags,
};
use super::shared::{ok_if_gone, put};
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, RecordedOutputs, Tagged, aws_error, tags_of};
pub use crate::model::kinds::volume::SCHEMA;
use crate::model::{Kind, Props, Value};

/// The error codes that mean the volume is already gone.
const GONE: &[&str] = &["InvalidVolume.NotFound"];

/// The properties ModifyVolume changes in place.
const MODIFIABLE: &[&str] = &["size", "volume_type", "iops", "throughput"];

/// A volume being deleted or deleted counts as gone.
fn is_gone(v: &Volume) -> bool {
    matches!(v.state(), Some(VolumeState::Deleting | VolumeState::Deleted))
}

fn int_prop(props: &Props, key: &str) -> Option<i32> {
    props.get(key).and_then(Value::as_int).map(|i| i as i32)
}

/// Every volume matching `filters`, all pages (shared with volume attachments).
pub(super) async fn describe(ec2: &aws_sdk_ec2::Client, filters: Vec<Filter>) -> Result<Vec<Volume>, ProviderError> {
    let mut pages = ec2.describe_volumes().set_filters(Some(filters)).into_paginator().send();
    let mut volumes = Vec::new();
    while let Some(page) = pages.try_next().await.map_err(|e| aws_error("DescribeVolumes", e))? {
        volumes.extend(page.volumes.unwrap_or_default());
    }
    Ok(volumes)
}

/// EBS volumes, through the EC2 API.
pub struct Volumes {
    ec2: aws_sdk_ec2::Client,
}

impl Volumes {
    pub fn new(ec2: aws_sdk_ec2::Client) -> Self {
        Volumes { ec2 }
    }

    fn observe(&self, v: &Volume) -> Observed {
        let id = v.volume_id().unwrap_or_default().to_string();
        let mut props = Props::new();
        put(&mut props, "availability_zone", v.availability_zone());
        put(&mut props, "size", v.size().map(i64::from));
        put(&mut props, "volume_type", v.volume_type().map(|t| t.as_str()));
        put(&mut props, "iops", v.iops().map(i64::from));
        put(&mut props, "throughput", v.throughput().map(i64::from));
        put(&mut props, "encrypted", v.encrypted());
        props.insert("tags".into(), tags_value(v.tags()));
        let mut outputs = Props::from([("id".to_string(), Value::from(id.as_str()))]);
        let arn = match (v.volume_arn(), v.owner_id()) {
            (Some(a), _) => Some(a.to_string()),
            (None, Some(owner)) => Some(arn(&region(&self.ec2), owner, &format!("volume/{id}"))),
            (None, None) => None,
        };
        put(&mut outputs, "arn", arn);
        put(&mut outputs, "availability_zone", v.availability_zone());
        Observed { id, props, outputs }
    }

    async fn read_one(&self, id: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(self.read_many(&[id.to_string()]).await?.remove(id))
    }

    /// An instance the volume is attached to that is not going away (running,
    /// pending, stopping or stopped).
    async fn running_holder(&self, id: &str) -> Result<Option<String>, ProviderError> {
        let volumes = describe(&self.ec2, vec![filter("volume-id", &[id.to_string()])]).await?;
        let holders: Vec<String> =
            volumes.iter().flat_map(|v| v.attachments()).filter_map(|a| a.instance_id().map(str::to_string)).collect();
        if holders.is_empty() {
            return Ok(None);
        }
        let out = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(holders))
            .send()
            .await
            .map_err(|e| aws_error("DescribeInstances", e))?;
        let going = |i: &&aws_sdk_ec2::types::Instance| {
            matches!(
                i.state().and_then(|s| s.name()),
                Some(InstanceStateName::ShuttingDown | InstanceStateName::Terminated)
            )
        };
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| !going(i))
            .and_then(|i| i.instance_id().map(str::to_string)))
    }

    /// The volume and its state; `None` when AWS does not (or not yet) list it.
    async fn read_with_state(&self, id: &str) -> Result<Option<(Option<VolumeState>, Observed)>, ProviderError> {
        let found = describe(&self.ec2, vec![filter("volume-id", &[id.to_string()])]).await?;
        Ok(found.first().map(|v| (v.state().cloned(), self.observe(v))))
    }

    /// The volume's state; `None` when AWS does not (or not yet) list it.
    async fn state(&self, id: &str) -> Result<Option<VolumeState>, ProviderError> {
        let found = describe(&self.ec2, vec![filter("volume-id", &[id.to_string()])]).await?;
        Ok(found.into_iter().find_map(|v| v.state().cloned()))
    }
}

#[async_trait]
impl Filtered for Volumes {
    const ID_FILTER: &'static str = "volume-id";

    async fn describe_live(&self, filters: Vec<Filter>) -> Result<Vec<(Option<String>, Observed)>, ProviderError> {
        let volumes = describe(&self.ec2, filters).await?;
        Ok(volumes.iter().filter(|v| !is_gone(v)).map(|v| (name_tag(v.tags()), self.observe(v))).collect())
    }
}

#[async_trait]
impl Provider for Volumes {
    fn kind(&self) -> Kind {
        Kind::Volume
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

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let out = self
            .ec2
            .create_volume()
            .set_availability_zone(props.get("availability_zone").and_then(Value::as_str).map(str::to_string))
            .set_size(int_prop(&props, "size"))
            .set_volume_type(props.get("volume_type").and_then(Value::as_str).map(VolumeType::from))
            .set_iops(int_prop(&props, "iops"))
            .set_throughput(int_prop(&props, "throughput"))
            .set_encrypted(props.get("encrypted").and_then(Value::as_bool))
            .set_tag_specifications(tag_specification(ResourceType::Volume, &tags_of(&props)).map(|t| vec![t]))
            .client_token(&ctx.client_token)
            .send()
            .await
            .map_err(|e| aws_error("CreateVolume", e))?;
        let id = out.volume_id().unwrap_or_default().to_string();
        let vanished = || ProviderError::Invalid(format!("volume {id} vanished after it was created"));
        // A volume AWS already reports available needs no wait: one read
        // gives its outputs. Otherwise each poll reads the whole volume, and
        // the last one is the result.
        if out.state() == Some(&VolumeState::Available) {
            return self.read_one(&id).await?.ok_or_else(vanished);
        }
        wait::until(ctx, &format!("volume {id} to be available"), Backoff::default(), || async {
            // (One AWS does not list yet is not ready yet.)
            let Some((state, observed)) = self.read_with_state(&id).await? else { return Ok(None) };
            match state {
                Some(VolumeState::Available) => Ok(Some(observed)),
                Some(VolumeState::Error) => Err(ProviderError::Invalid(format!("volume {id} failed to create"))),
                _ => Ok(None),
            }
        })
        .await
    }

    async fn update(&self, ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        update_tags(&self.ec2, id, &before, &after).await?;
        let changed: Vec<&str> =
            MODIFIABLE.iter().copied().filter(|k| after.get(*k).is_some_and(|v| before.get(*k) != Some(v))).collect();
        if changed.is_empty() {
            return self
                .read_one(id)
                .await?
                .ok_or_else(|| ProviderError::Invalid(format!("volume {id} no longer exists")));
        }
        let new_int = |k: &str| int_prop(&after, k).filter(|_| changed.contains(&k));
        let new_type = after.get("volume_type").and_then(Value::as_str).filter(|_| changed.contains(&"volume_type"));
        ctx.status(&format!("modifying {}", changed.join(", ")));
        self.ec2
            .modify_volume()
            .volume_id(id)
            .set_size(new_int("size"))
            .set_volume_type(new_type.map(VolumeType::from))
            .set_iops(new_int("iops"))
            .set_throughput(new_int("throughput"))
            .send()
            .await
            .map_err(|e| aws_error("ModifyVolume", e))?;
        // DescribeVolumes shows the new values once the modification is under way.
        wait::until(
            ctx,
            &format!("volume {id} to report its new {}", changed.join(", ")),
            Backoff::default(),
            || async {
                let Some(o) = self.read_one(id).await? else {
                    return Err(ProviderError::Invalid(format!("volume {id} no longer exists")));
                };
                Ok(changed.iter().all(|k| o.props.get(*k) == after.get(*k)).then_some(o))
            },
        )
        .await
    }

    async fn delete(&self, ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        let delete = || async {
            let result = self.ec2.delete_volume().volume_id(id).send().await;
            ok_if_gone(result.map(|_| ()).map_err(|e| aws_error("DeleteVolume", e)), GONE)
        };
        match delete().await {
            // Still attached: to an instance being terminated (an Elastic Beanstalk
            // environment's, whose hook attached it), which lets go of it first;
            // never to a running one, which would hold it forever.
            Err(e) if e.code() == Some("VolumeInUse") => {
                if let Some(holder) = self.running_holder(id).await? {
                    return Err(ProviderError::Invalid(format!(
                        "volume {id} is attached to instance {holder}, which is running: it cannot be deleted \
                         until that instance lets go of it (terminate the instance or the environment that \
                         runs it first, or detach the volume)"
                    )));
                }
                wait::until(ctx, &format!("volume {id} to be detached"), Backoff::default(), || async {
                    Ok((!matches!(self.state(id).await?, Some(VolumeState::InUse))).then_some(()))
                })
                .await?;
                delete().await?;
            }
            other => other?,
        }
        // Accepted: the volume is `deleting`, which AWS finishes on its own and
        // which reads take as gone (`is_gone`), so nothing waits on it.
        Ok(())
    }
}
