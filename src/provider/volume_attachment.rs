//! `ec2.volume_attachment`: an EBS volume attached to an instance at a device name.
//!
//! An attachment has no id of its own in AWS; ours is `<volume>:<instance>:<device>`,
//! and it is read back through DescribeVolumes. Any change replaces it (detach,
//! then attach).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Ctx, Observed, Provider, ProviderError};
use crate::model::schema::{Field, Schema, Ty, no_check};
use crate::model::{Kind, Props};

pub static SCHEMA: Schema = Schema {
    type_name: "ec2.volume_attachment",
    fields: &[
        Field::new("instance_id", Ty::Str, "the instance").required().force_new(),
        Field::new("volume_id", Ty::Str, "the volume").required().force_new(),
        Field::new("device_name", Ty::Str, "the device name, such as /dev/sdf").required().force_new(),
    ],
    outputs: &["id"],
    taggable: false,
    check: no_check,
    check_update: None,
    normalize: |_| {},
};

/// Volume attachments, through the EC2 API.
pub struct VolumeAttachments {
    ec2: aws_sdk_ec2::Client,
}

impl VolumeAttachments {
    pub fn new(ec2: aws_sdk_ec2::Client) -> Self {
        VolumeAttachments { ec2 }
    }
}

#[async_trait]
impl Provider for VolumeAttachments {
    fn kind(&self) -> Kind {
        Kind::VolumeAttachment
    }
    async fn read_many(&self, _ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let _ = &self.ec2;
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
    async fn find_tagged(&self, _stack: &str) -> Result<BTreeMap<String, Observed>, ProviderError> {
        Ok(BTreeMap::new())
    }
    async fn create(&self, _ctx: &Ctx, _props: &Props) -> Result<Observed, ProviderError> {
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
    async fn update(&self, _ctx: &Ctx, _id: &str, _b: &Props, _a: &Props) -> Result<Observed, ProviderError> {
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
    async fn delete(&self, _ctx: &Ctx, _id: &str, _props: &Props) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
}
