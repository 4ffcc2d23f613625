//! Saved plans (`infra plan --out FILE`, `infra apply FILE`): the exact plan as
//! JSON, with the state serial and lineage it was computed from.

use serde::{Deserialize, Serialize};

use super::Plan;

/// The saved-plan format version this binary writes and reads.
pub const SAVED_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedPlan {
    infra_saved_plan: u32,
    plan: Plan,
}

/// The plan as a saved-plan document.
pub fn to_saved(plan: &Plan) -> String {
    let saved = SavedPlan { infra_saved_plan: SAVED_VERSION, plan: plan.clone() };
    serde_json::to_string_pretty(&saved).expect("plans serialise") + "\n"
}

/// Reads a saved-plan document; the message says what is wrong with it.
pub fn from_saved(text: &str) -> Result<Plan, String> {
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
    let saved: SavedPlan = serde_json::from_str(text).map_err(|e| format!("not a saved plan: {e}"))?;
    Ok(saved.plan)
}
