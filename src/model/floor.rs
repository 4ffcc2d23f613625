//! The floor of a run: for each kind, the AWS calls one create or one delete
//! cannot do without, in the order AWS forces on them, each a round trip.
//! A call that needs what another returned comes after it (rules need the
//! group's id); a state AWS reaches on its own (a volume `creating`, an
//! environment `Launching`) costs at least one poll after the call that
//! started it. Calls AWS lets run at once (a bucket's settings) count once.
//! `render::timeline::floor` adds these up along a run's dependency chains:
//! what no implementation could do in fewer round trips.

use super::kind::Kind;

/// The calls in sequence one `op` (`create`, `update` or `delete`) of `kind`
/// cannot do without. An update is one call at least.
pub fn forced(kind: Kind, op: &str) -> &'static [&'static str] {
    match (kind, op) {
        (Kind::SecurityGroup, "create") => &["CreateSecurityGroup", "AuthorizeSecurityGroupIngress"],
        (Kind::SecurityGroup, "delete") => &["DeleteSecurityGroup"],
        // RunInstances answers `pending`: one poll for `running`.
        (Kind::Instance, "create") => &["RunInstances", "DescribeInstances"],
        (Kind::Instance, "delete") => &["TerminateInstances", "DescribeInstances"],
        // CreateVolume answers `creating`: one poll for `available`.
        (Kind::Volume, "create") => &["CreateVolume", "DescribeVolumes"],
        (Kind::Volume, "delete") => &["DeleteVolume"],
        // AttachVolume answers `attaching`, DetachVolume `detaching`.
        (Kind::VolumeAttachment, "create") => &["AttachVolume", "DescribeVolumes"],
        (Kind::VolumeAttachment, "delete") => &["DetachVolume", "DescribeVolumes"],
        // Policies go on a role that exists; a role with policies is deleted
        // after they are listed and removed.
        (Kind::Role, "create") => &["CreateRole", "PutRolePolicy"],
        (Kind::Role, "delete") => &["ListRolePolicies", "DeleteRolePolicy", "DeleteRole"],
        (Kind::InstanceProfile, "create") => &["CreateInstanceProfile", "AddRoleToInstanceProfile"],
        (Kind::InstanceProfile, "delete") => &["RemoveRoleFromInstanceProfile", "DeleteInstanceProfile"],
        // A bucket's settings go on a bucket that exists, all at once, after
        // its tags: S3's CreateBucket takes none for a general purpose bucket,
        // and a bucket is tagged first so that a run killed after it can find
        // it (infra's rule that no resource is lost track of).
        (Kind::Bucket, "create") => &["CreateBucket", "PutBucketTagging", "PutBucketVersioning"],
        (Kind::Bucket, "delete") => &["ListObjectVersions", "DeleteBucket"],
        (Kind::BuildProject, "create") => &["CreateProject"],
        (Kind::BuildProject, "delete") => &["DeleteProject"],
        (Kind::Pipeline, "create") => &["CreatePipeline"],
        (Kind::Pipeline, "delete") => &["DeletePipeline"],
        (Kind::EbApplication, "create") => &["CreateApplication"],
        (Kind::EbApplication, "delete") => &["DeleteApplication"],
        // The bundle is in S3 before the version names it.
        (Kind::EbVersion, "create") => &["PutObject", "CreateApplicationVersion"],
        (Kind::EbVersion, "delete") => &["DeleteApplicationVersion"],
        // CreateEnvironment answers `Launching`, TerminateEnvironment `Terminating`.
        (Kind::EbEnvironment, "create") => &["CreateEnvironment", "DescribeEnvironments"],
        (Kind::EbEnvironment, "delete") => &["TerminateEnvironment", "DescribeEnvironments"],
        // Targets go on a rule that exists; a rule with targets is deleted after them.
        (Kind::EventRule, "create") => &["PutRule", "PutTargets"],
        (Kind::EventRule, "delete") => &["RemoveTargets", "DeleteRule"],
        (Kind::SsmParameter, "create") => &["PutParameter"],
        (Kind::SsmParameter, "delete") => &["DeleteParameter"],
        (_, _) => &["(one call)"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_floor_for_create_and_delete() {
        for kind in Kind::ALL {
            for op in ["create", "delete"] {
                assert_ne!(forced(*kind, op), ["(one call)"], "{kind} {op}");
            }
        }
        assert_eq!(forced(Kind::Volume, "update").len(), 1);
    }
}
