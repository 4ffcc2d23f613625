//! `ec2.volume_attachment`: an EBS volume attached to an instance at a device name.
//!
//! An attachment has no id of its own in AWS; ours is `<volume>:<instance>:<device>`,
//! and it is read back through DescribeVolumes. Any change replaces it (detach,
//! then attach).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ec2::types::{Volume, VolumeAttachmentState};

use super::ec2::{FILTER_CHUNK, filter};
use super::shared::ok_if_gone;
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, Tagged, aws_error, volume};
pub use crate::model::kinds::volume_attachment::SCHEMA;
use crate::model::{Kind, Props, Value};

/// The error codes that mean there is nothing left to detach.
const GONE: &[&str] =
    &["IncorrectState", "InvalidVolume.NotFound", "InvalidInstanceID.NotFound", "InvalidAttachment.NotFound"];

/// The parts of an attachment id.
#[derive(Debug, PartialEq)]
struct AttachmentId {
    volume_id: String,
    instance_id: String,
    device_name: String,
}

impl AttachmentId {
    fn parse(id: &str) -> Result<AttachmentId, ProviderError> {
        match id.splitn(3, ':').collect::<Vec<_>>()[..] {
            [v, i, d] if !v.is_empty() && !i.is_empty() && !d.is_empty() => {
                Ok(AttachmentId { volume_id: v.into(), instance_id: i.into(), device_name: d.into() })
            }
            _ => Err(ProviderError::Invalid(format!(
                "invalid volume attachment id {id:?}: expected <volume_id>:<instance_id>:<device_name>"
            ))),
        }
    }

    fn of(props: &Props) -> Result<AttachmentId, ProviderError> {
        let get = |k: &str| {
            props
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ProviderError::Invalid(format!("a volume attachment needs `{k}`")))
        };
        Ok(AttachmentId {
            volume_id: get("volume_id")?,
            instance_id: get("instance_id")?,
            device_name: get("device_name")?,
        })
    }

    fn id(&self) -> String {
        format!("{}:{}:{}", self.volume_id, self.instance_id, self.device_name)
    }

    /// This attachment's state on `volume`, when the volume shows it.
    fn state_on(&self, volume: &Volume) -> Option<VolumeAttachmentState> {
        volume
            .attachments()
            .iter()
            .find(|a| a.instance_id() == Some(&self.instance_id) && a.device() == Some(&self.device_name))
            .and_then(|a| a.state().cloned())
    }

    fn observed(&self) -> Observed {
        let id = self.id();
        let props = Props::from([
            ("instance_id".to_string(), Value::from(self.instance_id.as_str())),
            ("volume_id".to_string(), Value::from(self.volume_id.as_str())),
            ("device_name".to_string(), Value::from(self.device_name.as_str())),
        ]);
        Observed { outputs: Props::from([("id".to_string(), Value::from(id.as_str()))]), id, props }
    }
}

/// Volume attachments, through the EC2 API.
pub struct VolumeAttachments {
    ec2: aws_sdk_ec2::Client,
}

impl VolumeAttachments {
    pub fn new(ec2: aws_sdk_ec2::Client) -> Self {
        VolumeAttachments { ec2 }
    }

    /// The attachment's state; `None` when the volume does not show it.
    async fn state(&self, a: &AttachmentId) -> Result<Option<VolumeAttachmentState>, ProviderError> {
        let volumes =
            volume::describe(&self.ec2, vec![filter("volume-id", std::slice::from_ref(&a.volume_id))]).await?;
        Ok(volumes.iter().find_map(|v| a.state_on(v)))
    }
}

#[async_trait]
impl Provider for VolumeAttachments {
    fn kind(&self) -> Kind {
        Kind::VolumeAttachment
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let wanted = ids.iter().map(|id| AttachmentId::parse(id)).collect::<Result<Vec<_>, _>>()?;
        let volume_ids: Vec<String> =
            wanted.iter().map(|a| a.volume_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let mut volumes: BTreeMap<String, Volume> = BTreeMap::new();
        for chunk in volume_ids.chunks(FILTER_CHUNK) {
            for v in volume::describe(&self.ec2, vec![filter("volume-id", chunk)]).await? {
                volumes.insert(v.volume_id().unwrap_or_default().to_string(), v);
            }
        }
        Ok(wanted
            .iter()
            .filter(|a| {
                let state = volumes.get(&a.volume_id).and_then(|v| a.state_on(v));
                matches!(state, Some(VolumeAttachmentState::Attaching | VolumeAttachmentState::Attached))
            })
            .map(|a| (a.id(), a.observed()))
            .collect())
    }

    async fn find_tagged(&self, _stack: &str) -> Result<Tagged, ProviderError> {
        Ok(Tagged::new())
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let a = AttachmentId::of(props)?;
        let attached = self
            .ec2
            .attach_volume()
            .volume_id(&a.volume_id)
            .instance_id(&a.instance_id)
            .device(&a.device_name)
            .send()
            .await
            .map_err(|e| aws_error("AttachVolume", e));
        // An attachment has no tags to be found by: one an interrupted run
        // made is recognised by EC2's refusal (the volume is in use), and
        // adopted when it is this attachment.
        if let Err(e) = attached
            && (e.code() != Some("VolumeInUse") || self.state(&a).await?.is_none())
        {
            return Err(e);
        }
        wait::until(ctx, &format!("volume {} to be attached", a.volume_id), Backoff::default(), || async {
            Ok((self.state(&a).await? == Some(VolumeAttachmentState::Attached)).then_some(()))
        })
        .await?;
        // The wait has just seen it attached: it is what was asked.
        Ok(a.observed())
    }

    async fn update(&self, _ctx: &Ctx, id: &str, _b: &Props, _a: &Props) -> Result<Observed, ProviderError> {
        Err(ProviderError::Invalid(format!("volume attachment {id} cannot change in place; it is replaced")))
    }

    async fn delete(&self, ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        let a = AttachmentId::parse(id)?;
        let result = self
            .ec2
            .detach_volume()
            .volume_id(&a.volume_id)
            .instance_id(&a.instance_id)
            .device(&a.device_name)
            .send()
            .await;
        ok_if_gone(result.map(|_| ()).map_err(|e| aws_error("DetachVolume", e)), GONE)?;
        wait::until(ctx, &format!("volume {} to be detached", a.volume_id), Backoff::default(), || async {
            Ok(matches!(self.state(&a).await?, None | Some(VolumeAttachmentState::Detached)).then_some(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attachment_id_names_volume_instance_and_device() {
        let a = AttachmentId::parse("vol-1:i-2:/dev/sdf").unwrap();
        assert_eq!(
            a,
            AttachmentId { volume_id: "vol-1".into(), instance_id: "i-2".into(), device_name: "/dev/sdf".into() }
        );
        assert_eq!(a.id(), "vol-1:i-2:/dev/sdf");
        assert!(AttachmentId::parse("vol-1:i-2").is_err());
    }
}
