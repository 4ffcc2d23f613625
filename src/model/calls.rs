//! What each kind asks of AWS, as data: per operation (read, create, update,
//! delete, adopt, import), the IAM actions its provider's calls need, the
//! resource ARN pattern each acts on, and the condition keys that narrow it,
//! as the Service Authorization Reference defines them (docs/policy.md cites
//! the page per service). `crate::permissions` builds `infra policy`'s
//! documents from it; `tests/policy_trace.rs` holds it to the calls the
//! providers really make.
//!
//! Patterns hold placeholders the stack fills: `{partition}`, `{region}`,
//! `{account}`, `{stack}`, `{name}` (the resource's name as the stack gives
//! or generates it, see [`Naming`]) and `{prop:FIELD}` (the name a property
//! gives: a literal, or the name pattern of the resource it refers to).

use super::kind::Kind;

/// The operations a kind's provider performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Refresh and drift: the batched reads of what state records.
    Read,
    Create,
    Update,
    Delete,
    /// The search by ownership tags (refresh's adoption, crash recovery).
    Adopt,
    /// A lookup a create needs, made in refresh's round when a create is
    /// about to run (`Provider::prepare_creates`): in apply only.
    Prepare,
    /// `infra import`: one resource read by id.
    Import,
}

/// What a call acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    /// The resource's own ARN ([`Access::arn`]).
    Own,
    /// Another pattern (another resource type the action needs).
    Arn(&'static str),
    /// Every resource, `*`: AWS allows nothing narrower, for this reason.
    Any(&'static str),
}

/// A condition narrowing a call: `{test: {key: value}}`, `{stack}` filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub test: &'static str,
    pub key: &'static str,
    pub values: &'static [&'static str],
}

/// `aws:ResourceTag/infra:stack` is the stack: the resource acted on is the stack's.
pub const RESOURCE_TAG: Cond = Cond { test: "StringEquals", key: "aws:ResourceTag/infra:stack", values: &["{stack}"] };
/// `aws:RequestTag/infra:stack` is the stack: what is created is tagged the stack's.
pub const REQUEST_TAG: Cond = Cond { test: "StringEquals", key: "aws:RequestTag/infra:stack", values: &["{stack}"] };

/// One call (or a set of calls alike), in the operations that make it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub ops: &'static [Op],
    /// IAM actions, `service:Action`.
    pub actions: &'static [&'static str],
    pub on: &'static [On],
    pub when: &'static [Cond],
}

/// How a resource of the kind is named, so that its ARN can be known before it exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// The declared `name`, or `<stack>-<resource>`, maybe with a suffix.
    Declared,
    /// Elastic Beanstalk versions: labelled by content hash, under their application.
    Label,
    /// S3: the declared `bucket`, or `<stack>-<resource>-<8 hex digits>`, lower case, `_` as `-`.
    Bucket,
    /// Parameter Store: the declared `name`, or `/<stack>/<resource>`, maybe with a suffix.
    Parameter,
    /// Elastic Beanstalk environments: `<stack>-<resource>`, other than letters and digits as `-`.
    Environment,
    /// An id AWS assigns (EC2): no name to scope by, only the ARN's type.
    Id,
}

/// A kind's calls and the ARN of one of its resources.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    /// The resource's ARN pattern; empty for a kind with no ARN of its own.
    pub arn: &'static str,
    pub naming: Naming,
    pub calls: &'static [Call],
}

const LIST: &[Op] = &[Op::Read, Op::Import, Op::Adopt];
const READS: &[Op] = &[Op::Read, Op::Import, Op::Adopt, Op::Create, Op::Update, Op::Delete];
const CREATE: &[Op] = &[Op::Create];
/// A lookup a create needs, in refresh's round (and by the create, should it fail there).
const PREPARE: &[Op] = &[Op::Prepare, Op::Create];
const UPDATE: &[Op] = &[Op::Update];
const CHANGE: &[Op] = &[Op::Create, Op::Update];
const DELETE: &[Op] = &[Op::Delete];
const ANY: &[Op] = &[Op::Create, Op::Update, Op::Delete];

const OWN: &[On] = &[On::Own];
const EC2_DESCRIBE: &[On] = &[On::Any("EC2's Describe actions support no resource-level permissions")];

const fn call(ops: &'static [Op], actions: &'static [&'static str], on: &'static [On]) -> Call {
    Call { ops, actions, on, when: &[] }
}

const fn call_if(
    ops: &'static [Op],
    actions: &'static [&'static str],
    on: &'static [On],
    when: &'static [Cond],
) -> Call {
    Call { ops, actions, on, when }
}

const EC2_TAGS: &[&str] = &["ec2:CreateTags", "ec2:DeleteTags"];

static SECURITY_GROUP: Access = Access {
    arn: "arn:{partition}:ec2:{region}:{account}:security-group/*",
    naming: Naming::Id,
    calls: &[
        call(READS, &["ec2:DescribeSecurityGroups"], EC2_DESCRIBE),
        call(PREPARE, &["ec2:DescribeVpcs"], EC2_DESCRIBE),
        call_if(CREATE, &["ec2:CreateSecurityGroup"], OWN, &[REQUEST_TAG]),
        call(CREATE, &["ec2:CreateSecurityGroup"], &[On::Arn("arn:{partition}:ec2:{region}:{account}:vpc/*")]),
        call_if(
            CREATE,
            &["ec2:CreateTags"],
            OWN,
            &[Cond { test: "StringEquals", key: "ec2:CreateAction", values: &["CreateSecurityGroup"] }],
        ),
        call_if(
            CHANGE,
            &[
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress",
            ],
            OWN,
            &[RESOURCE_TAG],
        ),
        call_if(UPDATE, EC2_TAGS, OWN, &[RESOURCE_TAG]),
        call_if(DELETE, &["ec2:DeleteSecurityGroup"], OWN, &[RESOURCE_TAG]),
    ],
};

static VOLUME: Access = Access {
    arn: "arn:{partition}:ec2:{region}:{account}:volume/*",
    naming: Naming::Id,
    calls: &[
        call(READS, &["ec2:DescribeVolumes", "ec2:DescribeInstances"], EC2_DESCRIBE),
        call_if(CREATE, &["ec2:CreateVolume"], OWN, &[REQUEST_TAG]),
        call_if(
            CREATE,
            &["ec2:CreateTags"],
            OWN,
            &[Cond { test: "StringEquals", key: "ec2:CreateAction", values: &["CreateVolume"] }],
        ),
        call_if(UPDATE, &["ec2:ModifyVolume", "ec2:CreateTags", "ec2:DeleteTags"], OWN, &[RESOURCE_TAG]),
        call_if(DELETE, &["ec2:DeleteVolume"], OWN, &[RESOURCE_TAG]),
    ],
};

const INSTANCE_ARN: &str = "arn:{partition}:ec2:{region}:{account}:instance/*";
const VOLUME_ARN: &str = "arn:{partition}:ec2:{region}:{account}:volume/*";

static VOLUME_ATTACHMENT: Access = Access {
    arn: "",
    naming: Naming::Id,
    calls: &[
        call(READS, &["ec2:DescribeVolumes", "ec2:DescribeInstances"], EC2_DESCRIBE),
        call(CREATE, &["ec2:AttachVolume"], &[On::Arn(INSTANCE_ARN), On::Arn(VOLUME_ARN)]),
        call(DELETE, &["ec2:DetachVolume"], &[On::Arn(INSTANCE_ARN), On::Arn(VOLUME_ARN)]),
    ],
};

static INSTANCE: Access = Access {
    arn: INSTANCE_ARN,
    naming: Naming::Id,
    calls: &[
        call(READS, &["ec2:DescribeInstances", "ec2:DescribeImages"], EC2_DESCRIBE),
        call(PREPARE, &["ssm:GetParameter"], &[On::Arn("arn:{partition}:ssm:{region}::parameter/aws/service/*")]),
        // The root device of the AMI, when the root volume is sized.
        call(PREPARE, &["ec2:DescribeImages"], EC2_DESCRIBE),
        call_if(CREATE, &["ec2:RunInstances"], &[On::Own, On::Arn(VOLUME_ARN)], &[REQUEST_TAG]),
        call(
            CREATE,
            &["ec2:RunInstances"],
            &[
                On::Arn("arn:{partition}:ec2:{region}::image/*"),
                On::Arn("arn:{partition}:ec2:{region}:{account}:subnet/*"),
                On::Arn("arn:{partition}:ec2:{region}:{account}:network-interface/*"),
                On::Arn("arn:{partition}:ec2:{region}:{account}:security-group/*"),
                On::Arn("arn:{partition}:ec2:{region}:{account}:key-pair/*"),
            ],
        ),
        call_if(
            CREATE,
            &["ec2:CreateTags"],
            &[On::Own, On::Arn(VOLUME_ARN), On::Arn("arn:{partition}:ec2:{region}:{account}:network-interface/*")],
            &[Cond { test: "StringEquals", key: "ec2:CreateAction", values: &["RunInstances"] }],
        ),
        call_if(
            UPDATE,
            &[
                "ec2:ModifyInstanceAttribute",
                "ec2:ModifyInstanceMetadataOptions",
                "ec2:StartInstances",
                "ec2:StopInstances",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            OWN,
            &[RESOURCE_TAG],
        ),
        call_if(DELETE, &["ec2:TerminateInstances"], OWN, &[RESOURCE_TAG]),
    ],
};

const INSTANCE_PROFILES: &str = "arn:{partition}:iam::{account}:instance-profile/*";
const IAM_LIST: &str = "a list of every role or instance profile in the account (the search by the stack's tags) names none before it is read";

static ROLE: Access = Access {
    arn: "arn:{partition}:iam::{account}:role/{name}",
    naming: Naming::Declared,
    calls: &[
        call(
            LIST,
            &["iam:GetAccountAuthorizationDetails"],
            &[On::Any("GetAccountAuthorizationDetails reads the whole account and takes no resource")],
        ),
        call(LIST, &["iam:ListRoles"], &[On::Any(IAM_LIST)]),
        call(READS, &["iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"], OWN),
        call(CREATE, &["iam:CreateRole"], OWN),
        call(
            ANY,
            &[
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
            ],
            OWN,
        ),
        call(UPDATE, &["iam:UpdateRole", "iam:UpdateAssumeRolePolicy"], OWN),
        call(DELETE, &["iam:ListInstanceProfilesForRole", "iam:DeleteRole"], OWN),
        call(DELETE, &["iam:RemoveRoleFromInstanceProfile"], &[On::Arn(INSTANCE_PROFILES)]),
    ],
};

static INSTANCE_PROFILE: Access = Access {
    arn: "arn:{partition}:iam::{account}:instance-profile/{name}",
    naming: Naming::Declared,
    calls: &[
        call(READS, &["iam:GetInstanceProfile"], OWN),
        call(LIST, &["iam:ListInstanceProfiles"], &[On::Any(IAM_LIST)]),
        call(CREATE, &["iam:CreateInstanceProfile"], OWN),
        call(
            ANY,
            &[
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:UntagInstanceProfile",
            ],
            OWN,
        ),
        call(DELETE, &["iam:DeleteInstanceProfile"], OWN),
    ],
};

static BUCKET: Access = Access {
    arn: "arn:{partition}:s3:::{name}",
    naming: Naming::Bucket,
    calls: &[
        call(
            LIST,
            &["s3:ListAllMyBuckets"],
            &[On::Any("ListBuckets lists every bucket of the account and takes no resource")],
        ),
        call(
            READS,
            &[
                "s3:ListBucket",
                "s3:GetBucketTagging",
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketPolicy",
                "s3:GetBucketNotification",
            ],
            OWN,
        ),
        call(CREATE, &["s3:CreateBucket"], OWN),
        call(
            CHANGE,
            &[
                "s3:PutBucketTagging",
                "s3:PutBucketVersioning",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:PutBucketNotification",
            ],
            OWN,
        ),
        call(DELETE, &["s3:ListBucketVersions", "s3:DeleteBucket"], OWN),
        call(DELETE, &["s3:DeleteObject", "s3:DeleteObjectVersion"], &[On::Arn("arn:{partition}:s3:::{name}/*")]),
    ],
};

static BUILD_PROJECT: Access = Access {
    arn: "arn:{partition}:codebuild:{region}:{account}:project/{name}",
    naming: Naming::Declared,
    calls: &[
        call(READS, &["codebuild:BatchGetProjects"], OWN),
        call(
            LIST,
            &["codebuild:ListProjects"],
            &[On::Any("ListProjects lists every project of the account and takes no resource")],
        ),
        call_if(CREATE, &["codebuild:CreateProject"], OWN, &[REQUEST_TAG]),
        call(UPDATE, &["codebuild:UpdateProject"], OWN),
        call(DELETE, &["codebuild:DeleteProject"], OWN),
    ],
};

const EB_LIST_ENVIRONMENTS: &str =
    "DescribeEnvironments without environment names or ids (all of the account, or of an application) names none";
const EB_TAGS: &[&str] = &["elasticbeanstalk:AddTags", "elasticbeanstalk:RemoveTags"];

static EB_APPLICATION: Access = Access {
    arn: "arn:{partition}:elasticbeanstalk:{region}:{account}:application/{name}",
    naming: Naming::Declared,
    calls: &[
        call(READS, &["elasticbeanstalk:DescribeApplications", "elasticbeanstalk:ListTagsForResource"], OWN),
        call(
            LIST,
            &["elasticbeanstalk:DescribeApplications"],
            &[On::Any("DescribeApplications without names lists every application of the account")],
        ),
        call(CREATE, &["elasticbeanstalk:CreateApplication"], OWN),
        call(UPDATE, &["elasticbeanstalk:UpdateApplication"], OWN),
        call(CHANGE, EB_TAGS, OWN),
        call(DELETE, &["elasticbeanstalk:DeleteApplication"], OWN),
    ],
};

const EB_VERSION_APP: &str = "arn:{partition}:elasticbeanstalk:{region}:{account}:application/{prop:application}";
const EB_BUNDLES: &str = "arn:{partition}:s3:::{prop:bucket}/{prop:application}/*";

static EB_VERSION: Access = Access {
    arn: "arn:{partition}:elasticbeanstalk:{region}:{account}:applicationversion/{prop:application}/*",
    naming: Naming::Label,
    calls: &[
        call(READS, &["elasticbeanstalk:DescribeApplicationVersions"], OWN),
        call(CREATE, &["s3:PutObject", "s3:GetObject"], &[On::Arn(EB_BUNDLES)]),
        call(CREATE, &["elasticbeanstalk:CreateApplicationVersion"], &[On::Own, On::Arn(EB_VERSION_APP)]),
        call(DELETE, &["elasticbeanstalk:DeleteApplicationVersion"], OWN),
        // A version in use by an environment still updating is deleted once the
        // update ends: the application's environments are listed to see it.
        call(DELETE, &["elasticbeanstalk:DescribeEnvironments"], &[On::Any(EB_LIST_ENVIRONMENTS)]),
    ],
};

static EB_ENVIRONMENT: Access = Access {
    arn: "arn:{partition}:elasticbeanstalk:{region}:{account}:environment/{prop:application}/{name}",
    naming: Naming::Environment,
    calls: &[
        call(
            READS,
            &[
                "elasticbeanstalk:DescribeEnvironments",
                "elasticbeanstalk:DescribeEnvironmentResources",
                "elasticbeanstalk:ListTagsForResource",
            ],
            OWN,
        ),
        call(LIST, &["elasticbeanstalk:DescribeEnvironments"], &[On::Any(EB_LIST_ENVIRONMENTS)]),
        call(
            READS,
            &["elasticbeanstalk:DescribeConfigurationSettings", "elasticbeanstalk:DescribeEvents"],
            &[
                On::Own,
                On::Arn(
                    "arn:{partition}:elasticbeanstalk:{region}:{account}:configurationtemplate/{prop:application}/*",
                ),
            ],
        ),
        call(READS, &["ec2:DescribeInstances", "ec2:DescribeSecurityGroups"], EC2_DESCRIBE),
        call(
            // Looked up in refresh's round when an environment is coming, and by updates.
            &[Op::Prepare, Op::Create, Op::Update],
            &["elasticbeanstalk:ListAvailableSolutionStacks"],
            &[On::Arn("arn:{partition}:elasticbeanstalk:{region}::solutionstack/*")],
        ),
        // The version, template, solution stack and platform an environment uses are
        // condition keys of these two (`elasticbeanstalk:FromApplicationVersion`, ...),
        // not resources they act on.
        call(CREATE, &["elasticbeanstalk:CreateEnvironment"], OWN),
        call(UPDATE, &["elasticbeanstalk:UpdateEnvironment"], OWN),
        call(CHANGE, EB_TAGS, OWN),
        call(DELETE, &["elasticbeanstalk:TerminateEnvironment"], OWN),
    ],
};

static PIPELINE: Access = Access {
    arn: "arn:{partition}:codepipeline:{region}:{account}:{name}",
    naming: Naming::Declared,
    calls: &[
        call(READS, &["codepipeline:GetPipeline", "codepipeline:ListTagsForResource"], OWN),
        call(
            LIST,
            &["codepipeline:ListPipelines"],
            &[On::Any("ListPipelines lists every pipeline of the account and takes no resource")],
        ),
        call_if(CREATE, &["codepipeline:CreatePipeline"], OWN, &[REQUEST_TAG]),
        call(UPDATE, &["codepipeline:UpdatePipeline", "codepipeline:UntagResource"], OWN),
        call(CHANGE, &["codepipeline:TagResource"], OWN),
        call(DELETE, &["codepipeline:DeletePipeline"], OWN),
    ],
};

static EVENT_RULE: Access = Access {
    arn: "arn:{partition}:events:{region}:{account}:rule/{name}",
    naming: Naming::Declared,
    calls: &[
        call(READS, &["events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource"], OWN),
        call(
            LIST,
            &["events:ListRules"],
            &[On::Any("ListRules lists the rules of an event bus and takes no resource")],
        ),
        call_if(CREATE, &["events:PutRule"], OWN, &[REQUEST_TAG]),
        call(UPDATE, &["events:PutRule", "events:UntagResource"], OWN),
        call(CHANGE, &["events:PutTargets", "events:TagResource"], OWN),
        call(&[Op::Update, Op::Delete], &["events:RemoveTargets"], OWN),
        call(DELETE, &["events:DeleteRule"], OWN),
    ],
};

static SSM_PARAMETER: Access = Access {
    arn: "arn:{partition}:ssm:{region}:{account}:parameter{name}",
    naming: Naming::Parameter,
    calls: &[
        call(READS, &["ssm:GetParameters", "ssm:ListTagsForResource"], OWN),
        call(
            READS,
            &["ssm:DescribeParameters"],
            &[On::Any("DescribeParameters takes no resource (it filters by name in the request)")],
        ),
        call_if(CREATE, &["ssm:PutParameter"], OWN, &[REQUEST_TAG]),
        call(CHANGE, &["ssm:AddTagsToResource"], OWN),
        call(UPDATE, &["ssm:PutParameter", "ssm:RemoveTagsFromResource"], OWN),
        call(DELETE, &["ssm:DeleteParameter"], OWN),
    ],
};

/// The calls of a kind.
pub fn access(kind: Kind) -> &'static Access {
    match kind {
        Kind::SecurityGroup => &SECURITY_GROUP,
        Kind::Instance => &INSTANCE,
        Kind::Volume => &VOLUME,
        Kind::VolumeAttachment => &VOLUME_ATTACHMENT,
        Kind::Role => &ROLE,
        Kind::InstanceProfile => &INSTANCE_PROFILE,
        Kind::Bucket => &BUCKET,
        Kind::BuildProject => &BUILD_PROJECT,
        Kind::EbApplication => &EB_APPLICATION,
        Kind::EbVersion => &EB_VERSION,
        Kind::EbEnvironment => &EB_ENVIRONMENT,
        Kind::Pipeline => &PIPELINE,
        Kind::EventRule => &EVENT_RULE,
        Kind::SsmParameter => &SSM_PARAMETER,
    }
}

/// Whether a resource of the kind hands a role it refers to to an AWS
/// service (`iam:PassRole`): an instance profile its role (to EC2, when it
/// is given the role and when an instance or environment uses it), a build
/// project, a pipeline, an event rule's targets and an environment their
/// roles. The service a role is passed to is the one its trust policy names.
pub fn passes_roles(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::InstanceProfile
            | Kind::BuildProject
            | Kind::Pipeline
            | Kind::EventRule
            | Kind::EbEnvironment
            | Kind::Instance
    )
}

/// The IAM actions an SDK operation (`service:Operation`, as
/// `provider::stats` traces it) is authorised by, where they differ from the
/// operation's name (the Service Authorization Reference's tables of API
/// operations and the actions they need). `None`: no permission at all.
pub fn actions_of(traced: &str) -> Option<Vec<String>> {
    let (service, op) = traced.split_once(':')?;
    let prefix = match service {
        "sts" if op == "GetCallerIdentity" => return Some(Vec::new()),
        "elastic beanstalk" => "elasticbeanstalk",
        "eventbridge" => "events",
        other => other,
    };
    let renamed: &[&str] = match (prefix, op) {
        ("s3", "HeadBucket" | "ListObjectsV2" | "ListObjects") => &["ListBucket"],
        ("s3", "HeadObject") => &["GetObject"],
        ("s3", "ListBuckets") => &["ListAllMyBuckets"],
        ("s3", "ListObjectVersions") => &["ListBucketVersions"],
        ("s3", "GetBucketEncryption") => &["GetEncryptionConfiguration"],
        ("s3", "PutBucketEncryption") => &["PutEncryptionConfiguration"],
        ("s3", "GetBucketNotificationConfiguration") => &["GetBucketNotification"],
        ("s3", "PutBucketNotificationConfiguration") => &["PutBucketNotification"],
        ("s3", "GetPublicAccessBlock") => &["GetBucketPublicAccessBlock"],
        ("s3", "PutPublicAccessBlock") => &["PutBucketPublicAccessBlock"],
        ("s3", "DeleteBucketTagging") => &["PutBucketTagging"],
        ("s3", "DeleteObjects") => &["DeleteObject"],
        ("elasticbeanstalk", "UpdateTagsForResource") => &["AddTags", "RemoveTags"],
        _ => &[],
    };
    let names: Vec<&str> = if renamed.is_empty() { vec![op] } else { renamed.to_vec() };
    Some(names.into_iter().map(|a| format!("{prefix}:{a}")).collect())
}
