//! Saved plans (`infra plan --out FILE`, `infra apply FILE`): the exact plan as
//! JSON, with the state serial and lineage it was computed from. Secrets in it
//! are sealed like those in state (`"secret": {"str": "<sealed>"}`), with the
//! header that names their key.
//!
//! Written with a state key, a saved plan carries a MAC of the whole document
//! (see [`crate::secret::mac_input`]), which binds the stack, lineage and
//! serial it was made from: a plan changed after it was written (a CI
//! artifact edited, say) is refused. With a key set, a plan without a MAC is
//! refused too. Without a key, nothing authenticates it; `infra apply` still
//! takes ids and protection from state and runs the policy checks again.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::model::Value;
use crate::secret::{Header, Mac, Sealer, SecretError};

/// What a saved plan's MAC is computed as.
const MAC_KIND: &str = "plan";

/// The saved-plan format version this binary writes and reads.
pub const SAVED_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedPlan {
    infra_saved_plan: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption: Option<Header>,
    plan: Plan,
    /// The MAC of the rest of the document; present when written with a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<Mac>,
}

/// The plan as a saved-plan document; `sealer` is needed when it holds
/// secrets, and when given, the document carries a MAC under its key.
pub fn to_saved(plan: &Plan, sealer: Option<&Sealer>) -> Result<String, SecretError> {
    let mut plan = plan.clone();
    let encryption = if plan.has_secrets() {
        let sealer = sealer.ok_or(SecretError::NoKey)?;
        plan.try_map_secrets(&mut |v| Ok::<_, SecretError>(Value::Str(sealer.seal_value(v))))?;
        Some(sealer.header().clone())
    } else {
        None
    };
    let mut saved = SavedPlan { infra_saved_plan: SAVED_VERSION, encryption, plan, mac: None };
    let text = |saved: &SavedPlan| serde_json::to_string_pretty(saved).expect("plans serialise") + "\n";
    let Some(sealer) = sealer else { return Ok(text(&saved)) };
    let body = crate::secret::mac_input(&text(&saved)).expect("a saved plan is JSON");
    saved.mac = Some(sealer.mac(MAC_KIND, "", &body));
    Ok(text(&saved))
}

/// Reads a saved-plan document, its MAC checked and its secrets opened with
/// the sealer `open` finds for its header; `keyed`: a state key is set, so
/// the document must carry a MAC. The message says what is wrong with it.
pub fn from_saved(
    text: &str,
    open: &dyn Fn(&Header) -> Result<Arc<Sealer>, String>,
    keyed: bool,
) -> Result<Plan, String> {
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
    match &saved.mac {
        Some(mac) => {
            let sealer = open(&mac.key).map_err(|e| format!("its MAC cannot be checked: {e}"))?;
            let body = crate::secret::mac_input(text).ok_or("not a saved plan: not JSON")?;
            if !sealer.verify(MAC_KIND, "", &body, &mac.tag) {
                return Err("its MAC does not match: the plan was changed after `infra plan --out` wrote it; \
                            nothing was applied"
                    .into());
            }
        }
        None if keyed => {
            return Err("it carries no MAC, though a state key is set: it was written without the key, \
                        or its MAC was removed; make the plan again with `infra plan --out`"
                .into());
        }
        None => {}
    }
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
            preview: None,
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
        assert_eq!(from_saved(&text, &open, true).unwrap(), plan_with_secret());
        let wrong = |h: &Header| Sealer::open(&KeySource::key([6; 32]), h).map(Arc::new).map_err(|e| e.to_string());
        assert!(from_saved(&text, &wrong, true).unwrap_err().contains("not the key"));
        assert_eq!(to_saved(&plan_with_secret(), None).unwrap_err(), SecretError::NoKey);
    }

    #[test]
    fn an_edited_saved_plan_is_refused_by_its_mac() {
        let source = KeySource::key([5; 32]);
        let sealer = Sealer::create(&source).unwrap();
        let open = |h: &Header| Sealer::open(&source, h).map(Arc::new).map_err(|e| e.to_string());
        let text = to_saved(&plan_with_secret(), Some(&sealer)).unwrap();
        let edited = text.replace(r#""id": "x""#, r#""id": "y""#);
        assert_ne!(edited, text);
        let err = from_saved(&edited, &open, true).unwrap_err();
        assert!(err.starts_with("its MAC does not match"), "{err}");
        // Layout is not content: the same document re-indented still reads.
        let relaid = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
        assert_eq!(from_saved(&relaid, &open, true).unwrap(), plan_with_secret());
        // Without its MAC, refused while a key is set.
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc.as_object_mut().unwrap().remove("mac");
        let err = from_saved(&doc.to_string(), &open, true).unwrap_err();
        assert!(err.starts_with("it carries no MAC"), "{err}");
    }
}
