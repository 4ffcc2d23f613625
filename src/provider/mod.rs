//! Providers: one module per resource kind behind the [`Provider`] trait. This is
//! the only layer that talks to AWS.
//!
//! A provider reads many resources of its kind in batched, paginated calls, finds
//! what carries a stack's ownership tags, and creates, updates and deletes one
//! resource, waiting until AWS says it is ready. Everything it reports comes back
//! as an [`Observed`]: the cloud id, properties in the shape the stack declares
//! them, and output attributes.

pub mod codebuild_project;
pub mod codepipeline;
pub mod eb_application;
pub mod eb_application_version;
pub mod eb_environment;
mod ec2;
pub mod events_rule;
pub mod iam_instance_profile;
pub mod iam_role;
pub mod instance;
pub mod limit;
pub mod pricing;
pub mod s3_bucket;
pub mod security_group;
mod shared;
pub mod ssm_parameter;
pub mod stats;
pub mod volume;
pub mod volume_attachment;
pub mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;

pub use crate::model::Observed;
use crate::model::{AwsContext, Kind, Props};
pub use limit::Limits;
pub use stats::CallStats;

/// Resources found by their ownership tags, each with its `infra:name`. A
/// name may come twice: a replacement created first stands beside the old
/// resource until that one is deleted.
pub type Tagged = Vec<(String, Observed)>;

/// The outputs state records, by cloud id.
pub type RecordedOutputs = BTreeMap<String, Props>;

/// The output `key` state recorded for the resource `id`, when a string.
pub fn recorded<'a>(outputs: &'a RecordedOutputs, id: &str, key: &str) -> Option<&'a str> {
    outputs.get(id)?.get(key)?.as_str()
}

/// What a provider needs to know about the step it runs.
#[derive(Clone, Default)]
pub struct Ctx {
    pub stack: String,
    /// The resource's logical name.
    pub name: String,
    /// An idempotency token for create calls that take one.
    pub client_token: String,
    /// The create replaces a resource that still exists (the plan creates
    /// first): a generated name must differ from the one that resource holds.
    pub replacing: bool,
    pub progress: Progress,
}

impl Ctx {
    pub fn status(&self, msg: &str) {
        self.progress.report(&self.name, msg);
    }

    /// The name a resource gets when the stack declares none:
    /// `<stack>-<resource>`, cut to `max` characters; for a replacement
    /// created while the old resource still holds that name, `-` and 8 hex
    /// digits of the create's token follow, so that both can exist at once.
    pub fn generated_name(&self, max: usize) -> String {
        let base = format!("{}-{}", self.stack, self.name);
        if !self.replacing {
            return base.chars().take(max).collect();
        }
        let suffix = name_suffix(&self.client_token);
        format!("{}-{suffix}", base.chars().take(max - suffix.len() - 1).collect::<String>())
    }
}

/// The 8 hex digits a generated name may end with: the first of the
/// create's idempotency token; `None` for a token that has fewer.
pub fn token_suffix(client_token: &str) -> Option<String> {
    let hex: String =
        client_token.chars().filter(char::is_ascii_hexdigit).map(|c| c.to_ascii_lowercase()).take(8).collect();
    (hex.len() == 8).then_some(hex)
}

/// [`token_suffix`], or 8 random hex digits for a token that has fewer.
pub fn name_suffix(client_token: &str) -> String {
    token_suffix(client_token).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_string())
}

/// Where providers report what they are waiting for.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<ProgressFn>>);

/// Receives (resource, message).
type ProgressFn = dyn Fn(&str, &str) + Send + Sync;

impl Progress {
    pub fn new(f: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(f)))
    }
    pub fn report(&self, resource: &str, msg: &str) {
        if let Some(f) = &self.0 {
            f(resource, msg)
        }
    }
}

/// An AWS call that failed, or a wait that ran out.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{op} failed: {code}: {message}")]
    Aws { op: &'static str, code: String, message: String },
    #[error("timed out after {secs}s waiting for {what}")]
    Timeout { what: String, secs: u64 },
    #[error("{0}")]
    Invalid(String),
}

impl ProviderError {
    /// The AWS error code, when AWS gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ProviderError::Aws { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether AWS answered with `code` and a message that contains `words`
    /// (ignoring case).
    pub fn says(&self, code: &str, words: &str) -> bool {
        match self {
            ProviderError::Aws { code: c, message, .. } => {
                c == code && message.to_lowercase().contains(&words.to_lowercase())
            }
            _ => false,
        }
    }
}

/// Turns an SDK error into a [`ProviderError`] naming the operation and AWS's code.
pub fn aws_error<E, R>(op: &'static str, err: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> ProviderError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let code = err.code().unwrap_or("Unknown").to_string();
    let message = match err.message() {
        Some(m) => m.to_string(),
        None => error_chain(&err),
    };
    ProviderError::Aws { op, code, message }
}

/// An error and its sources, joined with `: ` (without the SDK's debug dump).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// Loads the AWS configuration from the standard chain (environment, profile,
/// SSO, instance role), with the stack's region when it sets one. Throttling and
/// server errors are retried with backoff by the SDK's adaptive mode.
pub async fn aws_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(8));
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    loader.load().await
}

/// One kind's operations against AWS.
#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> Kind;

    /// Reads every given resource in batched, paginated calls. An id AWS does not
    /// know (or knows as deleted) is absent from the result.
    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError>;

    /// Reads the recorded resources `ids` of `stack`: what [`Provider::read_many`]
    /// returns for them. Kinds whose search by the stack tag is one filtered,
    /// paginated call (EC2) override it to search first and read by id only what
    /// the search did not return (one whose tags were changed out of band): one
    /// call per page of the stack's resources instead of one per 200 ids.
    ///
    /// `outputs` holds what state recorded of each id's outputs (an ARN, an
    /// instance id). A kind whose full read is a describe and then calls that
    /// need what the describe returns overrides this to make those calls at
    /// once with the recorded values, and again with the described ones only
    /// where they differ: one round trip instead of two or three.
    async fn read_recorded(
        &self,
        _stack: &str,
        ids: &[String],
        _outputs: &RecordedOutputs,
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        self.read_many(ids).await
    }

    /// Resources that carry `infra:stack = stack`, with their `infra:name`
    /// tag. Kinds without tags return nothing. A kind whose resources can be
    /// in the middle of an operation (an environment Updating) returns them
    /// once it has settled: refresh takes what this found over its read for a
    /// resource an interrupted run left an operation pending on.
    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError>;

    /// What an interrupted create of resource `name` may have made before it
    /// could tag it, found from the idempotency token the executor journaled for
    /// that create (`Ctx::client_token`). Only kinds whose create call cannot tag
    /// (an S3 bucket is tagged by a second call) need this; the others are found
    /// by [`Provider::find_tagged`].
    async fn find_created(
        &self,
        _stack: &str,
        _name: &str,
        _client_token: &str,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }

    /// Looks up, in refresh's round and once per run, what the creates of
    /// these declared resources of the kind will need (the default VPC, say),
    /// so that no create waits for it in sequence. Best effort: a lookup that
    /// fails is made again by the create, which reports it.
    async fn prepare_creates(&self, _declared: &[&Props]) {}

    /// Creates the resource and waits until it is ready.
    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError>;

    /// Changes a resource in place from `before` to `after` (both normalised) and
    /// waits until the change has taken effect.
    async fn update(&self, ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError>;

    /// Deletes the resource and waits until it is gone. Deleting what is already
    /// gone succeeds.
    async fn delete(&self, ctx: &Ctx, id: &str, props: &Props) -> Result<(), ProviderError>;
}

/// One provider per kind, sharing the AWS configuration; and the account
/// and region they act in (`${aws.*}`).
pub struct Providers {
    by_kind: BTreeMap<Kind, Box<dyn Provider>>,
    /// What every client's calls are recorded in.
    stats: CallStats,
    sts: aws_sdk_sts::Client,
    region: Option<String>,
    context: tokio::sync::OnceCell<AwsContext>,
}

/// A client of one AWS service whose calls are counted in `stats` and whose
/// requests are held to the service's limit in `limits`.
macro_rules! client {
    ($sdk:ident, $service:literal, $config:expr, $stats:expr, $limits:expr) => {{
        let http = $limits.http_client($service, $config.http_client());
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config).interceptor($stats.clone()).http_client(http).build(),
        )
    }};
}

impl Providers {
    /// Providers with their own statistics and default limits.
    pub fn new(config: &SdkConfig) -> Self {
        Self::with(config, &CallStats::default(), &Limits::default())
    }

    /// Providers whose AWS calls are all counted in `stats` and held to `limits`.
    pub fn with(config: &SdkConfig, stats: &CallStats, limits: &Limits) -> Self {
        let ec2 = client!(aws_sdk_ec2, "ec2", config, stats, limits);
        let iam = client!(aws_sdk_iam, "iam", config, stats, limits);
        let eb = client!(aws_sdk_elasticbeanstalk, "elasticbeanstalk", config, stats, limits);
        let s3 =
            s3_builder(config).interceptor(stats.clone()).http_client(limits.http_client("s3", config.http_client()));
        let s3 = aws_sdk_s3::Client::from_conf(s3.build());
        let ssm = client!(aws_sdk_ssm, "ssm", config, stats, limits);
        let codebuild = client!(aws_sdk_codebuild, "codebuild", config, stats, limits);
        let codepipeline = client!(aws_sdk_codepipeline, "codepipeline", config, stats, limits);
        let events = client!(aws_sdk_eventbridge, "events", config, stats, limits);
        let sts = client!(aws_sdk_sts, "sts", config, stats, limits);
        let mut by_kind: BTreeMap<Kind, Box<dyn Provider>> = BTreeMap::new();
        by_kind.insert(Kind::SecurityGroup, Box::new(security_group::SecurityGroups::new(ec2.clone())));
        by_kind.insert(Kind::Instance, Box::new(instance::Instances::new(ec2.clone(), ssm.clone())));
        by_kind.insert(Kind::Volume, Box::new(volume::Volumes::new(ec2.clone())));
        by_kind.insert(Kind::VolumeAttachment, Box::new(volume_attachment::VolumeAttachments::new(ec2.clone())));
        by_kind.insert(Kind::Role, Box::new(iam_role::Roles::new(iam.clone())));
        by_kind.insert(Kind::InstanceProfile, Box::new(iam_instance_profile::InstanceProfiles::new(iam)));
        by_kind.insert(Kind::Bucket, Box::new(s3_bucket::Buckets::new(s3.clone())));
        by_kind.insert(Kind::BuildProject, Box::new(codebuild_project::BuildProjects::new(codebuild)));
        by_kind.insert(Kind::EbApplication, Box::new(eb_application::EbApplications::new(eb.clone())));
        by_kind.insert(Kind::EbVersion, Box::new(eb_application_version::EbVersions::new(eb.clone(), s3)));
        by_kind.insert(Kind::EbEnvironment, Box::new(eb_environment::EbEnvironments::new(eb, ec2.clone())));
        by_kind.insert(Kind::Pipeline, Box::new(codepipeline::Pipelines::new(codepipeline)));
        by_kind.insert(Kind::EventRule, Box::new(events_rule::Rules::new(events)));
        by_kind.insert(Kind::SsmParameter, Box::new(ssm_parameter::Parameters::new(ssm)));
        let region = config.region().map(|r| r.to_string());
        Providers { by_kind, stats: stats.clone(), sts, region, context: tokio::sync::OnceCell::new() }
    }

    /// Where the calls, waits and operations of a run are recorded.
    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// The account and region the providers act in, for `${aws.*}`: the
    /// account from STS GetCallerIdentity (which needs no permission: AWS
    /// answers it for every caller), asked once.
    pub async fn aws_context(&self) -> Result<AwsContext, ProviderError> {
        let context = self
            .context
            .get_or_try_init(|| async {
                let region = self.region.clone().ok_or_else(|| {
                    ProviderError::Invalid("no AWS region is set: set `region` in [stack] or AWS_REGION".into())
                })?;
                let out = self.sts.get_caller_identity().send().await.map_err(|e| aws_error("GetCallerIdentity", e))?;
                let account_id = out.account.ok_or_else(|| {
                    ProviderError::Invalid("STS GetCallerIdentity answered without an account id".into())
                })?;
                Ok::<_, ProviderError>(AwsContext { account_id, region })
            })
            .await?;
        Ok(context.clone())
    }

    pub fn get(&self, kind: Kind) -> &dyn Provider {
        self.by_kind.get(&kind).map(|p| p.as_ref()).expect("every kind has a provider")
    }
}

/// An S3 client. Through a custom endpoint (`AWS_ENDPOINT_URL`: an emulator,
/// MinIO, a VPC endpoint) buckets are addressed in the path, since such
/// endpoints do not serve bucket names as host names.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_builder(config).build())
}

fn s3_builder(config: &SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some())
}

/// Tags for a new resource: the declared ones (which the planner has already
/// merged with the stack's and the ownership tags).
pub fn tags_of(props: &Props) -> Vec<(String, String)> {
    props
        .get("tags")
        .and_then(|t| t.as_map())
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}
