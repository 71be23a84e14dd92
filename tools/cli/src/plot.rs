//! SVG drawings the CLI writes: the arena plan (`inspect --plot`) and a confusion matrix
//! (`eval --confusion-svg`). Plain SVG text, so any browser shows them and no plotting
//! library is needed.
//!
//! Every box is one `<rect>` (axes and marks are lines and text), so a drawing has exactly
//! one rectangle per buffer or per matrix cell.

use crate::eval::{fraction, Confusion};
use ferrite_convert::compile::Report;
use std::fmt::Write;

/// Text made safe for SVG character data and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// The telling part of a TFLite tensor name: the first of the names the converter fused
/// with `;`, without its model prefix (`model_1/stem_relu6_1/Relu6;model_1/stem_bn_1/...`
/// -> `stem_relu6_1/Relu6`).
fn short_name(name: &str) -> &str {
    let first = name.split(';').next().unwrap_or(name);
    let parts: Vec<&str> = first.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [last, layer, _prefix] => &first[first.len() - last.len() - layer.len() - 1..],
        _ => first,
    }
}

/// A fill colour for box `i`: hues spread by the golden angle, so neighbours differ.
fn hue(i: usize) -> String {
    format!("hsl({:.0},60%,72%)", (i as f64 * 137.508) % 360.0)
}

/// A round step for about `ticks` axis marks over `0..=max`.
fn tick_step(max: usize, ticks: usize) -> usize {
    let raw = (max / ticks.max(1)).max(1);
    let pow = 10usize.pow(raw.ilog10());
    [1, 2, 5, 10]
        .iter()
        .map(|m| m * pow)
        .find(|&s| s >= raw)
        .unwrap_or(10 * pow)
}

/// Pixels of the arena plan's plotting area.
const PLAN_WIDTH: f64 = 960.0;
const PLAN_HEIGHT: f64 = 640.0;
const LEFT: f64 = 90.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const RIGHT: f64 = 180.0;

/// The arena plan of `report` as SVG: x is the layer step (a column per layer, plus one
/// after the last layer where the outputs are read), y the byte offset growing downwards;
/// each planned buffer is a box over its live steps and its bytes, labelled with its
/// tensors' names (all of them in its tooltip), and a dashed line marks the arena size.
///
/// Each `<rect>` carries `data-offset`, `data-bytes`, `data-first` and `data-last` (the
/// plan's numbers), so tools can check a drawing without measuring pixels.
pub fn plan_svg(report: &Report, model_name: &str) -> String {
    let steps = report.layers.len() + 1;
    let column = PLAN_WIDTH / steps as f64;
    // The lower bound can exceed nothing, but guard the scale against an empty arena.
    let scale_max = report.arena_bytes.max(1) as f64;
    let y_of = |bytes: usize| TOP + bytes as f64 / scale_max * PLAN_HEIGHT;
    let x_of = |step: usize| LEFT + step as f64 * column;
    let (width, height) = (LEFT + PLAN_WIDTH + RIGHT, TOP + PLAN_HEIGHT + BOTTOM);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="14">{}: arena plan, {} bytes (lower bound {})</text>"#,
        escape(model_name),
        report.arena_bytes,
        report.arena_lower_bound
    );
    for (i, b) in report.buffers.iter().enumerate() {
        let names: Vec<&str> = b
            .tensors
            .iter()
            .filter_map(|&t| report.tensors.get(t as usize).map(|r| r.name.as_str()))
            .collect();
        // The tooltip names every tensor in full; the visible label is short, since the
        // converter's fused names run to hundreds of characters.
        let (label, short) = match b.scratch_of_layer {
            Some(l) => (format!("scratch of layer {l}"), format!("scratch {l}")),
            None => (
                names.join(" = "),
                b.tensors
                    .iter()
                    .zip(&names)
                    .map(|(id, name)| format!("t{id} {}", short_name(name)))
                    .collect::<Vec<_>>()
                    .join(" = "),
            ),
        };
        let (x0, x1) = (x_of(b.first_layer), x_of(b.last_layer + 1));
        let (y0, y1) = (y_of(b.offset), y_of(b.offset + b.bytes));
        let fill = if b.scratch_of_layer.is_some() {
            "#d0d0d0".to_string()
        } else {
            hue(i)
        };
        let _ = writeln!(
            s,
            r##"<rect x="{x0:.3}" y="{y0:.3}" width="{:.3}" height="{:.3}" fill="{fill}" stroke="#333" stroke-width="0.5" data-offset="{}" data-bytes="{}" data-first="{}" data-last="{}"><title>{}: {} bytes at {}, layers {}..={}</title></rect>"##,
            x1 - x0,
            y1 - y0,
            b.offset,
            b.bytes,
            b.first_layer,
            b.last_layer,
            escape(&label),
            b.bytes,
            b.offset,
            b.first_layer,
            b.last_layer
        );
        // A visible label only where it fits; the tooltip always has it.
        let chars = ((x1 - x0 - 4.0) / 6.0).floor().max(0.0) as usize;
        if y1 - y0 >= 12.0 && chars >= 3 {
            let text: String = if short.chars().count() > chars {
                short
                    .chars()
                    .take(chars.saturating_sub(1))
                    .chain(['…'])
                    .collect()
            } else {
                short
            };
            let _ = writeln!(
                s,
                r#"<text x="{:.3}" y="{:.3}">{}</text>"#,
                x0 + 2.0,
                y0 + 11.0,
                escape(&text)
            );
        }
    }
    // Axes: layer steps along the top edge of the bottom axis, bytes on the left.
    let bottom = TOP + PLAN_HEIGHT;
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{bottom}" x2="{:.3}" y2="{bottom}" stroke="#000"/>"##,
        LEFT + PLAN_WIDTH
    );
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#000"/>"##
    );
    let every = steps.div_ceil(40).max(1);
    for step in (0..steps).step_by(every) {
        let x = x_of(step) + column / 2.0;
        let label = if step == report.layers.len() {
            "out".to_string()
        } else {
            step.to_string()
        };
        let _ = writeln!(
            s,
            r#"<text x="{x:.3}" y="{:.3}" text-anchor="middle">{label}</text>"#,
            bottom + 14.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.3}" y="{:.3}" text-anchor="middle">layer</text>"#,
        LEFT + PLAN_WIDTH / 2.0,
        bottom + 34.0
    );
    let step = tick_step(report.arena_bytes, 8);
    for bytes in (0..=report.arena_bytes).step_by(step) {
        let y = y_of(bytes);
        let _ = writeln!(
            s,
            r##"<line x1="{:.3}" y1="{y:.3}" x2="{LEFT}" y2="{y:.3}" stroke="#000"/><text x="{:.3}" y="{:.3}" text-anchor="end">{bytes}</text>"##,
            LEFT - 4.0,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.3}" transform="rotate(-90 16 {:.3})" text-anchor="middle">byte offset</text>"#,
        TOP + PLAN_HEIGHT / 2.0,
        TOP + PLAN_HEIGHT / 2.0
    );
    // The arena's end: every buffer lies above this line.
    let arena_y = y_of(report.arena_bytes);
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{arena_y:.3}" x2="{:.3}" y2="{arena_y:.3}" stroke="#c00" stroke-width="1.5" stroke-dasharray="6 3"/><text x="{:.3}" y="{:.3}" fill="#c00">arena {} bytes</text>"##,
        LEFT + PLAN_WIDTH + 10.0,
        LEFT + PLAN_WIDTH + 12.0,
        arena_y + 4.0,
        report.arena_bytes
    );
    s.push_str("</svg>\n");
    s
}

/// Side of one confusion-matrix cell, in pixels.
const CELL: f64 = 36.0;

/// The confusion matrix as SVG: one square per (label, predicted) cell, shaded by the share
/// of the label's samples it holds, with its count written in it.
pub fn confusion_svg(m: &Confusion) -> String {
    let n = m.classes();
    let (left, top) = (70.0, 60.0);
    let width = left + n as f64 * CELL + 20.0;
    let height = top + n as f64 * CELL + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="20" text-anchor="middle">predicted</text>"#,
        left + n as f64 * CELL / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{0:.1}" transform="rotate(-90 16 {0:.1})" text-anchor="middle">label</text>"#,
        top + n as f64 * CELL / 2.0
    );
    for c in 0..n {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{c}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{c}</text>"#,
            left + (c as f64 + 0.5) * CELL,
            top - 8.0,
            left - 8.0,
            top + (c as f64 + 0.5) * CELL + 4.0
        );
    }
    for label in 0..n {
        let row_total = m.with_label(label);
        for predicted in 0..n {
            let count = m.count(label, predicted);
            let share = fraction(count, row_total);
            // Diagonal cells in blue, errors in red; white for none.
            let hue = if label == predicted { 215 } else { 5 };
            let lightness = 100.0 - 55.0 * share;
            let (x, y) = (left + predicted as f64 * CELL, top + label as f64 * CELL);
            let _ = writeln!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{CELL}" height="{CELL}" fill="hsl({hue},70%,{lightness:.1}%)" stroke="#999" stroke-width="0.5"><title>label {label}, predicted {predicted}: {count}</title></rect>"##
            );
            if count > 0 {
                // Light text on the dark cells.
                let ink = if share > 0.5 { "#fff" } else { "#000" };
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{ink}">{count}</text>"#,
                    x + CELL / 2.0,
                    y + CELL / 2.0 + 4.0
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn short_names_keep_the_layer_and_op() {
        assert_eq!(
            short_name("digits_mobilenet_1/stem_relu6_1/Relu6;digits_mobilenet_1/stem_bn_1/x"),
            "stem_relu6_1/Relu6"
        );
        assert_eq!(short_name("a/b"), "a/b");
        assert_eq!(
            short_name("serving_default_input:0"),
            "serving_default_input:0"
        );
    }

    #[test]
    fn tick_steps_are_round() {
        assert_eq!(tick_step(12_288, 8), 2_000);
        assert_eq!(tick_step(55_296, 8), 10_000);
        assert_eq!(tick_step(7, 8), 1);
        assert_eq!(tick_step(0, 8), 1);
    }

    #[test]
    fn confusion_svg_has_a_rect_per_cell() {
        let mut m = Confusion::new(3);
        m.add(0, 0);
        m.add(1, 2);
        let svg = confusion_svg(&m);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 9);
        assert!(svg.contains("label 1, predicted 2: 1"));
    }
}
