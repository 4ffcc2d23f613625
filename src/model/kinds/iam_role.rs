//! The schema of `iam.role`: an IAM role, its trust policy and its policies ([`crate::provider::iam_role`] talks to AWS).
//! Policy documents compare by meaning: keys sorted, one-member lists as
//! their member, percent-encoding (as IAM returns documents) decoded.

use serde_json::Value as Json;

use crate::model::schema::{BASE, Field, Replacement, Schema, Ty, canonical_json};
use crate::model::{Props, Value};

pub static SCHEMA: Schema = Schema {
    type_name: "iam.role",
    fields: &[
        Field::new("name", Ty::Str, "the role name; defaults to <stack>-<resource> (at most 64 characters)")
            .force_new(),
        Field::new("description", Ty::Str, "what the role is for"),
        Field::new("assume_role_policy", Ty::Json, "the trust policy: who may assume the role").required(),
        Field::new("managed_policy_arns", Ty::Set(&Ty::Str), "ARNs of the managed policies attached to the role"),
        Field::new("inline_policies", Ty::Map(&Ty::Json), "inline policies: policy name -> policy document"),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "name"],
    taggable: true,
    normalize,
    replacement: Replacement::CreateFirst { unique_name: Some("name") },
    replacement_why: "role names are unique in an account: a generated name gets a suffix for the replacement",
    id_form: "the role name",
    ..BASE
};

/// Brings every policy document to its canonical form.
pub fn normalize(props: &mut Props) {
    if let Some(doc) = props.get_mut("assume_role_policy") {
        normalize_policy(doc);
    }
    if let Some(Value::Map(policies)) = props.get_mut("inline_policies") {
        policies.values_mut().for_each(normalize_policy);
    }
}

/// A policy document value in canonical form; values that are not (yet)
/// documents (an unresolved reference) are left alone.
fn normalize_policy(doc: &mut Value) {
    if let Value::Str(s) = doc
        && let Some(canonical) = canonical_policy(s)
    {
        *s = canonical;
    }
}

/// A policy document (JSON, or JSON URL-encoded as IAM returns it) in canonical
/// form: a single `Statement` object becomes a list of one; in each statement,
/// the values of `Action`, `NotAction`, `Resource`, `NotResource`, and each value
/// of `Principal`, `NotPrincipal` and of every `Condition` operator, become the
/// plain string when they are a one-element list, and are sorted and
/// deduplicated otherwise; object keys are sorted and there is no whitespace.
/// `None` when the text is not JSON either way.
pub fn canonical_policy(doc: &str) -> Option<String> {
    let mut json: Json = match serde_json::from_str(doc) {
        Ok(j) => j,
        Err(_) => serde_json::from_str(&percent_decode(doc)?).ok()?,
    };
    canonicalize_policy(&mut json);
    Some(canonical_json(&json))
}

fn canonicalize_policy(doc: &mut Json) {
    let Some(statements) = doc.get_mut("Statement") else { return };
    if statements.is_object() {
        *statements = Json::Array(vec![statements.take()]);
    }
    let Json::Array(statements) = statements else { return };
    for statement in statements.iter_mut().filter_map(Json::as_object_mut) {
        for key in ["Action", "NotAction", "Resource", "NotResource"] {
            if let Some(v) = statement.get_mut(key) {
                simplify_list(v);
            }
        }
        for key in ["Principal", "NotPrincipal"] {
            if let Some(Json::Object(principals)) = statement.get_mut(key) {
                principals.values_mut().for_each(simplify_list);
            }
        }
        if let Some(Json::Object(operators)) = statement.get_mut("Condition") {
            for conditions in operators.values_mut().filter_map(Json::as_object_mut) {
                conditions.values_mut().for_each(simplify_list);
            }
        }
    }
}

/// A one-element list becomes its element; a longer list is sorted and
/// deduplicated (its order has no meaning in a policy).
fn simplify_list(v: &mut Json) {
    let Json::Array(items) = v else { return };
    items.sort_by_cached_key(canonical_json);
    items.dedup();
    if items.len() == 1 {
        *v = items.remove(0);
    }
}

/// Decodes `%XX` escapes (RFC 3986, as IAM encodes policy documents). `None`
/// for a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
