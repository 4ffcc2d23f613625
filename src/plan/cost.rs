//! What a plan does to the monthly bill: each step priced from the
//! properties it finds (recorded) and leaves (desired), with the cost
//! module's prices. The CLI sets [`Plan::cost`]; the planner never does.

use crate::cost::{Change, CostError, Delta, PriceTable, Usage, price};
use crate::model::text::inline;
use crate::model::{Kind, Props, Value};

use super::{Action, Plan};

/// The cost difference `plan` makes, each side priced from the properties
/// its steps find (recorded) and leave (desired).
pub fn delta(plan: &Plan, usage: &Usage, table: &PriceTable, region: &str) -> Result<Delta, CostError> {
    let prices = table.region(region)?;
    let mut delta =
        Delta { region: region.to_string(), before: 0.0, after: 0.0, changes: Vec::new(), unpriced: Vec::new() };
    for step in &plan.steps {
        let kind = step.kind;
        let before = match (&step.prior, step.action) {
            (Some(prior), a) if a != Action::Create => Some(price(&step.name, kind, prior, prices, usage, region)),
            _ => None,
        };
        let after = match step.action {
            Action::Delete => None,
            _ => Some(price(&step.name, kind, &step.desired, prices, usage, region)),
        };
        let (b, a) = match (before.transpose(), after.transpose()) {
            (Ok(b), Ok(a)) => (b, a),
            (Err(e), _) | (_, Err(e)) => {
                delta.unpriced.push(e.to_string());
                continue;
            }
        };
        let (bm, am) = (b.as_ref().map_or(0.0, |l| l.monthly), a.as_ref().map_or(0.0, |l| l.monthly));
        delta.before += bm;
        delta.after += am;
        if (am - bm).abs() < 0.005 {
            continue;
        }
        let why = match (step.action, &b, &a) {
            (Action::Create, _, Some(a)) => format!("new, {}", a.basis),
            (Action::Delete, _, _) => "removed".to_string(),
            _ => changed_inputs(kind, step.prior.as_ref(), &step.desired),
        };
        delta.changes.push(Change { resource: step.name.clone(), before: bm, after: am, why });
    }
    Ok(delta)
}

/// `t3.medium → t3.large`, for the priced properties that differ.
fn changed_inputs(kind: Kind, prior: Option<&Props>, desired: &Props) -> String {
    let priced = ["instance_type", "size", "volume_type", "compute_type", "single_instance", "root_volume_size"];
    let show = |v: Option<&Value>| v.map_or("default".to_string(), inline);
    let mut parts = Vec::new();
    for name in priced {
        if !kind.schema().fields.iter().any(|f| f.name == name) {
            continue;
        }
        let (b, a) = (prior.and_then(|p| p.get(name)), desired.get(name));
        if b != a {
            parts.push(format!("{name} {} → {}", show(b), show(a)));
        }
    }
    if parts.is_empty() { "changed".into() } else { parts.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, Stack, map};

    fn table() -> PriceTable {
        PriceTable::shipped().unwrap()
    }

    fn stack(resources: Vec<(&str, Resource)>) -> Stack {
        let mut stack = Stack::new("dev");
        stack.region = Some("us-east-1".into());
        for (name, r) in resources {
            stack.resources.insert(name.into(), r);
        }
        stack
    }

    #[test]
    fn a_plan_s_cost_is_what_its_steps_leave_less_what_they_find() {
        let before = stack(vec![("host", Resource::new(Kind::Instance).prop("instance_type", "t3.medium"))]);
        let after = stack(vec![
            ("host", Resource::new(Kind::Instance).prop("instance_type", "t3.large")),
            ("data", Resource::new(Kind::Volume).prop("size", 30).prop("availability_zone", "us-east-1a")),
        ]);
        let mut state = crate::state::State::default();
        let mut props = before.resources["host"].props.clone();
        (Kind::Instance.schema().normalize)(&mut props);
        props.insert("tags".into(), map([("infra:name", Value::from("host")), ("infra:stack", Value::from("dev"))]));
        state.resources.insert(
            "host".into(),
            crate::state::Recorded {
                kind: Kind::Instance,
                id: "i-1".into(),
                props,
                outputs: Props::new(),
                depends_on: vec![],
                protect: false,
            },
        );
        let plan = crate::plan::plan(&after, &state, &crate::plan::Refreshed::new()).unwrap();
        let d = delta(&plan, &Usage::default(), &table(), "us-east-1").unwrap();
        // t3.medium → t3.large: 730 × (0.0832 − 0.0416) = 30.368; the new volume: 2.40.
        // In all: 730 × 0.0832 + 8 GB root × 0.08 + 30 × 0.08 = 63.776.
        assert!((d.monthly() - 32.768).abs() < 1e-9, "{d:?}");
        let host = d.changes.iter().find(|c| c.resource == "host").unwrap();
        assert_eq!(host.why, "instance_type \"t3.medium\" → \"t3.large\"");
        assert_eq!(
            d.text(),
            "Cost: +$32.77/month, $63.78/month in all\n  host  +$30.37  instance_type \"t3.medium\" → \"t3.large\"\n  data   +$2.40  new, 30 GB-month × $0.08/GB (gp3)\n"
        );
    }
}
