//! Convolutions and fully connected layers: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
//! TRANSPOSE_CONV — geometry, per-channel requantization and the target's weight layouts.

use super::*;

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn conv2d(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 3, 1)?;
        let (input, filter, bias, output) =
            (cx.input(0)?, cx.input(1)?, cx.opt_input(2), cx.output(0)?);
        let o = options::conv2d(cx.op.options)?;
        for (t, what) in [(input, "input"), (filter, "filter"), (output, "output")] {
            cx.rank(t, what, 4)?;
        }
        if !filter.is_const() {
            return Err(cx.unsupported("non-constant filter"));
        }
        let in_c = input.shape[3];
        let (out_c, k_h, k_w, f_in_c) = (
            filter.shape[0],
            filter.shape[1],
            filter.shape[2],
            filter.shape[3],
        );
        if f_in_c == 0 || in_c == 0 || in_c % f_in_c != 0 {
            return Err(cx.err(format!(
                "filter input channels {f_in_c} do not divide input channels {in_c}"
            )));
        }
        let groups = in_c / f_in_c;
        if out_c % groups != 0 {
            return Err(cx.err(format!(
                "{groups} groups do not divide {out_c} output channels"
            )));
        }
        let geom = self.conv_geometry(
            cx,
            input,
            output,
            (k_h, k_w, out_c),
            (o.stride_h, o.stride_w),
            (o.dilation_h, o.dilation_w),
            o.padding,
        )?;
        let act = cx.activation(o.activation)?;
        let macs = geom.output_elements() * geom.macs_per_output(u32_of(f_in_c));
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (
            cx.dtype(input, "input")?,
            cx.dtype(filter, "filter")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                if self.target != Target::Portable {
                    let q = self.conv_quant_values(cx, input, filter, bias, output, out_c, 0)?;
                    let (act_min, act_max) = cx.act_i8(act, q.out_q)?;
                    let w = as_i8(filter.bytes());
                    let act = (act_min, act_max);
                    if let Some((op, scratch)) =
                        self.cortex_m_gemm(ii, oi, geom, groups, &w, &q, act)
                    {
                        let param_bytes = filter.num_elements() + 20 * out_c;
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                let layer = ConvLayer {
                    ids: (ii, oi),
                    geom,
                    groups,
                    macs,
                    act,
                };
                let tensors = (input, filter, bias, output);
                self.push_conv2d_i8(cx, &layer, tensors, &as_i8(filter.bytes()), 0)?;
            }
            (DType::I16, DType::I8, DType::I16) => {
                let rq = self.requant_16x8(cx, input, filter, output, out_c, 0, act)?;
                let b = self.bias_16x8(cx, bias, out_c, Bias16::Conv)?;
                if self.target.has_dsp() {
                    let w = as_i8(filter.bytes());
                    if let Some((op, scratch)) = lower_dsp::conv_gemm_i16(
                        &mut self.pool,
                        ii,
                        oi,
                        geom,
                        groups,
                        &w,
                        b.bias,
                        b.acc32,
                        rq,
                    ) {
                        let param_bytes = 2 * filter.num_elements() + 8 * b.bias.len as usize;
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                let weights = self.pool.push_i8(&as_i8(filter.bytes()));
                let param_bytes = filter.num_elements() + 8 * b.bias.len as usize;
                let op = Op::Conv2dI16(Conv2dI16 {
                    input: ii,
                    output: oi,
                    geom,
                    groups: u32_of(groups),
                    weights,
                    bias: b.bias,
                    acc32: b.acc32,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::I16, w, DType::I16) => return Err(int16_weights_error(cx, filter, w)),
            (DType::F32, DType::F32, DType::F32) => {
                let weights = self.pool.push_f32(&as_f32(filter.bytes()));
                let bias = self.f32_bias(cx, bias, out_c)?;
                let (act_min, act_max) = activation_range_f32(act);
                let param_bytes = 4 * (filter.num_elements() + bias.len as usize);
                let op = Op::Conv2dF32(Conv2dF32 {
                    input: ii,
                    output: oi,
                    geom,
                    groups: u32_of(groups),
                    weights,
                    bias,
                    act_min,
                    act_max,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "input/filter/output types {a}/{b}/{c}; supported: int8/int8/int8, int16/int8/int16 (16x8) and float32"
                )))
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn conv_geometry(
        &self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        output: &GTensor<'_>,
        (k_h, k_w, out_c): (usize, usize, usize),
        (stride_h, stride_w): (i32, i32),
        (dil_h, dil_w): (i32, i32),
        padding: u8,
    ) -> Result<ConvGeometry> {
        let (n, in_h, in_w, in_c) = (
            input.shape[0],
            input.shape[1],
            input.shape[2],
            input.shape[3],
        );
        let (dil_h, dil_w) = cx.op.dilated.map_or((dil_h, dil_w), |d| d.dilation);
        let (Some(sh), Some(sw)) = (positive(stride_h), positive(stride_w)) else {
            return Err(cx.err(format!(
                "strides must be positive, got ({stride_h}, {stride_w})"
            )));
        };
        let (Some(dh), Some(dw)) = (positive(dil_h), positive(dil_w)) else {
            return Err(cx.err(format!(
                "dilations must be positive, got ({dil_h}, {dil_w})"
            )));
        };
        if k_h == 0 || k_w == 0 {
            return Err(cx.err("empty filter"));
        }
        let sizes = match cx.op.dilated {
            // A rewritten SPACE_TO_BATCH_ND convolution: its output shape is the removed
            // BATCH_TO_SPACE_ND's; taps past the bottom and right edges read padding.
            Some(d) if output.shape.len() == 4 => (
                Some((output.shape[1], d.pad.0)),
                Some((output.shape[2], d.pad.1)),
            ),
            _ => (
                out_size_and_padding(padding, in_h, k_h, sh, dh),
                out_size_and_padding(padding, in_w, k_w, sw, dw),
            ),
        };
        let (Some((oh, pt)), Some((ow, pl))) = sizes else {
            return Err(cx.err(format!(
                "padding code {padding} invalid or filter larger than the input"
            )));
        };
        // The kernels compute the farthest tap, `(out - 1) * stride + (k - 1) * dilation`, in
        // `u32`; refuse what would overflow it (or a padding that does not fit) here rather
        // than convert a layer every kernel rejects.
        let reach = |out: usize, s: usize, k: usize, d: usize| {
            out.saturating_sub(1)
                .checked_mul(s)
                .zip((k - 1).checked_mul(d))
                .and_then(|(a, b)| a.checked_add(b))
                .is_some_and(|r| r <= u32::MAX as usize)
        };
        if !reach(oh, sh, k_h, dh)
            || !reach(ow, sw, k_w, dw)
            || pt > u32::MAX as usize
            || pl > u32::MAX as usize
        {
            return Err(cx.err(format!(
                "strides ({sh}, {sw}) and dilations ({dh}, {dw}) reach too far for a {k_h}x{k_w} filter"
            )));
        }
        let expected = [n, oh, ow, out_c];
        if output.shape != expected {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected shape {expected:?} from the input, filter, strides and padding"),
            ));
        }
        Ok(ConvGeometry {
            batches: u32_of(n),
            in_h: u32_of(in_h),
            in_w: u32_of(in_w),
            in_c: u32_of(in_c),
            out_h: u32_of(oh),
            out_w: u32_of(ow),
            out_c: u32_of(out_c),
            k_h: u32_of(k_h),
            k_w: u32_of(k_w),
            stride_h: u32_of(sh),
            stride_w: u32_of(sw),
            dilation_h: u32_of(dh),
            dilation_w: u32_of(dw),
            pad_top: u32_of(pt),
            pad_left: u32_of(pl),
        })
    }

    /// Bias and per-channel requantization of an int8 conv/depthwise layer, computed as
    /// TFLM's `PopulateConvolutionQuantizationParams` does (in double precision).
    /// Per-channel requantization of an int8 conv/depthwise layer, computed as TFLM's
    /// `PopulateConvolutionQuantizationParams` does (in double precision), and its bias.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conv_quant_values(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        filter: &GTensor<'_>,
        bias: Option<&GTensor<'_>>,
        output: &GTensor<'_>,
        channels: usize,
        channel_axis: usize,
    ) -> Result<ConvQuant> {
        let in_q = cx.qparams(input, "input")?;
        let out_q = cx.qparams(output, "output")?;
        let fq = filter
            .quant
            .as_ref()
            .ok_or_else(|| cx.tensor_msg(filter, "filter", "int8 filter without quantization"))?;
        if fq.per_channel() && (fq.axis != channel_axis || fq.scales.len() != channels) {
            return Err(cx.tensor_msg(filter, "filter", format!(
                "per-channel quantization must have {channels} scales along axis {channel_axis}, found {} along axis {}",
                fq.scales.len(), fq.axis
            )));
        }
        if fq.zero_points.iter().any(|&z| z != 0) {
            return Err(cx.tensor_msg(
                filter,
                "filter",
                "int8 filters must be symmetric (zero point 0)",
            ));
        }
        let mut multiplier = Vec::with_capacity(channels);
        let mut shift = Vec::with_capacity(channels);
        for c in 0..channels {
            let fs = if fq.per_channel() {
                fq.scales[c]
            } else {
                fq.scales[0]
            };
            let real = in_q.scale as f64 * fs as f64 / out_q.scale as f64;
            let (m, s) = quantize_multiplier(real).ok_or_else(|| {
                cx.err(format!(
                    "channel {c}: requantization multiplier {real} out of range"
                ))
            })?;
            multiplier.push(m);
            shift.push(s);
        }
        let bias = self.i32_bias_values(cx, bias, channels)?;
        Ok(ConvQuant {
            bias,
            multiplier,
            shift,
            in_q,
            out_q,
        })
    }

    /// Pushes the portable int8 CONV_2D of `weights` (`[out_c][k_h][k_w][in_c / groups]`),
    /// requantized from the layer's tensors (per-channel scales along `channel_axis` of the
    /// filter).
    fn push_conv2d_i8(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        layer: &ConvLayer,
        (input, filter, bias, output): ConvTensors<'_, '_>,
        weights: &[i8],
        channel_axis: usize,
    ) -> Result<()> {
        let out_c = layer.geom.out_c as usize;
        let (bias, multiplier, shift, in_q, out_q) =
            self.conv_requant(cx, input, filter, bias, output, out_c, channel_axis)?;
        let (act_min, act_max) = cx.act_i8(layer.act, out_q)?;
        let param_bytes = weights.len() + 4 * bias.len as usize;
        let op = Op::Conv2dI8(Conv2dI8 {
            input: layer.ids.0,
            output: layer.ids.1,
            geom: layer.geom,
            groups: u32_of(layer.groups),
            weights: self.pool.push_i8(weights),
            bias,
            rq: Requant {
                multiplier,
                shift,
                input_offset: -in_q.zero_point,
                output_offset: out_q.zero_point,
                act_min,
                act_max,
            },
        });
        self.push(cx, op, layer.macs, param_bytes);
        Ok(())
    }

    /// [`Lowerer::conv_quant_values`], with bias, multipliers and shifts in the constant pool.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    pub(super) fn conv_requant(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        filter: &GTensor<'_>,
        bias: Option<&GTensor<'_>>,
        output: &GTensor<'_>,
        channels: usize,
        channel_axis: usize,
    ) -> Result<(
        ConstRef<i32>,
        ConstRef<i32>,
        ConstRef<i32>,
        QParams,
        QParams,
    )> {
        let q = self.conv_quant_values(cx, input, filter, bias, output, channels, channel_axis)?;
        let bias = q
            .bias
            .as_deref()
            .map_or(ConstRef::EMPTY, |b| self.pool.push_i32(b));
        Ok((
            bias,
            self.pool.push_i32(&q.multiplier),
            self.pool.push_i32(&q.shift),
            q.in_q,
            q.out_q,
        ))
    }

    pub(super) fn i32_bias_values(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        bias: Option<&GTensor<'_>>,
        channels: usize,
    ) -> Result<Option<Vec<i32>>> {
        let Some(b) = bias else {
            return Ok(None);
        };
        let data = b
            .data
            .as_deref()
            .ok_or_else(|| cx.unsupported("non-constant bias"))?;
        if b.dtype != Some(DType::I32) {
            return Err(cx.tensor_msg(b, "bias", "int8 layers need an int32 bias"));
        }
        if b.num_elements() != channels {
            return Err(cx.tensor_msg(b, "bias", format!("expected {channels} elements")));
        }
        Ok(Some(as_i32(data)))
    }

    pub(super) fn i32_bias(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        bias: Option<&GTensor<'_>>,
        channels: usize,
    ) -> Result<ConstRef<i32>> {
        Ok(match self.i32_bias_values(cx, bias, channels)? {
            Some(b) => self.pool.push_i32(&b),
            None => ConstRef::EMPTY,
        })
    }

    pub(super) fn f32_bias(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        bias: Option<&GTensor<'_>>,
        channels: usize,
    ) -> Result<ConstRef<f32>> {
        let Some(b) = bias else {
            return Ok(ConstRef::EMPTY);
        };
        let data = b
            .data
            .as_deref()
            .ok_or_else(|| cx.unsupported("non-constant bias"))?;
        if b.dtype != Some(DType::F32) {
            return Err(cx.tensor_msg(b, "bias", "float layers need a float32 bias"));
        }
        if b.num_elements() != channels {
            return Err(cx.tensor_msg(b, "bias", format!("expected {channels} elements")));
        }
        Ok(self.pool.push_f32(&as_f32(data)))
    }

    pub(super) fn depthwise(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 3, 1)?;
        let (input, filter, bias, output) =
            (cx.input(0)?, cx.input(1)?, cx.opt_input(2), cx.output(0)?);
        let o = options::depthwise_conv2d(cx.op.options)?;
        for (t, what) in [(input, "input"), (filter, "filter"), (output, "output")] {
            cx.rank(t, what, 4)?;
        }
        if !filter.is_const() {
            return Err(cx.unsupported("non-constant filter"));
        }
        let in_c = input.shape[3];
        let (one, k_h, k_w, out_c) = (
            filter.shape[0],
            filter.shape[1],
            filter.shape[2],
            filter.shape[3],
        );
        if one != 1 {
            return Err(cx.tensor_msg(
                filter,
                "filter",
                "depthwise filters have shape [1, H, W, C]",
            ));
        }
        if in_c == 0 || out_c % in_c != 0 {
            return Err(cx.err(format!(
                "output channels {out_c} are not a multiple of input channels {in_c}"
            )));
        }
        let dm = out_c / in_c;
        if o.depth_multiplier as i64 != dm as i64 {
            self.warnings.push(format!(
                "operator #{} (DEPTHWISE_CONV_2D): depth_multiplier option {} disagrees with the shapes ({} → {} channels); using {dm}",
                cx.op.index, o.depth_multiplier, in_c, out_c
            ));
        }
        let geom = self.conv_geometry(
            cx,
            input,
            output,
            (k_h, k_w, out_c),
            (o.stride_h, o.stride_w),
            (o.dilation_h, o.dilation_w),
            o.padding,
        )?;
        let act = cx.activation(o.activation)?;
        let macs = geom.output_elements() * (k_h * k_w) as u64;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let scratch_room = self.scratch_room();
        // Chosen for a RAM budget (`crate::inplace`): the output overwrites the input.
        let in_place = self.g.in_place_ops.contains(&self.step);
        match (
            cx.dtype(input, "input")?,
            cx.dtype(filter, "filter")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                if self.target != Target::Portable && !in_place {
                    let q = self.conv_quant_values(cx, input, filter, bias, output, out_c, 3)?;
                    let (act_min, act_max) = cx.act_i8(act, q.out_q)?;
                    let w = as_i8(filter.bytes());
                    // Kernels for particular shapes first, then the general DSP depthwise.
                    let special = match self.target {
                        // One input channel: a dense convolution, all channels at once.
                        Target::CortexMDsp | Target::CortexMNoDsp => {
                            lower_dsp::single_channel_as_dense(&geom, dm, &w)
                                .and_then(|dense| {
                                    let act = (act_min, act_max);
                                    self.cortex_m_gemm(ii, oi, geom, 1, &dense, &q, act)
                                })
                        }
                        Target::Helium => lower_dsp::depthwise_helium(
                            &mut self.pool,
                            ii,
                            oi,
                            geom,
                            dm,
                            &w,
                            &q,
                            act_min,
                            act_max,
                        ),
                        Target::Portable => None,
                    };
                    // Int8 weights in flash (`Options::int8_weights`): the packed constants.
                    let packed = self.int8_weights.selects(self.op_index);
                    // Under a budget that needs it, a DSP depthwise whose one-row scratch
                    // would raise the arena is left to the portable kernel.
                    let one_row = if packed {
                        ferrite_kernels::ops::depthwise_dsp::packed_scratch_bytes(&geom, 1)
                    } else {
                        ferrite_kernels::ops::depthwise_dsp::scratch_bytes(&geom, 1)
                    };
                    let dsp_fits = !self.g.scratch_within_peak || one_row <= scratch_room;
                    if let Some((op, scratch)) = special.or_else(|| {
                        if !dsp_fits {
                            return None;
                        }
                        lower_dsp::depthwise(
                            &mut self.pool,
                            ii,
                            oi,
                            geom,
                            dm,
                            &w,
                            &q,
                            act_min,
                            act_max,
                            Some(scratch_room),
                            packed,
                        )
                    }) {
                        let param_bytes = match op {
                            Op::DepthwiseDspPackedI8(_) => filter.num_elements() + 10 * out_c,
                            _ => 2 * filter.num_elements() + 16 * out_c,
                        };
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                // One input channel: the dense convolution computes the same sums, and the
                // host's dense kernels (a GEMM over all channels) run it several times faster
                // than the depthwise ones (micro_speech's first layer, depth multiplier 8).
                let dense = match self.target {
                    Target::Portable if !in_place => {
                        lower_dsp::single_channel_as_dense(&geom, dm, &as_i8(filter.bytes()))
                    }
                    _ => None,
                };
                if let Some(dense) = dense {
                    let q = self.conv_quant_values(cx, input, filter, bias, output, out_c, 3)?;
                    if dense_offset_add_cannot_overflow(&q, &dense, k_h * k_w) {
                        let layer = ConvLayer {
                            ids: (ii, oi),
                            geom,
                            groups: 1,
                            macs,
                            act,
                        };
                        let tensors = (input, filter, bias, output);
                        // The filter's channels stay along its last axis (depthwise layout).
                        return self.push_conv2d_i8(cx, &layer, tensors, &dense, 3);
                    }
                }
                let (bias, mult, shift, in_q, out_q) =
                    self.conv_requant(cx, input, filter, bias, output, out_c, 3)?;
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                let weights = self.pool.push_i8(&as_i8(filter.bytes()));
                let param_bytes = filter.num_elements() + 4 * bias.len as usize;
                let rq = Requant {
                    multiplier: mult,
                    shift,
                    input_offset: -in_q.zero_point,
                    output_offset: out_q.zero_point,
                    act_min,
                    act_max,
                };
                let dw = DepthwiseConv2dI8 {
                    input: ii,
                    output: oi,
                    geom,
                    depth_multiplier: u32_of(dm),
                    weights,
                    bias,
                    rq,
                };
                if in_place {
                    let scratch = k::depthwise::in_place_scratch_bytes(&geom);
                    let op = Op::DepthwiseInPlaceI8(DepthwiseInPlaceI8 {
                        dw,
                        scratch_offset: 0,
                        scratch_bytes: u32::try_from(scratch).unwrap_or(u32::MAX),
                    });
                    self.push_with_scratch(cx, op, macs, param_bytes, scratch as usize);
                } else {
                    self.push(cx, Op::DepthwiseConv2dI8(dw), macs, param_bytes);
                }
            }
            (DType::I16, DType::I8, DType::I16) => {
                let rq = self.requant_16x8(cx, input, filter, output, out_c, 3, act)?;
                let b = self.bias_16x8(cx, bias, out_c, Bias16::Int64)?;
                if self.target.has_dsp() {
                    let w = as_i8(filter.bytes());
                    let scratch_room = self.scratch_room();
                    if let Some((op, scratch)) = lower_dsp::depthwise_dsp_i16(
                        &mut self.pool,
                        ii,
                        oi,
                        geom,
                        dm,
                        &w,
                        b.bias,
                        rq,
                        Some(scratch_room),
                    ) {
                        let param_bytes = 2 * filter.num_elements() + 8 * b.bias.len as usize;
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                let weights = self.pool.push_i8(&as_i8(filter.bytes()));
                let param_bytes = filter.num_elements() + 8 * b.bias.len as usize;
                let op = Op::DepthwiseConv2dI16(DepthwiseConv2dI16 {
                    input: ii,
                    output: oi,
                    geom,
                    depth_multiplier: u32_of(dm),
                    weights,
                    bias: b.bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::I16, w, DType::I16) => return Err(int16_weights_error(cx, filter, w)),
            (DType::F32, DType::F32, DType::F32) => {
                let weights = self.pool.push_f32(&as_f32(filter.bytes()));
                let bias = self.f32_bias(cx, bias, out_c)?;
                let (act_min, act_max) = activation_range_f32(act);
                let param_bytes = 4 * (filter.num_elements() + bias.len as usize);
                let op = Op::DepthwiseConv2dF32(DepthwiseConv2dF32 {
                    input: ii,
                    output: oi,
                    geom,
                    depth_multiplier: u32_of(dm),
                    weights,
                    bias,
                    act_min,
                    act_max,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "input/filter/output types {a}/{b}/{c}; supported: int8/int8/int8, int16/int8/int16 (16x8) and float32"
                )))
            }
        }
        Ok(())
    }

    pub(super) fn fully_connected(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 3, 1)?;
        let (input, filter, bias, output) =
            (cx.input(0)?, cx.input(1)?, cx.opt_input(2), cx.output(0)?);
        let o = options::fully_connected(cx.op.options)?;
        if o.weights_format != 0 {
            return Err(cx.unsupported("shuffled weights format"));
        }
        cx.rank(filter, "filter", 2)?;
        if !filter.is_const() {
            return Err(cx.unsupported("non-constant weights"));
        }
        let (out_depth, in_depth) = (filter.shape[0], filter.shape[1]);
        let in_elems = input.num_elements();
        if in_depth == 0 || in_elems % in_depth != 0 {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!(
                    "{in_elems} elements are not a multiple of the weights' {in_depth} columns"
                ),
            ));
        }
        let batches = in_elems / in_depth;
        if output.num_elements() != batches * out_depth {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected {batches}x{out_depth} elements"),
            ));
        }
        let act = cx.activation(o.activation)?;
        let macs = (batches * in_depth * out_depth) as u64;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let (b, ind, outd) = (u32_of(batches), u32_of(in_depth), u32_of(out_depth));
        match (
            cx.dtype(input, "input")?,
            cx.dtype(filter, "filter")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                let in_q = cx.qparams(input, "input")?;
                let out_q = cx.qparams(output, "output")?;
                let (mult, shift, weights_offset) =
                    fc_multipliers(cx, filter, in_q, out_q, out_depth)?;
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                // On the Cortex-M targets, a FULLY_CONNECTED with symmetric weights is a 1x1
                // convolution over a row of `batches` pixels: the GEMM kernels run it. The DSP
                // GEMM widens a block of four input rows first, which costs more than it saves
                // for fewer than four output rows (measured: vww_96_int8's 256 -> 2 layer).
                let gemm_pays = match self.target {
                    Target::CortexMDsp => out_depth >= 4,
                    // The no-DSP GEMM takes a short block pixel by pixel, four output
                    // channels at a time: no widening to amortize.
                    Target::Helium | Target::CortexMNoDsp => true,
                    Target::Portable => false,
                };
                if gemm_pays && weights_offset == 0 {
                    let w = as_i8(filter.bytes());
                    // One multiplier and shift per output row (a per-tensor one repeated).
                    let per_row = |v: &[i32]| -> Vec<i32> {
                        (0..out_depth)
                            .map(|r| v.get(r).or(v.first()).copied().unwrap_or(0))
                            .collect()
                    };
                    let q = ConvQuant {
                        bias: self.i32_bias_values(cx, bias, out_depth)?,
                        multiplier: per_row(&mult),
                        shift: per_row(&shift),
                        in_q,
                        out_q,
                    };
                    let geom = ConvGeometry {
                        batches: 1,
                        in_h: 1,
                        in_w: b,
                        in_c: ind,
                        out_h: 1,
                        out_w: b,
                        out_c: outd,
                        k_h: 1,
                        k_w: 1,
                        stride_h: 1,
                        stride_w: 1,
                        dilation_h: 1,
                        dilation_w: 1,
                        pad_top: 0,
                        pad_left: 0,
                    };
                    let act = (act_min, act_max);
                    if let Some((op, scratch)) = self.cortex_m_gemm(ii, oi, geom, 1, &w, &q, act) {
                        let param_bytes = filter.num_elements() + 20 * out_depth;
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                let weights = self.pool.push_i8(&as_i8(filter.bytes()));
                let bias = self.i32_bias(cx, bias, out_depth)?;
                let rq = Requant {
                    multiplier: self.pool.push_i32(&mult),
                    shift: self.pool.push_i32(&shift),
                    input_offset: -in_q.zero_point,
                    output_offset: out_q.zero_point,
                    act_min,
                    act_max,
                };
                let param_bytes = filter.num_elements() + 4 * bias.len as usize;
                let op = Op::FullyConnectedI8(FullyConnectedI8 {
                    input: ii,
                    output: oi,
                    batches: b,
                    in_depth: ind,
                    out_depth: outd,
                    weights,
                    weights_offset,
                    bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::I16, DType::I8, DType::I16) => {
                let (in_q, out_q) = self.qparams_16x8(cx, input, output)?;
                let (mult, shift, weights_offset) = fc_multipliers(cx, filter, in_q, out_q, out_depth)?;
                check_16x8_shifts(cx, &shift)?;
                let (act_min, act_max) = self.act_i16(cx, act, out_q)?;
                let bv = self.bias_16x8(cx, bias, out_depth, Bias16::Int64)?;
                // On the Cortex-M targets, with symmetric weights: a 1x1 convolution over a
                // row of `batches` pixels, on the 16x8 DSP GEMM (as the int8 layers above).
                if self.target.has_dsp() && weights_offset == 0 {
                    let per_row = |v: &[i32]| -> Vec<i32> {
                        (0..out_depth)
                            .map(|r| v.get(r).or(v.first()).copied().unwrap_or(0))
                            .collect()
                    };
                    let rq = Requant {
                        multiplier: self.pool.push_i32(&per_row(&mult)),
                        shift: self.pool.push_i32(&per_row(&shift)),
                        input_offset: 0,
                        output_offset: 0,
                        act_min,
                        act_max,
                    };
                    let geom = ConvGeometry {
                        batches: 1,
                        in_h: 1,
                        in_w: b,
                        in_c: ind,
                        out_h: 1,
                        out_w: b,
                        out_c: outd,
                        k_h: 1,
                        k_w: 1,
                        stride_h: 1,
                        stride_w: 1,
                        dilation_h: 1,
                        dilation_w: 1,
                        pad_top: 0,
                        pad_left: 0,
                    };
                    let w = as_i8(filter.bytes());
                    if let Some((op, scratch)) = lower_dsp::conv_gemm_i16(
                        &mut self.pool,
                        ii,
                        oi,
                        geom,
                        1,
                        &w,
                        bv.bias,
                        false,
                        rq,
                    ) {
                        let param_bytes = 2 * filter.num_elements() + 8 * bv.bias.len as usize;
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                let weights = self.pool.push_i8(&as_i8(filter.bytes()));
                let rq = Requant {
                    multiplier: self.pool.push_i32(&mult),
                    shift: self.pool.push_i32(&shift),
                    input_offset: 0,
                    output_offset: 0,
                    act_min,
                    act_max,
                };
                let param_bytes = filter.num_elements() + 8 * bv.bias.len as usize;
                let op = Op::FullyConnectedI16(FullyConnectedI16 {
                    input: ii,
                    output: oi,
                    batches: b,
                    in_depth: ind,
                    out_depth: outd,
                    weights,
                    weights_offset,
                    bias: bv.bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::I16, w, DType::I16) => return Err(int16_weights_error(cx, filter, w)),
            (DType::F32, DType::F32, DType::F32) => {
                let weights = self.pool.push_f32(&as_f32(filter.bytes()));
                let bias = self.f32_bias(cx, bias, out_depth)?;
                let (act_min, act_max) = activation_range_f32(act);
                let param_bytes = 4 * (filter.num_elements() + bias.len as usize);
                let op = Op::FullyConnectedF32(FullyConnectedF32 {
                    input: ii,
                    output: oi,
                    batches: b,
                    in_depth: ind,
                    out_depth: outd,
                    weights,
                    bias,
                    act_min,
                    act_max,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "input/weights/output types {a}/{b}/{c}; supported: int8/int8/int8, int16/int8/int16 (16x8) and float32"
                )))
            }
        }
        Ok(())
    }

    /// TRANSPOSE_CONV: inputs are `output_shape` (a constant TFLM ignores, checked here against
    /// the output), the `[out_c, k_h, k_w, in_c]` filter, the input and an optional bias. The
    /// padding is TFLM's: that of the forward convolution from the output back to the input.
    /// TRANSPOSE_CONV: inputs are `output_shape` (a constant TFLM ignores, checked here against
    /// the output), the `[out_c, k_h, k_w, in_c]` filter, the input and an optional bias. The
    /// padding is TFLM's: that of the forward convolution from the output back to the input.
    pub(super) fn transpose_conv(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(3, 4, 1)?;
        let (shape_t, filter, input, bias, output) = (
            cx.input(0)?,
            cx.input(1)?,
            cx.input(2)?,
            cx.opt_input(3),
            cx.output(0)?,
        );
        // TransposeConvOptions shares Conv2DOptions' first four slots (padding, strides,
        // activation); its slot 5 is not a dilation, so the dilations read here are ignored.
        let o = options::conv2d(cx.op.options)?;
        for (t, what) in [(input, "input"), (filter, "filter"), (output, "output")] {
            cx.rank(t, what, 4)?;
        }
        if !filter.is_const() {
            return Err(cx.unsupported("non-constant filter"));
        }
        let declared = cx.const_ints(shape_t, "output_shape")?;
        if declared.len() != 4
            || declared
                .iter()
                .zip(&output.shape)
                .any(|(&d, &s)| d != s as i64)
        {
            return Err(cx.tensor_msg(
                shape_t,
                "output_shape",
                format!("{declared:?} is not the output's shape {:?}", output.shape),
            ));
        }
        let (n, in_h, in_w, in_c) = (
            input.shape[0],
            input.shape[1],
            input.shape[2],
            input.shape[3],
        );
        let (out_c, k_h, k_w, f_in_c) = (
            filter.shape[0],
            filter.shape[1],
            filter.shape[2],
            filter.shape[3],
        );
        if f_in_c != in_c || output.shape[3] != out_c || output.shape[0] != n {
            return Err(cx.tensor_msg(
                filter,
                "filter",
                format!(
                    "expected [{}, kh, kw, {in_c}] for input {} and output {}",
                    output.shape[3],
                    input.describe(),
                    output.describe()
                ),
            ));
        }
        let (Some(sh), Some(sw)) = (positive(o.stride_h), positive(o.stride_w)) else {
            return Err(cx.err(format!(
                "strides must be positive, got ({}, {})",
                o.stride_h, o.stride_w
            )));
        };
        if k_h == 0 || k_w == 0 {
            return Err(cx.err("empty filter"));
        }
        let (out_h, out_w) = (output.shape[1], output.shape[2]);
        let (Some((fwd_h, pt)), Some((fwd_w, pl))) = (
            out_size_and_padding(o.padding, out_h, k_h, sh, 1),
            out_size_and_padding(o.padding, out_w, k_w, sw, 1),
        ) else {
            return Err(cx.err(format!(
                "padding code {} invalid or filter larger than the output",
                o.padding
            )));
        };
        if (fwd_h, fwd_w) != (in_h, in_w) {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!(
                    "a {k_h}x{k_w} filter with strides ({sh}, {sw}) and this padding maps the \
                     output's {out_h}x{out_w} to {fwd_h}x{fwd_w}, not the input's {in_h}x{in_w}"
                ),
            ));
        }
        let geom = ConvGeometry {
            batches: u32_of(n),
            in_h: u32_of(in_h),
            in_w: u32_of(in_w),
            in_c: u32_of(in_c),
            out_h: u32_of(out_h),
            out_w: u32_of(out_w),
            out_c: u32_of(out_c),
            k_h: u32_of(k_h),
            k_w: u32_of(k_w),
            stride_h: u32_of(sh),
            stride_w: u32_of(sw),
            dilation_h: 1,
            dilation_w: 1,
            pad_top: u32_of(pt),
            pad_left: u32_of(pl),
        };
        let act = cx.activation(o.activation)?;
        // Every input element meets every tap of every output channel's filter once.
        let macs = geom.input_elements() * (k_h * k_w * out_c) as u64;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (
            cx.dtype(input, "input")?,
            cx.dtype(filter, "filter")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                // TFLM quantizes TRANSPOSE_CONV filters along dimension 0 (output channels).
                let (bias, mult, shift, in_q, out_q) =
                    self.conv_requant(cx, input, filter, bias, output, out_c, 0)?;
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                let weights = self.pool.push_i8(&as_i8(filter.bytes()));
                let param_bytes = filter.num_elements() + 4 * bias.len as usize;
                let rq = Requant {
                    multiplier: mult,
                    shift,
                    input_offset: -in_q.zero_point,
                    output_offset: out_q.zero_point,
                    act_min,
                    act_max,
                };
                let op = Op::TransposeConv2dI8(TransposeConv2dI8 {
                    input: ii,
                    output: oi,
                    geom,
                    weights,
                    bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::I16, DType::I8, DType::I16) => {
                // TFLM quantizes TRANSPOSE_CONV filters along dimension 0 (output channels).
                let rq = self.requant_16x8(cx, input, filter, output, out_c, 0, act)?;
                let b = self.bias_16x8(cx, bias, out_c, Bias16::Transpose)?;
                let weights = self.pool.push_i8(&as_i8(filter.bytes()));
                let param_bytes = filter.num_elements() + 8 * b.bias.len as usize;
                let op = Op::TransposeConv2dI16(TransposeConv2dI16 {
                    input: ii,
                    output: oi,
                    geom,
                    weights,
                    bias: b.bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::I16, w, DType::I16) => return Err(int16_weights_error(cx, filter, w)),
            (DType::F32, DType::F32, DType::F32) => {
                let weights = self.pool.push_f32(&as_f32(filter.bytes()));
                let bias = self.f32_bias(cx, bias, out_c)?;
                let (act_min, act_max) = activation_range_f32(act);
                let param_bytes = 4 * (filter.num_elements() + bias.len as usize);
                let op = Op::TransposeConv2dF32(TransposeConv2dF32 {
                    input: ii,
                    output: oi,
                    geom,
                    weights,
                    bias,
                    act_min,
                    act_max,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "input/filter/output types {a}/{b}/{c}; supported: int8/int8/int8, int16/int8/int16 (16x8) and float32"
                )))
            }
        }
        Ok(())
    }
}

/// Which bias types a 16x8 layer's TFLM kernel reads, and how.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bias16 {
    /// CONV_2D: an int64 bias (int64 accumulator) or an int32 one (int32 accumulator).
    Conv,
    /// DEPTHWISE_CONV_2D and FULLY_CONNECTED: int64 only.
    Int64,
    /// TRANSPOSE_CONV: int64, or int16 widened to int64 (TFLM widens it at run time).
    Transpose,
}

/// A 16x8 layer's bias, widened to int64, and whether TFLM runs it with an int32 accumulator.
struct Bias16Values {
    bias: ConstRef<i64>,
    acc32: bool,
}

impl<'g, 'a> Lowerer<'g, 'a> {
    /// Input and output quantization of a 16x8 layer. TFLM's int16 conv/FC kernels have no
    /// input or output offsets: they assume zero point 0 (the 16x8 quantization spec), so a
    /// tensor with another zero point would silently give wrong results there; it is refused.
    fn qparams_16x8(
        &self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        output: &GTensor<'_>,
    ) -> Result<(QParams, QParams)> {
        let in_q = cx.qparams(input, "input")?;
        let out_q = cx.qparams(output, "output")?;
        for (t, what, q) in [(input, "input", in_q), (output, "output", out_q)] {
            if q.zero_point != 0 {
                return Err(cx.tensor_msg(
                    t,
                    what,
                    format!(
                        "int16 activations with int8 weights (16x8) need zero point 0, found {}: \
                         TFLM's int16 {} kernel has no zero-point offsets",
                        q.zero_point, cx.op.name
                    ),
                ));
            }
        }
        Ok((in_q, out_q))
    }

    /// TFLite's `CalculateActivationRangeQuantized` for an int16 output.
    fn act_i16(
        &self,
        cx: &OpCx<'_, '_, '_>,
        act: FusedActivation,
        out: QParams,
    ) -> Result<(i32, i32)> {
        let (qmin, qmax) = (i16::MIN as i32, i16::MAX as i32);
        let q = |f: f32| ferrite_core::quant::quantize_f32(f, out.scale, out.zero_point);
        let range = match act {
            FusedActivation::None => Some((qmin, qmax)),
            FusedActivation::Relu => q(0.0).map(|z| (qmin.max(z), qmax)),
            FusedActivation::Relu6 => q(0.0).zip(q(6.0)).map(|(z, s)| (qmin.max(z), qmax.min(s))),
            FusedActivation::ReluN1To1 => {
                q(-1.0).zip(q(1.0)).map(|(l, h)| (qmin.max(l), qmax.min(h)))
            }
        };
        range.ok_or_else(|| cx.err("fused activation range overflows the output quantization"))
    }

    /// The bias of a 16x8 layer, widened to int64, checked against the types TFLM's kernel for
    /// this operator reads (it reinterprets the bias buffer, so another type would be garbage).
    fn bias_16x8(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        bias: Option<&GTensor<'_>>,
        channels: usize,
        kind: Bias16,
    ) -> Result<Bias16Values> {
        let Some(b) = bias else {
            // No bias: the int64 path for every operator. (TFLM's published conv.cc sends a
            // missing bias down its int32 path, but the TFLM the goldens come from gives the
            // int64 rounding: conv2d_bias_absent_16x8 differs by one LSB otherwise.)
            return Ok(Bias16Values {
                bias: ConstRef::EMPTY,
                acc32: false,
            });
        };
        let data = b
            .data
            .as_deref()
            .ok_or_else(|| cx.unsupported("non-constant bias"))?;
        if b.num_elements() != channels {
            return Err(cx.tensor_msg(b, "bias", format!("expected {channels} elements")));
        }
        let (values, acc32): (Vec<i64>, bool) = match (b.dtype, kind) {
            (Some(DType::I64), _) => (
                data.chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
                false,
            ),
            (Some(DType::I32), Bias16::Conv) => {
                (as_i32(data).into_iter().map(i64::from).collect(), true)
            }
            (Some(DType::I16), Bias16::Transpose) => (
                data.chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                    .collect(),
                false,
            ),
            _ => {
                let allowed = match kind {
                    Bias16::Conv => "int64 or int32",
                    Bias16::Int64 => "int64",
                    Bias16::Transpose => "int64 or int16",
                };
                return Err(cx.tensor_msg(
                    b,
                    "bias",
                    format!(
                        "with int16 activations and int8 weights (16x8) TFLM's {} kernel reads \
                         an {allowed} bias",
                        cx.op.name
                    ),
                ));
            }
        };
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let r = self.pool.push_bytes(&bytes, 8);
        Ok(Bias16Values {
            bias: ConstRef::new(r.offset, values.len() as u32),
            acc32,
        })
    }

    /// Per-channel multipliers and shifts of a 16x8 conv-like layer (as for int8, from the
    /// scales in double precision), after the 16x8 checks on the activations.
    #[allow(clippy::too_many_arguments)]
    fn requant_16x8(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        filter: &GTensor<'_>,
        output: &GTensor<'_>,
        channels: usize,
        channel_axis: usize,
        act: FusedActivation,
    ) -> Result<Requant> {
        let (_, out_q) = self.qparams_16x8(cx, input, output)?;
        let q = self.conv_quant_values(cx, input, filter, None, output, channels, channel_axis)?;
        check_16x8_shifts(cx, &q.shift)?;
        let (act_min, act_max) = self.act_i16(cx, act, out_q)?;
        Ok(Requant {
            multiplier: self.pool.push_i32(&q.multiplier),
            shift: self.pool.push_i32(&q.shift),
            input_offset: 0,
            output_offset: 0,
            act_min,
            act_max,
        })
    }
}

/// TFLM's int64 requantization (`MultiplyByQuantizedMultiplier(int64_t, ...)`, every 16x8
/// convolution and FULLY_CONNECTED) takes shifts in `-31..8`; a larger one means
/// `input_scale * filter_scale / output_scale` of 128 or more, which TFLM does not compute
/// (it asserts in debug builds, overflows in release ones): a conversion error here.
fn check_16x8_shifts(cx: &OpCx<'_, '_, '_>, shift: &[i32]) -> Result<()> {
    match shift.iter().position(|&s| s > 7) {
        Some(c) => Err(cx.err(format!(
            "channel {c}: requantization scale input_scale * filter_scale / output_scale is 2^{} or more; TFLite Micro's 16x8 requantization needs it below 2^7",
            shift[c] - 1
        ))),
        None => Ok(()),
    }
}

/// The error for int16 activations with weights other than int8: TFLM's 16x8 kernels take
/// int8 weights only.
fn int16_weights_error(cx: &OpCx<'_, '_, '_>, filter: &GTensor<'_>, w: DType) -> ConvertError {
    cx.unsupported(format!(
        "int16 activations need int8 weights (16x8 quantization); filter tensor #{} '{}' is {w}: \
         TFLM has no {} kernel for int16 weights",
        filter.index, filter.name, cx.op.name
    ))
}

/// Multipliers, shifts and weights offset of a quantized FULLY_CONNECTED layer, as TFLM
/// computes them: one per output row for per-channel (symmetric) weights, else one per tensor
/// (with the weights' zero point as offset). Shared by the int8 and 16x8 layers.
fn fc_multipliers(
    cx: &OpCx<'_, '_, '_>,
    filter: &GTensor<'_>,
    in_q: QParams,
    out_q: QParams,
    out_depth: usize,
) -> Result<(Vec<i32>, Vec<i32>, i32)> {
    let fq = filter
        .quant
        .as_ref()
        .ok_or_else(|| cx.tensor_msg(filter, "filter", "int8 weights without quantization"))?;
    let (mut mult, mut shift) = (Vec::new(), Vec::new());
    let weights_offset;
    if fq.per_channel() {
        if fq.axis != 0 || fq.scales.len() != out_depth || fq.zero_points.iter().any(|&z| z != 0) {
            return Err(cx.tensor_msg(
                filter,
                "filter",
                "per-channel weights need one symmetric scale per output row",
            ));
        }
        weights_offset = 0;
        for &fs in &fq.scales {
            let real = in_q.scale as f64 * fs as f64 / out_q.scale as f64;
            let (m, s) = quantize_multiplier(real)
                .ok_or_else(|| cx.err(format!("multiplier {real} out of range")))?;
            mult.push(m);
            shift.push(s);
        }
    } else {
        weights_offset = -fq.zero_points[0];
        // TFLM's GetQuantizedConvolutionMultipler multiplies the scales in single
        // precision before widening: keep that rounding.
        let real = (in_q.scale * fq.scales[0]) as f64 / out_q.scale as f64;
        let (m, s) = quantize_multiplier(real)
            .ok_or_else(|| cx.err(format!("multiplier {real} out of range")))?;
        mult.push(m);
        shift.push(s);
    }
    Ok((mult, shift, weights_offset))
}

/// A convolution layer's identity and shape, as the lowering pushes it.
struct ConvLayer {
    /// Input and output tensors.
    ids: (TensorId, TensorId),
    geom: ConvGeometry,
    groups: usize,
    macs: u64,
    act: FusedActivation,
}

/// A convolution's TFLite tensors: input, filter, bias (if any), output.
type ConvTensors<'t, 'g> = (
    &'t GTensor<'g>,
    &'t GTensor<'g>,
    Option<&'t GTensor<'g>>,
    &'t GTensor<'g>,
);

/// Whether a single-channel depthwise convolution may run as the dense one: TFLite Micro's
/// depthwise kernel adds the output offset to the requantized sum with 32-bit wrap-around and
/// its convolution saturates, so the two agree unless that sum can come within 256 of the int32
/// range. Every channel's sum is bounded by `sum |w| * 255 + |bias|`, scaled by the left shift
/// (a Q0.31 multiplier never grows it).
fn dense_offset_add_cannot_overflow(q: &ConvQuant, dense: &[i8], taps: usize) -> bool {
    let channels = q.multiplier.len();
    if taps == 0 || dense.len() != channels * taps || q.shift.len() != channels {
        return false;
    }
    dense.chunks_exact(taps).enumerate().all(|(c, w)| {
        let weights: i64 = w.iter().map(|&v| (v as i64).abs()).sum();
        let bias = q
            .bias
            .as_ref()
            .and_then(|b| b.get(c))
            .map_or(0, |&b| b as i64);
        let shift = q.shift.get(c).map_or(31, |&s| s.clamp(0, 31));
        weights * 255 + bias.abs() < ((1i64 << 31) - 256) >> shift
    })
}

#[cfg(test)]
mod single_channel_tests {
    use super::*;

    fn quant(bias: i32, shift: i32) -> ConvQuant {
        let q = QParams {
            scale: 1.0,
            zero_point: 0,
        };
        ConvQuant {
            bias: Some(vec![bias; 2]),
            multiplier: vec![1 << 30; 2],
            shift: vec![shift; 2],
            in_q: q,
            out_q: q,
        }
    }

    /// The dense form is taken for ordinary layers and refused where the requantized sum could
    /// reach the int32 edge (huge bias, or a left shift that scales the bound past it).
    #[test]
    fn dense_rewrite_bound() {
        let w = [127i8, -128, 5, 7, 1, 1];
        assert!(dense_offset_add_cannot_overflow(&quant(1000, -3), &w, 3));
        assert!(!dense_offset_add_cannot_overflow(
            &quant(i32::MAX, 0),
            &w,
            3
        ));
        assert!(!dense_offset_add_cannot_overflow(&quant(1000, 31), &w, 3));
        assert!(dense_offset_add_cannot_overflow(&quant(1000, 10), &w, 3));
        assert!(!dense_offset_add_cannot_overflow(&quant(0, 0), &w, 4));
    }
}
