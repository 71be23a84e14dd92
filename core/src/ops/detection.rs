//! Parameters of the object-detection operators: TFLite's custom `TFLite_Detection_PostProcess`
//! (SSD box decoding and non-max suppression), float32 only, as TFLite Micro's kernel.

use crate::model::{ConstRef, TensorId};

/// `TFLite_Detection_PostProcess`: decodes `num_boxes` center-size box encodings against their
/// anchors, selects boxes by non-max suppression over the class scores, and writes the four
/// outputs TFLite Micro writes (detected boxes, classes, scores and their count).
///
/// One layer writes all four outputs (they come out of one selection); its kernel gets them
/// with [`crate::Ctx::split_outputs`]. Every option of the operator's FlexBuffer map is
/// resolved by the converter; TFLM's `Prepare`/`Eval` checks that depend only on them are
/// conversion errors, those that depend on the data (degenerate decoded boxes) run-time ones.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DetectionPostprocess {
    /// Box encodings `[1, num_boxes, box_coords]` (f32): `(y, x, h, w)` first in each row.
    pub box_encodings: TensorId,
    /// Class scores `[1, num_boxes, label_offset + num_classes]` (f32).
    pub class_predictions: TensorId,
    /// Anchors, `(y, x, h, w)` per box: `4 * num_boxes` values.
    pub anchors: ConstRef<f32>,
    /// Detected boxes `(ymin, xmin, ymax, xmax)` (f32, 4 values per detection).
    pub boxes: TensorId,
    /// Detected classes (f32, class index without the background).
    pub classes: TensorId,
    /// Detected scores (f32).
    pub scores: TensorId,
    /// Number of detections written (f32, one value).
    pub num_detections: TensorId,
    /// Number of boxes (anchors).
    pub num_boxes: u32,
    /// Values per box encoding (at least 4; extra values, keypoints for instance, are skipped).
    pub box_coords: u32,
    /// Number of classes scored, without the background.
    pub num_classes: u32,
    /// 1 when the class scores start with a background class, else 0.
    pub label_offset: u32,
    /// Most detections written.
    pub max_detections: u32,
    /// Fast NMS: classes written per selected box, `min(max_classes_per_detection,
    /// num_classes)` (at least 1).
    pub classes_per_detection: u32,
    /// Fast NMS: output entries from one selected box to the next. 1 with one class per box
    /// (TFLM); `max_classes_per_detection` with several, where Ferrite follows LiteRT's
    /// reference kernel because TFLM's output indexing runs past its outputs there (see
    /// `docs/tflm-deviations.md`).
    pub row_stride: u32,
    /// Regular NMS: most boxes selected per class (at least 1).
    pub detections_per_class: u32,
    /// Scores below this are never selected.
    pub score_threshold: f32,
    /// A box overlapping a selected one by more than this intersection over union is
    /// suppressed (in `(0, 1]`).
    pub iou_threshold: f32,
    /// Scales of the encodings `(y, x, h, w)`.
    pub scale: [f32; 4],
    /// Regular NMS (per class) instead of fast NMS (on each box's best class).
    pub regular_nms: bool,
    /// Arena offset of the kernel's scratch (decoded boxes, sort and selection buffers).
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}
