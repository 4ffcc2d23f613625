//! `codebuild.project`: a CodeBuild project run by CodePipeline.
//!
//! The project takes its source from the pipeline and hands its artifacts back to
//! it (both of type CODEPIPELINE), and builds in a Linux container. The stack
//! declares the build itself: the image, the machine size, privileged mode (for
//! Docker builds), plaintext environment variables and the buildspec (inline
//! YAML, or the path of a buildspec in the source).
//!
//! The project's name is its id. Reads are batched (BatchGetProjects, 100 names a
//! call); an update sends the whole desired definition with UpdateProject, which
//! also replaces the tags. A property the stack does not declare keeps what AWS
//! has.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_codebuild::types::{
    ArtifactsType, ComputeType, EnvironmentType, EnvironmentVariable, EnvironmentVariableType, Project,
    ProjectArtifacts, ProjectEnvironment, ProjectSource, SourceType, Tag,
};
use aws_smithy_types::error::operation::BuildError;

use super::shared::put;
use super::wait;
use super::{Ctx, Observed, Provider, ProviderError, Tagged, aws_error, tags_of};
pub use crate::model::kinds::codebuild_project::SCHEMA;
use crate::model::kinds::codebuild_project::{COMPUTE_TYPES, DEFAULT_IMAGE};
use crate::model::{Kind, Props, TAG_NAME, TAG_STACK, Value};

/// The most names one BatchGetProjects call takes.
const BATCH: usize = 100;

/// CodeBuild's answer for a service role IAM has not shown it yet:
/// `InvalidInputException: CodeBuild is not authorized to perform:
/// sts:AssumeRole on arn:aws:iam::...:role/...`.
fn role_not_seen(e: &ProviderError) -> bool {
    e.says("InvalidInputException", "not authorized to perform: sts:AssumeRole")
}

/// The project's name: the declared one, or the generated one (at most 150
/// characters, CodeBuild's limit; [`Ctx::generated_name`]).
fn project_name(ctx: &Ctx, props: &Props) -> String {
    match props.get("name").and_then(Value::as_str) {
        Some(n) => n.to_string(),
        None => ctx.generated_name(150),
    }
}

fn str_prop(props: &Props, key: &str) -> Option<String> {
    props.get(key).and_then(Value::as_str).map(str::to_string)
}

fn invalid(e: BuildError) -> ProviderError {
    ProviderError::Invalid(e.to_string())
}

/// The pipeline's source, with the buildspec when there is one.
fn source(props: &Props) -> Result<ProjectSource, ProviderError> {
    ProjectSource::builder()
        .r#type(SourceType::Codepipeline)
        .set_buildspec(str_prop(props, "buildspec"))
        .build()
        .map_err(invalid)
}

fn artifacts() -> Result<ProjectArtifacts, ProviderError> {
    ProjectArtifacts::builder().r#type(ArtifactsType::Codepipeline).build().map_err(invalid)
}

/// The build environment: a Linux container with the declared image, size,
/// privileged mode and plaintext variables.
fn environment(props: &Props) -> Result<ProjectEnvironment, ProviderError> {
    let mut variables = Vec::new();
    for (name, value) in props.get("environment_variables").and_then(Value::as_map).into_iter().flatten() {
        let value = value.as_str().ok_or_else(|| {
            ProviderError::Invalid(format!("environment variable `{name}` must be a string, found {value:?}"))
        })?;
        let variable = EnvironmentVariable::builder()
            .name(name)
            .value(value)
            .r#type(EnvironmentVariableType::Plaintext)
            .build()
            .map_err(invalid)?;
        variables.push(variable);
    }
    ProjectEnvironment::builder()
        .r#type(EnvironmentType::LinuxContainer)
        .image(str_prop(props, "image").unwrap_or_else(|| DEFAULT_IMAGE.to_string()))
        .compute_type(ComputeType::from(props.get("compute_type").and_then(Value::as_str).unwrap_or(COMPUTE_TYPES[0])))
        .privileged_mode(props.get("privileged_mode").and_then(Value::as_bool).unwrap_or(false))
        .set_environment_variables(Some(variables))
        .build()
        .map_err(invalid)
}

/// The declared tags as CodeBuild tags; `None` when the stack declares none.
fn tags(props: &Props) -> Option<Vec<Tag>> {
    props.get("tags")?;
    Some(tags_of(props).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect())
}

fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(
        tags.iter().filter_map(|t| Some((t.key()?.to_string(), Value::from(t.value().unwrap_or_default())))).collect(),
    )
}

fn tag<'a>(project: &'a Project, key: &str) -> Option<&'a str> {
    project.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// A project in the shape of the schema.
fn observe(project: &Project) -> Observed {
    let name = project.name().unwrap_or_default().to_string();
    let mut props = Props::new();
    props.insert("name".into(), Value::from(name.as_str()));
    put(&mut props, "description", project.description().filter(|d| !d.is_empty()));
    put(&mut props, "service_role", project.service_role());
    put(&mut props, "buildspec", project.source().and_then(|s| s.buildspec()).filter(|b| !b.is_empty()));
    if let Some(env) = project.environment() {
        props.insert("image".into(), Value::from(env.image()));
        props.insert("compute_type".into(), Value::from(env.compute_type().as_str()));
        props.insert("privileged_mode".into(), Value::Bool(env.privileged_mode().unwrap_or(false)));
        // Variables of every type are reported, so one that was added out of band
        // (from Parameter Store, say) shows as drift.
        let variables = env.environment_variables().iter().map(|v| (v.name().to_string(), Value::from(v.value())));
        props.insert("environment_variables".into(), Value::Map(variables.collect()));
    }
    props.insert("tags".into(), tags_value(project.tags()));
    let mut outputs = Props::new();
    outputs.insert("id".into(), Value::from(name.as_str()));
    put(&mut outputs, "arn", project.arn());
    outputs.insert("name".into(), Value::from(name.as_str()));
    Observed { id: name, props, outputs }
}

/// CodeBuild projects.
pub struct BuildProjects {
    client: aws_sdk_codebuild::Client,
}

impl BuildProjects {
    pub fn new(client: aws_sdk_codebuild::Client) -> Self {
        BuildProjects { client }
    }

    /// The projects AWS has among `names`, 100 names a call.
    async fn batch_get(&self, names: &[String]) -> Result<Vec<Project>, ProviderError> {
        let mut projects = Vec::new();
        for chunk in names.chunks(BATCH) {
            let out = self
                .client
                .batch_get_projects()
                .set_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error("BatchGetProjects", e))?;
            projects.extend(out.projects.unwrap_or_default());
        }
        Ok(projects)
    }

    async fn read_one(&self, name: &str) -> Result<Observed, ProviderError> {
        self.read_many(&[name.to_string()])
            .await?
            .remove(name)
            .ok_or_else(|| ProviderError::Invalid(format!("build project {name} does not exist")))
    }
}

#[async_trait]
impl Provider for BuildProjects {
    fn kind(&self) -> Kind {
        Kind::BuildProject
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let projects = self.batch_get(ids).await?;
        Ok(projects.iter().map(observe).map(|o| (o.id.clone(), o)).collect())
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        let mut names = Vec::new();
        let mut pages = self.client.list_projects().into_paginator().send();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListProjects", e))? {
            names.extend(page.projects.unwrap_or_default());
        }
        let projects = self.batch_get(&names).await?;
        Ok(projects
            .iter()
            .filter(|p| tag(p, TAG_STACK) == Some(stack))
            .filter_map(|p| Some((tag(p, TAG_NAME)?.to_string(), observe(p))))
            .collect())
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = project_name(ctx, &props);
        let (source, environment) = (source(&props)?, environment(&props)?);
        let created = wait::through_iam_propagation(ctx, role_not_seen, || async {
            self.client
                .create_project()
                .name(&name)
                .set_description(str_prop(&props, "description"))
                .source(source.clone())
                .artifacts(artifacts()?)
                .environment(environment.clone())
                .set_service_role(str_prop(&props, "service_role"))
                .set_tags(tags(&props))
                .send()
                .await
                .map_err(|e| aws_error("CreateProject", e))
        })
        .await?;
        match created.project() {
            Some(project) => Ok(observe(project)),
            None => self.read_one(&name).await,
        }
    }

    async fn update(&self, ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        // What the stack does not declare stays as it is.
        let mut desired = SCHEMA.normalized(before);
        desired.extend(SCHEMA.normalized(after));
        let (source, environment) = (source(&desired)?, environment(&desired)?);
        // A new service role (its replacement was just created) may not be
        // visible to CodeBuild yet.
        let updated = wait::through_iam_propagation(ctx, role_not_seen, || async {
            self.client
                .update_project()
                .name(id)
                .set_description(str_prop(&desired, "description"))
                .source(source.clone())
                .artifacts(artifacts()?)
                .environment(environment.clone())
                .set_service_role(str_prop(&desired, "service_role"))
                .set_tags(tags(&desired))
                .send()
                .await
                .map_err(|e| aws_error("UpdateProject", e))
        })
        .await?;
        match updated.project() {
            Some(project) => Ok(observe(project)),
            None => self.read_one(id).await,
        }
    }

    /// Deleting a project AWS does not have succeeds (DeleteProject says nothing).
    async fn delete(&self, _ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        self.client.delete_project().name(id).send().await.map_err(|e| aws_error("DeleteProject", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: Vec<(&str, Value)>) -> Props {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn a_project_aws_reports_reads_back_in_the_declared_shape() {
        let declared = SCHEMA.normalized(&props(vec![
            ("name", "web-build".into()),
            ("service_role", "arn:aws:iam::123456789012:role/build".into()),
            ("buildspec", "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n".into()),
            ("privileged_mode", true.into()),
            ("environment_variables", Value::Map([("STAGE".to_string(), "dev".into())].into())),
            ("tags", Value::Map([(TAG_STACK.to_string(), "dev".into())].into())),
        ]));
        let project = Project::builder()
            .name("web-build")
            .arn("arn:aws:codebuild:us-east-1:123456789012:project/web-build")
            .service_role("arn:aws:iam::123456789012:role/build")
            .source(source(&declared).unwrap())
            .artifacts(artifacts().unwrap())
            .environment(environment(&declared).unwrap())
            .set_tags(tags(&declared))
            .build();
        let observed = observe(&project);
        assert_eq!(SCHEMA.normalized(&observed.props), declared);
        assert_eq!(observed.id, "web-build");
        assert_eq!(observed.outputs["arn"], Value::from("arn:aws:codebuild:us-east-1:123456789012:project/web-build"));
    }

    #[test]
    fn an_empty_description_is_no_description() {
        let p = SCHEMA.normalized(&props(vec![("description", "".into()), ("service_role", "r".into())]));
        assert!(!p.contains_key("description"));
    }
}
