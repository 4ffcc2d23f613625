//! The schema of `ec2.instance`: an EC2 instance ([`crate::provider::instance`] talks to AWS).
//! Its metadata service answers IMDSv2 only by default (`http_tokens`), with a
//! hop limit of 2: a container on the host is one hop further than the host,
//! and with the EC2 default of 1 its token requests never come back (EC2 User
//! Guide, "Instance metadata access considerations").

use crate::model::schema::{BASE, Default, Field, Replacement, Schema, Ty};

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
        Field::new("security_group_ids", Ty::Set(&Ty::Str), "security groups").keeps_in_use(),
        Field::new("key_name", Ty::Str, "an EC2 key pair for SSH").force_new(),
        Field::new("user_data", Ty::Str, "a script run at first boot").force_new(),
        Field::new(
            "http_tokens",
            Ty::Enum(&["required", "optional"]),
            "instance metadata: `required` answers IMDSv2 (session tokens) only; `optional` also IMDSv1",
        )
        .default(Default::Str("required")),
        Field::new(
            "http_put_response_hop_limit",
            Ty::Int { min: 1, max: 64 },
            "how many network hops an IMDSv2 token travels: 2 lets containers on the host (one hop more) reach it",
        )
        .default(Default::Int(2)),
        Field::new("root_volume_size", Ty::Int { min: 8, max: 16384 }, "the root volume's size in GiB").force_new(),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "private_ip", "public_ip", "private_dns", "availability_zone", "subnet_id", "vpc_id"],
    taggable: true,
    replacement: Replacement::CreateFirst { unique_name: None },
    replacement_why: "instances have no unique name",
    id_form: "the instance id, `i-...`",
    ..BASE
};
