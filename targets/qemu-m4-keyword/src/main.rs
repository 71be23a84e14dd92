//! Keyword spotting on the emulated Cortex-M4, as TFLite Micro's micro_speech example does it:
//! raw 16 kHz PCM arrives in 10 ms blocks (as from a microphone's DMA) into a `heapless` ring
//! buffer; every 20 ms a 30 ms frame (480 samples) goes through the audio preprocessor model
//! (TFLM's signal ops: window, FFT, filter bank, noise reduction, PCAN, log; its noise estimate
//! lives in the model's state region and carries from frame to frame), whose 40 int8 features
//! slide into a one-second window (49 frames); once the window is full, the classifier labels it
//! (silence, unknown, yes, no) after every new frame.
//!
//! Per recording (embedded by `build.rs`), the firmware prints to the host's terminal through
//! semihosting one line:
//! `keyword <name> <label> scores <s0> <s1> <s2> <s3> frames <n> preprocess_instructions <i>
//! classify_instructions <i> audio_ms <ms>`, with the label and scores of the last full window,
//! and instructions counted by the MPS2 timer (one tick per 40 instructions under QEMU's
//! `-icount shift=0`), calibrated at start-up.
#![no_std]
#![no_main]

use ferrite_core::{Arena, Model};
use ferrite_firmware::counter::{calibrate, Counter, Mps2Timer, CALIBRATION_ITERATIONS};
use ferrite_firmware::qemu::{exit, status};
use ferrite_firmware::semihost::HostFile;
use ferrite_firmware::ConstStaticCell;
use ferrite_kernels as _;
use heapless::Deque;

mod preprocessor {
    include!(concat!(env!("OUT_DIR"), "/preprocessor.rs"));
}
mod classifier {
    include!(concat!(env!("OUT_DIR"), "/classifier.rs"));
}
/// A recording embedded by `build.rs`: `len` samples of [`audio::PCM`] from `start`.
struct Recording {
    name: &'static str,
    start: usize,
    len: usize,
}
mod audio {
    use super::Recording;
    include!(concat!(env!("OUT_DIR"), "/audio.rs"));
}

/// Samples per block the "microphone" delivers: 10 ms at 16 kHz.
const BLOCK: usize = 160;
/// Samples per preprocessor frame: 30 ms.
const FRAME: usize = 480;
/// Samples between frames: 20 ms.
const HOP: usize = 320;
/// Features per frame.
const FEATURES: usize = 40;
/// Frames in the classifier's window: one second.
const WINDOW_FRAMES: usize = 49;
/// The classifier's labels, in the order of its scores.
const LABELS: [&str; 4] = ["silence", "unknown", "yes", "no"];

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// One arena for both models: they run one after the other and keep nothing in it between
/// runs (the preprocessor's noise estimate is in its state region).
static ARENA: ConstStaticCell<Arena<{ max(preprocessor::ARENA_BYTES, classifier::ARENA_BYTES) }>> =
    ConstStaticCell::new(Arena::new());
static STATE: ConstStaticCell<Arena<{ preprocessor::STATE_BYTES }>> =
    ConstStaticCell::new(Arena::new());
static CLASSIFIER_STATE: ConstStaticCell<Arena<{ classifier::STATE_BYTES }>> =
    ConstStaticCell::new(Arena::new());

ferrite_firmware::qemu_board_handlers!();

/// A line of text for the host, built without `core::fmt` (no panic path).
struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Line {
    const fn new() -> Self {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }
    fn text(&mut self, s: &str) -> &mut Self {
        for &b in s.as_bytes() {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        self
    }
    fn int(&mut self, v: i64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut n = v.unsigned_abs();
        let mut k = digits.len();
        loop {
            k -= 1;
            if let Some(d) = digits.get_mut(k) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || k == 0 {
                break;
            }
        }
        if v < 0 {
            self.text("-");
        }
        let s = digits.get(k..).unwrap_or_default();
        self.text(core::str::from_utf8(s).unwrap_or("?"))
    }
    fn send(&self, out: &mut HostFile) {
        if !out.write_all(self.buf.get(..self.len).unwrap_or_default()) {
            exit(status::IO_ERROR);
        }
    }
}

fn fail(what: &str, e: ferrite_core::Error) -> ! {
    defmt::error!("{=str}: {}", what, e);
    exit(status::MODEL_ERROR)
}

/// Instructions for `ticks` timer ticks, by the start-up calibration.
fn instructions(ticks: u64, calibration_ticks: u32) -> i64 {
    let per = u64::from(calibration_ticks.max(1));
    (ticks * 2 * u64::from(CALIBRATION_ITERATIONS) / per) as i64
}

#[cortex_m_rt::entry]
fn main() -> ! {
    let (Some(arena), Some(state), Some(cls_state)) = (
        ARENA.try_take(),
        STATE.try_take(),
        CLASSIFIER_STATE.try_take(),
    ) else {
        exit(status::PANIC)
    };
    let (arena, state, cls_state) = (
        arena.as_mut_slice(),
        state.as_mut_slice(),
        cls_state.as_mut_slice(),
    );
    let Some(mut out) = HostFile::stdout() else {
        exit(status::IO_ERROR)
    };
    let pre: &Model<'_> = &preprocessor::MODEL;
    let cls: &Model<'_> = &classifier::MODEL;
    let mut timer = Mps2Timer::new();
    let calibration = calibrate(&mut timer);

    let mut ring: Deque<i16, { 2 * FRAME }> = Deque::new();
    let mut frame = [0i16; FRAME];
    let mut window = [0i8; WINDOW_FRAMES * FEATURES];
    for rec in &audio::RECORDINGS {
        let Some(pcm) = audio::PCM.get(rec.start..rec.start + rec.len) else {
            exit(status::PANIC)
        };
        if let Err(e) = pre.reset_state(state) {
            fail("reset", e)
        }
        if let Err(e) = cls.reset_state(cls_state) {
            fail("reset", e)
        }
        ring.clear();
        let (mut frames, mut pre_ticks, mut cls_ticks) = (0usize, 0u64, 0u64);
        let mut scores: Option<[i8; 4]> = None;
        for block in pcm.chunks(BLOCK) {
            for &s in block {
                // The ring holds at most a frame plus a block: it never fills.
                let _ = ring.push_back(s);
            }
            while ring.len() >= FRAME {
                for (dst, &src) in frame.iter_mut().zip(ring.iter()) {
                    *dst = src;
                }
                for _ in 0..HOP {
                    let _ = ring.pop_front();
                }
                timer.start();
                if let Err(e) = pre.set_input(arena, 0, &frame) {
                    fail("preprocessor input", e)
                }
                if let Err(e) = pre.invoke_stateful(arena, state) {
                    fail("preprocessor", e)
                }
                let features: &[i8] = match pre.output(arena, 0) {
                    Ok(f) => f,
                    Err(e) => fail("preprocessor output", e),
                };
                // Slide the window by one frame and append the new features.
                window.copy_within(FEATURES.., 0);
                if let Some(last) = window.get_mut((WINDOW_FRAMES - 1) * FEATURES..) {
                    for (dst, &src) in last.iter_mut().zip(features) {
                        *dst = src;
                    }
                }
                pre_ticks += u64::from(timer.elapsed());
                frames += 1;
                if frames >= WINDOW_FRAMES {
                    timer.start();
                    let s: &[i8] = match cls.run_stateful(arena, cls_state, &window) {
                        Ok(s) => s,
                        Err(e) => fail("classifier", e),
                    };
                    let mut latest = [0i8; 4];
                    for (dst, &src) in latest.iter_mut().zip(s) {
                        *dst = src;
                    }
                    scores = Some(latest);
                    cls_ticks += u64::from(timer.elapsed());
                }
            }
        }
        let mut line = Line::new();
        line.text("keyword ").text(rec.name).text(" ");
        match scores {
            Some(s) => {
                // The first highest score, as NumPy's argmax picks it.
                let best = s
                    .iter()
                    .enumerate()
                    .fold(
                        (0, i8::MIN),
                        |(bk, bv), (k, &v)| {
                            if v > bv {
                                (k, v)
                            } else {
                                (bk, bv)
                            }
                        },
                    )
                    .0;
                line.text(LABELS.get(best).copied().unwrap_or("?"))
                    .text(" scores");
                for v in s {
                    line.text(" ").int(i64::from(v));
                }
            }
            None => {
                line.text("none scores");
            }
        }
        line.text(" frames ")
            .int(frames as i64)
            .text(" preprocess_instructions ")
            .int(instructions(pre_ticks, calibration))
            .text(" classify_instructions ")
            .int(instructions(cls_ticks, calibration))
            .text(" audio_ms ")
            .int((rec.len / 16) as i64)
            .text("\n");
        line.send(&mut out);
    }
    exit(status::OK)
}
