//! TFLite_Detection_PostProcess (custom operator; `kernels::ops::detection`): SSD box decoding
//! and non-max suppression, float32 only as in TFLite Micro.
//!
//! TFLM's `Init` reads the options from the operator's FlexBuffer `custom_options`; here they
//! are read with [`crate::tflite::flexbuf`] (a malformed map is a conversion error). What
//! TFLM's `Prepare` and `Eval` check on shapes and options alone is checked here; what TFLM
//! would do undefined things with (reading past a tensor, writing past an output) is refused
//! here too, or left to a run-time error when it depends on the data.

use super::*;
use crate::tflite::flexbuf::{self, FlexValue};

/// TFLM's `kNumDetectionsPerClass`: `detections_per_class` when the map has none.
const DEFAULT_DETECTIONS_PER_CLASS: i32 = 100;

/// The options as TFLM's `Init` reads them (missing keys read as 0, except the two with
/// defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
struct DetectionOptions {
    max_detections: i32,
    max_classes_per_detection: i32,
    detections_per_class: i32,
    use_regular_nms: bool,
    score_threshold: f32,
    iou_threshold: f32,
    num_classes: i32,
    /// `(y, x, h, w)`.
    scale: [f32; 4],
}

impl DetectionOptions {
    fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let m = flexbuf::read_map(bytes).map_err(|e| e.to_string())?;
        let int = |k: &str| m.get(k).as_i32().map_err(|e| format!("{k}: {e}"));
        let float = |k: &str| m.get(k).as_f32().map_err(|e| format!("{k}: {e}"));
        Ok(DetectionOptions {
            max_detections: int("max_detections")?,
            max_classes_per_detection: int("max_classes_per_detection")?,
            detections_per_class: match m.get("detections_per_class") {
                FlexValue::Null => DEFAULT_DETECTIONS_PER_CLASS,
                _ => int("detections_per_class")?,
            },
            use_regular_nms: m
                .get("use_regular_nms")
                .as_bool()
                .map_err(|e| format!("use_regular_nms: {e}"))?,
            score_threshold: float("nms_score_threshold")?,
            iou_threshold: float("nms_iou_threshold")?,
            num_classes: int("num_classes")?,
            scale: [
                float("y_scale")?,
                float("x_scale")?,
                float("h_scale")?,
                float("w_scale")?,
            ],
        })
    }
}

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn detection_postprocess(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(3, 3, 4)?;
        let o = DetectionOptions::parse(cx.op.custom_options)
            .map_err(|e| cx.err(format!("malformed custom options: {e}")))?;
        let (enc, cls, anchors) = (cx.input(0)?, cx.input(1)?, cx.input(2)?);
        let outs = [cx.output(0)?, cx.output(1)?, cx.output(2)?, cx.output(3)?];
        let names = ["boxes", "classes", "scores", "num_detections"];
        for (t, what) in [
            (enc, "box encodings"),
            (cls, "class predictions"),
            (anchors, "anchors"),
        ]
        .into_iter()
        .chain(outs.into_iter().zip(names))
        {
            if t.dtype != Some(DType::F32) {
                return Err(cx.unsupported(format!(
                    "{what} tensor #{} '{}' is {}; TFLite Micro's kernel handles float32 only",
                    t.index,
                    t.name,
                    t.describe()
                )));
            }
        }
        cx.rank(enc, "box encodings", 3)?;
        cx.rank(cls, "class predictions", 3)?;
        cx.rank(anchors, "anchors", 2)?;
        let (n, coords) = (enc.shape[1], enc.shape[2]);
        if enc.shape[0] != 1 || cls.shape[0] != 1 {
            return Err(cx.err("the batch must be 1"));
        }
        if coords < 4 {
            return Err(cx.tensor_msg(enc, "box encodings", "needs at least 4 values per box"));
        }
        if cls.shape[1] != n {
            return Err(cx.tensor_msg(cls, "class predictions", format!("expected {n} boxes")));
        }
        let with_background = cls.shape[2];
        let nc = usize::try_from(o.num_classes)
            .ok()
            .filter(|&nc| nc <= with_background && with_background - nc <= 1)
            .ok_or_else(|| {
                cx.err(format!(
                    "num_classes {} does not fit {with_background} class scores per box (one more at most, for the background)",
                    o.num_classes
                ))
            })?;
        let Some(anchor_data) = anchors.data.as_deref() else {
            return Err(cx.unsupported(format!(
                "anchors tensor #{} '{}' must be a constant",
                anchors.index, anchors.name
            )));
        };
        let anchor_values = n
            .checked_mul(16)
            .and_then(|b| anchor_data.get(..b))
            .ok_or_else(|| {
                cx.tensor_msg(anchors, "anchors", format!("needs {n} anchors of 4 values"))
            })?;
        // TFLM sizes its sort buffers `max_detections * boxes`: with 0 it sorts into an empty
        // buffer (over its other buffers), negative sizes fail its allocation.
        let max_det = usize::try_from(o.max_detections)
            .ok()
            .filter(|&m| m > 0)
            .ok_or_else(|| {
                cx.err(format!(
                    "max_detections {} must be positive",
                    o.max_detections
                ))
            })?;
        let per = if o.use_regular_nms {
            if o.detections_per_class <= 0 {
                return Err(cx.err(format!(
                    "detections_per_class {} must be positive",
                    o.detections_per_class
                )));
            }
            1
        } else {
            if o.max_classes_per_detection <= 0 {
                return Err(cx.err(format!(
                    "max_classes_per_detection {} must be positive",
                    o.max_classes_per_detection
                )));
            }
            if nc == 0 {
                return Err(cx.err("fast NMS needs at least one class"));
            }
            (o.max_classes_per_detection as usize).min(nc)
        };
        if (!o.use_regular_nms || nc > 0) && !(o.iou_threshold > 0.0 && o.iou_threshold <= 1.0) {
            return Err(cx.err(format!(
                "nms_iou_threshold {} outside (0, 1]",
                o.iou_threshold
            )));
        }
        // Detections an output holds (4 values each for the boxes).
        let capacity = (outs[0].num_elements() / 4)
            .min(outs[1].num_elements())
            .min(outs[2].num_elements());
        if outs[3].num_elements() == 0 {
            return Err(cx.tensor_msg(outs[3], "num_detections", "must hold a value"));
        }
        // Regular NMS writes `max_detections` entries; fast NMS `per` classes for each selected
        // box, `row_stride` entries apart: 1 with one class per box (TFLM), the option with
        // several (LiteRT: TFLM's indexing runs past the outputs there).
        let row_stride = if per == 1 {
            1
        } else {
            o.max_classes_per_detection as usize
        };
        let needed = if o.use_regular_nms {
            max_det
        } else {
            max_det.min(n).checked_sub(1).map_or(0, |last| {
                row_stride.saturating_mul(last).saturating_add(per)
            })
        };
        if capacity < needed {
            return Err(cx.err(format!(
                "the outputs hold {capacity} detections; up to {needed} are written"
            )));
        }
        if per > 1 {
            self.warnings.push(format!(
                "operator #{} ({}): with {per} classes per detection, detections are laid out as LiteRT's reference kernel does (TFLite Micro's indexing writes past its outputs; docs/tflm-deviations.md)",
                cx.op.index, cx.op.name
            ));
        }
        let u32_err = |what: &str| cx.err(format!("{what} too large"));
        let num_boxes = u32::try_from(n).map_err(|_| u32_err("box count"))?;
        let num_classes = u32::try_from(nc).map_err(|_| u32_err("class count"))?;
        let max_detections = u32::try_from(max_det).map_err(|_| u32_err("max_detections"))?;
        let scratch =
            k::detection::scratch_bytes(num_boxes, num_classes, max_detections, o.use_regular_nms)
                .ok_or_else(|| cx.err("scratch size overflows"))?;
        let op = DetectionPostprocess {
            box_encodings: self.id(enc.index)?,
            class_predictions: self.id(cls.index)?,
            anchors: self.pool.push_f32(&as_f32(anchor_values)),
            boxes: self.id(outs[0].index)?,
            classes: self.id(outs[1].index)?,
            scores: self.id(outs[2].index)?,
            num_detections: self.id(outs[3].index)?,
            num_boxes,
            box_coords: u32::try_from(coords).map_err(|_| u32_err("box encoding size"))?,
            num_classes,
            label_offset: (with_background - nc) as u32,
            max_detections,
            classes_per_detection: per as u32,
            row_stride: u32::try_from(row_stride)
                .map_err(|_| u32_err("max_classes_per_detection"))?,
            detections_per_class: o.detections_per_class.max(1) as u32,
            score_threshold: o.score_threshold,
            iou_threshold: o.iou_threshold,
            scale: o.scale,
            regular_nms: o.use_regular_nms,
            scratch_offset: 0,
            scratch_bytes: u32::try_from(scratch).map_err(|_| u32_err("scratch"))?,
        };
        self.push_with_scratch(
            cx,
            Op::DetectionPostprocess(op),
            0,
            anchor_values.len(),
            scratch,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(entries: &[(&str, FlexValue)]) -> std::result::Result<DetectionOptions, String> {
        DetectionOptions::parse(&flexbuf::write_map(entries))
    }

    #[test]
    fn options_read_as_tflm_init_does() {
        let o = opts(&[
            ("max_detections", FlexValue::Int(10)),
            ("max_classes_per_detection", FlexValue::Int(1)),
            ("nms_score_threshold", FlexValue::Float(0.3)),
            ("nms_iou_threshold", FlexValue::Float(0.6)),
            ("num_classes", FlexValue::Int(90)),
            ("y_scale", FlexValue::Float(10.0)),
            ("x_scale", FlexValue::Int(10)),
            ("h_scale", FlexValue::Float(5.0)),
            ("w_scale", FlexValue::UInt(5)),
            ("unknown_key", FlexValue::Other(5)),
        ])
        .unwrap();
        // Defaults for the two optional keys; the others exactly as given.
        assert_eq!(o.detections_per_class, 100);
        assert!(!o.use_regular_nms);
        assert_eq!(
            (o.max_detections, o.max_classes_per_detection, o.num_classes),
            (10, 1, 90)
        );
        assert_eq!((o.score_threshold, o.iou_threshold), (0.3, 0.6));
        assert_eq!(o.scale, [10.0, 10.0, 5.0, 5.0]);
        let o = opts(&[
            ("detections_per_class", FlexValue::Int(7)),
            ("use_regular_nms", FlexValue::Bool(true)),
        ])
        .unwrap();
        assert_eq!((o.detections_per_class, o.use_regular_nms), (7, true));
        // Missing keys read as 0, as TFLM's null references do.
        assert_eq!((o.max_detections, o.iou_threshold), (0, 0.0));
    }

    #[test]
    fn unreadable_options_are_errors() {
        assert!(DetectionOptions::parse(&[]).is_err());
        assert!(DetectionOptions::parse(&[0; 8]).is_err());
        // `{"num_classes": "3"}` as Python's FlexBuffers writes it: C++ would parse the
        // string; Ferrite refuses it.
        let text = [
            0x6e, 0x75, 0x6d, 0x5f, 0x63, 0x6c, 0x61, 0x73, 0x73, 0x65, 0x73, 0x00, 0x01, 0x33,
            0x00, 0x01, 0x10, 0x01, 0x01, 0x01, 0x07, 0x14, 0x02, 0x24, 0x01,
        ];
        let e = DetectionOptions::parse(&text).unwrap_err();
        assert!(e.contains("num_classes") && e.contains("type 5"), "{e}");
        let e = opts(&[("max_detections", FlexValue::Float(f64::NAN))]).unwrap_err();
        assert!(e.contains("max_detections"), "{e}");
        assert!(opts(&[("use_regular_nms", FlexValue::Float(-1.0))]).is_err());
    }
}
