//! `iam.instance_profile`: an IAM instance profile holding one role, the way an
//! EC2 instance is given a role.
//!
//! Reads take one `GetInstanceProfile` per profile, run concurrently: no batched
//! IAM call reports an instance profile's tags (`ListInstanceProfiles` leaves
//! them out, by its API reference, and `GetAccountAuthorizationDetails` lists
//! only the profiles that hold a role), so a batch would still need a call per
//! profile. `find_tagged` lists every profile of the account
//! (`ListInstanceProfiles`, one call per page) and then reads each; it only runs
//! when a declared profile is missing from state.
//!
//! The profile name is its id. Without a declared `name` it is
//! `<stack>-<resource>`, cut to IAM's 128 characters.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::types::InstanceProfile;
use futures::{StreamExt, TryStreamExt};

use super::iam_role::{NO_SUCH_ENTITY, iam_tags, name_or_default, owned_by, tags_value};
use super::shared::{ok_if_gone, tag_changes};
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, Tagged, aws_error, tags_of};
pub use crate::model::kinds::iam_instance_profile::SCHEMA;
use crate::model::{Kind, Props, Value};

/// IAM's longest instance profile name.
const MAX_NAME: usize = 128;

/// How many profiles are read at once.
const CONCURRENT_READS: usize = 8;

/// How long adding a role waits for a role created moments ago to be known to
/// IAM (IAM is eventually consistent).
const ROLE_PROPAGATION: Duration = Duration::from_secs(60);

/// IAM instance profiles.
pub struct InstanceProfiles {
    client: aws_sdk_iam::Client,
}

impl InstanceProfiles {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        InstanceProfiles { client }
    }

    /// One profile, or `None` when IAM does not have it.
    async fn get(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        get(self.client.clone(), name.to_string()).await
    }

    /// The given profiles that exist, read concurrently.
    async fn get_many(&self, names: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let reads: Vec<_> = names.iter().map(|n| get(self.client.clone(), n.clone())).collect();
        let found: Vec<Option<Observed>> =
            futures::stream::iter(reads).buffer_unordered(CONCURRENT_READS).try_collect().await?;
        Ok(found.into_iter().flatten().map(|o| (o.id.clone(), o)).collect())
    }

    /// The names of every profile of the account, all pages.
    async fn list_names(&self) -> Result<Vec<String>, ProviderError> {
        let mut pages = self.client.list_instance_profiles().into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListInstanceProfiles", e))? {
            names.extend(page.instance_profiles().iter().map(|p| p.instance_profile_name().to_string()));
        }
        Ok(names)
    }

    async fn add_role(&self, profile: &str, role: &str) -> Result<(), ProviderError> {
        let call = self.client.add_role_to_instance_profile().instance_profile_name(profile).role_name(role);
        call.send().await.map_err(|e| aws_error("AddRoleToInstanceProfile", e))?;
        Ok(())
    }

    /// Adds the role, waiting a while for a new role to be known to IAM.
    async fn add_role_when_known(&self, ctx: &Ctx, profile: &str, role: &str) -> Result<(), ProviderError> {
        match self.add_role(profile, role).await {
            Err(e) if e.code() == Some(NO_SUCH_ENTITY) => {
                let backoff = Backoff { timeout: ROLE_PROPAGATION, ..Backoff::default() };
                wait::until(ctx, &format!("role {role} to be known to IAM"), backoff, || async {
                    match self.add_role(profile, role).await {
                        Ok(()) => Ok(Some(())),
                        Err(e) if e.code() == Some(NO_SUCH_ENTITY) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .await
            }
            other => other,
        }
    }

    async fn remove_role(&self, profile: &str, role: &str) -> Result<(), ProviderError> {
        let call = self.client.remove_role_from_instance_profile().instance_profile_name(profile).role_name(role);
        let result = call.send().await.map(|_| ()).map_err(|e| aws_error("RemoveRoleFromInstanceProfile", e));
        ok_if_gone(result, &[NO_SUCH_ENTITY])
    }

    async fn update_tags(&self, profile: &str, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let Some((set, removed)) = tag_changes(before, after) else { return Ok(()) };
        if !set.is_empty() {
            let call =
                self.client.tag_instance_profile().instance_profile_name(profile).set_tags(Some(iam_tags(&set)?));
            call.send().await.map_err(|e| aws_error("TagInstanceProfile", e))?;
        }
        if !removed.is_empty() {
            let call = self.client.untag_instance_profile().instance_profile_name(profile).set_tag_keys(Some(removed));
            call.send().await.map_err(|e| aws_error("UntagInstanceProfile", e))?;
        }
        Ok(())
    }

    /// The roles the profile holds, as IAM reports them (not as recorded).
    async fn held_roles(&self, profile: &str) -> Result<Vec<String>, ProviderError> {
        let out = self
            .client
            .get_instance_profile()
            .instance_profile_name(profile)
            .send()
            .await
            .map_err(|e| aws_error("GetInstanceProfile", e))?;
        let roles = out.instance_profile().map(InstanceProfile::roles).unwrap_or_default();
        Ok(roles.iter().map(|r| r.role_name().to_string()).collect())
    }

    /// Removes the roles the profile holds, then deletes it.
    async fn try_delete(&self, profile: &str) -> Result<(), ProviderError> {
        for role in self.held_roles(profile).await? {
            self.remove_role(profile, &role).await?;
        }
        let call = self.client.delete_instance_profile().instance_profile_name(profile);
        call.send().await.map_err(|e| aws_error("DeleteInstanceProfile", e))?;
        Ok(())
    }
}

/// One profile, or `None` when IAM does not have it. (Owned arguments, so that
/// concurrent reads borrow nothing.)
async fn get(client: aws_sdk_iam::Client, name: String) -> Result<Option<Observed>, ProviderError> {
    match client.get_instance_profile().instance_profile_name(name).send().await {
        Ok(out) => Ok(out.instance_profile().map(observe)),
        Err(e) => {
            let e = aws_error("GetInstanceProfile", e);
            if e.code() == Some(NO_SUCH_ENTITY) { Ok(None) } else { Err(e) }
        }
    }
}

fn role_of(props: &Props) -> Option<&str> {
    props.get("role").and_then(Value::as_str)
}

fn observe(p: &InstanceProfile) -> Observed {
    let name = p.instance_profile_name().to_string();
    let mut props = Props::new();
    props.insert("name".into(), Value::from(name.as_str()));
    // A profile holds at most one role; one without a role reports none.
    if let Some(role) = p.roles().first() {
        props.insert("role".into(), Value::from(role.role_name()));
    }
    props.insert("tags".into(), tags_value(p.tags()));
    let mut outputs = Props::new();
    outputs.insert("id".into(), Value::from(name.as_str()));
    outputs.insert("name".into(), Value::from(name.as_str()));
    outputs.insert("arn".into(), Value::from(p.arn()));
    Observed { id: name, props, outputs }
}

#[async_trait]
impl Provider for InstanceProfiles {
    fn kind(&self) -> Kind {
        Kind::InstanceProfile
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        self.get_many(ids).await
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        let all = self.get_many(&self.list_names().await?).await?;
        Ok(owned_by(stack, all.into_values()))
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = name_or_default(&props, ctx, MAX_NAME);
        let role = role_of(&props)
            .ok_or_else(|| ProviderError::Invalid("an iam.instance_profile needs `role`".into()))?
            .to_string();
        let created = self
            .client
            .create_instance_profile()
            .instance_profile_name(&name)
            .set_tags(Some(iam_tags(&tags_of(&props))?).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreateInstanceProfile", e))?;
        self.add_role_when_known(ctx, &name, &role).await?;
        // CreateInstanceProfile answers with the profile (its name and ARN), and
        // its role and tags are what was just sent: no read back. (A service
        // that cannot see the new profile yet retries its own call,
        // `wait::through_iam_propagation`.)
        let Some(profile) = created.instance_profile() else {
            return wait::until(ctx, &format!("instance profile {name} to appear"), Backoff::default(), || {
                self.get(&name)
            })
            .await;
        };
        let mut made = observe(profile);
        made.props.insert("role".into(), Value::from(role.as_str()));
        made.props.insert("tags".into(), props.get("tags").cloned().unwrap_or_else(|| Value::Map(Default::default())));
        Ok(made)
    }

    async fn update(&self, ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        if let Some(role) = role_of(&after).filter(|r| role_of(&before) != Some(*r)) {
            // A profile holds one role: the one it holds goes first.
            for old in self.held_roles(id).await? {
                self.remove_role(id, &old).await?;
            }
            self.add_role_when_known(ctx, id, role).await?;
        }
        self.update_tags(id, &before, &after).await?;
        self.get(id).await?.ok_or_else(|| ProviderError::Invalid(format!("instance profile {id} no longer exists")))
    }

    /// Removes the role state records and deletes the profile, asking first
    /// which roles it holds only when IAM refuses the delete because it still
    /// holds one (a role put in it behind infra's back): `DeleteConflict`.
    async fn delete(&self, _ctx: &Ctx, id: &str, props: &Props) -> Result<(), ProviderError> {
        if let Some(role) = role_of(props) {
            self.remove_role(id, role).await?;
        }
        let call = self.client.delete_instance_profile().instance_profile_name(id);
        match call.send().await.map(|_| ()).map_err(|e| aws_error("DeleteInstanceProfile", e)) {
            Err(e) if e.code() == Some("DeleteConflict") => ok_if_gone(self.try_delete(id).await, &[NO_SUCH_ENTITY]),
            other => ok_if_gone(other, &[NO_SUCH_ENTITY]),
        }
    }
}
