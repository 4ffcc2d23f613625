//! `iam.role`: an IAM role: its trust policy, description, attached managed
//! policies, inline policies and tags.
//!
//! Policy documents are compared by meaning: [`canonical_policy`] brings a
//! declared document (a TOML table or a JSON string) and the one AWS reports
//! (URL-encoded JSON) to one canonical JSON string, so a plan right after an
//! apply is empty.
//!
//! Reads are batched: one paginated `GetAccountAuthorizationDetails` (Filter =
//! Role) gives every role's trust policy, inline policies, attached managed
//! policies and tags; one paginated `ListRoles`, run beside it, gives the
//! descriptions, which `RoleDetail` does not carry. Both list the whole account,
//! so a read costs the same for one role as for all of a stack's.
//!
//! The role name is its id. Without a declared `name` it is
//! `<stack>-<resource>`, cut to IAM's 64 characters.
//!
//! This module also holds what the IAM providers share: tag conversions and
//! default names (used by `iam.instance_profile`).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_iam::types::{EntityType, RoleDetail, Tag};
use futures::future::try_join_all;

use super::shared::{ok_if_gone, put, tag_changes};
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, Tagged, aws_error, tags_of};
pub use crate::model::kinds::iam_role::SCHEMA;
use crate::model::kinds::iam_role::canonical_policy;
use crate::model::schema::canonical_json;
use crate::model::{Kind, Props, TAG_NAME, TAG_STACK, Value};

/// IAM's longest role name.
const MAX_NAME: usize = 64;

/// The error code IAM gives for a role, policy or profile it does not have.
pub(super) const NO_SUCH_ENTITY: &str = "NoSuchEntity";

// ---------------------------------------------------------------------------
// Policy documents

/// The text of a declared policy document: a JSON string as it is, a table as
/// canonical JSON.
fn document_text(doc: &Value) -> Result<String, ProviderError> {
    match doc {
        Value::Str(s) => Ok(s.clone()),
        Value::Map(_) if doc.is_known() => Ok(canonical_json(&doc.to_json())),
        other => Err(ProviderError::Invalid(format!("a policy document must be JSON or a table, found {other:?}"))),
    }
}

// ---------------------------------------------------------------------------
// What the IAM providers share

/// The declared `name`, or the generated one ([`Ctx::generated_name`]).
pub(super) fn name_or_default(props: &Props, ctx: &Ctx, max: usize) -> String {
    match props.get("name").and_then(Value::as_str) {
        Some(n) => n.to_string(),
        None => ctx.generated_name(max),
    }
}

/// The declared tags as IAM tags.
pub(super) fn iam_tags(pairs: &[(String, String)]) -> Result<Vec<Tag>, ProviderError> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::Invalid(e.to_string())))
        .collect()
}

/// IAM tags as a `Value::Map`, the shape of the `tags` property.
pub(super) fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(tags.iter().map(|t| (t.key().to_string(), Value::from(t.value()))).collect())
}

/// The logical name (`infra:name`) of a resource whose `tags` value says it
/// belongs to `stack`.
pub(super) fn owned_name(tags: &Value, stack: &str) -> Option<String> {
    let tags = tags.as_map()?;
    if tags.get(TAG_STACK).and_then(Value::as_str) != Some(stack) {
        return None;
    }
    tags.get(TAG_NAME).and_then(Value::as_str).map(str::to_string)
}

/// The observed resources `stack` owns, by logical name.
pub(super) fn owned_by(stack: &str, found: impl IntoIterator<Item = Observed>) -> Tagged {
    found.into_iter().filter_map(|o| Some((owned_name(o.props.get("tags")?, stack)?, o))).collect()
}

// ---------------------------------------------------------------------------
// The provider

/// IAM roles.
pub struct Roles {
    client: aws_sdk_iam::Client,
}

impl Roles {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        Roles { client }
    }

    /// Every role of the account, observed: the authorization details and the
    /// descriptions, read concurrently, all pages of each.
    async fn all(&self) -> Result<Vec<Observed>, ProviderError> {
        let (details, descriptions) = tokio::try_join!(self.details(), self.descriptions())?;
        Ok(details.iter().map(|d| observe(d, &descriptions)).collect())
    }

    async fn details(&self) -> Result<Vec<RoleDetail>, ProviderError> {
        let mut pages =
            self.client.get_account_authorization_details().filter(EntityType::Role).into_paginator().send();
        let mut roles = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("GetAccountAuthorizationDetails", e))? {
            roles.extend(page.role_detail_list.unwrap_or_default());
        }
        Ok(roles)
    }

    /// Role name -> description, for the roles that have one.
    async fn descriptions(&self) -> Result<BTreeMap<String, String>, ProviderError> {
        let mut pages = self.client.list_roles().into_paginator().send();
        let mut out = BTreeMap::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListRoles", e))? {
            for role in page.roles() {
                if let Some(d) = role.description() {
                    out.insert(role.role_name().to_string(), d.to_string());
                }
            }
        }
        Ok(out)
    }

    async fn read_one(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(self.read_many(&[name.to_string()]).await?.remove(name))
    }

    async fn put_inline(&self, role: &str, policy: &str, doc: &Value) -> Result<(), ProviderError> {
        self.client
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document_text(doc)?)
            .send()
            .await
            .map_err(|e| aws_error("PutRolePolicy", e))?;
        Ok(())
    }

    async fn delete_inline(&self, role: &str, policy: &str) -> Result<(), ProviderError> {
        let result = self.client.delete_role_policy().role_name(role).policy_name(policy).send().await;
        ok_if_gone(result.map(|_| ()).map_err(|e| aws_error("DeleteRolePolicy", e)), &[NO_SUCH_ENTITY])
    }

    async fn attach(&self, role: &str, arn: &str) -> Result<(), ProviderError> {
        let call = self.client.attach_role_policy().role_name(role).policy_arn(arn);
        call.send().await.map_err(|e| aws_error("AttachRolePolicy", e))?;
        Ok(())
    }

    async fn detach(&self, role: &str, arn: &str) -> Result<(), ProviderError> {
        let result = self.client.detach_role_policy().role_name(role).policy_arn(arn).send().await;
        ok_if_gone(result.map(|_| ()).map_err(|e| aws_error("DetachRolePolicy", e)), &[NO_SUCH_ENTITY])
    }

    /// Attaches the managed policies in `after` but not in `before` and
    /// detaches those in `before` but not in `after`, when `after` declares them.
    async fn sync_managed(&self, role: &str, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let Some(wanted) = after.get("managed_policy_arns").map(str_set) else { return Ok(()) };
        let had = before.get("managed_policy_arns").map(str_set).unwrap_or_default();
        try_join_all(had.difference(&wanted).map(|arn| self.detach(role, arn))).await?;
        try_join_all(wanted.difference(&had).map(|arn| self.attach(role, arn))).await?;
        Ok(())
    }

    /// Puts the inline policies of `after` that are new or changed and deletes
    /// those only `before` has, when `after` declares them.
    async fn sync_inline(&self, role: &str, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let Some(wanted) = after.get("inline_policies").and_then(Value::as_map) else { return Ok(()) };
        let empty = BTreeMap::new();
        let had = before.get("inline_policies").and_then(Value::as_map).unwrap_or(&empty);
        let gone = had.keys().filter(|n| !wanted.contains_key(*n));
        try_join_all(gone.map(|name| self.delete_inline(role, name))).await?;
        let changed = wanted.iter().filter(|(n, d)| had.get(*n) != Some(*d));
        try_join_all(changed.map(|(name, doc)| self.put_inline(role, name, doc))).await?;
        Ok(())
    }

    async fn update_tags(&self, role: &str, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let Some((set, removed)) = tag_changes(before, after) else { return Ok(()) };
        if !set.is_empty() {
            let call = self.client.tag_role().role_name(role).set_tags(Some(iam_tags(&set)?));
            call.send().await.map_err(|e| aws_error("TagRole", e))?;
        }
        if !removed.is_empty() {
            let call = self.client.untag_role().role_name(role).set_tag_keys(Some(removed));
            call.send().await.map_err(|e| aws_error("UntagRole", e))?;
        }
        Ok(())
    }

    /// Detaches, deletes and removes everything that keeps a role from being
    /// deleted, then deletes it. What the role holds is listed from IAM, not
    /// taken from the recorded properties, which may be out of date.
    /// Detaches the role's managed policies, deletes its inline ones and takes
    /// it out of its instance profiles (the three lists at once, then every
    /// removal at once), then deletes it.
    async fn try_delete(&self, role: &str) -> Result<(), ProviderError> {
        let (attached, inline, profiles) =
            tokio::try_join!(self.attached(role), self.inline_names(role), self.profiles_of(role))?;
        let detach = try_join_all(attached.iter().map(|arn| self.detach(role, arn)));
        let delete = try_join_all(inline.iter().map(|name| self.delete_inline(role, name)));
        let remove = try_join_all(profiles.iter().map(|profile| async move {
            let call = self.client.remove_role_from_instance_profile().instance_profile_name(profile).role_name(role);
            let result = call.send().await.map(|_| ());
            ok_if_gone(result.map_err(|e| aws_error("RemoveRoleFromInstanceProfile", e)), &[NO_SUCH_ENTITY])
        }));
        tokio::try_join!(detach, delete, remove)?;
        self.client.delete_role().role_name(role).send().await.map_err(|e| aws_error("DeleteRole", e))?;
        Ok(())
    }

    /// The ARNs of the managed policies attached to `role`, all pages.
    async fn attached(&self, role: &str) -> Result<Vec<String>, ProviderError> {
        let mut pages = self.client.list_attached_role_policies().role_name(role).into_paginator().send();
        let mut arns = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListAttachedRolePolicies", e))? {
            arns.extend(page.attached_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_string));
        }
        Ok(arns)
    }

    /// The names of `role`'s inline policies, all pages.
    async fn inline_names(&self, role: &str) -> Result<Vec<String>, ProviderError> {
        let mut pages = self.client.list_role_policies().role_name(role).into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListRolePolicies", e))? {
            names.extend(page.policy_names().iter().cloned());
        }
        Ok(names)
    }

    /// The instance profiles holding `role`, all pages.
    async fn profiles_of(&self, role: &str) -> Result<Vec<String>, ProviderError> {
        let mut pages = self.client.list_instance_profiles_for_role().role_name(role).into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListInstanceProfilesForRole", e))? {
            names.extend(page.instance_profiles().iter().map(|p| p.instance_profile_name().to_string()));
        }
        Ok(names)
    }
}

/// The strings of a list value, as a set.
fn str_set(v: &Value) -> BTreeSet<String> {
    v.as_list().unwrap_or_default().iter().filter_map(Value::as_str).map(str::to_string).collect()
}

/// A policy document as IAM reported it, in canonical form when it is JSON.
fn policy_value(raw: &str) -> Value {
    Value::Str(canonical_policy(raw).unwrap_or_else(|| raw.to_string()))
}

fn observe(role: &RoleDetail, descriptions: &BTreeMap<String, String>) -> Observed {
    let name = role.role_name().unwrap_or_default().to_string();
    let mut props = Props::new();
    props.insert("name".into(), Value::from(name.as_str()));
    put(&mut props, "description", descriptions.get(&name).map(String::as_str));
    put(&mut props, "assume_role_policy", role.assume_role_policy_document().map(policy_value));
    let arns: Vec<Value> =
        role.attached_managed_policies().iter().filter_map(|p| p.policy_arn()).map(Value::from).collect();
    props.insert("managed_policy_arns".into(), Value::List(arns));
    let inline = role
        .role_policy_list()
        .iter()
        .filter_map(|p| Some((p.policy_name()?.to_string(), policy_value(p.policy_document()?))))
        .collect();
    props.insert("inline_policies".into(), Value::Map(inline));
    props.insert("tags".into(), tags_value(role.tags()));
    let mut outputs = Props::new();
    outputs.insert("id".into(), Value::from(name.as_str()));
    outputs.insert("name".into(), Value::from(name.as_str()));
    put(&mut outputs, "arn", role.arn());
    Observed { id: name, props, outputs }
}

#[async_trait]
impl Provider for Roles {
    fn kind(&self) -> Kind {
        Kind::Role
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let roles = self.all().await?;
        Ok(roles.into_iter().filter(|o| wanted.contains(o.id.as_str())).map(|o| (o.id.clone(), o)).collect())
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        Ok(owned_by(stack, self.all().await?))
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = name_or_default(&props, ctx, MAX_NAME);
        let trust = props
            .get("assume_role_policy")
            .ok_or_else(|| ProviderError::Invalid("an iam.role needs `assume_role_policy`".into()))?;
        let created = self
            .client
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(document_text(trust)?)
            .set_description(props.get("description").and_then(Value::as_str).map(str::to_string))
            .set_tags(Some(iam_tags(&tags_of(&props))?).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreateRole", e))?;
        ctx.status("attaching policies");
        let none = Props::new();
        tokio::try_join!(self.sync_inline(&name, &none, &props), self.sync_managed(&name, &none, &props))?;
        // CreateRole answers with the role's ARN, and the policies are what was
        // just put: the role is what was sent. (IAM is eventually consistent: a
        // service that cannot see the role yet is retried by what uses it,
        // `wait::through_iam_propagation`, and an instance profile waits for it.)
        let Some(arn) = created.role().map(|r| r.arn().to_string()) else {
            return wait::until(ctx, &format!("role {name} to appear"), Backoff::default(), || self.read_one(&name))
                .await;
        };
        let mut made = props.clone();
        made.insert("name".into(), Value::from(name.as_str()));
        made.entry("managed_policy_arns".into()).or_insert_with(|| Value::List(Vec::new()));
        made.entry("inline_policies".into()).or_insert_with(|| Value::Map(Default::default()));
        made.entry("tags".into()).or_insert_with(|| Value::Map(Default::default()));
        let outputs = Props::from([
            ("id".to_string(), Value::from(name.as_str())),
            ("name".to_string(), Value::from(name.as_str())),
            ("arn".to_string(), Value::from(arn)),
        ]);
        Ok(Observed { id: name, props: SCHEMA.canonical(&made), outputs })
    }

    async fn update(&self, _ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        if let Some(trust) = after.get("assume_role_policy").filter(|t| before.get("assume_role_policy") != Some(*t)) {
            let call = self.client.update_assume_role_policy().role_name(id).policy_document(document_text(trust)?);
            call.send().await.map_err(|e| aws_error("UpdateAssumeRolePolicy", e))?;
        }
        if let Some(description) = after.get("description").filter(|d| before.get("description") != Some(*d)) {
            let call =
                self.client.update_role().role_name(id).set_description(description.as_str().map(str::to_string));
            call.send().await.map_err(|e| aws_error("UpdateRole", e))?;
        }
        self.sync_managed(id, &before, &after).await?;
        self.sync_inline(id, &before, &after).await?;
        self.update_tags(id, &before, &after).await?;
        self.read_one(id).await?.ok_or_else(|| ProviderError::Invalid(format!("role {id} no longer exists")))
    }

    async fn delete(&self, _ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        ok_if_gone(self.try_delete(id).await, &[NO_SUCH_ENTITY])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(doc: &str) -> String {
        canonical_policy(doc).expect("a JSON document")
    }

    #[test]
    fn a_single_statement_object_becomes_a_list_and_one_element_lists_become_strings() {
        let doc = r#"{
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com"]},
                "Action": ["sts:AssumeRole"]
            }
        }"#;
        assert_eq!(
            canonical(doc),
            r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}"#
        );
    }

    #[test]
    fn lists_are_sorted_and_deduplicated_but_statements_keep_their_order() {
        let doc = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Deny","NotAction":["s3:*","ec2:*","s3:*"],"NotResource":["b","a"]},
            {"Effect":"Allow","Action":"logs:PutLogEvents","Resource":["arn:2","arn:1"],
             "Principal":{"AWS":["arn:aws:iam::1:root","arn:aws:iam::2:root"]}}
        ]}"#;
        assert_eq!(
            canonical(doc),
            concat!(
                r#"{"Statement":[{"Effect":"Deny","NotAction":["ec2:*","s3:*"],"NotResource":["a","b"]},"#,
                r#"{"Action":"logs:PutLogEvents","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","arn:aws:iam::2:root"]},"Resource":["arn:1","arn:2"]}],"#,
                r#""Version":"2012-10-17"}"#
            )
        );
    }

    #[test]
    fn condition_values_are_simplified_like_actions() {
        let a = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
            "Condition":{"StringEquals":{"aws:SourceVpc":["vpc-1"],"s3:prefix":["b","a"]}}}]}"#;
        let b = r#"{"Statement":{"Resource":["*"],"Action":"s3:GetObject","Effect":"Allow",
            "Condition":{"StringEquals":{"s3:prefix":["a","b"],"aws:SourceVpc":"vpc-1"}}}}"#;
        assert_eq!(canonical(a), canonical(b));
        assert!(canonical(a).contains(r#""aws:SourceVpc":"vpc-1""#));
    }

    #[test]
    fn a_url_encoded_document_reads_as_the_same_document() {
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%5B%22s3%3AGetObject%22%5D%2C%20%22Resource%22%3A%20%22%2A%22%7D%5D%7D";
        let plain = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
        assert_eq!(canonical(encoded), canonical(plain));
    }

    #[test]
    fn a_percent_sign_in_a_plain_document_is_kept() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/100%25"}]}"#;
        assert!(canonical(doc).contains("100%25"));
    }

    #[test]
    fn text_that_is_not_json_has_no_canonical_form() {
        assert_eq!(canonical_policy("not json"), None);
        assert_eq!(canonical_policy("%ZZ"), None);
    }

    #[test]
    fn a_table_and_a_json_string_normalise_to_the_same_document() {
        let table = crate::model::map([
            ("Version", "2012-10-17".into()),
            (
                "Statement",
                Value::List(vec![crate::model::map([
                    ("Effect", "Allow".into()),
                    ("Action", vec!["sts:AssumeRole"].into()),
                    ("Principal", crate::model::map([("Service", "ec2.amazonaws.com".into())])),
                ])]),
            ),
        ]);
        let json = r#"{ "Statement": { "Principal": { "Service": [ "ec2.amazonaws.com" ] },
            "Action": "sts:AssumeRole", "Effect": "Allow" }, "Version": "2012-10-17" }"#;
        let declared = |doc: Value| {
            let mut p = Props::new();
            p.insert("assume_role_policy".into(), doc.clone());
            p.insert("inline_policies".into(), crate::model::map([("p", doc)]));
            SCHEMA.normalized(&p)
        };
        let (a, b) = (declared(table), declared(Value::from(json)));
        assert_eq!(a, b);
        assert_eq!(
            a["assume_role_policy"],
            Value::from(
                r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}"#
            )
        );
    }

    #[test]
    fn a_document_with_an_unresolved_reference_is_left_alone() {
        let doc = crate::model::map([("Resource", Value::reference("bucket", "arn"))]);
        let mut p = Props::new();
        p.insert("assume_role_policy".into(), doc.clone());
        assert_eq!(SCHEMA.normalized(&p)["assume_role_policy"], doc);
    }

    #[test]
    fn the_default_name_is_cut_to_64_characters() {
        let ctx = Ctx { stack: "s".repeat(40), name: "r".repeat(40), ..Ctx::default() };
        let name = name_or_default(&Props::new(), &ctx, MAX_NAME);
        assert_eq!(name.len(), 64);
        assert!(name.starts_with(&format!("{}-r", "s".repeat(40))));
    }

    #[test]
    fn a_replacement_created_first_gets_a_name_the_old_role_does_not_hold() {
        let token = "6F9619FF-8B86-4d01-b42d-00c04fc964ff".to_string();
        let ctx = Ctx { stack: "dev".into(), name: "build_role".into(), client_token: token, ..Ctx::default() };
        assert_eq!(name_or_default(&Props::new(), &ctx, MAX_NAME), "dev-build_role");
        let replacing = Ctx { replacing: true, ..ctx.clone() };
        assert_eq!(name_or_default(&Props::new(), &replacing, MAX_NAME), "dev-build_role-6f9619ff");
        let long = Ctx { stack: "s".repeat(40), name: "r".repeat(40), ..replacing };
        let name = name_or_default(&Props::new(), &long, MAX_NAME);
        assert_eq!(name.len(), 64);
        assert!(name.ends_with("-6f9619ff"), "{name}");
        let declared = Props::from([("name".to_string(), Value::from("mine"))]);
        assert_eq!(name_or_default(&declared, &long, MAX_NAME), "mine", "a declared name is kept");
    }
}
