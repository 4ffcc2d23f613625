//! `ssm.parameter`: a Parameter Store parameter of type `SecureString`, its
//! description, KMS key, tier and tags. The value is a secret here as
//! everywhere: read back decrypted only to be compared, and marked secret the
//! moment it is read ([`observe`]); no error this module makes quotes it
//! ([`redacted`]).
//!
//! The parameter's name is its id. Reads are batched, three kinds of call at
//! once (they all take names, which state records): GetParameters
//! (`WithDecryption`, 10 names a call) for the value, version and ARN;
//! DescribeParameters (a `Name` filter of up to 50 names, every page) for the
//! description, key and tier, which GetParameters does not report; and
//! ListTagsForResource per parameter, which has no batched form. So a read of
//! n parameters is one round trip of ⌈n/10⌉ + ⌈n/50⌉ (a page each) + n calls.
//! `find_tagged` asks DescribeParameters for the parameters tagged
//! `infra:stack = <stack>` (a `tag:` filter, by the page), then reads those.
//!
//! PutParameter creates the parameter with its tags (one call: an interrupted
//! create leaves a parameter its tags find), and with `Overwrite` changes the
//! value, description, key and tier in place, making a new version; it takes
//! no tags then ("tags and overwrite can't be used together"), so tags change
//! through AddTagsToResource and RemoveTagsFromResource (ResourceType
//! `Parameter`). An update calls PutParameter only when one of those four
//! changes. DeleteParameter deletes; ParameterNotFound means deleted.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ssm::types::{
    Parameter, ParameterMetadata, ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag,
};
use aws_smithy_types::error::operation::BuildError;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::iam_role::owned_by;
use super::shared::{ok_if_gone, put, tag_changes};
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, Tagged, aws_error, name_suffix, tags_of};
pub use crate::model::kinds::ssm_parameter::SCHEMA;
use crate::model::kinds::ssm_parameter::{DEFAULT_KEY, PUT_FIELDS};
use crate::model::{Kind, Props, TAG_STACK, Value};

/// Parameter Store's answer for a parameter it does not have.
const NOT_FOUND: &str = "ParameterNotFound";

/// The tagging calls' answer for a parameter they cannot find.
const INVALID_RESOURCE_ID: &str = "InvalidResourceId";

/// The most names one GetParameters call takes.
const GET_BATCH: usize = 10;

/// The most values a DescribeParameters filter takes ("Array Members: Maximum
/// number of 50 items", ParameterStringFilter), and the most results a page holds.
const DESCRIBE_BATCH: usize = 50;

/// How many calls of one kind run at once.
const READ_CONCURRENCY: usize = 8;

fn invalid(e: BuildError) -> ProviderError {
    ProviderError::Invalid(e.to_string())
}

fn str_prop(props: &Props, key: &str) -> Option<String> {
    props.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The value to store: the executor reveals secrets for the provider call, and
/// the schema's normalisation marks it secret again.
fn secret_value(props: &Props) -> Result<String, ProviderError> {
    match props.get("value").map(Value::reveal) {
        Some(Value::Str(s)) => Ok(s),
        _ => Err(ProviderError::Invalid("an ssm.parameter's `value` must be a string".into())),
    }
}

/// `err` with every occurrence of the secret `value` in its message replaced
/// by `[secret]`: AWS does not echo a SecureString's value in its errors, and
/// this makes sure none of ours ever shows it.
fn redacted(err: ProviderError, value: &str) -> ProviderError {
    match err {
        ProviderError::Aws { op, code, message } if !value.is_empty() && message.contains(value) => {
            ProviderError::Aws { op, code, message: message.replace(value, "[secret]") }
        }
        other => other,
    }
}

/// The parameter's name: the declared one, or `/<stack>/<resource>`, with
/// `-` and 8 hex digits of the create's token for a replacement created while
/// the old parameter still holds that name (as [`Ctx::generated_name`] does).
fn parameter_name(ctx: &Ctx, props: &Props) -> String {
    if let Some(name) = str_prop(props, "name") {
        return name;
    }
    let base = format!("/{}/{}", ctx.stack, ctx.name);
    if ctx.replacing { format!("{base}-{}", name_suffix(&ctx.client_token)) } else { base }
}

fn sdk_tags(tags: Vec<(String, String)>) -> Result<Vec<Tag>, ProviderError> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid)).collect()
}

fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(tags.iter().map(|t| (t.key().to_string(), Value::from(t.value()))).collect())
}

/// A parameter (GetParameters, decrypted), its metadata (DescribeParameters)
/// and its tags in the shape of the schema; the value a secret.
fn observe(parameter: &Parameter, meta: Option<&ParameterMetadata>, tags: &[Tag]) -> Observed {
    let name = parameter.name().unwrap_or_default().to_string();
    let mut props = Props::new();
    props.insert("name".into(), Value::from(name.as_str()));
    if let Some(value) = parameter.value() {
        props.insert("value".into(), Value::secret(value));
    }
    if let Some(meta) = meta {
        put(&mut props, "description", meta.description().filter(|d| !d.is_empty()));
        put(&mut props, "key_id", meta.key_id());
        put(&mut props, "tier", meta.tier().map(ParameterTier::as_str));
    }
    props.insert("tags".into(), tags_value(tags));
    let mut outputs = Props::new();
    outputs.insert("id".into(), Value::from(name.as_str()));
    outputs.insert("name".into(), Value::from(name.as_str()));
    put(&mut outputs, "arn", parameter.arn().or_else(|| meta.and_then(ParameterMetadata::arn)));
    outputs.insert("version".into(), Value::from(parameter.version().to_string()));
    Observed { id: name, props: SCHEMA.canonical(&props), outputs }
}

/// Parameter Store parameters of type SecureString.
pub struct Parameters {
    client: aws_sdk_ssm::Client,
}

impl Parameters {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        Parameters { client }
    }

    /// The named parameters, decrypted, by name: one GetParameters call per
    /// 10 names, a few at once. Names AWS does not have are absent.
    async fn get(&self, names: &[String]) -> Result<BTreeMap<String, Parameter>, ProviderError> {
        let batches = names.chunks(GET_BATCH).map(<[String]>::to_vec).map(|batch| self.get_batch(batch));
        let pages: Vec<Vec<Parameter>> = stream::iter(batches).buffer_unordered(READ_CONCURRENCY).try_collect().await?;
        Ok(pages.into_iter().flatten().filter_map(|p| Some((p.name()?.to_string(), p))).collect())
    }

    async fn get_batch(&self, names: Vec<String>) -> Result<Vec<Parameter>, ProviderError> {
        let call = self.client.get_parameters().set_names(Some(names)).with_decryption(true);
        let out = call.send().await.map_err(|e| aws_error("GetParameters", e))?;
        Ok(out.parameters.unwrap_or_default())
    }

    /// Every page of DescribeParameters with `filter`.
    async fn describe(&self, filter: ParameterStringFilter) -> Result<Vec<ParameterMetadata>, ProviderError> {
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .describe_parameters()
                .parameter_filters(filter.clone())
                .max_results(DESCRIBE_BATCH as i32)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("DescribeParameters", e))?;
            found.extend(out.parameters.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                return Ok(found);
            }
        }
    }

    /// The named parameters' metadata, by name: a `Name` filter of 50 names a
    /// call (every page), a few at once.
    async fn metadata(&self, names: &[String]) -> Result<BTreeMap<String, ParameterMetadata>, ProviderError> {
        let batches = names.chunks(DESCRIBE_BATCH).map(<[String]>::to_vec).map(|batch| self.metadata_batch(batch));
        let pages: Vec<Vec<ParameterMetadata>> =
            stream::iter(batches).buffer_unordered(READ_CONCURRENCY).try_collect().await?;
        Ok(pages.into_iter().flatten().filter_map(|m| Some((m.name()?.to_string(), m))).collect())
    }

    async fn metadata_batch(&self, names: Vec<String>) -> Result<Vec<ParameterMetadata>, ProviderError> {
        let filter = ParameterStringFilter::builder().key("Name").option("Equals").set_values(Some(names)).build();
        self.describe(filter.map_err(invalid)?).await
    }

    /// The parameter's tags, by its name; `None` when it is gone.
    async fn tags(&self, name: String) -> Result<(String, Option<Vec<Tag>>), ProviderError> {
        let call =
            self.client.list_tags_for_resource().resource_type(ResourceTypeForTagging::Parameter).resource_id(&name);
        match call.send().await.map_err(|e| aws_error("ListTagsForResource", e)) {
            Ok(out) => Ok((name, Some(out.tag_list.unwrap_or_default()))),
            Err(e) if matches!(e.code(), Some(INVALID_RESOURCE_ID | NOT_FOUND)) => Ok((name, None)),
            Err(e) => Err(e),
        }
    }

    /// Each named parameter's tags, a few at a time.
    async fn all_tags(&self, names: &[String]) -> Result<BTreeMap<String, Option<Vec<Tag>>>, ProviderError> {
        let calls = names.iter().cloned().map(|name| self.tags(name));
        stream::iter(calls).buffer_unordered(READ_CONCURRENCY).try_collect().await
    }

    /// The parameter, after a create or an update; reads are retried briefly
    /// in case Parameter Store does not show the new version at once.
    async fn read_one(&self, ctx: &Ctx, name: &str) -> Result<Observed, ProviderError> {
        let backoff = Backoff { timeout: Duration::from_secs(30), ..Backoff::default() };
        let names = [name.to_string()];
        wait::retrying(ctx, &format!("parameter {name}"), backoff, || async {
            Ok(self.read_many(&names).await?.remove(name))
        })
        .await
    }

    /// PutParameter: a create with tags, or an overwrite (which takes none).
    async fn put(&self, name: &str, props: &Props, tags: Option<Vec<Tag>>) -> Result<(), ProviderError> {
        let value = secret_value(props)?;
        let overwrite = tags.is_none();
        self.client
            .put_parameter()
            .name(name)
            .value(value.as_str())
            .r#type(ParameterType::SecureString)
            .set_description(str_prop(props, "description"))
            .key_id(str_prop(props, "key_id").unwrap_or_else(|| DEFAULT_KEY.to_string()))
            .tier(ParameterTier::from(props.get("tier").and_then(Value::as_str).unwrap_or("Standard")))
            .overwrite(overwrite)
            .set_tags(tags.filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| redacted(aws_error("PutParameter", e), &value))?;
        Ok(())
    }

    /// Applies the tag changes from `before` to `after` to the parameter `name`.
    async fn update_tags(&self, name: &str, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let Some((set, removed)) = tag_changes(before, after) else { return Ok(()) };
        if !set.is_empty() {
            let call = self
                .client
                .add_tags_to_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(name)
                .set_tags(Some(sdk_tags(set)?));
            call.send().await.map_err(|e| aws_error("AddTagsToResource", e))?;
        }
        if !removed.is_empty() {
            let call = self
                .client
                .remove_tags_from_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(name)
                .set_tag_keys(Some(removed));
            call.send().await.map_err(|e| aws_error("RemoveTagsFromResource", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for Parameters {
    fn kind(&self) -> Kind {
        Kind::SsmParameter
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let (parameters, metadata, tags) = tokio::try_join!(self.get(ids), self.metadata(ids), self.all_tags(ids))?;
        let mut found = BTreeMap::new();
        for (name, parameter) in &parameters {
            // Gone between the calls: deleted.
            let Some(Some(tags)) = tags.get(name) else { continue };
            found.insert(name.clone(), observe(parameter, metadata.get(name), tags));
        }
        Ok(found)
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        let filter = ParameterStringFilter::builder()
            .key(format!("tag:{TAG_STACK}"))
            .option("Equals")
            .values(stack)
            .build()
            .map_err(invalid)?;
        let names: Vec<String> =
            self.describe(filter).await?.iter().filter_map(|m| m.name().map(str::to_string)).collect();
        Ok(owned_by(stack, self.read_many(&names).await?.into_values()))
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = parameter_name(ctx, &props);
        self.put(&name, &props, Some(sdk_tags(tags_of(&props))?)).await?;
        self.read_one(ctx, &name).await
    }

    async fn update(&self, ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        // What the stack does not declare stays as it is.
        let mut desired = before.clone();
        desired.extend(after.clone());
        if PUT_FIELDS.iter().any(|k| before.get(*k) != desired.get(*k)) {
            self.put(id, &desired, None).await?;
        }
        self.update_tags(id, &before, &after).await?;
        self.read_one(ctx, id).await
    }

    /// Deletes the parameter; one already gone is deleted.
    async fn delete(&self, _ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        let call = self.client.delete_parameter().name(id).send().await;
        ok_if_gone(call.map(|_| ()).map_err(|e| aws_error("DeleteParameter", e)), &[NOT_FOUND])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::map;

    const ARN: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/dev/elastic_password";

    #[test]
    fn a_parameter_aws_reports_reads_back_in_the_declared_shape() {
        let declared = SCHEMA.normalized(&Props::from([
            ("name".to_string(), Value::from("/dev/elastic_password")),
            ("description".to_string(), Value::from("the Elasticsearch password")),
            ("value".to_string(), Value::secret("correct horse battery staple")),
            ("tags".to_string(), map([("infra:stack", "dev".into())])),
        ]));
        let parameter = Parameter::builder()
            .name("/dev/elastic_password")
            .r#type(ParameterType::SecureString)
            .value("correct horse battery staple")
            .version(3)
            .arn(ARN)
            .build();
        let meta = ParameterMetadata::builder()
            .name("/dev/elastic_password")
            .description("the Elasticsearch password")
            .key_id("alias/aws/ssm")
            .tier(ParameterTier::Standard)
            .build();
        let tags = sdk_tags(vec![("infra:stack".into(), "dev".into())]).unwrap();
        let observed = observe(&parameter, Some(&meta), &tags);
        assert_eq!(SCHEMA.normalized(&observed.props), declared);
        assert!(matches!(observed.props["value"], Value::Secret(_)), "read back, the value is a secret");
        assert!(!format!("{observed:?}").contains("horse"), "its Debug shows the value: {observed:?}");
        assert_eq!(observed.id, "/dev/elastic_password");
        assert_eq!(observed.outputs["arn"], Value::from(ARN));
        assert_eq!(observed.outputs["version"], Value::from("3"));
    }

    #[test]
    fn a_generated_name_is_a_path_of_stack_and_resource_and_a_replacement_s_takes_a_suffix() {
        let mut ctx = Ctx { stack: "dev".into(), name: "elastic_password".into(), ..Ctx::default() };
        assert_eq!(parameter_name(&ctx, &Props::new()), "/dev/elastic_password");
        ctx.replacing = true;
        ctx.client_token = "0123abcd-0000-0000-0000-000000000000".into();
        assert_eq!(parameter_name(&ctx, &Props::new()), "/dev/elastic_password-0123abcd");
        let declared = Props::from([("name".to_string(), Value::from("/team/pw"))]);
        assert_eq!(parameter_name(&ctx, &declared), "/team/pw");
    }

    #[test]
    fn an_error_never_quotes_the_value() {
        let err = ProviderError::Aws {
            op: "PutParameter",
            code: "ValidationException".into(),
            message: "value hunter2hunter2 is not valid".into(),
        };
        let shown = redacted(err, "hunter2hunter2").to_string();
        assert_eq!(shown, "PutParameter failed: ValidationException: value [secret] is not valid");
    }
}
