//! `codepipeline.pipeline`: a CodePipeline pipeline of three stages:
//!
//! - Source: a GitHub repository through a CodeStar connection (action provider
//!   CodeStarSourceConnection), or an archive in S3; output artifact `source`.
//! - Build: a CodeBuild project, input `source`, output artifact `build`.
//! - Deploy: an Elastic Beanstalk environment, input `build`.
//!
//! Artifacts go through an S3 bucket (the artifact store). The stack declares the
//! pipeline in these terms (`source`, `build_project`, `deploy_*`); reads turn the
//! stages AWS reports back into them, so a plan right after an apply is empty.
//! (Stages or actions added out of band are not reported; the next update, which
//! sends the whole declaration, removes them.)
//!
//! The pipeline's name is its id. CodePipeline has no batch read: `read_many`
//! makes one GetPipeline call (and one ListTagsForResource, by ARN) per pipeline,
//! a few at a time. ListPipelines reports no ARNs, so `find_tagged` reads every
//! pipeline of the account in full. An update sends the whole declaration with
//! UpdatePipeline and changes tags with TagResource and UntagResource.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType, InputArtifact,
    OutputArtifact, PipelineDeclaration, StageDeclaration, Tag,
};
use aws_smithy_types::error::operation::BuildError;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::shared::{ok_if_gone, put, tag_changes};
use super::wait;
use super::{Ctx, Observed, Provider, ProviderError, RecordedOutputs, Tagged, aws_error, recorded, tags_of};
use crate::model::kinds::codepipeline::DEFAULT_BRANCH;
pub use crate::model::kinds::codepipeline::SCHEMA;
use crate::model::{Kind, Props, TAG_NAME, TAG_STACK, Value};

/// The error codes that mean the pipeline is gone.
const GONE: &[&str] = &["PipelineNotFoundException", "ResourceNotFoundException"];

fn gone(e: &ProviderError) -> bool {
    e.code().is_some_and(|c| GONE.contains(&c))
}

/// How many pipelines are read at once.
const READ_CONCURRENCY: usize = 8;

fn invalid(e: BuildError) -> ProviderError {
    ProviderError::Invalid(e.to_string())
}

/// A string property the declaration cannot do without.
fn required<'a>(props: &'a Props, key: &str) -> Result<&'a str, ProviderError> {
    props.get(key).and_then(Value::as_str).ok_or_else(|| ProviderError::Invalid(format!("`{key}` must be a string")))
}

/// One action with its type, configuration and artifacts.
fn action(
    name: &str,
    category: ActionCategory,
    provider: &str,
    configuration: &[(&str, &str)],
    input: Option<&str>,
    output: Option<&str>,
) -> Result<ActionDeclaration, ProviderError> {
    let type_id = ActionTypeId::builder()
        .category(category)
        .owner(ActionOwner::Aws)
        .provider(provider)
        .version("1")
        .build()
        .map_err(invalid)?;
    let mut action = ActionDeclaration::builder().name(name).action_type_id(type_id).run_order(1);
    for (k, v) in configuration {
        action = action.configuration(*k, *v);
    }
    if let Some(input) = input {
        action = action.input_artifacts(InputArtifact::builder().name(input).build().map_err(invalid)?);
    }
    if let Some(output) = output {
        action = action.output_artifacts(OutputArtifact::builder().name(output).build().map_err(invalid)?);
    }
    action.build().map_err(invalid)
}

/// The Source action for the declared `source`.
fn source_action(props: &Props) -> Result<ActionDeclaration, ProviderError> {
    let source = props
        .get("source")
        .and_then(Value::as_map)
        .ok_or_else(|| ProviderError::Invalid("`source` must be a table".into()))?;
    let field = |key: &str| {
        source
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| ProviderError::Invalid(format!("`source.{key}` must be a string")))
    };
    match field("provider")? {
        "github" => {
            let branch = source.get("branch").and_then(Value::as_str).unwrap_or(DEFAULT_BRANCH);
            let configuration = [
                ("ConnectionArn", field("connection_arn")?),
                ("FullRepositoryId", field("repository")?),
                ("BranchName", branch),
            ];
            action("Source", ActionCategory::Source, "CodeStarSourceConnection", &configuration, None, Some("source"))
        }
        "s3" => {
            let configuration =
                [("S3Bucket", field("bucket")?), ("S3ObjectKey", field("key")?), ("PollForSourceChanges", "false")];
            action("Source", ActionCategory::Source, "S3", &configuration, None, Some("source"))
        }
        other => Err(ProviderError::Invalid(format!("unknown source provider {other:?}"))),
    }
}

fn stage(name: &str, action: ActionDeclaration) -> Result<StageDeclaration, ProviderError> {
    StageDeclaration::builder().name(name).actions(action).build().map_err(invalid)
}

/// The whole pipeline: Source -> Build -> Deploy, artifacts in the S3 bucket.
fn declaration(name: &str, props: &Props) -> Result<PipelineDeclaration, ProviderError> {
    let store = ArtifactStore::builder()
        .r#type(ArtifactStoreType::S3)
        .location(required(props, "artifact_bucket")?)
        .build()
        .map_err(invalid)?;
    let build = [("ProjectName", required(props, "build_project")?)];
    let deploy = [
        ("ApplicationName", required(props, "deploy_application")?),
        ("EnvironmentName", required(props, "deploy_environment")?),
    ];
    PipelineDeclaration::builder()
        .name(name)
        .role_arn(required(props, "role_arn")?)
        .artifact_store(store)
        .stages(stage("Source", source_action(props)?)?)
        .stages(stage(
            "Build",
            action("Build", ActionCategory::Build, "CodeBuild", &build, Some("source"), Some("build"))?,
        )?)
        .stages(stage(
            "Deploy",
            action("Deploy", ActionCategory::Deploy, "ElasticBeanstalk", &deploy, Some("build"), None)?,
        )?)
        .build()
        .map_err(invalid)
}

fn tags(props: &Props) -> Result<Vec<Tag>, ProviderError> {
    tags_of(props).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid)).collect()
}

/// The first action of a category, in any stage.
fn find_action(pipeline: &PipelineDeclaration, category: ActionCategory) -> Option<&ActionDeclaration> {
    pipeline
        .stages()
        .iter()
        .flat_map(|s| s.actions())
        .find(|a| a.action_type_id().map(|t| t.category()) == Some(&category))
}

fn config<'a>(action: Option<&'a ActionDeclaration>, key: &str) -> Option<&'a str> {
    action?.configuration()?.get(key).map(String::as_str)
}

/// The Source action in the shape of `source`. A provider the schema does not
/// know is reported by its AWS name, so that it shows as drift.
fn source_value(action: &ActionDeclaration) -> Value {
    let mut source = Props::new();
    let action = Some(action);
    match action.and_then(|a| a.action_type_id()).map(|t| t.provider()).unwrap_or_default() {
        "CodeStarSourceConnection" => {
            source.insert("provider".into(), Value::from("github"));
            put(&mut source, "connection_arn", config(action, "ConnectionArn"));
            put(&mut source, "repository", config(action, "FullRepositoryId"));
            put(&mut source, "branch", config(action, "BranchName"));
        }
        "S3" => {
            source.insert("provider".into(), Value::from("s3"));
            put(&mut source, "bucket", config(action, "S3Bucket"));
            put(&mut source, "key", config(action, "S3ObjectKey"));
        }
        other => {
            source.insert("provider".into(), Value::from(other));
        }
    }
    Value::Map(source)
}

/// A pipeline in the shape of the schema.
fn observe(pipeline: &PipelineDeclaration, arn: &str, tags: &[Tag]) -> Observed {
    let name = pipeline.name().to_string();
    let mut props = Props::new();
    props.insert("name".into(), Value::from(name.as_str()));
    props.insert("role_arn".into(), Value::from(pipeline.role_arn()));
    put(&mut props, "artifact_bucket", pipeline.artifact_store().map(|s| s.location()));
    put(&mut props, "source", find_action(pipeline, ActionCategory::Source).map(source_value));
    let build = find_action(pipeline, ActionCategory::Build);
    put(&mut props, "build_project", config(build, "ProjectName"));
    let deploy = find_action(pipeline, ActionCategory::Deploy);
    put(&mut props, "deploy_application", config(deploy, "ApplicationName"));
    put(&mut props, "deploy_environment", config(deploy, "EnvironmentName"));
    props.insert(
        "tags".into(),
        Value::Map(tags.iter().map(|t| (t.key().to_string(), Value::from(t.value()))).collect()),
    );
    let mut outputs = Props::new();
    outputs.insert("id".into(), Value::from(name.as_str()));
    outputs.insert("arn".into(), Value::from(arn));
    outputs.insert("name".into(), Value::from(name.as_str()));
    Observed { id: name, props, outputs }
}

/// CodePipeline's answer for a role IAM has not shown it yet:
/// `InvalidStructureException: CodePipeline is not authorized to perform
/// AssumeRole on role arn:aws:iam::...:role/...`.
fn role_not_seen(e: &ProviderError) -> bool {
    e.says("InvalidStructureException", "not authorized to perform AssumeRole")
}

/// The pipeline's name: the declared one, or the generated one (at most 100
/// characters, CodePipeline's limit; [`Ctx::generated_name`]).
fn pipeline_name(ctx: &Ctx, props: &Props) -> String {
    match props.get("name").and_then(Value::as_str) {
        Some(n) => n.to_string(),
        None => ctx.generated_name(100),
    }
}

/// CodePipeline pipelines.
pub struct Pipelines {
    client: aws_sdk_codepipeline::Client,
}

impl Pipelines {
    pub fn new(client: aws_sdk_codepipeline::Client) -> Self {
        Pipelines { client }
    }

    /// One pipeline with its tags; `None` when AWS does not have it.
    async fn read_one(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        self.read_with_arn(name, None).await
    }

    /// The pipeline `name`; with `known_arn` (what state recorded), its tags
    /// are listed beside the GetPipeline instead of after it, and again only
    /// if the pipeline's ARN turns out to be another.
    async fn read_with_arn(&self, name: &str, known_arn: Option<&str>) -> Result<Option<Observed>, ProviderError> {
        let early_tags = async {
            match known_arn {
                Some(arn) => Some(self.tags(arn).await),
                None => None,
            }
        };
        let (out, early_tags) = tokio::join!(self.client.get_pipeline().name(name).send(), early_tags);
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let e = aws_error("GetPipeline", e);
                return if gone(&e) { Ok(None) } else { Err(e) };
            }
        };
        let Some(pipeline) = out.pipeline() else { return Ok(None) };
        let arn = out.metadata().and_then(|m| m.pipeline_arn()).unwrap_or_default();
        let tags = match early_tags {
            Some(tags) if known_arn == Some(arn) => tags,
            _ => self.tags(arn).await,
        };
        match tags {
            Ok(tags) => Ok(Some(observe(pipeline, arn, &tags))),
            Err(e) if gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn tags(&self, arn: &str) -> Result<Vec<Tag>, ProviderError> {
        let mut pages = self.client.list_tags_for_resource().resource_arn(arn).into_paginator().send();
        let mut tags = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListTagsForResource", e))? {
            tags.extend(page.tags.unwrap_or_default());
        }
        Ok(tags)
    }

    async fn read_existing(&self, name: &str) -> Result<Observed, ProviderError> {
        self.read_one(name).await?.ok_or_else(|| ProviderError::Invalid(format!("pipeline {name} does not exist")))
    }

    /// Applies the tag changes from `before` to `after`; no call when none.
    async fn update_tags(&self, name: &str, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let Some((set, removed)) = tag_changes(before, after) else { return Ok(()) };
        if set.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let arn = self.read_existing(name).await?.outputs["arn"].as_str().unwrap_or_default().to_string();
        if !set.is_empty() {
            let set = set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid));
            self.client
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(set.collect::<Result<_, _>>()?))
                .send()
                .await
                .map_err(|e| aws_error("TagResource", e))?;
        }
        if !removed.is_empty() {
            self.client
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .map_err(|e| aws_error("UntagResource", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for Pipelines {
    fn kind(&self) -> Kind {
        Kind::Pipeline
    }

    /// One GetPipeline and one ListTagsForResource per pipeline (CodePipeline has
    /// no batch read), a few pipelines at a time.
    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        // With no recorded ARNs, each pipeline's tags follow its GetPipeline.
        self.read_recorded("", ids, &RecordedOutputs::new()).await
    }

    async fn read_recorded(
        &self,
        _stack: &str,
        ids: &[String],
        outputs: &RecordedOutputs,
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let reads: Vec<_> = ids.iter().map(|id| self.read_with_arn(id, recorded(outputs, id, "arn"))).collect();
        let found: Vec<Option<Observed>> = stream::iter(reads).buffer_unordered(READ_CONCURRENCY).try_collect().await?;
        Ok(found.into_iter().flatten().map(|o| (o.id.clone(), o)).collect())
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        let mut names = Vec::new();
        let mut pages = self.client.list_pipelines().into_paginator().send();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListPipelines", e))? {
            names.extend(page.pipelines.unwrap_or_default().into_iter().filter_map(|p| p.name));
        }
        let tag = |o: &Observed, key: &str| -> Option<String> {
            o.props.get("tags")?.as_map()?.get(key)?.as_str().map(str::to_string)
        };
        Ok(self
            .read_many(&names)
            .await?
            .into_values()
            .filter(|o| tag(o, TAG_STACK).as_deref() == Some(stack))
            .filter_map(|o| Some((tag(&o, TAG_NAME)?, o)))
            .collect())
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = pipeline_name(ctx, &props);
        let tags = tags(&props)?;
        let pipeline = declaration(&name, &props)?;
        let created = wait::through_iam_propagation(ctx, role_not_seen, || async {
            self.client
                .create_pipeline()
                .pipeline(pipeline.clone())
                .set_tags(if tags.is_empty() { None } else { Some(tags.clone()) })
                .send()
                .await
                .map_err(|e| aws_error("CreatePipeline", e))
        })
        .await?;
        // CreatePipeline answers with the pipeline and its tags; its ARN is
        // `arn:<partition>:codepipeline:<region>:<account>:<name>` (Service
        // Authorization Reference, CodePipeline's resource types), the account
        // and partition those of its role. A read back would tell nothing new.
        let account = pipeline.role_arn().split(':').nth(4).filter(|a| !a.is_empty());
        let partition = pipeline.role_arn().split(':').nth(1).unwrap_or("aws");
        let region = self.client.config().region().map(|r| r.to_string());
        match (created.pipeline(), account, region) {
            (Some(made), Some(account), Some(region)) => {
                let arn = format!("arn:{partition}:codepipeline:{region}:{account}:{name}");
                Ok(observe(made, &arn, created.tags()))
            }
            _ => self.read_existing(&name).await,
        }
    }

    async fn update(&self, ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        // What the stack does not declare stays as it is.
        let mut desired = before.clone();
        desired.extend(after.clone());
        let pipeline = declaration(id, &desired)?;
        // A new role (its replacement was just created) may not be visible yet.
        wait::through_iam_propagation(ctx, role_not_seen, || async {
            self.client
                .update_pipeline()
                .pipeline(pipeline.clone())
                .send()
                .await
                .map_err(|e| aws_error("UpdatePipeline", e))
        })
        .await?;
        self.update_tags(id, &before, &after).await?;
        self.read_existing(id).await
    }

    async fn delete(&self, _ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        let result = self.client.delete_pipeline().name(id).send().await;
        ok_if_gone(result.map(|_| ()).map_err(|e| aws_error("DeletePipeline", e)), GONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Path, map};

    fn props(pairs: Vec<(&str, Value)>) -> Props {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn declared(source: Value) -> Props {
        props(vec![
            ("name", "web".into()),
            ("role_arn", "arn:aws:iam::123456789012:role/pipeline".into()),
            ("artifact_bucket", "artifacts".into()),
            ("source", source),
            ("build_project", "web-build".into()),
            ("deploy_application", "web".into()),
            ("deploy_environment", "web-dev".into()),
            ("tags", map([(TAG_STACK, "dev".into())])),
        ])
    }

    fn github() -> Value {
        map([
            ("provider", "github".into()),
            ("connection_arn", "arn:aws:codestar-connections:us-east-1:123456789012:connection/abc".into()),
            ("repository", "octo/web".into()),
        ])
    }

    #[test]
    fn the_declaration_reads_back_as_declared_for_both_sources() {
        let s3 = map([("provider", "s3".into()), ("bucket", "src".into()), ("key", "web.zip".into())]);
        for source in [github(), s3] {
            let want = SCHEMA.normalized(&declared(source));
            let pipeline = declaration("web", &want).unwrap();
            let tags = tags(&want).unwrap();
            let got = observe(&pipeline, "arn:aws:codepipeline:us-east-1:123456789012:web", &tags);
            assert_eq!(SCHEMA.normalized(&got.props), want);
        }
    }

    #[test]
    fn a_github_source_builds_main_unless_it_names_a_branch() {
        let p = SCHEMA.normalized(&declared(github()));
        assert_eq!(p["source"].as_map().unwrap()["branch"], Value::from("main"));
        let s3 =
            SCHEMA.normalized(&declared(map([("provider", "s3".into()), ("bucket", "b".into()), ("key", "k".into())])));
        assert!(!s3["source"].as_map().unwrap().contains_key("branch"));
    }

    #[test]
    fn a_source_missing_what_its_provider_needs_is_refused_at_that_field() {
        let err = SCHEMA
            .validate(&declared(map([("provider", "github".into()), ("repository", "o/r".into())])), &Path::root());
        let err = err.unwrap_err();
        assert_eq!(err.path.to_string(), "source.connection_arn");
        assert!(err.message.contains("github source needs `connection_arn`"), "{}", err.message);

        let err = SCHEMA.validate(&declared(map([("provider", "s3".into()), ("bucket", "b".into())])), &Path::root());
        assert_eq!(err.unwrap_err().path.to_string(), "source.key");

        let mut both = github().as_map().unwrap().clone();
        both.insert("bucket".into(), "b".into());
        let err = SCHEMA.validate(&declared(Value::Map(both)), &Path::root()).unwrap_err();
        assert_eq!(err.path.to_string(), "source.bucket");

        let mut bad = github().as_map().unwrap().clone();
        bad.insert("repository".into(), "web".into());
        let err = SCHEMA.validate(&declared(Value::Map(bad)), &Path::root()).unwrap_err();
        assert_eq!(err.path.to_string(), "source.repository");
    }
}
