//! The names of the policy checks (`crate::check` runs them), what each
//! catches and why: data, so that a declaration's `allow` names can be
//! validated with the rest of the model, and docs/checks.md generated from it.

/// A policy check.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    /// What it catches, in a line.
    pub summary: &'static str,
    /// Why it matters, and where the rule comes from (tfsec/checkov ids, AWS guides).
    pub why: &'static str,
}

pub const CHECKS: &[Check] = &[
    Check {
        name: "public_data_port",
        summary: "a data store's port (Redis and its cluster bus, Elasticsearch, Kibana) open to the whole internet",
        why: "the seed's data stores answer anyone who reaches them; the internet scans these ports within minutes. \
              Judged by what the rules' CIDRs cover together, so 0.0.0.0/1 plus 128.0.0.0/1 is the world too \
              (tfsec aws-ec2-no-public-ingress-sgr).",
    },
    Check {
        name: "world_open_admin_port",
        summary: "SSH (22) or RDP (3389) open to the whole internet",
        why: "administration ports are brute-forced as soon as they are reachable; open them to an operator's CIDR, \
              or use Session Manager with no port at all (checkov CKV_AWS_24, CKV_AWS_25; tfsec \
              aws-ec2-no-public-ingress-sgr).",
    },
    Check {
        name: "world_open_all_ports",
        summary: "every port (protocol all, or 0-65535) open to the whole internet",
        why: "whatever listens on the host, now or later, is public (checkov CKV_AWS_277; tfsec \
              aws-ec2-no-public-ingress-sgr).",
    },
    Check {
        name: "unencrypted_volume",
        summary: "an EBS volume not encrypted at rest",
        why: "a snapshot or a detached volume is readable by whoever gets hold of it (checkov CKV_AWS_3, tfsec \
              aws-ec2-enable-volume-encryption).",
    },
    Check {
        name: "closed_service_port",
        summary: "a port the deployed bundle serves that no security group opens",
        why: "a service nobody can reach: the seed's own pain.",
    },
    Check {
        name: "unserved_open_port",
        summary: "a port a security group opens that nothing in the bundle serves",
        why: "an open port with nothing behind it is attack surface waiting for the next service to listen there.",
    },
    Check {
        name: "immutable_update_with_data_volume",
        summary: "an immutable update of an environment whose instance attaches the one data volume",
        why: "each such update starts a second instance while the first still holds the volume, and waits on it \
              (Elastic Beanstalk developer guide, \"Deployment policies and settings\").",
    },
    Check {
        name: "iam_wildcard_action",
        summary: "an IAM policy allowing every action (`*`) or every action of a service (`s3:*`)",
        why: "least privilege: a role should be allowed the actions it calls, no more (checkov CKV_AWS_63; \
              tfsec aws-iam-no-policy-wildcards).",
    },
    Check {
        name: "iam_wildcard_resource_write",
        summary: "an IAM policy allowing a write action on every resource (`Resource: \"*\"`) with no \
                  `aws:ResourceTag/...` condition narrowing it",
        why: "a write (any action whose verb is not Get, List, Describe, Head or BatchGet) on `*` reaches every \
              resource of the account, not the stack's; name the ARNs (checkov CKV_AWS_290, CKV_AWS_355; tfsec \
              aws-iam-no-policy-wildcards). Reads are left alone: many (ec2:Describe*) take no resource at all.",
    },
    Check {
        name: "iam_admin_managed_policy",
        summary: "an AWS managed policy granting administrator or full access attached to a role",
        why: "`AdministratorAccess`, `AdministratorAccess-AWSElasticBeanstalk` and the `*FullAccess` policies grant \
              far more than one stack needs (checkov CKV_AWS_274; AWS IAM best practices, \"Apply least-privilege \
              permissions\").",
    },
    Check {
        name: "iam_passrole_wildcard",
        summary: "`iam:PassRole` allowed on every role, or without an `iam:PassedToService` condition",
        why: "passing any role to any service is privilege escalation: the caller acts as the most powerful role \
              in the account (AWS IAM User Guide, \"Granting a user permissions to pass a role to an AWS service\"; \
              checkov CKV_AWS_286).",
    },
    Check {
        name: "iam_wildcard_principal",
        summary: "a trust or resource policy allowing any principal (`\"*\"` or `{ AWS = \"*\" }`)",
        why: "anyone with an AWS account could assume the role or use the resource (checkov CKV_AWS_60, \
              CKV_AWS_70).",
    },
    Check {
        name: "iam_service_trust_without_source",
        summary: "a trust policy letting an AWS service assume the role without an `aws:SourceAccount` or \
                  `aws:SourceArn` condition",
        why: "the confused deputy: a service acting for another account could be made to use this role \
              (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). ec2.amazonaws.com is \
              exempt: an instance role is taken on through an instance profile this account attaches, not by a \
              service acting on a request from another account, and EC2 sets no source keys for it.",
    },
    Check {
        name: "s3_public_access",
        summary: "an S3 bucket without the public access block (`block_public_access = false`)",
        why: "one ACL or policy mistake away from a public bucket (checkov CKV_AWS_53 to CKV_AWS_56; tfsec \
              aws-s3-block-public-acls and its siblings).",
    },
    Check {
        name: "s3_no_tls_only_policy",
        summary: "an S3 bucket with `tls_only = false` whose policy does not deny requests without TLS \
                  (`aws:SecureTransport = false`)",
        why: "without it, objects may be read and written in plain HTTP (AWS Security Hub S3.5; S3 User \
              Guide, \"Enforce encryption of data in transit\").",
    },
    Check {
        name: "s3_unversioned",
        summary: "a bucket holding pipeline artifacts, application versions or infra's state, without versioning",
        why: "an overwritten or deleted object is gone: a deployed version, or the state that knows what the stack \
              owns (checkov CKV_AWS_21; tfsec aws-s3-enable-versioning).",
    },
    Check {
        name: "imdsv1_enabled",
        summary: "an instance or environment that still answers IMDSv1 (no session token required)",
        why: "IMDSv1 answers any request, such as one an SSRF bug forwards, with the instance role's credentials \
              (checkov CKV_AWS_79; tfsec aws-ec2-enforce-http-token-imds; EC2 User Guide, \"Use IMDSv2\").",
    },
    Check {
        name: "eb_default_security_group",
        summary: "an Elastic Beanstalk environment keeping its default security group",
        why: "the group Elastic Beanstalk makes opens SSH and HTTP to the internet; give the instances the \
              stack's own groups (Elastic Beanstalk developer guide, \"aws:autoscaling:launchconfiguration\").",
    },
    Check {
        name: "codebuild_privileged_mode",
        summary: "a CodeBuild project running its build container privileged",
        why: "a privileged container is root on the build host: a malicious dependency owns the build and its \
              role (checkov CKV_AWS_316).",
    },
    Check {
        name: "secret_in_plaintext_sink",
        summary: "a `${secret.*}` value written where AWS shows it in plain text",
        why: "environment properties, plaintext build variables, user data, tags and names are shown to anyone who \
              may describe the resource, in the console and in API answers; keep the secret in an `ssm.parameter` (a \
              SecureString, shown only to whoever may decrypt it) or Secrets Manager and reference it by ARN \
              (checkov CKV_AWS_46 for user data).",
    },
];
