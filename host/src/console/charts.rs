//! Charts drawn as SVG on the server: a trend line, bars with their 95% intervals, and a
//! journey's graph. Each chart carries a text alternative (its figures in words), and pages show
//! the same figures in a table beside it, so nothing is only in the picture.

use std::collections::BTreeMap;

use super::html::esc;
use crate::engine::DayFigures;
use crate::journey::{JourneySpec, Step, StepCounts};

/// A small line of delivered messages per day, with the figures in its label for screen readers.
pub(super) fn sparkline(name: &str, days: &[DayFigures]) -> String {
    if days.is_empty() {
        return "<span class=\"muted\">no sends</span>".into();
    }
    let (width, height) = (120.0, 28.0);
    let max = days.iter().map(|d| d.delivered).max().unwrap_or(0).max(1) as f64;
    let step = if days.len() > 1 { width / (days.len() - 1) as f64 } else { 0.0 };
    let points: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                height - 2.0 - (d.delivered as f64 / max) * (height - 4.0)
            )
        })
        .collect();
    let label = days.iter().map(|d| format!("{} {}", d.day, d.delivered)).collect::<Vec<_>>().join(", ");
    format!(
        "<svg class=\"spark\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">\
         <polyline fill=\"none\" stroke=\"#0b5cad\" stroke-width=\"2\" points=\"{}\"/></svg>",
        esc(&format!("{name}: delivered per day: {label}")),
        points.join(" ")
    )
}

/// One bar: a label, its value, and (when known) a 95% interval around it.
pub(super) struct Bar {
    pub label: String,
    pub value: f64,
    pub interval: Option<[f64; 2]>,
}

/// Horizontal bars around zero (values may be negative), each with its interval as a whisker;
/// `format` writes a value for people (`+12%`).
pub(super) fn bars(id: &str, title: &str, bars: &[Bar], format: impl Fn(f64) -> String) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let (label_w, plot_w, row_h) = (170.0, 360.0, 30.0);
    let width = label_w + plot_w + 90.0;
    let height = row_h * bars.len() as f64 + 24.0;
    let extent = |b: &Bar| {
        let [low, high] = b.interval.unwrap_or([b.value, b.value]);
        (low.min(b.value).min(0.0), high.max(b.value).max(0.0))
    };
    let low = bars.iter().map(|b| extent(b).0).fold(0.0, f64::min);
    let high = bars.iter().map(|b| extent(b).1).fold(0.0, f64::max);
    let span = if high - low > f64::EPSILON { high - low } else { 1.0 };
    let x = |v: f64| label_w + (v - low) / span * plot_w;
    let mut shapes = String::new();
    let mut words = Vec::new();
    for (i, bar) in bars.iter().enumerate() {
        let y = 8.0 + i as f64 * row_h;
        let (from, to) = (x(bar.value.min(0.0)), x(bar.value.max(0.0)));
        let colour = if bar.value < 0.0 { "#a4161a" } else { "#1a7f37" };
        shapes.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"chart-label\">{}</text>\
             <rect x=\"{from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"{colour}\" class=\"bar\"/>",
            label_w - 8.0,
            y + 13.0,
            esc(&truncate(&bar.label, 22)),
            y + 1.0,
            (to - from).max(1.0),
        ));
        let mut said = format!("{}: {}", bar.label, format(bar.value));
        if let Some([lo, hi]) = bar.interval {
            shapes.push_str(&format!(
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1b1f24\" stroke-width=\"1.5\"/>",
                x(lo),
                x(hi),
                y + 9.0,
                y + 9.0
            ));
            said.push_str(&format!(" (95% interval {} to {})", format(lo), format(hi)));
        }
        shapes.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"chart-value\">{}</text>",
            label_w + plot_w + 6.0,
            y + 13.0,
            esc(&format(bar.value))
        ));
        words.push(said);
    }
    let zero = x(0.0);
    format!(
        "<figure class=\"chart\"><figcaption>{}</figcaption>\
         <svg id=\"{id}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">\
         <line x1=\"{zero:.1}\" x2=\"{zero:.1}\" y1=\"0\" y2=\"{height}\" stroke=\"#6e7781\"/>{shapes}</svg></figure>",
        esc(title),
        esc(&format!("{title}: {}", words.join("; "))),
    )
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(chars - 1).collect();
    short.push('…');
    short
}

/// The label of the path from a step to one of its successors.
fn edge_labels(step: &Step) -> Vec<String> {
    match step {
        Step::WaitForEvent { .. } => vec!["event".into(), "timeout".into()],
        Step::Branch { .. } => vec!["yes".into(), "no".into()],
        Step::Split { paths, .. } => paths.iter().map(|p| format!("{}%", p.percent)).collect(),
        _ => vec![String::new()],
    }
}

/// The steps in the order a reader meets them, and each one's row: the longest path to it from
/// the start over the graph without its loops (edges back to a step on the way there), so
/// every forward arrow points down. Steps the start cannot reach (none in a valid spec) go last.
fn layers(spec: &JourneySpec) -> (Vec<&str>, BTreeMap<&str, usize>) {
    // Depth-first from the start: the order met, and the edges that close a loop.
    let mut order: Vec<&str> = Vec::new();
    let mut back: Vec<(&str, &str)> = Vec::new();
    let mut on_path: Vec<&str> = Vec::new();
    let mut stack: Vec<(&str, usize)> = vec![(spec.start.as_str(), 0)];
    let mut seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    if spec.steps.contains_key(&spec.start) {
        seen.insert(&spec.start);
        order.push(&spec.start);
        on_path.push(&spec.start);
    } else {
        stack.clear();
    }
    while let Some((id, i)) = stack.pop() {
        let successors = spec.steps.get(id).map(Step::successors).unwrap_or_default();
        match successors.get(i) {
            Some(&next) => {
                stack.push((id, i + 1));
                if on_path.contains(&next) {
                    back.push((id, next));
                } else if spec.steps.contains_key(next) && seen.insert(next) {
                    order.push(next);
                    on_path.push(next);
                    stack.push((next, 0));
                }
            }
            None => {
                on_path.retain(|s| *s != id);
            }
        }
    }
    // Longest path over the forward edges: relax in the order met until nothing moves (the
    // graph is small, and without its back edges it has no cycle, so this ends).
    let mut depth: BTreeMap<&str, usize> = order.iter().map(|id| (*id, 0)).collect();
    for _ in 0..order.len() {
        let mut moved = false;
        for id in &order {
            let here = depth[id];
            for next in spec.steps.get(*id).map(Step::successors).unwrap_or_default() {
                if back.contains(&(*id, next)) {
                    continue;
                }
                if let Some(d) = depth.get_mut(next)
                    && *d < here + 1
                {
                    *d = here + 1;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let last = depth.values().max().copied().unwrap_or(0);
    for id in spec.steps.keys() {
        if !depth.contains_key(id.as_str()) {
            depth.insert(id, last + 1);
            order.push(id);
        }
    }
    (order, depth)
}

/// A journey drawn top to bottom: each step a box in the row of its distance from the start,
/// with what entered it and who waits there; arrows to the steps it leads to (back edges, the
/// loops through a wait, curve around the side).
pub(super) fn journey_graph(spec: &JourneySpec, counts: Option<&BTreeMap<String, StepCounts>>) -> String {
    let (order, depth) = layers(spec);
    let mut rows: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for id in &order {
        rows.entry(depth[id]).or_default().push(id);
    }
    let (box_w, box_h, gap_x, gap_y) = (170.0, 58.0, 40.0, 56.0);
    let widest = rows.values().map(Vec::len).max().unwrap_or(1) as f64;
    let width = widest * box_w + (widest + 1.0) * gap_x;
    let height = rows.len() as f64 * (box_h + gap_y) + gap_y / 2.0;
    let mut place: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (row, ids) in &rows {
        let used = ids.len() as f64 * box_w + (ids.len() as f64 - 1.0) * gap_x;
        let left = (width - used) / 2.0;
        for (i, id) in ids.iter().enumerate() {
            place
                .insert(id, (left + i as f64 * (box_w + gap_x), gap_y / 2.0 + *row as f64 * (box_h + gap_y)));
        }
    }
    let mut edges = String::new();
    let mut nodes = String::new();
    let mut words = Vec::new();
    for id in &order {
        let Some(step) = spec.steps.get(*id) else { continue };
        let (x, y) = place[id];
        for (next, label) in step.successors().into_iter().zip(edge_labels(step)) {
            let Some(&(nx, ny)) = place.get(next) else { continue };
            let (x1, y1) = (x + box_w / 2.0, y + box_h);
            let (x2, y2) = (nx + box_w / 2.0, ny);
            let path = if ny > y {
                let mid = (y1 + y2) / 2.0;
                format!("M{x1:.1},{y1:.1} C{x1:.1},{mid:.1} {x2:.1},{mid:.1} {x2:.1},{y2:.1}")
            } else if ny == y {
                // Side by side: from the facing sides.
                let (from, to) = if nx > x { (x + box_w, nx) } else { (x, nx + box_w) };
                format!("M{from:.1},{:.1} L{to:.1},{:.1}", y + box_h / 2.0, ny + box_h / 2.0)
            } else {
                // A loop back up: out of the right side and around.
                let side = x.max(nx) + box_w + gap_x / 2.0;
                format!(
                    "M{:.1},{:.1} C{side:.1},{:.1} {side:.1},{:.1} {:.1},{:.1}",
                    x + box_w,
                    y + box_h / 2.0,
                    y + box_h / 2.0,
                    ny + box_h / 2.0,
                    nx + box_w,
                    ny + box_h / 2.0
                )
            };
            edges.push_str(&format!(
                "<path d=\"{path}\" fill=\"none\" stroke=\"#4a5360\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>"
            ));
            if !label.is_empty() {
                let (lx, ly) = if ny == y {
                    ((x + nx + box_w) / 2.0, y + box_h / 2.0 - 6.0)
                } else {
                    ((x1 + x2) / 2.0, (y1 + y2) / 2.0)
                };
                edges.push_str(&format!(
                    "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" class=\"edge-label\">{}</text>",
                    esc(&label)
                ));
            }
            words.push(format!(
                "{id} to {next}{}",
                if label.is_empty() { String::new() } else { format!(" ({label})") }
            ));
        }
        let count = counts.and_then(|c| c.get(*id));
        let figures = match count {
            Some(c) if c.waiting > 0 => format!("{} entered · {} waiting", c.entered, c.waiting),
            Some(c) => format!("{} entered", c.entered),
            None => "0 entered".into(),
        };
        nodes.push_str(&format!(
            "<g class=\"step step-{kind}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{box_w}\" height=\"{box_h}\" rx=\"8\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"step-id\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"step-kind\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"step-count\">{}</text></g>",
            x + box_w / 2.0,
            y + 18.0,
            esc(&truncate(id, 20)),
            x + box_w / 2.0,
            y + 34.0,
            step.kind().replace('_', " "),
            x + box_w / 2.0,
            y + 50.0,
            esc(&figures),
            kind = step.kind(),
        ));
        words.insert(0, format!("step {id} ({}): {figures}", step.kind()));
    }
    format!(
        "<svg class=\"journey\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"{}\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#4a5360\"/></marker></defs>{edges}{nodes}</svg>",
        esc(&format!("The journey {}: {}", spec.name, words.join("; ")))
    )
}
