//! `elasticbeanstalk.environment`: an Elastic Beanstalk environment (web server
//! tier), by default a single t3.medium instance on the newest Docker platform
//! of Amazon Linux 2023.
//!
//! The platform is chosen at create: the newest solution stack (by its `vX.Y.Z`)
//! whose name starts with `solution_stack_prefix` and ends with
//! `running <platform>`; it is reported as the `solution_stack` output. A read
//! gives back `solution_stack_prefix` as the words before the version (narrowed
//! to a shorter declared prefix by `trim_observed`) and `platform` as what
//! follows `running`.
//!
//! Configuration is option settings. Properties of their own stand for the
//! settings a stack needs most (see `CONVENIENCE`): `instance_type`,
//! `instance_profile` and `security_groups` for `aws:autoscaling:launchconfiguration`
//! `InstanceType`, `IamInstanceProfile` and `SecurityGroups`; `single_instance`
//! for `aws:elasticbeanstalk:environment` `EnvironmentType`; `availability_zone`
//! for `aws:autoscaling:asg` `Custom Availability Zones` (the default VPC's
//! subnet in that zone); `vpc_id` and `subnets` for `aws:ec2:vpc` `VPCId` and
//! `Subnets`. `option_settings` holds any other setting. A property left out is
//! left as AWS has it.
//!
//! Unless `aws:autoscaling:launchconfiguration DisableDefaultEC2SecurityGroup`
//! is `true`, Elastic Beanstalk adds a group of its own to the instances and
//! reports its id in `SecurityGroups`: a read looks the reported groups up
//! (one DescribeSecurityGroups) and leaves out the one Elastic Beanstalk made
//! (named `awseb-e-...-AWSEBSecurityGroup-...`, tagged with its CloudFormation
//! logical id `AWSEBSecurityGroup`), as it is not the stack's. AWS reports
//! every setting of an environment, so the schema's `trim_observed` keeps only
//! the `option_settings` the stack declares; settings are compared by namespace
//! and name (a setting's `ResourceName` is not modelled). A value may be a
//! secret (`value = "${secret.NAME}"`): AWS reports it in plain text, and the
//! planner marks what it reports for that namespace and name as secret again,
//! so plans show `[secret]` and state holds it only encrypted.
//!
//! Tags are the stack's ones: the `Name` and `elasticbeanstalk:*` tags AWS puts
//! on every environment are left out of reads and refused in stacks.
//!
//! The outputs `instance_id` and `private_ip` are those of the environment's
//! instance (the newest running one when it runs several): DescribeEnvironmentResources,
//! then EC2 DescribeInstances. Elastic Beanstalk replaces an instance whenever
//! its launch settings change or it fails, so they are read anew on every
//! refresh, and are absent while no instance runs.
//!
//! A batched read is one DescribeEnvironments call naming every environment
//! (terminated and terminating ones count as gone), plus, per environment, one
//! DescribeConfigurationSettings, one ListTagsForResource and one
//! DescribeEnvironmentResources call (Elastic Beanstalk reports none of them in
//! bulk), then one DescribeInstances for the environment's instances and one
//! DescribeSecurityGroups for the groups its settings name.
//!
//! Create, update and delete wait for the environment to settle (Ready, or
//! gone), reporting its status and its newest events (DescribeEvents) as
//! progress. An environment found by its tags in the middle of an operation
//! (a create an interrupted run left) is waited for too before it is adopted. An update that changes both settings and the version makes two
//! UpdateEnvironment calls, settings first: AWS refuses both in one call.

mod platform;
mod settings;
mod watch;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ec2::types::InstanceStateName;
use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::types::{
    ConfigurationDeploymentStatus, ConfigurationOptionSetting, EnvironmentDescription, EnvironmentHealth,
    EnvironmentStatus, EnvironmentTier, OptionSpecification,
};
use aws_smithy_types::DateTime;
use futures::future::{OptionFuture, join_all, try_join_all, try_join3};

use super::eb_application::{list_tags, owned_by, tag_list, update_tags};
use super::shared::put;
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, RecordedOutputs, Tagged, aws_error, recorded};
pub use crate::model::kinds::eb_environment::SCHEMA;
use crate::model::kinds::eb_environment::{is_eb_group, is_system_tag};
use crate::model::{Kind, Props, Value};
use platform::{pick_solution_stack, split_solution_stack};
use settings::{aws_settings, props_from_settings, setting_changes, settings_of};
use watch::{Watch, in_progress, live, now, status_of};

/// An environment's option settings, tags and instance (with its private IP).
type Read = (InEffect, Value, Option<(String, Option<String>)>);

/// The option settings in effect, and the ids of the groups among them that
/// Elastic Beanstalk made itself (it adds its own to those the stack names).
type InEffect = (Vec<ConfigurationOptionSetting>, BTreeSet<String>);

/// The reads of an environment made before its description arrived, from
/// what state recorded: settings and tags for the recorded ARN, when there
/// is one.
struct Early {
    arn: Option<String>,
    settings: Option<Result<InEffect, ProviderError>>,
    tags: Option<Result<Value, ProviderError>>,
    instance: Result<Option<(String, Option<String>)>, ProviderError>,
}

/// Leaves the groups Elastic Beanstalk made (`eb`) out of `security_groups`,
/// and the property out when no other is left: Elastic Beanstalk's group alone
/// is what an environment has when the stack names none.
fn drop_groups(props: &mut Props, eb: &BTreeSet<String>) {
    if let Some(Value::List(groups)) = props.get_mut("security_groups") {
        groups.retain(|g| g.as_str().is_none_or(|g| !eb.contains(g)));
        if groups.is_empty() {
            props.remove("security_groups");
        }
    }
}

/// Whether a described group is the one Elastic Beanstalk made.
fn made_by_eb(group: &aws_sdk_ec2::types::SecurityGroup) -> bool {
    group.group_name().is_some_and(is_eb_group)
        || group
            .tags()
            .iter()
            .any(|t| t.key() == Some("aws:cloudformation:logical-id") && t.value() == Some("AWSEBSecurityGroup"))
}

/// `<stack>-<resource>` made into a valid environment name.
fn default_name(stack: &str, resource: &str) -> String {
    let mut name: String =
        format!("{stack}-{resource}").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    name.truncate(40);
    let name = name.trim_matches('-');
    match name.len() {
        0 => "infra-env".to_string(),
        1..4 => format!("{name}-env"),
        _ => name.to_string(),
    }
}

fn without_system_tags(tags: Value) -> Value {
    match tags {
        Value::Map(m) => Value::Map(m.into_iter().filter(|(k, _)| !is_system_tag(k)).collect()),
        other => other,
    }
}

/// Elastic Beanstalk environments.
pub struct EbEnvironments {
    client: Client,
    /// For the environment's instance: its private IP.
    ec2: aws_sdk_ec2::Client,
    /// The solution stacks Elastic Beanstalk offers, asked once per run.
    solution_stacks: tokio::sync::OnceCell<Vec<String>>,
}

impl EbEnvironments {
    pub fn new(client: Client, ec2: aws_sdk_ec2::Client) -> Self {
        EbEnvironments { client, ec2, solution_stacks: tokio::sync::OnceCell::new() }
    }

    /// The ids of the security groups Elastic Beanstalk made for the
    /// environment `id`: its CloudFormation stack `awseb-<id>-stack` names its
    /// group `awseb-<id>-stack-AWSEBSecurityGroup-<suffix>`. Asked beside the
    /// settings, which name groups by id.
    async fn eb_groups(&self, id: &str) -> Result<BTreeSet<String>, ProviderError> {
        let filter =
            aws_sdk_ec2::types::Filter::builder().name("group-name").values(format!("awseb-{id}-stack-*")).build();
        let out = self
            .ec2
            .describe_security_groups()
            .filters(filter)
            .send()
            .await
            .map_err(|e| aws_error("DescribeSecurityGroups", e))?;
        Ok(out
            .security_groups()
            .iter()
            .filter(|g| made_by_eb(g))
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect())
    }

    /// The environment's instance and its private IP: DescribeEnvironmentResources,
    /// then DescribeInstances. Of several (during a replacement), the newest
    /// running one. None while there is none: EC2 may not list an instance
    /// Elastic Beanstalk has just launched. With `known` (the instance state
    /// recorded), it is described beside the first call, and the second is
    /// made only when the environment's instances turn out to be others.
    async fn instance(&self, id: &str, known: Option<&str>) -> Result<Option<(String, Option<String>)>, ProviderError> {
        let resources = self.client.describe_environment_resources().environment_id(id).send();
        let early = OptionFuture::from(known.map(|known| self.describe_instances(vec![known.to_string()])));
        let (out, early) = tokio::join!(resources, early);
        let out = out.map_err(|e| aws_error("DescribeEnvironmentResources", e))?;
        let ids: Vec<String> = out
            .environment_resources()
            .map(|r| r.instances().iter().filter_map(|i| i.id().map(str::to_string)).collect())
            .unwrap_or_default();
        if ids.is_empty() {
            return Ok(None);
        }
        match early {
            Some(described) if known.is_some_and(|k| ids == [k]) => described,
            _ => self.describe_instances(ids).await,
        }
    }

    /// Of the instances `ids`, the newest running one, with its private IP.
    async fn describe_instances(&self, ids: Vec<String>) -> Result<Option<(String, Option<String>)>, ProviderError> {
        let out = match self.ec2.describe_instances().set_instance_ids(Some(ids)).send().await {
            Ok(out) => out,
            Err(e) => {
                let e = aws_error("DescribeInstances", e);
                return if e.code() == Some("InvalidInstanceID.NotFound") { Ok(None) } else { Err(e) };
            }
        };
        let running = |i: &&aws_sdk_ec2::types::Instance| {
            matches!(i.state().and_then(|s| s.name()), Some(InstanceStateName::Running | InstanceStateName::Pending))
        };
        let newest = out.reservations().iter().flat_map(|r| r.instances()).filter(running).max_by_key(|i| {
            (i.launch_time().map(|t| (t.secs(), t.subsec_nanos())), i.instance_id().map(str::to_string))
        });
        Ok(newest.and_then(|i| Some((i.instance_id()?.to_string(), i.private_ip_address().map(str::to_string)))))
    }

    /// The environments with these ids (every one when `None`), all pages,
    /// deleted ones left out.
    async fn describe(&self, ids: Option<&[String]>) -> Result<Vec<EnvironmentDescription>, ProviderError> {
        let mut envs = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .describe_environments()
                .set_environment_ids(ids.map(<[String]>::to_vec))
                .include_deleted(false)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("DescribeEnvironments", e))?;
            envs.extend(out.environments.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                return Ok(envs);
            }
        }
    }

    /// The id of the environment named `name` while it is terminating (or has
    /// just terminated: this very describe may be the one that sees it end).
    async fn terminating(&self, name: &str) -> Result<Option<String>, ProviderError> {
        let envs = self.describe(None).await?;
        let ending = |e: &&EnvironmentDescription| {
            matches!(e.status(), Some(EnvironmentStatus::Terminating | EnvironmentStatus::Terminated))
        };
        Ok(envs
            .iter()
            .filter(ending)
            .find(|e| e.environment_name() == Some(name))
            .and_then(|e| e.environment_id().map(str::to_string)))
    }

    async fn describe_one(&self, id: &str) -> Result<Option<EnvironmentDescription>, ProviderError> {
        let envs = self.describe(Some(&[id.to_string()])).await?;
        Ok(envs.into_iter().find(|e| e.environment_id() == Some(id)))
    }

    /// The option settings in effect: the deployed configuration, when AWS also
    /// reports a draft being applied; with Elastic Beanstalk's own groups.
    async fn settings(&self, env: &EnvironmentDescription) -> Result<InEffect, ProviderError> {
        let (app, name) = (env.application_name().unwrap_or_default(), env.environment_name().unwrap_or_default());
        self.settings_of(app, name, env.environment_id().unwrap_or_default()).await
    }

    /// [`Self::settings`] of the environment `env` (id `id`) of the application `app`.
    async fn settings_of(&self, app: &str, env: &str, id: &str) -> Result<InEffect, ProviderError> {
        let call = self.client.describe_configuration_settings().application_name(app).environment_name(env).send();
        let (out, eb) = tokio::join!(call, self.eb_groups(id));
        let out = out.map_err(|e| aws_error("DescribeConfigurationSettings", e))?;
        let configs = out.configuration_settings();
        let config = configs
            .iter()
            .find(|c| c.deployment_status() == Some(&ConfigurationDeploymentStatus::Deployed))
            .or(configs.first());
        let settings = config.map(|c| c.option_settings().to_vec()).unwrap_or_default();
        Ok((settings, eb?))
    }

    async fn observe(&self, env: &EnvironmentDescription) -> Result<Observed, ProviderError> {
        let arn = env.environment_arn().unwrap_or_default();
        let id = env.environment_id().unwrap_or_default().to_string();
        let read = try_join3(self.settings(env), list_tags(&self.client, arn), self.instance(&id, None)).await?;
        self.observed(env, read).await
    }

    /// What the reads after the describe need, made at once from what state
    /// recorded of the environment `id`: its ARN (which names its application
    /// and itself) and its instance.
    async fn early(&self, id: &str, outputs: &RecordedOutputs) -> Early {
        let arn = recorded(outputs, id, "arn");
        let names = arn.and_then(|a| a.split_once(":environment/")).and_then(|(_, rest)| rest.rsplit_once('/'));
        let settings = OptionFuture::from(names.map(|(app, env)| self.settings_of(app, env, id)));
        let tags = OptionFuture::from(arn.map(|arn| list_tags(&self.client, arn)));
        let instance = self.instance(id, recorded(outputs, id, "instance_id"));
        let (settings, tags, instance) = tokio::join!(settings, tags, instance);
        Early { arn: arn.map(str::to_string), settings, tags, instance }
    }

    /// [`Self::observe`] from the early reads, reading again what they got
    /// for another ARN than the environment's.
    async fn observe_early(&self, env: &EnvironmentDescription, early: Early) -> Result<Observed, ProviderError> {
        let arn = env.environment_arn().unwrap_or_default();
        let same = early.arn.as_deref() == Some(arn);
        let settings = async {
            match early.settings {
                Some(settings) if same => settings,
                _ => self.settings(env).await,
            }
        };
        let tags = async {
            match early.tags {
                Some(tags) if same => tags,
                _ => list_tags(&self.client, arn).await,
            }
        };
        let (settings, tags) = futures::future::try_join(settings, tags).await?;
        self.observed(env, (settings, tags, early.instance?)).await
    }

    async fn observed(&self, env: &EnvironmentDescription, read: Read) -> Result<Observed, ProviderError> {
        let (settings, tags, instance) = read;
        let id = env.environment_id().unwrap_or_default().to_string();
        let mut props = Props::new();
        put(&mut props, "name", env.environment_name());
        put(&mut props, "application", env.application_name());
        put(&mut props, "version_label", env.version_label().filter(|v| !v.is_empty()));
        let (prefix, platform) = split_solution_stack(env.solution_stack_name().unwrap_or_default());
        put(&mut props, "solution_stack_prefix", prefix);
        put(&mut props, "platform", platform);
        let (settings, eb) = settings;
        props_from_settings(&settings, &mut props);
        drop_groups(&mut props, &eb);
        props.insert("tags".into(), without_system_tags(tags));
        let mut outputs = Props::new();
        outputs.insert("id".into(), Value::from(id.as_str()));
        put(&mut outputs, "name", env.environment_name());
        put(&mut outputs, "arn", env.environment_arn());
        put(&mut outputs, "cname", env.cname());
        put(&mut outputs, "endpoint_url", env.endpoint_url());
        put(&mut outputs, "solution_stack", env.solution_stack_name());
        if let Some((instance_id, private_ip)) = instance {
            outputs.insert("instance_id".into(), Value::from(instance_id));
            put(&mut outputs, "private_ip", private_ip);
        }
        Ok(Observed { id, props, outputs })
    }

    async fn read_one(&self, id: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(self.read_many(&[id.to_string()]).await?.remove(id))
    }

    async fn solution_stack(&self, prefix: &str, platform: &str) -> Result<String, ProviderError> {
        pick_solution_stack(self.solution_stacks().await?, prefix, platform).map_err(ProviderError::Invalid)
    }

    async fn solution_stacks(&self) -> Result<&Vec<String>, ProviderError> {
        self.solution_stacks
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .list_available_solution_stacks()
                    .send()
                    .await
                    .map_err(|e| aws_error("ListAvailableSolutionStacks", e))?;
                Ok(out.solution_stacks().to_vec())
            })
            .await
    }

    /// Polls the environment until `done` says so, reporting its status and
    /// events since `since` (asked beside each describe); the last description
    /// (none once the environment is gone).
    async fn wait_env<F>(
        &self,
        ctx: &Ctx,
        id: &str,
        what: &str,
        since: DateTime,
        done: F,
    ) -> Result<Option<EnvironmentDescription>, ProviderError>
    where
        F: Fn(Option<&EnvironmentDescription>) -> Result<bool, ProviderError> + Send + Sync,
    {
        let (env, watch) = self.watch_until(ctx, id, what, since, done).await?;
        watch.flush(&self.client, ctx, id, env.as_ref()).await?;
        Ok(env)
    }

    /// [`Self::wait_env`] without the last events: the watch is returned, for
    /// the caller to [`Watch::flush`] beside what it does next.
    async fn watch_until<F>(
        &self,
        ctx: &Ctx,
        id: &str,
        what: &str,
        since: DateTime,
        done: F,
    ) -> Result<(Option<EnvironmentDescription>, Watch), ProviderError>
    where
        F: Fn(Option<&EnvironmentDescription>) -> Result<bool, ProviderError> + Send + Sync,
    {
        let watch = Watch::new(since);
        let env = {
            let (watch, done) = (&watch, &done);
            wait::until(ctx, what, Backoff::default(), || async move {
                let (env, events) = tokio::join!(self.describe_one(id), watch.events(&self.client, id));
                let env = env?;
                watch.report(ctx, env.as_ref(), events?);
                Ok(done(env.as_ref())?.then_some(env))
            })
            .await?
        };
        Ok((env, watch))
    }

    /// Waits until the environment is Ready, failing if it is terminated or
    /// ends up Ready with a Red health; its description then, and the watch
    /// whose last events are still to be shown ([`Watch::flush`]).
    async fn watch_ready(
        &self,
        ctx: &Ctx,
        id: &str,
        what: &str,
        since: DateTime,
    ) -> Result<(EnvironmentDescription, Watch), ProviderError> {
        let (ready, watch) = self
            .watch_until(ctx, id, what, since, |env| {
                let Some(env) = env.filter(|e| live(e)) else {
                    return Err(ProviderError::Invalid(format!(
                        "environment {id} was terminated while waiting for {what}; see its events"
                    )));
                };
                match env.status() {
                    Some(EnvironmentStatus::Ready) if env.health() == Some(&EnvironmentHealth::Red) => {
                        Err(ProviderError::Invalid(format!(
                            "environment {} is Ready but its health is Red; see its events",
                            env.environment_name().unwrap_or(id)
                        )))
                    }
                    Some(EnvironmentStatus::Ready) => Ok(true),
                    _ => Ok(false),
                }
            })
            .await?;
        Ok((ready.ok_or_else(|| gone(id))?, watch))
    }

    /// [`Self::watch_ready`], its last events shown.
    async fn wait_ready(&self, ctx: &Ctx, id: &str, what: &str, since: DateTime) -> Result<(), ProviderError> {
        let (env, watch) = self.watch_ready(ctx, id, what, since).await?;
        watch.flush(&self.client, ctx, id, Some(&env)).await
    }

    /// One UpdateEnvironment call, then a wait until the environment is Ready.
    async fn update_env(
        &self,
        ctx: &Ctx,
        id: &str,
        what: &str,
        call: aws_sdk_elasticbeanstalk::operation::update_environment::builders::UpdateEnvironmentFluentBuilder,
    ) -> Result<(), ProviderError> {
        let since = now();
        let call = call.environment_id(id);
        // A new instance profile (its replacement was just created) may not
        // be visible to Elastic Beanstalk yet.
        wait::through_iam_propagation(ctx, profile_not_seen, || async {
            call.clone().send().await.map_err(|e| aws_error("UpdateEnvironment", e))
        })
        .await?;
        self.wait_ready(ctx, id, what, since).await
    }

    /// Waits until the environment `name` (id `id`) is terminated, reporting
    /// its events since `since`.
    async fn wait_terminated(&self, ctx: &Ctx, id: &str, name: &str, since: DateTime) -> Result<(), ProviderError> {
        self.wait_env(ctx, id, &format!("environment {name} to terminate"), since, |e| {
            Ok(e.is_none_or(|e| e.status() == Some(&EnvironmentStatus::Terminated)))
        })
        .await?;
        Ok(())
    }

    /// Waits until the environment is settled (AWS terminates only an
    /// environment that is not in the middle of an operation), then
    /// terminates it unless it is already on its way, and waits until it is.
    async fn terminate_when_settled(&self, ctx: &Ctx, id: &str) -> Result<(), ProviderError> {
        let Some(env) = self.describe_one(id).await? else { return Ok(()) };
        let name = env.environment_name().unwrap_or(id).to_string();
        let settled = |e: Option<&EnvironmentDescription>| {
            e.is_none_or(|e| {
                matches!(
                    e.status(),
                    Some(EnvironmentStatus::Ready | EnvironmentStatus::Terminating | EnvironmentStatus::Terminated)
                )
            })
        };
        let env = if settled(Some(&env)) {
            Some(env)
        } else {
            // AWS terminates only an environment that is not in the middle of an operation.
            let what = format!("environment {name} to finish {} before terminating it", status_of(&env));
            self.wait_env(ctx, id, &what, now(), |e| Ok(settled(e))).await?
        };
        let since = now();
        match env {
            None => return Ok(()),
            Some(e) if e.status() == Some(&EnvironmentStatus::Terminated) => return Ok(()),
            Some(e) if e.status() == Some(&EnvironmentStatus::Terminating) => {}
            Some(_) => {
                self.client
                    .terminate_environment()
                    .environment_id(id)
                    .send()
                    .await
                    .map_err(|e| aws_error("TerminateEnvironment", e))?;
            }
        }
        self.wait_terminated(ctx, id, &name, since).await
    }
}

/// Elastic Beanstalk's answer for an instance profile IAM has not shown it
/// yet: `InvalidParameterValue: The instance profile ... associated with the
/// environment does not exist.`
fn profile_not_seen(e: &ProviderError) -> bool {
    e.says("InvalidParameterValue", "instance profile") && e.says("InvalidParameterValue", "does not exist")
}

fn gone(id: &str) -> ProviderError {
    ProviderError::Invalid(format!("elastic beanstalk environment {id} no longer exists"))
}

#[async_trait]
impl Provider for EbEnvironments {
    fn kind(&self) -> Kind {
        Kind::EbEnvironment
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let envs = self.describe(Some(ids)).await?;
        let wanted =
            envs.iter().filter(|e| live(e) && e.environment_id().is_some_and(|id| ids.iter().any(|i| i == id)));
        let observed = try_join_all(wanted.map(|e| self.observe(e))).await?;
        Ok(observed.into_iter().map(|o| (o.id.clone(), o)).collect())
    }

    /// The describe and, for each environment, the reads that need what it
    /// returns, at once, from what state recorded ([`EbEnvironments::early`]).
    async fn read_recorded(
        &self,
        _stack: &str,
        ids: &[String],
        outputs: &RecordedOutputs,
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let early = join_all(ids.iter().map(|id| self.early(id, outputs)));
        let (envs, early) = tokio::join!(self.describe(Some(ids)), early);
        let mut early: BTreeMap<&str, Early> = ids.iter().map(String::as_str).zip(early).collect();
        let wanted = envs?.into_iter().filter(live).filter_map(|e| {
            let early = early.remove(e.environment_id()?)?;
            Some((e, early))
        });
        let observed =
            try_join_all(wanted.map(|(e, early)| async move { self.observe_early(&e, early).await })).await?;
        Ok(observed.into_iter().map(|o| (o.id.clone(), o)).collect())
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        let envs: Vec<EnvironmentDescription> = self.describe(None).await?.into_iter().filter(live).collect();
        let owners =
            try_join_all(envs.iter().map(|e| list_tags(&self.client, e.environment_arn().unwrap_or_default()))).await?;
        let mut found = Tagged::new();
        for (env, tags) in envs.iter().zip(owners) {
            let Some(name) = owned_by(&tags, stack) else { continue };
            let id = env.environment_id().unwrap_or_default();
            if in_progress(env) {
                // A create (or update) an interrupted run left: finish waiting for
                // it, as the create would have, so what is adopted is Ready and
                // has its instance.
                let ctx = Ctx { stack: stack.to_string(), name: name.clone(), ..Ctx::default() };
                self.wait_env(&ctx, id, &format!("environment {id} to settle"), now(), |e| {
                    Ok(e.is_none_or(|e| !in_progress(e)))
                })
                .await?;
                if let Some(settled) = self.read_one(id).await? {
                    found.push((name, settled));
                }
                continue;
            }
            found.push((name, self.observe(env).await?));
        }
        Ok(found)
    }

    /// The solution stacks, to pick the newest platform from.
    async fn prepare_creates(&self, _declared: &[&Props]) {
        let _ = self.solution_stacks().await;
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let text = |name: &str| props.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        let name = match props.get("name").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None => default_name(&ctx.stack, &ctx.name),
        };
        let stack = self.solution_stack(&text("solution_stack_prefix"), &text("platform")).await?;
        ctx.status(&format!("creating environment {name} on {stack}"));
        let since = now();
        let call = self
            .client
            .create_environment()
            .application_name(text("application"))
            .environment_name(&name)
            .solution_stack_name(&stack)
            .tier(EnvironmentTier::builder().name("WebServer").r#type("Standard").build())
            .set_version_label(props.get("version_label").and_then(Value::as_str).map(str::to_string))
            .set_option_settings(Some(aws_settings(&settings_of(&props))))
            .set_tags(Some(tag_list(&props)).filter(|t| !t.is_empty()));
        let create = || {
            wait::through_iam_propagation(ctx, profile_not_seen, || async {
                call.clone().send().await.map_err(|e| aws_error("CreateEnvironment", e))
            })
        };
        let created = match create().await {
            // The name is held by an environment still terminating (a run
            // killed while it replaced this one): it is free once that ends,
            // which a describe made meanwhile may already have seen.
            Err(e) if e.says("InvalidParameterValue", "already exists") => {
                if let Some(old) = self.terminating(&name).await? {
                    let what = format!("environment {name} to finish terminating before it is made again");
                    self.wait_env(ctx, &old, &what, now(), |e| {
                        Ok(e.is_none_or(|e| e.status() == Some(&EnvironmentStatus::Terminated)))
                    })
                    .await?;
                }
                create().await?
            }
            other => other?,
        };
        let id = created.environment_id().unwrap_or_default().to_string();
        // The last poll's description is the environment as it is now: what
        // it reads is read from it, not described again, beside its last events.
        let (env, watch) = self.watch_ready(ctx, &id, &format!("environment {name} to be ready"), since).await?;
        let (observed, shown) = tokio::join!(self.observe(&env), watch.flush(&self.client, ctx, &id, Some(&env)));
        shown?;
        observed
    }

    async fn update(&self, ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        let current = self.read_one(id).await?.ok_or_else(|| gone(id))?;
        let name = current.outputs.get("name").and_then(Value::as_str).unwrap_or(id).to_string();

        let (set, remove) = setting_changes(&before, &after);
        if !set.is_empty() || !remove.is_empty() {
            let remove = remove
                .iter()
                .map(|(ns, n)| OptionSpecification::builder().namespace(ns).option_name(n).build())
                .collect::<Vec<_>>();
            let call = self
                .client
                .update_environment()
                .set_option_settings(Some(aws_settings(&set)).filter(|s| !s.is_empty()))
                .set_options_to_remove(Some(remove).filter(|r| !r.is_empty()));
            self.update_env(ctx, id, &format!("environment {name} to apply its settings"), call).await?;
        }

        let version = after.get("version_label").and_then(Value::as_str);
        if version.is_some() && version != before.get("version_label").and_then(Value::as_str) {
            let version = version.unwrap_or_default();
            let call = self.client.update_environment().version_label(version);
            self.update_env(ctx, id, &format!("environment {name} to deploy {version}"), call).await?;
        }

        let arn = current.outputs.get("arn").and_then(Value::as_str).unwrap_or_default();
        let since = now();
        if update_tags(&self.client, arn, &before, &after).await? {
            // AWS applies tag changes to the environment's resources with an update.
            self.wait_ready(ctx, id, &format!("environment {name} to apply its tags"), since).await?;
        }
        self.read_one(id).await?.ok_or_else(|| gone(id))
    }

    /// TerminateEnvironment at once; only when Elastic Beanstalk refuses it
    /// (the environment is in the middle of an operation, already terminating,
    /// or gone) is it described, waited for and terminated as it then allows.
    async fn delete(&self, ctx: &Ctx, id: &str, props: &Props) -> Result<(), ProviderError> {
        let since = now();
        if let Err(e) = self.client.terminate_environment().environment_id(id).send().await {
            let e = aws_error("TerminateEnvironment", e);
            ctx.status(&format!("not terminated at once ({e}); describing it"));
            return self.terminate_when_settled(ctx, id).await;
        }
        let name = props.get("name").and_then(Value::as_str).unwrap_or(id);
        self.wait_terminated(ctx, id, name, since).await
    }
}

#[cfg(test)]
mod tests {
    use super::platform::*;
    use super::settings::*;
    use super::*;
    use crate::model::Path;
    use crate::model::kinds::eb_environment::*;
    use crate::model::map;

    fn setting(ns: &str, name: &str, value: &str) -> Value {
        setting_value(ns, name, value)
    }

    #[test]
    fn the_newest_matching_solution_stack_is_chosen() {
        let stacks: Vec<String> = [
            "64bit Amazon Linux 2 v4.2.0 running Docker",
            "64bit Amazon Linux 2023 v4.6.0 running Docker",
            "64bit Amazon Linux 2023 v4.10.1 running Docker",
            "64bit Amazon Linux 2023 v4.11.0 running ECS",
            "64bit Amazon Linux 2023 v6.6.0 running Node.js 22",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            pick_solution_stack(&stacks, "64bit Amazon Linux 2023", "Docker").unwrap(),
            "64bit Amazon Linux 2023 v4.10.1 running Docker"
        );
        assert_eq!(
            pick_solution_stack(&stacks, "64bit Amazon Linux 2", "Docker").unwrap(),
            "64bit Amazon Linux 2 v4.2.0 running Docker"
        );
        let err = pick_solution_stack(&stacks, "64bit Windows", "Docker").unwrap_err();
        assert!(err.contains("candidates: 64bit Amazon Linux 2023 v4.6.0 running Docker"), "{err}");
    }

    #[test]
    fn a_solution_stack_reads_back_as_its_prefix_and_platform() {
        let name = "64bit Amazon Linux 2023 v4.6.0 running Docker";
        assert_eq!(
            split_solution_stack(name),
            (Some("64bit Amazon Linux 2023".to_string()), Some("Docker".to_string()))
        );
        let recorded = Props::from([("solution_stack_prefix".to_string(), Value::from("64bit Amazon Linux"))]);
        let mut observed = Props::from([("solution_stack_prefix".to_string(), Value::from("64bit Amazon Linux 2023"))]);
        trim_observed(&recorded, &mut observed);
        assert_eq!(observed["solution_stack_prefix"], Value::from("64bit Amazon Linux"));
        let mut other = Props::from([("solution_stack_prefix".to_string(), Value::from("64bit Amazon Linux 2"))]);
        trim_observed(
            &Props::from([("solution_stack_prefix".to_string(), Value::from("64bit Amazon Linux 2023"))]),
            &mut other,
        );
        assert_eq!(other["solution_stack_prefix"], Value::from("64bit Amazon Linux 2"), "a different stack is drift");
    }

    #[test]
    fn the_tags_elastic_beanstalk_sets_are_not_the_stacks() {
        let tags = map([
            ("Name", "seed-dev".into()),
            ("elasticbeanstalk:environment-id", "e-1".into()),
            ("project", "seed".into()),
        ]);
        assert_eq!(without_system_tags(tags), map([("project", "seed".into())]));
        let declared = Props::from([
            ("application".to_string(), Value::from("app")),
            ("tags".to_string(), map([("Name", "web".into())])),
        ]);
        assert_eq!(SCHEMA.validate(&declared, &Path::root()).unwrap_err().path.to_string(), "tags.Name");
    }

    #[test]
    fn default_names_are_valid_environment_names() {
        assert_eq!(default_name("dev", "web_env"), "dev-web-env");
        assert_eq!(default_name("a", "b"), "a-b-env");
        let long = default_name("development", "a_very_long_resource_name_for_the_environment");
        assert!(valid_name(&long) && long.len() == 40, "{long}");
    }

    #[test]
    fn convenience_properties_become_option_settings_and_come_back() {
        let props = SCHEMA.normalized(&Props::from([
            ("instance_profile".to_string(), Value::from("dev-host")),
            (
                "option_settings".to_string(),
                Value::List(vec![setting("aws:elasticbeanstalk:application:environment", "HOST_IP", "10.0.0.5")]),
            ),
        ]));
        let settings = aws_settings(&settings_of(&props));
        assert_eq!(settings.len(), 4);
        let mut back = Props::new();
        props_from_settings(&settings, &mut back);
        for prop in ["instance_type", "instance_profile", "single_instance", "option_settings"] {
            assert_eq!(back.get(prop), props.get(prop), "{prop}");
        }
    }

    #[test]
    fn placement_and_security_groups_become_option_settings_and_come_back() {
        let props = SCHEMA.normalized(&Props::from([
            ("security_groups".to_string(), Value::from(vec!["sg-2", "sg-1"])),
            ("availability_zone".to_string(), Value::from("us-east-1a")),
        ]));
        let settings = settings_of(&props);
        let get = |ns: &str, name: &str| settings.get(&(ns.to_string(), name.to_string())).map(String::as_str);
        assert_eq!(get(LAUNCH, "SecurityGroups"), Some("sg-1,sg-2"));
        assert_eq!(get(ASG, "Custom Availability Zones"), Some("us-east-1a"));
        let mut back = Props::new();
        props_from_settings(&aws_settings(&settings), &mut back);
        assert_eq!(back["security_groups"], props["security_groups"]);
        assert_eq!(back["availability_zone"], props["availability_zone"]);
    }

    #[test]
    fn launch_changes_renew_the_instance_and_others_do_not() {
        let env_var = |v: &str| setting("aws:elasticbeanstalk:application:environment", "PASSWORD", v);
        let base = SCHEMA.normalized(&Props::from([
            ("instance_type".to_string(), Value::from("t3.medium")),
            ("option_settings".to_string(), Value::List(vec![env_var("a")])),
        ]));
        let with = |k: &str, v: Value| {
            let mut p = base.clone();
            p.insert(k.to_string(), v);
            SCHEMA.normalized(&p)
        };
        assert!(replaces_instances(&base, &with("instance_type", "t3.large".into())));
        assert!(replaces_instances(&base, &with("security_groups", Value::from(vec!["sg-1"]))));
        assert!(!replaces_instances(&base, &with("option_settings", Value::List(vec![env_var("b")]))));
        let root = setting(LAUNCH, "RootVolumeSize", "16");
        assert!(replaces_instances(&base, &with("option_settings", Value::List(vec![env_var("a"), root]))));
        assert!(!replaces_instances(&base, &with("version_label", "v-2".into())));
    }

    #[test]
    fn an_instance_no_longer_reported_leaves_the_outputs() {
        let recorded = Props::from([
            ("name".to_string(), Value::from("dev-app-env")),
            ("instance_id".to_string(), Value::from("i-old")),
            ("private_ip".to_string(), Value::from("10.0.0.1")),
        ]);
        let observed = Props::from([("name".to_string(), Value::from("dev-app-env"))]);
        assert_eq!(SCHEMA.merged_outputs(&recorded, &observed), observed);
        let replaced = Props::from([("instance_id".to_string(), Value::from("i-new"))]);
        let merged = SCHEMA.merged_outputs(&recorded, &replaced);
        assert_eq!(merged["instance_id"], Value::from("i-new"));
        assert!(!merged.contains_key("private_ip"));
        assert_eq!(merged["name"], Value::from("dev-app-env"), "other outputs are kept");
    }

    #[test]
    fn the_groups_elastic_beanstalk_made_are_left_out_by_id_and_the_property_with_them() {
        let mut props = Props::from([("security_groups".to_string(), Value::from(vec!["sg-mine", "sg-eb"]))]);
        let eb = BTreeSet::from(["sg-eb".to_string()]);
        drop_groups(&mut props, &eb);
        assert_eq!(props["security_groups"], Value::from(vec!["sg-mine"]));
        let mut only_eb = Props::from([("security_groups".to_string(), Value::from(vec!["sg-eb"]))]);
        drop_groups(&mut only_eb, &eb);
        assert!(!only_eb.contains_key("security_groups"), "{only_eb:?}");
    }

    #[test]
    fn elastic_beanstalks_own_group_is_left_out_of_a_read() {
        let reported = ConfigurationOptionSetting::builder()
            .namespace(LAUNCH)
            .option_name("SecurityGroups")
            .value("sg-1, awseb-e-abc123-stack-AWSEBSecurityGroup-XYZ")
            .build();
        let mut back = Props::new();
        props_from_settings(&[reported], &mut back);
        assert_eq!(back["security_groups"], Value::from(vec!["sg-1"]));
    }

    #[test]
    fn a_zone_and_subnets_together_are_refused() {
        let props = Props::from([
            ("application".to_string(), Value::from("app")),
            ("availability_zone".to_string(), Value::from("us-east-1a")),
            ("subnets".to_string(), Value::from(vec!["subnet-1"])),
        ]);
        let err = SCHEMA.validate(&props, &Path::root()).unwrap_err();
        assert_eq!(err.path.to_string(), "availability_zone");
    }

    #[test]
    fn placement_settings_are_refused_in_option_settings() {
        let props = Props::from([
            ("application".to_string(), Value::from("app")),
            ("option_settings".to_string(), Value::List(vec![setting(ASG, "Custom Availability Zones", "us-east-1b")])),
        ]);
        let err = SCHEMA.validate(&props, &Path::root()).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("set `availability_zone` instead"));
    }

    #[test]
    fn only_declared_settings_are_kept_from_what_aws_reports() {
        let recorded = Props::from([(
            "option_settings".to_string(),
            Value::List(vec![setting("aws:elasticbeanstalk:application:environment", "HOST_IP", "10.0.0.5")]),
        )]);
        let mut observed = Props::from([(
            "option_settings".to_string(),
            Value::List(vec![
                setting("aws:elasticbeanstalk:application:environment", "HOST_IP", "10.0.0.6"),
                setting("aws:elasticbeanstalk:command", "DeploymentPolicy", "AllAtOnce"),
            ]),
        )]);
        trim_observed(&recorded, &mut observed);
        assert_eq!(
            observed["option_settings"],
            Value::List(vec![setting("aws:elasticbeanstalk:application:environment", "HOST_IP", "10.0.0.6")])
        );
        let mut observed = Props::from([("option_settings".to_string(), Value::List(vec![]))]);
        trim_observed(&Props::new(), &mut observed);
        assert!(!observed.contains_key("option_settings"));
    }

    #[test]
    fn an_update_sets_changed_settings_and_removes_undeclared_ones() {
        let env = "aws:elasticbeanstalk:application:environment";
        let before = SCHEMA.normalized(&Props::from([(
            "option_settings".to_string(),
            Value::List(vec![setting(env, "A", "1"), setting(env, "B", "2")]),
        )]));
        let after = SCHEMA.normalized(&Props::from([
            ("instance_type".to_string(), Value::from("t3.small")),
            ("option_settings".to_string(), Value::List(vec![setting(env, "A", "3")])),
        ]));
        let (set, remove) = setting_changes(&before, &after);
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            vec![
                ((LAUNCH.to_string(), "InstanceType".to_string()), "t3.small".to_string()),
                ((env.to_string(), "A".to_string()), "3".to_string()),
            ]
        );
        assert_eq!(remove, vec![(env.to_string(), "B".to_string())]);
    }

    #[test]
    fn settings_that_have_their_own_property_are_refused_in_option_settings() {
        let props = Props::from([
            ("application".to_string(), Value::from("app")),
            (
                "option_settings".to_string(),
                Value::List(vec![map([
                    ("namespace", LAUNCH.into()),
                    ("name", "InstanceType".into()),
                    ("value", "t3.large".into()),
                ])]),
            ),
        ]);
        let err = SCHEMA.validate(&props, &Path::root()).unwrap_err();
        assert_eq!(err.path.to_string(), "option_settings[0]");
        assert_eq!(err.hint.as_deref(), Some("set `instance_type` instead"));
        let bad_name =
            Props::from([("application".to_string(), Value::from("app")), ("name".to_string(), Value::from("-bad"))]);
        assert!(SCHEMA.validate(&bad_name, &Path::root()).is_err());
    }
}
