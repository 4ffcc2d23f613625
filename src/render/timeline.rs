//! The timeline of a run (`--timeline FILE.svg` or `FILE.json`): one lane per
//! resource (refresh's reads in a lane of their own), a bar per AWS call from
//! its start to its end coloured by service, the pauses between polls hatched,
//! calls the SDK had to retry (throttled) outlined, and the critical path, the
//! chain of calls and waits that set the wall time, drawn over the lanes.
//!
//! The critical path is computed from the trace: from the segment (a call or a
//! wait) that ended last, each step back takes the segment that ended last
//! before it started, in its own lane, in the lane of an operation its
//! operation waited for, or in refresh's. Past [`GROUP_ABOVE`] lanes, lanes
//! are grouped by kind so that the picture stays legible at 1,000 resources.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use svg::Document;
use svg::node::element::{Definitions, Group, Line, Pattern, Polyline, Rectangle, Text, Title};

use crate::provider::stats::Trace;

/// The lane of calls no operation made: refresh's reads, the plan's lookups.
pub const REFRESH: &str = "(refresh)";
/// More resources than this are drawn one lane per kind.
pub const GROUP_ABOVE: usize = 80;
/// Two segments closer than this (ms) are taken as one after the other.
const TOLERANCE_MS: f64 = 2.0;

/// A call or a wait, in a lane.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Segment {
    pub lane: String,
    /// `service:Operation`, or `wait` for a pause between polls.
    pub what: String,
    pub start_ms: f64,
    pub end_ms: f64,
    /// Attempts the SDK made (1 for a wait).
    pub attempts: u32,
}

impl Segment {
    pub fn is_wait(&self) -> bool {
        self.what == "wait"
    }
}

/// The chain of calls and waits that set the wall time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CriticalPath {
    pub segments: Vec<Segment>,
    /// AWS calls in sequence: round trips.
    pub calls: usize,
    pub waits: usize,
    pub wait_ms: f64,
    /// From the start of the first segment to the end of the last.
    pub span_ms: f64,
}

/// Every call and wait of the trace as segments.
pub fn segments(trace: &Trace) -> Vec<Segment> {
    let lane = |r: &Option<String>| r.clone().unwrap_or_else(|| REFRESH.to_string());
    let calls = trace.calls.iter().map(|c| Segment {
        lane: lane(&c.resource),
        what: c.operation.clone(),
        start_ms: c.start_ms,
        end_ms: c.end_ms,
        attempts: c.attempts,
    });
    let waits = trace.sleeps.iter().map(|s| Segment {
        lane: lane(&s.resource),
        what: "wait".into(),
        start_ms: s.start_ms,
        end_ms: s.end_ms,
        attempts: 1,
    });
    let mut all: Vec<Segment> = calls.chain(waits).collect();
    all.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms).then(a.end_ms.total_cmp(&b.end_ms)));
    all
}

/// The lanes a segment in `lane` may have waited for: its own, those of the
/// operations its operations came after, and refresh's.
fn waited_for(trace: &Trace) -> BTreeMap<String, BTreeSet<String>> {
    let by_index: BTreeMap<usize, &str> = trace.ops.iter().map(|o| (o.index, o.resource.as_str())).collect();
    let mut lanes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for op in &trace.ops {
        let entry = lanes.entry(op.resource.clone()).or_default();
        entry.insert(op.resource.clone());
        entry.insert(REFRESH.to_string());
        entry.extend(op.after.iter().filter_map(|i| by_index.get(i)).map(|r| r.to_string()));
    }
    lanes
}

/// The critical path of the trace.
pub fn critical_path(trace: &Trace) -> CriticalPath {
    let all = segments(trace);
    let allowed = waited_for(trace);
    let Some(mut current) = all.iter().max_by(|a, b| a.end_ms.total_cmp(&b.end_ms)) else {
        return CriticalPath::default();
    };
    let mut path = vec![current.clone()];
    loop {
        let own = BTreeSet::from([current.lane.clone(), REFRESH.to_string()]);
        let lanes = allowed.get(&current.lane).unwrap_or(&own);
        let before = all
            .iter()
            .filter(|s| lanes.contains(&s.lane) && s.end_ms <= current.start_ms + TOLERANCE_MS && *s != current)
            .filter(|s| s.start_ms < current.start_ms)
            .max_by(|a, b| a.end_ms.total_cmp(&b.end_ms));
        match before {
            Some(s) => {
                path.push(s.clone());
                current = s;
            }
            None => break,
        }
    }
    path.reverse();
    let waits: Vec<&Segment> = path.iter().filter(|s| s.is_wait()).collect();
    CriticalPath {
        calls: path.len() - waits.len(),
        waits: waits.len(),
        wait_ms: waits.iter().map(|s| s.end_ms - s.start_ms).sum(),
        span_ms: path.last().map_or(0.0, |l| l.end_ms) - path.first().map_or(0.0, |f| f.start_ms),
        segments: path,
    }
}

/// The fewest round trips in sequence a run could take: one for refresh (when
/// it read anything: every kind at once), then, along the longest chain of
/// operations that wait for each other, the calls each cannot do without
/// ([`crate::model::floor::forced`]) and each "not yet" AWS answered it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Floor {
    pub round_trips: usize,
    /// That chain, call by call: `(refresh)`, then `resource: Call`.
    pub chain: Vec<String>,
    /// The calls the whole run could not do without, chain or not: refresh's
    /// reads, and each operation's forced calls and "not yet" answers. What a
    /// server that answers one request at a time must at least serve.
    pub forced_calls: usize,
}

/// The floor of the run the trace records.
pub fn floor(trace: &Trace) -> Floor {
    let mut best: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut ops: Vec<&crate::provider::stats::OpSpan> = trace.ops.iter().collect();
    ops.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    let mut forced_calls = trace.calls.iter().filter(|c| c.resource.is_none()).count();
    for op in &ops {
        let before = op.after.iter().filter_map(|i| best.get(i)).max_by_key(|c| c.len()).cloned().unwrap_or_default();
        let kind = crate::model::Kind::from_type_name(&op.kind);
        let own = kind.map_or(&["(one call)"][..], |k| crate::model::floor::forced(k, &op.op));
        // Each time AWS answered "not yet" during the operation is one more
        // round trip: no implementation learns sooner that it is done.
        let not_yet = trace
            .not_yet
            .iter()
            .filter(|n| n.resource.as_deref() == Some(&op.resource) && (op.start_ms..=op.end_ms).contains(&n.at_ms))
            .count();
        let mut chain = before;
        chain.extend(own.iter().map(|call| format!("{}: {call}", op.resource)));
        chain.extend((0..not_yet).map(|_| format!("{}: (not yet)", op.resource)));
        forced_calls += own.len() + not_yet;
        best.insert(op.index, chain);
    }
    let mut chain = Vec::new();
    if trace.calls.iter().any(|c| c.resource.is_none()) {
        chain.push(REFRESH.to_string());
    }
    chain.extend(best.into_values().max_by_key(Vec::len).unwrap_or_default());
    Floor { round_trips: chain.len(), chain, forced_calls }
}

/// The critical path in one line, for `--stats`.
pub fn critical_path_line(path: &CriticalPath) -> String {
    let chain: Vec<&str> = path.segments.iter().map(|s| if s.is_wait() { "(wait)" } else { s.what.as_str() }).collect();
    format!(
        "critical path: {:.3}s, {} calls in sequence and {} waits ({:.3}s): {}",
        path.span_ms / 1000.0,
        path.calls,
        path.waits,
        path.wait_ms / 1000.0,
        chain.join(" → ")
    )
}

/// The timeline as data for tools: lanes, segments, operations and the critical path.
pub fn json(trace: &Trace) -> serde_json::Value {
    serde_json::json!({
        "lanes": lanes(trace).iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "segments": segments(trace),
        "operations": trace.ops,
        "critical_path": critical_path(trace),
        "floor": floor(trace),
    })
}

/// The lanes in the order they are drawn (refresh first, then by the time
/// each starts), each with the resources it holds; grouped by kind past
/// [`GROUP_ABOVE`] resources.
fn lanes(trace: &Trace) -> Vec<(String, BTreeSet<String>)> {
    let segs = segments(trace);
    let mut first: BTreeMap<String, f64> = BTreeMap::new();
    for s in &segs {
        let t = first.entry(s.lane.clone()).or_insert(s.start_ms);
        *t = t.min(s.start_ms);
    }
    for op in &trace.ops {
        let t = first.entry(op.resource.clone()).or_insert(op.start_ms);
        *t = t.min(op.start_ms);
    }
    let mut order: Vec<(String, f64)> = first.into_iter().collect();
    order.sort_by(|a, b| (a.0 != REFRESH).cmp(&(b.0 != REFRESH)).then(a.1.total_cmp(&b.1)).then(a.0.cmp(&b.0)));
    let resources = order.iter().filter(|(l, _)| l != REFRESH).count();
    if resources <= GROUP_ABOVE {
        return order.into_iter().map(|(l, _)| (l.clone(), BTreeSet::from([l]))).collect();
    }
    let kind_of: BTreeMap<&str, &str> = trace.ops.iter().map(|o| (o.resource.as_str(), o.kind.as_str())).collect();
    let mut grouped: Vec<(String, BTreeSet<String>)> = Vec::new();
    for (lane, _) in order {
        let group =
            if lane == REFRESH { lane.clone() } else { kind_of.get(lane.as_str()).unwrap_or(&"other").to_string() };
        match grouped.iter_mut().find(|(g, _)| *g == group) {
            Some((_, members)) => {
                members.insert(lane);
            }
            None => grouped.push((group, BTreeSet::from([lane]))),
        }
    }
    for (name, members) in &mut grouped {
        if name != REFRESH {
            *name = format!("{name} ({})", members.len());
        }
    }
    grouped
}

/// A colour per AWS service (Tableau 10, a palette made for telling series apart).
fn colour(what: &str) -> &'static str {
    const PALETTE: [&str; 10] =
        ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#e15759"];
    let service = what.split(':').next().unwrap_or(what).replace(' ', "");
    let known = ["ec2", "iam", "s3", "elasticbeanstalk", "ssm", "codebuild", "codepipeline", "eventbridge", "sts"];
    let i = known.iter().position(|s| *s == service).unwrap_or(service.len());
    PALETTE[i % PALETTE.len()]
}

const LABEL_W: f64 = 230.0;
const CHART_W: f64 = 1000.0;
const TOP: f64 = 56.0;
const LEGEND_H: f64 = 40.0;

/// The timeline as an SVG document that any browser opens.
pub fn svg(trace: &Trace, title: &str) -> String {
    let lanes = lanes(trace);
    let segs = segments(trace);
    let path = critical_path(trace);
    let wall = segs.iter().map(|s| s.end_ms).chain(trace.ops.iter().map(|o| o.end_ms)).fold(1.0_f64, f64::max);
    let lane_h = if lanes.len() > 40 { 12.0 } else { 20.0 };
    let height = TOP + lanes.len() as f64 * lane_h + 30.0 + LEGEND_H;
    let x = |ms: f64| LABEL_W + ms / wall * CHART_W;
    let lane_of: BTreeMap<&str, usize> =
        lanes.iter().enumerate().flat_map(|(i, (_, members))| members.iter().map(move |m| (m.as_str(), i))).collect();
    let y = |lane: &str| TOP + lane_of.get(lane).copied().unwrap_or(0) as f64 * lane_h;

    let hatch = Pattern::new()
        .set("id", "wait")
        .set("width", 6)
        .set("height", 6)
        .set("patternUnits", "userSpaceOnUse")
        .set("patternTransform", "rotate(45)")
        .add(Rectangle::new().set("width", 6).set("height", 6).set("fill", "#f4f4f4"))
        .add(
            Line::new()
                .set("x1", 0)
                .set("y1", 0)
                .set("x2", 0)
                .set("y2", 6)
                .set("stroke", "#888")
                .set("stroke-width", 2),
        );
    let mut doc = Document::new()
        .set("width", LABEL_W + CHART_W + 20.0)
        .set("height", height)
        .set("viewBox", (0, 0, LABEL_W + CHART_W + 20.0, height))
        .set("font-family", "sans-serif")
        .set("font-size", 11)
        .add(Definitions::new().add(hatch))
        .add(Rectangle::new().set("width", "100%").set("height", "100%").set("fill", "white"));
    let summary = format!(
        "{title}: {:.2} s; critical path {:.2} s: {} calls in sequence, {} waits ({:.2} s)",
        wall / 1000.0,
        path.span_ms / 1000.0,
        path.calls,
        path.waits,
        path.wait_ms / 1000.0
    );
    doc = doc.add(Text::new(summary).set("x", 10).set("y", 20).set("font-size", 14).set("font-weight", "bold"));

    // The time axis: a line every "nice" step.
    let step = nice_step(wall);
    let mut axis = Group::new().set("class", "axis");
    let mut t = 0.0;
    while t <= wall {
        let label = if step >= 1000.0 { format!("{:.0} s", t / 1000.0) } else { format!("{t:.0} ms") };
        axis = axis
            .add(
                Line::new()
                    .set("x1", x(t))
                    .set("x2", x(t))
                    .set("y1", TOP - 6.0)
                    .set("y2", TOP + lanes.len() as f64 * lane_h)
                    .set("stroke", "#e0e0e0"),
            )
            .add(Text::new(label).set("x", x(t) + 2.0).set("y", TOP - 8.0).set("fill", "#666"));
        t += step;
    }
    doc = doc.add(axis);

    for (i, (name, members)) in lanes.iter().enumerate() {
        let top = TOP + i as f64 * lane_h;
        let mut lane = Group::new().set("class", "lane").set("data-lane", name.as_str());
        if i % 2 == 1 {
            lane = lane.add(
                Rectangle::new()
                    .set("x", 0)
                    .set("y", top)
                    .set("width", LABEL_W + CHART_W)
                    .set("height", lane_h)
                    .set("fill", "#fafafa"),
            );
        }
        lane = lane.add(Text::new(name.as_str()).set("x", 10).set("y", top + lane_h * 0.7));
        for s in segs.iter().filter(|s| members.contains(&s.lane)) {
            let width = (x(s.end_ms) - x(s.start_ms)).max(1.0);
            let fill = if s.is_wait() { "url(#wait)".to_string() } else { colour(&s.what).to_string() };
            let mut bar = Rectangle::new()
                .set("class", if s.is_wait() { "wait" } else { "call" })
                .set("x", x(s.start_ms))
                .set("y", top + 2.0)
                .set("width", width)
                .set("height", lane_h - 4.0)
                .set("fill", fill);
            let mut tip = format!("{}: {} {:.0} ms", s.lane, s.what, s.end_ms - s.start_ms);
            if s.attempts > 1 {
                bar = bar.set("stroke", "#d62728").set("stroke-width", 2).set("class", "call retried");
                tip.push_str(&format!(", {} attempts (throttled or retried)", s.attempts));
            }
            lane = lane.add(bar.add(Title::new(tip)));
        }
        doc = doc.add(lane);
    }

    // The critical path over the lanes: each of its segments outlined, and joined.
    let mut critical = Group::new().set("class", "critical-path");
    let mut points = Vec::new();
    for s in &path.segments {
        let top = y(&s.lane);
        critical = critical.add(
            Rectangle::new()
                .set("class", "critical")
                .set("x", x(s.start_ms))
                .set("y", top + 1.0)
                .set("width", (x(s.end_ms) - x(s.start_ms)).max(1.0))
                .set("height", lane_h - 2.0)
                .set("fill", "none")
                .set("stroke", "#000")
                .set("stroke-width", 1.5),
        );
        points.push(format!("{:.1},{:.1}", x(s.start_ms), top + lane_h / 2.0));
        points.push(format!("{:.1},{:.1}", x(s.end_ms), top + lane_h / 2.0));
    }
    critical = critical.add(
        Polyline::new()
            .set("points", points.join(" "))
            .set("fill", "none")
            .set("stroke", "#000")
            .set("stroke-width", 1.5)
            .set("stroke-dasharray", "4 2"),
    );
    doc = doc.add(critical);

    // The legend: services seen, waits, retries, the critical path.
    let legend_y = TOP + lanes.len() as f64 * lane_h + 24.0;
    let services: BTreeSet<&str> =
        segs.iter().filter(|s| !s.is_wait()).map(|s| s.what.split(':').next().unwrap_or("")).collect();
    let mut legend = Group::new().set("class", "legend");
    let mut lx = 10.0;
    let mut entry = |legend: Group, label: &str, fill: &str, stroke: &str| {
        let g = legend
            .add(
                Rectangle::new()
                    .set("x", lx)
                    .set("y", legend_y)
                    .set("width", 14)
                    .set("height", 10)
                    .set("fill", fill)
                    .set("stroke", stroke),
            )
            .add(Text::new(label).set("x", lx + 18.0).set("y", legend_y + 9.0));
        lx += 24.0 + label.len() as f64 * 6.5;
        g
    };
    for service in services {
        legend = entry(legend, service, colour(service), "none");
    }
    legend = entry(legend, "wait between polls", "url(#wait)", "none");
    legend = entry(legend, "retried (throttled)", "white", "#d62728");
    legend = entry(legend, "critical path", "none", "#000");
    doc.add(legend).to_string()
}

/// A step of 1, 2 or 5 times a power of ten that gives about ten grid lines.
fn nice_step(wall_ms: f64) -> f64 {
    let raw = wall_ms / 10.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(power * 10.0).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::stats::{Call, NotYet, OpSpan, Sleep};

    fn call(resource: Option<&str>, operation: &str, start_ms: f64, end_ms: f64) -> Call {
        Call { resource: resource.map(str::to_string), operation: operation.into(), start_ms, end_ms, attempts: 1 }
    }

    fn op(index: usize, resource: &str, after: Vec<usize>, start_ms: f64, end_ms: f64) -> OpSpan {
        OpSpan {
            index,
            resource: resource.into(),
            op: "create".into(),
            kind: "ec2.volume".into(),
            after,
            start_ms,
            end_ms,
            ok: true,
        }
    }

    /// Refresh, then a group (create, authorize), and an instance after it
    /// that waits once; a role beside them all, done early.
    fn trace() -> Trace {
        Trace {
            calls: vec![
                call(None, "ec2:DescribeVpcs", 0.0, 100.0),
                call(Some("sg"), "ec2:CreateSecurityGroup", 101.0, 200.0),
                call(Some("role"), "iam:CreateRole", 101.0, 150.0),
                call(Some("sg"), "ec2:AuthorizeSecurityGroupIngress", 201.0, 300.0),
                call(Some("host"), "ec2:RunInstances", 301.0, 400.0),
                call(Some("host"), "ec2:DescribeInstances", 601.0, 700.0),
            ],
            sleeps: vec![Sleep { resource: Some("host".into()), start_ms: 400.0, end_ms: 600.0 }],
            not_yet: vec![],
            ops: vec![
                op(0, "sg", vec![], 101.0, 300.0),
                op(1, "role", vec![], 101.0, 150.0),
                op(2, "host", vec![0], 301.0, 700.0),
            ],
        }
    }

    #[test]
    fn the_critical_path_is_the_chain_that_ends_last_through_what_each_waited_for() {
        let path = critical_path(&trace());
        let chain: Vec<&str> = path.segments.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(
            chain,
            [
                "ec2:DescribeVpcs",
                "ec2:CreateSecurityGroup",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RunInstances",
                "wait",
                "ec2:DescribeInstances"
            ]
        );
        assert_eq!((path.calls, path.waits), (5, 1));
        assert_eq!((path.span_ms, path.wait_ms), (700.0, 200.0));
    }

    #[test]
    fn the_picture_has_a_lane_per_resource_and_marks_the_path_and_its_waits() {
        let picture = svg(&trace(), "infra apply: stack t");
        assert_eq!(picture.matches("class=\"lane\"").count(), 4, "refresh, sg, role, host");
        assert_eq!(picture.matches("class=\"critical\"").count(), 6);
        assert_eq!(picture.matches("class=\"wait\"").count(), 1);
        assert!(picture.contains("critical path 0.70 s: 5 calls in sequence, 1 waits"), "{picture}");
    }

    #[test]
    fn the_floor_is_refresh_then_the_forced_calls_of_the_longest_chain() {
        let mut t = trace();
        t.ops[2].kind = "ec2.instance".into();
        t.ops[0].kind = "ec2.security_group".into();
        t.ops[1].kind = "iam.role".into();
        let f = floor(&t);
        assert_eq!(
            f.chain,
            [
                "(refresh)",
                "sg: CreateSecurityGroup",
                "sg: AuthorizeSecurityGroupIngress",
                "host: RunInstances",
                "host: DescribeInstances"
            ]
        );
        assert_eq!(f.round_trips, 5);
        assert_eq!(f.forced_calls, 1 + 2 + 2 + 2, "refresh's read, the group's, the role's and the host's calls");
    }

    #[test]
    fn each_not_yet_answer_during_an_operation_is_a_forced_round_trip() {
        let mut t = trace();
        t.ops[2].kind = "ec2.instance".into();
        t.ops[0].kind = "ec2.security_group".into();
        t.ops[1].kind = "iam.role".into();
        // The host's first poll found it pending; the role's answer came after its operation.
        t.not_yet = vec![
            NotYet { resource: Some("host".into()), at_ms: 500.0 },
            NotYet { resource: Some("role".into()), at_ms: 500.0 },
        ];
        let f = floor(&t);
        assert_eq!(f.chain.last().map(String::as_str), Some("host: (not yet)"));
        assert_eq!((f.round_trips, f.forced_calls), (6, 8));
    }

    #[test]
    fn many_resources_are_drawn_a_lane_per_kind() {
        let mut t = Trace::default();
        for i in 0..200 {
            let name = format!("v{i}");
            t.calls.push(call(Some(&name), "ec2:CreateVolume", i as f64, i as f64 + 50.0));
            t.ops.push(op(i, &name, vec![], i as f64, i as f64 + 50.0));
        }
        let drawn = lanes(&t);
        assert_eq!(drawn.len(), 1);
        assert_eq!(drawn[0].0, "ec2.volume (200)");
    }
}
