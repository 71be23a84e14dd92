//! TFLite Micro's signal library custom operators (`Signal*`): the checks of each kernel's
//! `Prepare`, the flexbuffer options of its `Init`, and what `Init` computes once (the
//! FFT's twiddles, as `kiss_fft_alloc`/`kiss_fftr_alloc` round them). Spectral subtraction's
//! noise estimate, which TFLM keeps in a persistent buffer between invokes and zeroes in
//! `Reset`, gets a slot in the model's state region (reported under the operator's noise
//! estimate output, which holds a copy of it).

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
}
