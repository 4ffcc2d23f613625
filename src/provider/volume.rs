//! `ec2.volume`: an EBS volume.
//!
//! Growing, and changing type, IOPS or throughput, are in-place modifications;
//! shrinking is refused when the plan is made, since EBS cannot shrink a volume.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Ctx, Observed, Provider, ProviderError};
use crate::model::schema::{Default, Field, Schema, Ty, no_check};
use crate::model::{Kind, Props, Value};

const VOLUME_TYPES: &[&str] = &["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"];

pub static SCHEMA: Schema = Schema {
    type_name: "ec2.volume",
    fields: &[
        Field::new("availability_zone", Ty::Str, "the availability zone; the instance's, to attach it").required().force_new(),
        Field::new("size", Ty::Int { min: 1, max: 65536 }, "size in GiB; can grow in place, never shrink").required(),
        Field::new("volume_type", Ty::Enum(VOLUME_TYPES), "the volume type").default(Default::Str("gp3")),
        Field::new("iops", Ty::Int { min: 100, max: 256000 }, "provisioned IOPS (gp3, io1, io2)"),
        Field::new("throughput", Ty::Int { min: 125, max: 2000 }, "throughput in MiB/s (gp3)"),
        Field::new("encrypted", Ty::Bool, "encrypt at rest").default(Default::Bool(true)).force_new(),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "availability_zone"],
    taggable: true,
    check: no_check,
    check_update: Some(refuse_shrink),
    normalize: |_| {},
};

/// EBS volumes can grow but never shrink.
fn refuse_shrink(before: &Props, after: &Props) -> Result<(), String> {
    match (before.get("size").and_then(Value::as_int), after.get("size").and_then(Value::as_int)) {
        (Some(b), Some(a)) if a < b => Err(format!(
            "size cannot shrink from {b} GiB to {a} GiB: EBS volumes only grow; replace the volume by hand if you must"
        )),
        _ => Ok(()),
    }
}

/// EBS volumes, through the EC2 API.
pub struct Volumes {
    ec2: aws_sdk_ec2::Client,
}

impl Volumes {
    pub fn new(ec2: aws_sdk_ec2::Client) -> Self {
        Volumes { ec2 }
    }
}

#[async_trait]
impl Provider for Volumes {
    fn kind(&self) -> Kind {
        Kind::Volume
    }
    async fn read_many(&self, _ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let _ = &self.ec2;
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
    async fn find_tagged(&self, _stack: &str) -> Result<BTreeMap<String, Observed>, ProviderError> {
        Err(ProviderError::Invalid("not yet implemented".into()))
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
