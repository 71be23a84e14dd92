//! The last [`WINDOW`] accelerometer readings and the classifier that names the gesture in
//! them. No heap: the window is a `heapless::HistoryBuf`, the scores' best entry comes from
//! `ferrite_core::top_k`.

use crate::model;
use heapless::HistoryBuf;

/// Readings per window: 64 at 50 Hz, 1.28 s (the model's input length).
pub const WINDOW: usize = 64;
/// Values per reading: X, Y, Z.
pub const AXES: usize = 3;

/// What the classifier recognises, in the model's output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gesture {
    /// Held still (any tilt).
    Idle,
    /// Shaken along a horizontal axis.
    Shake,
    /// Moved in a horizontal circle.
    Circle,
}

impl Gesture {
    const ALL: [Gesture; 3] = [Gesture::Idle, Gesture::Shake, Gesture::Circle];

    /// Lower-case name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Gesture::Idle => "idle",
            Gesture::Shake => "shake",
            Gesture::Circle => "circle",
        }
    }
}

/// A sliding window of readings in milli-g, oldest first.
#[derive(Default)]
pub struct Window {
    readings: HistoryBuf<[i16; AXES], WINDOW>,
}

impl Window {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a reading, dropping the oldest once the window is full.
    pub fn push(&mut self, mg: [i16; AXES]) {
        self.readings.write(mg);
    }

    /// Whether a whole window has been seen.
    pub fn is_full(&self) -> bool {
        self.readings.is_full()
    }

    /// How far the window strays from rest: the largest deviation of the acceleration's
    /// magnitude from 1 g, in g. An approximate square root (`micromath`) is enough for a
    /// wake-up threshold, which decides only whether to run the model — never its result.
    pub fn motion_g(&self) -> f32 {
        self.readings
            .oldest_ordered()
            .map(|r| {
                let [x, y, z] = r.map(|v| f32::from(v) / 1000.0);
                (micromath::F32Ext::sqrt(x * x + y * y + z * z) - 1.0).abs()
            })
            .fold(0.0, f32::max)
    }

    /// Quantizes the window into the model's input (in g, oldest reading first).
    pub fn to_input(&self, input: &mut [i8; WINDOW * AXES]) -> ferrite_core::Result<()> {
        let mut g = [0f32; WINDOW * AXES];
        for (dst, r) in g.chunks_exact_mut(AXES).zip(self.readings.oldest_ordered()) {
            for (d, &v) in dst.iter_mut().zip(r) {
                *d = f32::from(v) / 1000.0;
            }
        }
        model::INPUT.quantize(&g, input)
    }
}

/// Runs the model on a full window: the gesture and its int8 score.
pub fn classify(window: &Window, arena: &mut [u8]) -> ferrite_core::Result<(Gesture, i8)> {
    let mut input = [0i8; WINDOW * AXES];
    window.to_input(&mut input)?;
    let scores: &[i8] = model::MODEL.run(arena, &input)?;
    let best = ferrite_core::top_k::<i8, 1>(scores);
    match best
        .first()
        .and_then(|&(i, s)| Some((*Gesture::ALL.get(i)?, s)))
    {
        Some(found) => Ok(found),
        None => Err(ferrite_core::Error::InvalidModel {
            reason: "the gesture model has fewer outputs than gestures",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lis3dh::tests::SimulatedLis3dh;
    use crate::lis3dh::{Lis3dh, ADDRESS};

    /// An int8 `.npy` file's shape and data (the training script's windows).
    fn read_npy_i8(bytes: &[u8]) -> (Vec<usize>, Vec<i8>) {
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(
            header.contains("'|i1'") && header.contains("False"),
            "{header}"
        );
        let dims = &header[header.find('(').unwrap() + 1..header.find(')').unwrap()];
        let shape = dims
            .split(',')
            .filter_map(|d| d.trim().parse().ok())
            .collect();
        let data = bytes[10 + header_len..].iter().map(|&b| b as i8).collect();
        (shape, data)
    }

    /// Recorded windows, turned back into sensor readings, go through the simulated bus, the
    /// driver and the window into the model: the scores equal the model's on the recorded
    /// int8 windows themselves (the round trip through milli-g is exact), and the gestures
    /// are the labelled ones.
    #[test]
    fn readings_through_the_driver_classify_as_the_recorded_windows() {
        let (shape, data) = read_npy_i8(include_bytes!("../model/windows.inputs.npy"));
        assert_eq!(shape[1..], [1, WINDOW, AXES]);
        let labels = include_bytes!("../model/windows.labels.npy");
        let labels = &labels[labels.len() - 4 * shape[0]..];
        let mut arena = ferrite_core::Arena::<{ model::ARENA_BYTES }>::new();
        let (s, zp) = (model::INPUT.scale, model::INPUT.zero_point);
        let (mut agree, mut correct) = (0, 0);
        let windows = 60;
        for (k, q) in data.chunks_exact(WINDOW * AXES).take(windows).enumerate() {
            let mg = q.chunks_exact(AXES).map(|r| {
                [0, 1, 2].map(|a| ((f32::from(r[a]) - zp as f32) * s * 1000.0).round() as i16)
            });
            let mut sensor = Lis3dh::new(SimulatedLis3dh::new(mg), ADDRESS).unwrap();
            let mut window = Window::new();
            while let Some(r) = sensor.read_mg().unwrap() {
                window.push(r);
            }
            assert!(window.is_full());
            let mut input = [0i8; WINDOW * AXES];
            window.to_input(&mut input).unwrap();
            assert_eq!(&input[..], q, "window {k}");
            let (gesture, _) = classify(&window, arena.as_mut_slice()).unwrap();
            let direct: Vec<i8> = model::MODEL.run(arena.as_mut_slice(), q).unwrap().to_vec();
            let direct_best = ferrite_core::top_k::<i8, 1>(&direct)[0].0;
            agree += usize::from(Gesture::ALL[direct_best] == gesture);
            let label = i32::from_le_bytes(labels[4 * k..4 * k + 4].try_into().unwrap());
            correct += usize::from(Gesture::ALL[label as usize] == gesture);
        }
        assert_eq!(agree, windows);
        // The training script measures 99.7 % on all 300 windows with `ferrite run`.
        assert!(correct >= windows - 2, "{correct} of {windows}");
    }

    #[test]
    fn the_window_slides_and_measures_motion() {
        let mut w = Window::new();
        for _ in 0..WINDOW {
            w.push([0, 0, 1000]);
        }
        assert!(w.is_full());
        assert!(w.motion_g() < 0.01, "{}", w.motion_g());
        // 1.41 g: 0.41 g of motion, measured with micromath's square root, which is within
        // ~6 % of the true root (its √2 is 1.5): plenty for a wake-up threshold.
        w.push([1000, 0, 1000]);
        assert!((w.motion_g() - 0.414).abs() < 0.1, "{}", w.motion_g());
        for _ in 0..WINDOW {
            w.push([0, 0, 1000]);
        }
        assert!(w.motion_g() < 0.01);
    }
}
