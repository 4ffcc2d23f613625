//! The schema of `ec2.volume`: an EBS volume ([`crate::provider::volume`] talks to AWS).

use crate::model::schema::{BASE, Default, Field, Replacement, Schema, Ty};
use crate::model::{Props, Value};

const VOLUME_TYPES: &[&str] = &["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"];

pub static SCHEMA: Schema = Schema {
    type_name: "ec2.volume",
    fields: &[
        Field::new("availability_zone", Ty::Str, "the availability zone; the instance's, to attach it")
            .required()
            .force_new(),
        Field::new("size", Ty::Int { min: 1, max: 65536 }, "size in GiB; can grow in place, never shrink").required(),
        Field::new("volume_type", Ty::Enum(VOLUME_TYPES), "the volume type").default(Default::Str("gp3")),
        Field::new("iops", Ty::Int { min: 100, max: 256000 }, "provisioned IOPS (gp3, io1, io2)"),
        Field::new("throughput", Ty::Int { min: 125, max: 2000 }, "throughput in MiB/s (gp3)"),
        Field::new("encrypted", Ty::Bool, "encrypt at rest").default(Default::Bool(true)).force_new(),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "availability_zone"],
    taggable: true,
    check_update: Some(refuse_shrink),
    holds_data: true,
    replacement: Replacement::CreateFirst { unique_name: None },
    replacement_why: "volumes have no unique name",
    id_form: "the volume id, `vol-...`",
    ..BASE
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
