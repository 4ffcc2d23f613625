//! The schema of `ec2.volume_attachment`: an EBS volume's attachment to an instance ([`crate::provider::volume_attachment`] talks to AWS).

use crate::model::schema::{BASE, Field, Replacement, Schema, Ty};

pub static SCHEMA: Schema = Schema {
    type_name: "ec2.volume_attachment",
    fields: &[
        Field::new("instance_id", Ty::Str, "the instance").required().force_new().keeps_in_use(),
        Field::new("volume_id", Ty::Str, "the volume").required().force_new().keeps_in_use(),
        Field::new("device_name", Ty::Str, "the device name, such as /dev/sdf").required().force_new(),
    ],
    replacement: Replacement::DeleteFirst,
    replacement_why: "a volume attaches to one instance at a time",
    id_form: "`<volume id>:<instance id>:<device name>`, such as `vol-0abc:i-0def:/dev/sdf`",
    ..BASE
};
