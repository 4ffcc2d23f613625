//! `ec2.instance`: one EC2 instance.
//!
//! The AMI is an explicit id or, by default, resolved at creation from an SSM
//! public parameter (Amazon Linux 2023, x86_64); a new AMI published behind the
//! parameter does not replace a running host. A changed instance type is applied
//! in place (stop, modify, start); a changed AMI, user data or placement replaces.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Ctx, Observed, Provider, ProviderError};
use crate::model::schema::{Default, Field, Schema, Ty, no_check};
use crate::model::{Kind, Props};

pub const AL2023_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

pub static SCHEMA: Schema = Schema {
    type_name: "ec2.instance",
    fields: &[
        Field::new("ami", Ty::Str, "an AMI id; when omitted, resolved from `ami_parameter`").force_new(),
        Field::new("ami_parameter", Ty::Str, "the SSM parameter naming the AMI")
            .default(Default::Str(AL2023_PARAMETER))
            .force_new(),
        Field::new("instance_type", Ty::Str, "such as t3.medium").required(),
        Field::new("subnet_id", Ty::Str, "the subnet; defaults to one of the default VPC's").force_new(),
        Field::new("availability_zone", Ty::Str, "the availability zone, when no subnet is given").force_new(),
        Field::new("security_group_ids", Ty::Set(&Ty::Str), "security groups"),
        Field::new("key_name", Ty::Str, "an EC2 key pair for SSH").force_new(),
        Field::new("user_data", Ty::Str, "a script run at first boot").force_new(),
        Field::new("root_volume_size", Ty::Int { min: 8, max: 16384 }, "the root volume's size in GiB").force_new(),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "private_ip", "public_ip", "private_dns", "availability_zone", "subnet_id", "vpc_id"],
    taggable: true,
    check: no_check,
    check_update: None,
    normalize: |_| {},
};

/// Instances, through the EC2 and SSM APIs.
pub struct Instances {
    ec2: aws_sdk_ec2::Client,
    ssm: aws_sdk_ssm::Client,
}

impl Instances {
    pub fn new(ec2: aws_sdk_ec2::Client, ssm: aws_sdk_ssm::Client) -> Self {
        Instances { ec2, ssm }
    }
}

#[async_trait]
impl Provider for Instances {
    fn kind(&self) -> Kind {
        Kind::Instance
    }
    async fn read_many(&self, _ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let _ = (&self.ec2, &self.ssm);
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
