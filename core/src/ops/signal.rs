//! TFLite Micro's signal library (`signal/micro/kernels`): the custom `Signal*` operators of
//! audio front ends such as micro_speech's preprocessor. Everything the C++ `Init`/`Prepare`
//! compute once (FFT twiddles, flexbuffer options) is computed by the converter; persistent
//! state (spectral subtraction's noise estimate, the framer's, stacker's and delay's sample
//! buffers, overlap-add's sums) lives in the model's state region ([`crate::StatePlan`]).

use crate::model::{ConstRef, TensorId};

/// `SignalWindow`: int16 samples times an int16 window, shifted right and saturated to int16,
/// window after window along the last axis.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalWindow {
    /// Input, int16, a multiple of the window's length.
    pub input: TensorId,
    /// Output, int16, as the input.
    pub output: TensorId,
    /// The window (one frame's weights).
    pub weights: ConstRef<i16>,
    /// Right shift of each product (0..=31).
    pub shift: u8,
}

/// `SignalFftAutoScale`: shifts an int16 frame left by as many bits as its largest magnitude
/// leaves free; the shift goes to a second, int32 scalar output.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalFftAutoScale {
    /// Input, int16 `[n]`.
    pub input: TensorId,
    /// Scaled output, int16 `[n]`.
    pub output: TensorId,
    /// The shift applied, int32 scalar.
    pub scale_bits: TensorId,
}

/// `SignalRfft` on int16: kissfft's fixed-point real FFT (`kiss_fftr`, `FIXED_POINT=16`)
/// of each frame, zero-padded to `fft_length`, into `fft_length / 2 + 1` complex int16
/// values (real, imaginary interleaved). `fft_length` is a power of two of at least 4.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalRfftI16 {
    /// Input, int16 `[..., input_length]`.
    pub input: TensorId,
    /// Output, int16 `[..., fft_length + 2]`.
    pub output: TensorId,
    /// Samples per input frame (at most `fft_length`).
    pub input_length: u32,
    /// FFT length.
    pub fft_length: u32,
    /// The complex FFT's twiddles (`fft_length / 2` complex values, real then imaginary),
    /// as `kiss_fft_alloc` rounds them.
    pub twiddles: ConstRef<i16>,
    /// The real FFT's post-processing twiddles (`fft_length / 4` complex values), as
    /// `kiss_fftr_alloc` rounds them.
    pub super_twiddles: ConstRef<i16>,
}

/// `SignalEnergy`: squared magnitudes of complex int16 bins `start..end` into uint32 (the
/// other outputs, which TFLM leaves unwritten, are written 0).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalEnergy {
    /// Input, int16 `[2 * n]` (complex bins).
    pub input: TensorId,
    /// Output, uint32 `[n]`.
    pub output: TensorId,
    /// First bin computed.
    pub start: u32,
    /// One past the last bin computed.
    pub end: u32,
}

/// `SignalFilterBank`: TFLM's `FilterbankAccumulateChannels`, uint32 energies into uint64
/// channel sums with int16 weights and unweights (1 - weight) shared by adjacent channels.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalFilterBank {
    /// Input, uint32 energies.
    pub input: TensorId,
    /// Output, uint64 `[num_channels]`.
    pub output: TensorId,
    /// Output channels (the tables have `num_channels + 1` entries; TFLM's channel 0 is
    /// scratch and dropped).
    pub num_channels: u32,
    /// Weights.
    pub weights: ConstRef<i16>,
    /// Unweights.
    pub unweights: ConstRef<i16>,
    /// First input bin of each channel.
    pub channel_frequency_starts: ConstRef<i16>,
    /// First weight of each channel.
    pub channel_weight_starts: ConstRef<i16>,
    /// Bins of each channel.
    pub channel_widths: ConstRef<i16>,
}

/// `SignalFilterBankSquareRoot`: integer square root of each uint64 channel, shifted right by
/// a runtime int32 scalar (FFT auto-scale's shift).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalFilterBankSquareRoot {
    /// Input, uint64 `[n]`.
    pub input: TensorId,
    /// The right shift, int32 scalar.
    pub scale_bits: TensorId,
    /// Output, uint32 `[n]`.
    pub output: TensorId,
}

/// `SignalFilterBankSpectralSubtraction`: a smoothed per-channel noise estimate (kept in the
/// state region between calls, zero after a reset as TFLM's `Reset` leaves it) subtracted
/// from the signal, with a floor.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalSpectralSubtraction {
    /// Input, uint32 `[num_channels]`.
    pub input: TensorId,
    /// Output, uint32 `[num_channels]`.
    pub output: TensorId,
    /// A copy of the noise estimate after this call, uint32 `[num_channels]`.
    pub noise_estimate: TensorId,
    /// The noise estimate's slot in the state region (uint32 `[num_channels]`).
    pub state: u16,
    /// Channels.
    pub num_channels: u32,
    /// Smoothing of even channels.
    pub smoothing: u32,
    /// `1 - smoothing` of even channels.
    pub one_minus_smoothing: u32,
    /// Smoothing of odd channels.
    pub alternate_smoothing: u32,
    /// `1 - smoothing` of odd channels.
    pub alternate_one_minus_smoothing: u32,
    /// Floor, as a fraction of the signal.
    pub min_signal_remaining: u32,
    /// Bits the signal is scaled up by for the smoothing.
    pub smoothing_bits: u8,
    /// Fraction bits of the smoothing coefficients.
    pub spectral_subtraction_bits: u8,
    /// Whether the estimate is clamped to the signal.
    pub clamping: bool,
}

/// `SignalPCAN`: per-channel automatic gain control (`ApplyPcanAutoGainControlFixed`) with a
/// gain lookup table of int16 polynomial coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalPcan {
    /// Input, uint32 `[n]`.
    pub input: TensorId,
    /// Noise estimate, uint32 `[n]`.
    pub noise_estimate: TensorId,
    /// Output, uint32 `[n]`.
    pub output: TensorId,
    /// The gain lookup table.
    pub gain_lut: ConstRef<i16>,
    /// Right shift of `input * gain` (0..=63).
    pub snr_shift: u8,
}

/// `SignalFilterBankLog`: TFLM's fixed-point natural log (`Log32`) of each uint32 channel
/// shifted left by `input_correction_bits`, times `output_scale`, saturated to int16.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalFilterBankLog {
    /// Input, uint32 `[n]`.
    pub input: TensorId,
    /// Output, int16 `[n]`.
    pub output: TensorId,
    /// Output scale.
    pub output_scale: u32,
    /// Left shift of the input (0..=31).
    pub input_correction_bits: u8,
}

/// `SignalIrfft` on int16: kissfft's fixed-point inverse real FFT (`kiss_fftri`,
/// `FIXED_POINT=16`) of each frame of `fft_length / 2 + 1` complex int16 values into
/// `fft_length` int16 samples. `fft_length` is a power of two of at least 4.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalIrfftI16 {
    /// Input, int16 `[..., input_length]` (complex values interleaved; at least
    /// `fft_length + 2`, the rest ignored).
    pub input: TensorId,
    /// Output, int16 `[..., fft_length]`.
    pub output: TensorId,
    /// Int16 values per input frame (even, at least `fft_length + 2`).
    pub input_length: u32,
    /// FFT length.
    pub fft_length: u32,
    /// The inverse complex FFT's twiddles (`fft_length / 2` complex values), as
    /// `kiss_fft_alloc` rounds them for an inverse transform.
    pub twiddles: ConstRef<i16>,
    /// The inverse real FFT's pre-processing twiddles (`fft_length / 4` complex values).
    pub super_twiddles: ConstRef<i16>,
    /// Arena offset of the kernel's scratch (one frame's `fft_length` int16 values, the
    /// complex FFT's input: kissfft's `tmpbuf`).
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// `SignalIrfft` on float32: kissfft's float inverse real FFT (`kiss_fftri`) of each frame
/// of `fft_length / 2 + 1` complex values into `fft_length` samples, divided by
/// `fft_length` as TFLM's `IrfftFloatApply` does. `fft_length` is a power of two of at least 4.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalIrfftF32 {
    /// Input, float32 `[..., input_length]` (complex values interleaved).
    pub input: TensorId,
    /// Output, float32 `[..., fft_length]`.
    pub output: TensorId,
    /// Float values per input frame (even, at least `fft_length + 2`).
    pub input_length: u32,
    /// FFT length.
    pub fft_length: u32,
    /// The inverse complex FFT's twiddles (`fft_length / 2` complex values).
    pub twiddles: ConstRef<f32>,
    /// The inverse real FFT's pre-processing twiddles (`fft_length / 4` complex values).
    pub super_twiddles: ConstRef<f32>,
    /// Arena offset of the kernel's scratch (`fft_length` float32 values: `tmpbuf`).
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// `SignalFramer`: int16 samples, `frame_step` at a time, into overlapping frames of
/// `frame_size` samples, per outer dimension; a bool scalar says whether every frame of the
/// call was complete (an incomplete frame is written 0, where TFLM leaves it unwritten).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalFramer {
    /// Input, int16 `[..., n_frames * frame_step]`.
    pub input: TensorId,
    /// Output, int16 `[..., n_frames, frame_size]`.
    pub output: TensorId,
    /// Output, bool scalar.
    pub output_valid: TensorId,
    /// State slot: per outer dimension a uint32 count of buffered samples, then per outer
    /// dimension `capacity` int16 samples (oldest first). After a reset the counts are
    /// `frame_size - frame_step` with `prefill` (zeros buffered, as TFLM's `Reset` writes
    /// them), else 0.
    pub state: u16,
    /// Samples per frame.
    pub frame_size: u32,
    /// Samples between frames (and per frame of input).
    pub frame_step: u32,
    /// Buffer capacity per outer dimension: `frame_size` rounded up to a multiple of
    /// `frame_step`.
    pub capacity: u32,
    /// Outer dimensions (product of all but the input's last).
    pub outer_dims: u32,
    /// Frames per call per outer dimension.
    pub n_frames: u32,
}

/// `SignalStacker`: int16 frames of `num_channels` into a window of
/// `left_context + right_context + 1` frames, advanced `step` frames per output (the first
/// frame after a reset repeated `left_context` more times); a bool scalar says whether the
/// output was written this call (an unwritten output is set to 0).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalStacker {
    /// Input, int16 `[num_channels]`.
    pub input: TensorId,
    /// Output, int16 `[num_channels * (left + right + 1)]`.
    pub output: TensorId,
    /// Output, bool scalar.
    pub output_valid: TensorId,
    /// State slot: uint32 count of buffered values, uint32 "has the first frame" flag, then
    /// `buffer_size` int16 values (oldest first); all zero after a reset.
    pub state: u16,
    /// Values per frame.
    pub num_channels: u32,
    /// Frames the first frame is repeated.
    pub left_context: u32,
    /// Values per output: `num_channels * (left + right + 1)`.
    pub buffer_size: u32,
    /// Values dropped after an output: `num_channels * step`.
    pub step_size: u32,
}

/// Element type of a [`SignalOverlapAdd`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum SignalOverlapAddType {
    /// int16, sums saturated.
    I16,
    /// float32.
    F32,
}

/// `SignalOverlapAdd`: frames of `frame_size` added into a persistent buffer, which then
/// gives its first `frame_step` values and shifts, per outer dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalOverlapAdd {
    /// Input `[..., n_frames, frame_size]`.
    pub input: TensorId,
    /// Output `[..., n_frames * frame_step]`.
    pub output: TensorId,
    /// Element type.
    pub dtype: SignalOverlapAddType,
    /// State slot: `outer_dims * frame_size` values, zero after a reset.
    pub state: u16,
    /// Values per input frame.
    pub frame_size: u32,
    /// Values out per frame (at most `frame_size`).
    pub frame_step: u32,
    /// Frames per outer dimension.
    pub n_frames: u32,
    /// Outer dimensions.
    pub outer_dims: u32,
}

/// `SignalDelay`: each int16 row of the last axis delayed by `delay_length` samples
/// across calls (zeros after a reset).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalDelay {
    /// Input, int16 `[..., frame_size]`.
    pub input: TensorId,
    /// Output, int16, as the input.
    pub output: TensorId,
    /// State slot: per outer dimension the `delay_length` pending samples, zero after a
    /// reset.
    pub state: u16,
    /// Samples per row.
    pub frame_size: u32,
    /// Delay in samples.
    pub delay_length: u32,
}
