//! TFLite Micro's signal library custom operators (`Signal*`): the checks of each kernel's
//! `Prepare`, the flexbuffer options of its `Init`, and what `Init` computes once (the
//! FFT's twiddles, as `kiss_fft_alloc`/`kiss_fftr_alloc` round them). Spectral subtraction's
//! noise estimate, which TFLM keeps in a persistent buffer between invokes and zeroes in
//! `Reset`, gets a slot in the model's state region (reported under the operator's noise
//! estimate output, which holds a copy of it). The framer's, stacker's and delay's sample
//! buffers and overlap-add's sums get state slots the same way, starting from what TFLM's
//! `Reset` leaves (the framer's prefill zeros counted as buffered).

use super::*;
use crate::tflite::flexbuf::{self, FlexMap};

/// kissfft's twiddles for a complex FFT of `n` points (`kiss_fft_alloc`, forward,
/// `FIXED_POINT=16`): `floor(0.5 + 32767 * cos(phase))` and the same of `sin`, for
/// `phase = -2 pi i / n`, interleaved.
pub(crate) fn kiss_twiddles(n: usize) -> Vec<i16> {
    let pi = std::f64::consts::PI;
    (0..n)
        .flat_map(|i| {
            let phase = -2.0 * pi * i as f64 / n as f64;
            cexp(phase)
        })
        .collect()
}

/// kissfft's real-FFT twiddles for `ncfft` complex points (`kiss_fftr_alloc`, forward):
/// `phase = -pi * ((i + 1) / ncfft + 0.5)` for `i < ncfft / 2`.
pub(crate) fn kiss_super_twiddles(ncfft: usize) -> Vec<i16> {
    let pi = std::f64::consts::PI;
    (0..ncfft / 2)
        .flat_map(|i| {
            let phase = -pi * ((i + 1) as f64 / ncfft as f64 + 0.5);
            cexp(phase)
        })
        .collect()
}

/// The inverse transform's twiddles (`kiss_fft_alloc` with `inverse`: the phase negated).
pub(crate) fn kiss_twiddles_inverse(n: usize) -> Vec<i16> {
    let pi = std::f64::consts::PI;
    (0..n)
        .flat_map(|i| cexp(2.0 * pi * i as f64 / n as f64))
        .collect()
}

/// The inverse real FFT's twiddles (`kiss_fftr_alloc` with `inverse_fft`).
pub(crate) fn kiss_super_twiddles_inverse(ncfft: usize) -> Vec<i16> {
    let pi = std::f64::consts::PI;
    (0..ncfft / 2)
        .flat_map(|i| cexp(pi * ((i + 1) as f64 / ncfft as f64 + 0.5)))
        .collect()
}

/// The inverse float FFT's twiddles and real-FFT twiddles (kissfft's float build:
/// `(float) cos(phase)`, `(float) sin(phase)`, the phases computed in double as
/// `kiss_fft_alloc`/`kiss_fftr_alloc` do, negated for an inverse transform).
pub(crate) fn kiss_twiddles_f32_inverse(ncfft: usize) -> (Vec<f32>, Vec<f32>) {
    let pi = std::f64::consts::PI;
    let c = |phase: f64| [phase.cos() as f32, phase.sin() as f32];
    let tw = (0..ncfft)
        .flat_map(|i| c(-(-2.0 * pi * i as f64 / ncfft as f64)))
        .collect();
    let stw = (0..ncfft / 2)
        .flat_map(|i| c(-(-pi * ((i + 1) as f64 / ncfft as f64 + 0.5))))
        .collect();
    (tw, stw)
}

/// `kf_cexp` with `FIXED_POINT=16`.
fn cexp(phase: f64) -> [i16; 2] {
    let q = |v: f64| (0.5 + f64::from(i16::MAX) * v).floor() as i16;
    [q(phase.cos()), q(phase.sin())]
}

impl<'g, 'a> Lowerer<'g, 'a> {
    /// The operator's flexbuffer options.
    fn signal_options(&self, cx: &OpCx<'_, 'g, 'a>) -> Result<FlexMap> {
        flexbuf::read_map(cx.op.custom_options)
            .map_err(|e| cx.err(format!("malformed custom options: {e}")))
    }

    /// Integer option `key` within `range`.
    fn signal_int(
        &self,
        cx: &OpCx<'_, 'g, 'a>,
        m: &FlexMap,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<i64> {
        let v = m
            .get(key)
            .as_i32()
            .map_err(|e| cx.err(format!("option {key}: {e}")))?;
        if !range.contains(&i64::from(v)) {
            return Err(cx.unsupported(format!(
                "option {key} = {v} is outside {}..={}",
                range.start(),
                range.end()
            )));
        }
        Ok(i64::from(v))
    }

    /// Checks `t` has type `want` and rank `rank`.
    fn signal_tensor(
        &self,
        cx: &OpCx<'_, 'g, 'a>,
        t: &GTensor<'_>,
        what: &str,
        want: DType,
        rank: Option<usize>,
    ) -> Result<()> {
        let got = cx.dtype(t, what)?;
        if got != want {
            return Err(cx.unsupported(format!(
                "{what} tensor #{} '{}' is {got}; TFLite Micro's {} takes {want}",
                t.index, t.name, cx.op.name
            )));
        }
        if let Some(r) = rank {
            cx.rank(t, what, r)?;
        }
        Ok(())
    }

    /// A constant int16 table.
    fn signal_table(
        &mut self,
        cx: &OpCx<'_, 'g, 'a>,
        t: &GTensor<'_>,
        what: &str,
    ) -> Result<Vec<i16>> {
        self.signal_tensor(cx, t, what, DType::I16, Some(1))?;
        if !t.is_const() {
            return Err(cx.unsupported(format!(
                "{what} tensor #{} '{}' must be a constant",
                t.index, t.name
            )));
        }
        Ok(as_i16(t.bytes()))
    }

    pub(super) fn signal_window(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, weights, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        let shift = self.signal_int(cx, &m, "shift", 0..=31)? as u8;
        self.signal_tensor(cx, input, "input", DType::I16, None)?;
        self.signal_tensor(cx, output, "output", DType::I16, None)?;
        let w = self.signal_table(cx, weights, "weights")?;
        if input.shape.is_empty() || output.shape != input.shape {
            return Err(cx.tensor_msg(output, "output", "must have the input's shape (rank >= 1)"));
        }
        if w.is_empty() || input.num_elements() % w.len() != 0 {
            return Err(cx.tensor_msg(
                weights,
                "weights",
                format!(
                    "{} weights do not divide the input's {} samples",
                    w.len(),
                    input.num_elements()
                ),
            ));
        }
        let op = Op::SignalWindow(SignalWindow {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            weights: self.pool.push_i16(&w),
            shift,
        });
        self.push(cx, op, input.num_elements() as u64, weights.bytes().len());
        Ok(())
    }

    pub(super) fn signal_fft_auto_scale(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 2)?;
        let (input, output, scale) = (cx.input(0)?, cx.output(0)?, cx.output(1)?);
        self.signal_tensor(cx, input, "input", DType::I16, Some(1))?;
        self.signal_tensor(cx, output, "output", DType::I16, Some(1))?;
        self.signal_tensor(cx, scale, "scale bits", DType::I32, Some(0))?;
        if output.shape != input.shape {
            return Err(cx.tensor_msg(output, "output", "must have the input's shape"));
        }
        let op = Op::SignalFftAutoScale(SignalFftAutoScale {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            scale_bits: self.id(scale.index)?,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    pub(super) fn signal_rfft(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        let t = self.signal_int(cx, &m, "T", i64::from(i32::MIN)..=i64::from(i32::MAX))?;
        if t != i64::from(crate::tflite::schema::tensor_type::INT16) {
            return Err(cx.unsupported(format!(
                "type T = {} ({}): only the int16 (kissfft fixed-point) FFT is supported",
                t,
                u8::try_from(t).map_or("unknown", crate::tflite::schema::tensor_type::name)
            )));
        }
        let fft_length = self.signal_int(cx, &m, "fft_length", 4..=(1 << 20))? as usize;
        if !fft_length.is_power_of_two() {
            return Err(cx.unsupported(format!(
                "fft_length {fft_length}: only powers of two (kissfft radix 4 and 2) are supported"
            )));
        }
        self.signal_tensor(cx, input, "input", DType::I16, None)?;
        self.signal_tensor(cx, output, "output", DType::I16, None)?;
        let (Some((&n_in, outer_in)), Some((&n_out, outer_out))) =
            (input.shape.split_last(), output.shape.split_last())
        else {
            return Err(cx.tensor_msg(input, "input", "must have rank >= 1"));
        };
        if n_in == 0 || n_in > fft_length {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!("frames must have 1..={fft_length} samples (fft_length)"),
            ));
        }
        if outer_in != outer_out || n_out != fft_length + 2 {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected the input's outer dimensions and {} values (fft_length / 2 + 1 complex)", fft_length + 2),
            ));
        }
        let ncfft = fft_length / 2;
        let twiddles = self.pool.push_i16(&kiss_twiddles(ncfft));
        let super_twiddles = self.pool.push_i16(&kiss_super_twiddles(ncfft));
        let op = Op::SignalRfftI16(SignalRfftI16 {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            input_length: u32_of(n_in),
            fft_length: u32_of(fft_length),
            twiddles,
            super_twiddles,
        });
        let frames = (input.num_elements() / n_in) as u64;
        let macs = frames * (ncfft as u64) * u64::from(ncfft.trailing_zeros()) * 4;
        self.push(cx, op, macs, (fft_length + ncfft) * 2);
        Ok(())
    }

    pub(super) fn signal_energy(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        self.signal_tensor(cx, input, "input", DType::I16, Some(1))?;
        self.signal_tensor(cx, output, "output", DType::U32, Some(1))?;
        let n = output.num_elements() as i64;
        let start = self.signal_int(cx, &m, "start_index", 0..=n)?;
        let end = self.signal_int(cx, &m, "end_index", start..=n)?;
        if 2 * end as usize > input.num_elements() {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!("has fewer than end_index = {end} complex values"),
            ));
        }
        let op = Op::SignalEnergy(SignalEnergy {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            start: start as u32,
            end: end as u32,
        });
        self.push(cx, op, (end - start) as u64 * 2, 0);
        Ok(())
    }

    pub(super) fn signal_filter_bank(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(6, 6, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        let channels = self.signal_int(cx, &m, "num_channels", 1..=65535)? as usize;
        self.signal_tensor(cx, input, "input", DType::U32, Some(1))?;
        self.signal_tensor(cx, output, "output", DType::U64, Some(1))?;
        let names = [
            "weights",
            "unweights",
            "channel frequency starts",
            "channel weight starts",
            "channel widths",
        ];
        let mut tables = Vec::new();
        for (k, what) in names.iter().enumerate() {
            tables.push(self.signal_table(cx, cx.input(k + 1)?, what)?);
        }
        let [weights, unweights, freq_starts, weight_starts, widths] = &tables[..] else {
            return Err(cx.err("filter bank tables missing"));
        };
        if output.num_elements() != channels {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected num_channels = {channels} values"),
            ));
        }
        if weights.len() != unweights.len() {
            return Err(cx.tensor_msg(
                cx.input(2)?,
                "unweights",
                "must have as many values as the weights",
            ));
        }
        for (k, t) in [freq_starts, weight_starts, widths].iter().enumerate() {
            if t.len() < channels + 1 {
                return Err(cx.tensor_msg(
                    cx.input(k + 3)?,
                    names[k + 2],
                    format!("needs num_channels + 1 = {} values", channels + 1),
                ));
            }
        }
        for ch in 0..=channels {
            let (fs, ws, w) = (freq_starts[ch], weight_starts[ch], widths[ch]);
            let bad = fs < 0
                || ws < 0
                || w < 0
                || fs as usize + w as usize > input.num_elements()
                || ws as usize + w as usize > weights.len();
            if bad {
                return Err(cx.err(format!(
                    "filter bank channel {ch} (frequency start {fs}, weight start {ws}, width {w}) indexes outside the input ({}) or the weights ({})",
                    input.num_elements(),
                    weights.len()
                )));
            }
        }
        let macs = widths.iter().map(|&w| w as u64 * 2).sum();
        let param_bytes = tables.iter().map(|t| t.len() * 2).sum();
        let op = Op::SignalFilterBank(SignalFilterBank {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            num_channels: u32_of(channels),
            weights: self.pool.push_i16(&tables[0]),
            unweights: self.pool.push_i16(&tables[1]),
            channel_frequency_starts: self.pool.push_i16(&tables[2]),
            channel_weight_starts: self.pool.push_i16(&tables[3]),
            channel_widths: self.pool.push_i16(&tables[4]),
        });
        self.push(cx, op, macs, param_bytes);
        Ok(())
    }

    pub(super) fn signal_filter_bank_square_root(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, scale, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        self.signal_tensor(cx, input, "input", DType::U64, Some(1))?;
        self.signal_tensor(cx, scale, "scale bits", DType::I32, Some(0))?;
        self.signal_tensor(cx, output, "output", DType::U32, Some(1))?;
        if output.shape != input.shape {
            return Err(cx.tensor_msg(output, "output", "must have the input's shape"));
        }
        let op = Op::SignalFilterBankSquareRoot(SignalFilterBankSquareRoot {
            input: self.id(input.index)?,
            scale_bits: self.operand(cx, scale)?,
            output: self.id(output.index)?,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    pub(super) fn signal_spectral_subtraction(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 2)?;
        let (input, output, noise) = (cx.input(0)?, cx.output(0)?, cx.output(1)?);
        let m = self.signal_options(cx)?;
        let u = |s: &Self, key: &str| {
            s.signal_int(cx, &m, key, 0..=i64::from(i32::MAX))
                .map(|v| v as u32)
        };
        let channels = u(self, "num_channels")? as usize;
        let smoothing = u(self, "smoothing")?;
        let one_minus_smoothing = u(self, "one_minus_smoothing")?;
        let alternate_smoothing = u(self, "alternate_smoothing")?;
        let alternate_one_minus_smoothing = u(self, "alternate_one_minus_smoothing")?;
        let min_signal_remaining = u(self, "min_signal_remaining")?;
        let smoothing_bits = self.signal_int(cx, &m, "smoothing_bits", 0..=31)? as u8;
        let spectral_subtraction_bits =
            self.signal_int(cx, &m, "spectral_subtraction_bits", 0..=63)? as u8;
        let clamping = m
            .get("clamping")
            .as_bool()
            .map_err(|e| cx.err(format!("option clamping: {e}")))?;
        for (t, what) in [
            (input, "input"),
            (output, "output"),
            (noise, "noise estimate"),
        ] {
            self.signal_tensor(cx, t, what, DType::U32, Some(1))?;
            if t.num_elements() != channels {
                return Err(cx.tensor_msg(
                    t,
                    what,
                    format!("expected num_channels = {channels} values"),
                ));
            }
        }
        let slot = self.internal_state_slot(cx, noise, channels * 4)?;
        let op = Op::SignalSpectralSubtraction(SignalSpectralSubtraction {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            noise_estimate: self.id(noise.index)?,
            state: slot,
            num_channels: u32_of(channels),
            smoothing,
            one_minus_smoothing,
            alternate_smoothing,
            alternate_one_minus_smoothing,
            min_signal_remaining,
            smoothing_bits,
            spectral_subtraction_bits,
            clamping,
        });
        self.push(cx, op, channels as u64 * 3, 0);
        Ok(())
    }

    pub(super) fn signal_pcan(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(3, 3, 1)?;
        let (input, noise, lut, output) = (cx.input(0)?, cx.input(1)?, cx.input(2)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        let snr_shift = self.signal_int(cx, &m, "snr_shift", 0..=63)? as u8;
        self.signal_tensor(cx, input, "input", DType::U32, Some(1))?;
        self.signal_tensor(cx, noise, "noise estimate", DType::U32, Some(1))?;
        self.signal_tensor(cx, output, "output", DType::U32, Some(1))?;
        let table = self.signal_table(cx, lut, "gain lookup table")?;
        if input.num_elements() == 0 || noise.shape != input.shape || output.shape != input.shape {
            return Err(cx.tensor_msg(
                output,
                "output",
                "input, noise estimate and output must have one non-empty shape",
            ));
        }
        if table.len() < k::signal::PCAN_LUT_MIN_LEN {
            return Err(cx.tensor_msg(
                lut,
                "gain lookup table",
                format!(
                    "needs at least {} entries (4 per bit of a uint32 noise estimate)",
                    k::signal::PCAN_LUT_MIN_LEN
                ),
            ));
        }
        let op = Op::SignalPcan(SignalPcan {
            input: self.id(input.index)?,
            noise_estimate: self.id(noise.index)?,
            output: self.id(output.index)?,
            gain_lut: self.pool.push_i16(&table),
            snr_shift,
        });
        self.push(cx, op, input.num_elements() as u64 * 4, table.len() * 2);
        Ok(())
    }

    pub(super) fn signal_filter_bank_log(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        let input_correction_bits = self.signal_int(cx, &m, "input_correction_bits", 0..=31)? as u8;
        // TFLM reads the scale as an int32 and multiplies as uint32.
        let output_scale = self.signal_int(
            cx,
            &m,
            "output_scale",
            i64::from(i32::MIN)..=i64::from(i32::MAX),
        )? as i32 as u32;
        self.signal_tensor(cx, input, "input", DType::U32, Some(1))?;
        self.signal_tensor(cx, output, "output", DType::I16, Some(1))?;
        if output.shape != input.shape {
            return Err(cx.tensor_msg(output, "output", "must have the input's shape"));
        }
        let op = Op::SignalFilterBankLog(SignalFilterBankLog {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            output_scale,
            input_correction_bits,
        });
        self.push(cx, op, input.num_elements() as u64 * 4, 0);
        Ok(())
    }

    /// The element type option `T`, named for errors.
    fn signal_type_option(&self, cx: &OpCx<'_, 'g, 'a>, m: &FlexMap) -> Result<(i64, String)> {
        let t = self.signal_int(cx, m, "T", i64::from(i32::MIN)..=i64::from(i32::MAX))?;
        let name = u8::try_from(t).map_or("unknown", crate::tflite::schema::tensor_type::name);
        Ok((t, name.to_string()))
    }

    /// Splits `t`'s shape into its last dimension and the product of the others.
    fn signal_last(
        &self,
        cx: &OpCx<'_, 'g, 'a>,
        t: &GTensor<'_>,
        what: &str,
    ) -> Result<(usize, usize)> {
        match t.shape.split_last() {
            Some((&n, outer)) if n > 0 => Ok((n, outer.iter().product())),
            _ => Err(cx.tensor_msg(t, what, "must have rank >= 1 and a non-empty last axis")),
        }
    }

    pub(super) fn signal_irfft(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        let (t, tname) = self.signal_type_option(cx, &m)?;
        let float = t == i64::from(crate::tflite::schema::tensor_type::FLOAT32);
        if t != i64::from(crate::tflite::schema::tensor_type::INT16) && !float {
            return Err(cx.unsupported(format!(
                "type T = {t} ({tname}): only the int16 (kissfft fixed-point) and float32 inverse FFTs are supported"
            )));
        }
        let want = if float { DType::F32 } else { DType::I16 };
        let fft_length = self.signal_int(cx, &m, "fft_length", 4..=(1 << 20))? as usize;
        if !fft_length.is_power_of_two() {
            return Err(cx.unsupported(format!(
                "fft_length {fft_length}: only powers of two (kissfft radix 4 and 2) are supported"
            )));
        }
        self.signal_tensor(cx, input, "input", want, None)?;
        self.signal_tensor(cx, output, "output", want, None)?;
        if input.shape.len() != output.shape.len() {
            return Err(cx.tensor_msg(output, "output", "must have the input's rank"));
        }
        let (n_in, outer_in) = self.signal_last(cx, input, "input")?;
        let (n_out, outer_out) = self.signal_last(cx, output, "output")?;
        if n_in % 2 != 0 || n_in < fft_length + 2 {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!(
                    "frames must hold at least fft_length / 2 + 1 = {} complex values",
                    fft_length / 2 + 1
                ),
            ));
        }
        if outer_in != outer_out || n_out != fft_length {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!(
                    "expected the input's outer dimensions and fft_length = {fft_length} samples"
                ),
            ));
        }
        let ncfft = fft_length / 2;
        let macs = (outer_in as u64) * (ncfft as u64) * u64::from(ncfft.trailing_zeros()) * 4;
        if float {
            let (tw, stw) = kiss_twiddles_f32_inverse(ncfft);
            let op = Op::SignalIrfftF32(SignalIrfftF32 {
                input: self.id(input.index)?,
                output: self.id(output.index)?,
                input_length: u32_of(n_in),
                fft_length: u32_of(fft_length),
                twiddles: self.pool.push_f32(&tw),
                super_twiddles: self.pool.push_f32(&stw),
                scratch_offset: 0,
                scratch_bytes: u32_of(fft_length * 4),
            });
            self.push_with_scratch(cx, op, macs, (fft_length + ncfft) * 4, fft_length * 4);
            return Ok(());
        }
        let twiddles = self.pool.push_i16(&kiss_twiddles_inverse(ncfft));
        let super_twiddles = self.pool.push_i16(&kiss_super_twiddles_inverse(ncfft));
        let op = Op::SignalIrfftI16(SignalIrfftI16 {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            input_length: u32_of(n_in),
            fft_length: u32_of(fft_length),
            twiddles,
            super_twiddles,
            scratch_offset: 0,
            scratch_bytes: u32_of(fft_length * 2),
        });
        self.push_with_scratch(cx, op, macs, (fft_length + ncfft) * 2, fft_length * 2);
        Ok(())
    }

    pub(super) fn signal_framer(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 2)?;
        let (input, output, valid) = (cx.input(0)?, cx.output(0)?, cx.output(1)?);
        let m = self.signal_options(cx)?;
        let frame_size = self.signal_int(cx, &m, "frame_size", 1..=(1 << 24))? as usize;
        let frame_step = self.signal_int(cx, &m, "frame_step", 1..=(1 << 24))? as usize;
        let prefill = m
            .get("prefill")
            .as_bool()
            .map_err(|e| cx.err(format!("option prefill: {e}")))?;
        if prefill && frame_step > frame_size {
            return Err(cx.unsupported(format!(
                "frame_step {frame_step} > frame_size {frame_size} with prefill (TFLite Micro would prefill a negative count)"
            )));
        }
        self.signal_tensor(cx, input, "input", DType::I16, None)?;
        self.signal_tensor(cx, output, "output", DType::I16, None)?;
        self.signal_tensor(cx, valid, "output valid", DType::Bool, Some(0))?;
        let (n_in, outer) = self.signal_last(cx, input, "input")?;
        if n_in % frame_step != 0 {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!("last dimension {n_in} is not a multiple of frame_step {frame_step}"),
            ));
        }
        let n_frames = n_in / frame_step;
        let mut want = input.shape.clone();
        want.pop();
        want.extend([n_frames, frame_size]);
        if output.shape != want {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!(
                    "expected shape {want:?} (the input's outer dimensions, frames, frame_size)"
                ),
            ));
        }
        let capacity = frame_size.div_ceil(frame_step) * frame_step;
        let bytes = outer * 4 + outer * capacity * 2;
        let name = format!("{} (SignalFramer buffer)", output.name);
        let init = if prefill {
            let mut b = vec![0u8; bytes];
            let start = u32_of(frame_size - frame_step).to_le_bytes();
            for c in b.chunks_mut(4).take(outer) {
                c.copy_from_slice(&start);
            }
            self.pool.push_bytes(&b, 4)
        } else {
            ferrite_core::ConstRef::EMPTY
        };
        let state = self.new_state_slot(cx, (output.index, name), bytes, 0, init)?;
        let op = Op::SignalFramer(SignalFramer {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            output_valid: self.id(valid.index)?,
            state,
            frame_size: u32_of(frame_size),
            frame_step: u32_of(frame_step),
            capacity: u32_of(capacity),
            outer_dims: u32_of(outer),
            n_frames: u32_of(n_frames),
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    pub(super) fn signal_stacker(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 2)?;
        let (input, output, valid) = (cx.input(0)?, cx.output(0)?, cx.output(1)?);
        let m = self.signal_options(cx)?;
        let nc = self.signal_int(cx, &m, "num_channels", 1..=(1 << 20))? as usize;
        let left = self.signal_int(cx, &m, "stacker_left_context", 0..=1024)? as usize;
        let right = self.signal_int(cx, &m, "stacker_right_context", 0..=1024)? as usize;
        let frames = left + right + 1;
        let step = self.signal_int(cx, &m, "stacker_step", 1..=frames as i64)? as usize;
        self.signal_tensor(cx, input, "input", DType::I16, Some(1))?;
        self.signal_tensor(cx, output, "output", DType::I16, Some(1))?;
        self.signal_tensor(cx, valid, "output valid", DType::Bool, Some(0))?;
        if input.num_elements() != nc {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!("expected num_channels = {nc} values"),
            ));
        }
        let buffer_size = nc * frames;
        if output.num_elements() != buffer_size {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected num_channels * (left + right + 1) = {buffer_size} values"),
            ));
        }
        let name = format!("{} (SignalStacker buffer)", output.name);
        let state = self.new_state_slot(
            cx,
            (output.index, name),
            8 + buffer_size * 2,
            0,
            ferrite_core::ConstRef::EMPTY,
        )?;
        let op = Op::SignalStacker(SignalStacker {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            output_valid: self.id(valid.index)?,
            state,
            num_channels: u32_of(nc),
            left_context: u32_of(left),
            buffer_size: u32_of(buffer_size),
            step_size: u32_of(nc * step),
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    pub(super) fn signal_overlap_add(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        let (t, tname) = self.signal_type_option(cx, &m)?;
        let (dtype, want) = if t == i64::from(crate::tflite::schema::tensor_type::INT16) {
            (SignalOverlapAddType::I16, DType::I16)
        } else if t == i64::from(crate::tflite::schema::tensor_type::FLOAT32) {
            (SignalOverlapAddType::F32, DType::F32)
        } else {
            return Err(cx.unsupported(format!(
                "type T = {t} ({tname}): TFLite Micro's SignalOverlapAdd takes int16 or float32"
            )));
        };
        let frame_step = self.signal_int(cx, &m, "frame_step", 1..=(1 << 24))? as usize;
        self.signal_tensor(cx, input, "input", want, None)?;
        self.signal_tensor(cx, output, "output", want, None)?;
        let r = input.shape.len();
        if r < 2 || output.shape.len() + 1 != r {
            return Err(cx.tensor_msg(
                output,
                "output",
                "expected input [..., frames, frame_size] and output [..., frames * frame_step]",
            ));
        }
        let (frame_size, n_frames) = (input.shape[r - 1], input.shape[r - 2]);
        if frame_size == 0 || frame_step > frame_size {
            return Err(cx.unsupported(format!(
                "frame_step {frame_step} > frame_size {frame_size}: TFLite Micro's overlap-add needs frame_step <= frame_size"
            )));
        }
        let mut want_out = input.shape[..r - 2].to_vec();
        want_out.push(n_frames * frame_step);
        if output.shape != want_out {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {want_out:?}")));
        }
        let outer: usize = input.shape[..r - 2].iter().product();
        let name = format!("{} (SignalOverlapAdd buffer)", output.name);
        let state = self.new_state_slot(
            cx,
            (output.index, name),
            outer * frame_size * want.size_bytes(),
            0,
            ferrite_core::ConstRef::EMPTY,
        )?;
        let op = Op::SignalOverlapAdd(SignalOverlapAdd {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            dtype,
            state,
            frame_size: u32_of(frame_size),
            frame_step: u32_of(frame_step),
            n_frames: u32_of(n_frames),
            outer_dims: u32_of(outer),
        });
        self.push(cx, op, input.num_elements() as u64, 0);
        Ok(())
    }

    pub(super) fn signal_delay(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let m = self.signal_options(cx)?;
        let delay = self.signal_int(cx, &m, "delay_length", 0..=(1 << 24))? as usize;
        self.signal_tensor(cx, input, "input", DType::I16, None)?;
        self.signal_tensor(cx, output, "output", DType::I16, None)?;
        let (n, outer) = self.signal_last(cx, input, "input")?;
        if output.shape != input.shape {
            return Err(cx.tensor_msg(output, "output", "must have the input's shape"));
        }
        let name = format!("{} (SignalDelay buffer)", output.name);
        let state = self.new_state_slot(
            cx,
            (output.index, name),
            outer * delay * 2,
            0,
            ferrite_core::ConstRef::EMPTY,
        )?;
        let op = Op::SignalDelay(SignalDelay {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            state,
            frame_size: u32_of(n),
            delay_length: u32_of(delay),
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }
}
