//! Saved plans (`infra plan --out FILE`, `infra apply FILE`): the exact plan as
//! JSON, with the state serial and lineage it was computed from. Secrets in it
//! are sealed like those in state (`"secret": {"str": "<sealed>"}`), with the
//! header that names their key.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::model::Value;
use crate::secret::{Header, Sealer, SecretError};

/// The saved-plan format version this binary writes and reads.
pub const SAVED_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedPlan {
    infra_saved_plan: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption: Option<Header>,
    plan: Plan,
}

/// The plan as a saved-plan document; `sealer` is needed when it holds secrets.
pub fn to_saved(plan: &Plan, sealer: Option<&Sealer>) -> Result<String, SecretError> {
    let mut plan = plan.clone();
    let encryption = if plan.has_secrets() {
        let sealer = sealer.ok_or(SecretError::NoKey)?;
        plan.try_map_secrets(&mut |v| Ok::<_, SecretError>(Value::Str(sealer.seal_value(v))))?;
        Some(sealer.header().clone())
    } else {
        None
    };
    let saved = SavedPlan { infra_saved_plan: SAVED_VERSION, encryption, plan };
    Ok(serde_json::to_string_pretty(&saved).expect("plans serialise") + "\n")
}

/// Reads a saved-plan document, its secrets opened with the sealer `open`
/// finds for its header; the message says what is wrong with it.
pub fn from_saved(text: &str, open: &dyn Fn(&Header) -> Result<Arc<Sealer>, String>) -> Result<Plan, String> {
    #[derive(Deserialize)]
    struct Version {
        infra_saved_plan: u32,
    }
    let version: Version = serde_json::from_str(text).map_err(|e| format!("not a saved plan: {e}"))?;
    if version.infra_saved_plan != SAVED_VERSION {
        return Err(format!(
            "saved plan format {} is not the one this infra reads ({SAVED_VERSION})",
            version.infra_saved_plan
        ));
    }
    let mut saved: SavedPlan = serde_json::from_str(text).map_err(|e| format!("not a saved plan: {e}"))?;
    if saved.plan.has_secrets() {
        let header =
            saved.encryption.as_ref().ok_or("not a saved plan: it holds secrets, but no `encryption` header")?;
        let sealer = open(header)?;
        saved.plan.try_map_secrets(&mut |v| match v {
            Value::Str(sealed) => sealer.unseal_value(sealed, "a secret of the plan").map_err(|e| e.to_string()),
            _ => Err("not a saved plan: a secret is not sealed".to_string()),
        })?;
    }
    Ok(saved.plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Props};
    use crate::plan::{Action, Change, Step};
    use crate::secret::KeySource;

    fn plan_with_secret() -> Plan {
        let desired: Props = [("p".to_string(), Value::secret("hunter2"))].into();
        let change = Change {
            prop: "p".into(),
            before: Some(Value::secret("old-one")),
            after: Some(Value::secret("hunter2")),
            forces_replace: false,
            secret: false,
            reverts_drift: false,
        };
        Plan {
            steps: vec![Step {
                name: "a".into(),
                kind: Kind::BuildProject,
                action: Action::Update,
                id: Some("x".into()),
                reason: None,
                changes: vec![change],
                depends_on: vec![],
                desired,
                prior: None,
                protected: false,
                protection_changed: false,
                replace_requested: false,
                order: None,
                adopted: None,
                name_taken: false,
            }],
            ..Plan::new("dev", 1, None)
        }
    }

    #[test]
    fn a_saved_plan_holds_its_secrets_only_sealed_and_reads_back_the_same() {
        let source = KeySource::key([5; 32]);
        let sealer = Sealer::create(&source).unwrap();
        let text = to_saved(&plan_with_secret(), Some(&sealer)).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("old-one"), "{text}");
        let open = |h: &Header| Sealer::open(&source, h).map(Arc::new).map_err(|e| e.to_string());
        assert_eq!(from_saved(&text, &open).unwrap(), plan_with_secret());
        let wrong = |h: &Header| Sealer::open(&KeySource::key([6; 32]), h).map(Arc::new).map_err(|e| e.to_string());
        assert!(from_saved(&text, &wrong).unwrap_err().contains("not the key"));
        assert_eq!(to_saved(&plan_with_secret(), None).unwrap_err(), SecretError::NoKey);
    }
}
