//! Which kernel runs which operator.
//!
//! The converter asks [`kernel_for`] for every layer and stores the function pointer in the
//! model (on the host) or emits its path (in generated firmware code), so a firmware links
//! exactly the kernels its model uses. Each entry picks its fastest compiled-in path itself.

pub use crate::arch::{Isa, KernelSet};
use crate::ops;
use ferrite_core::{KernelFn, Op};

/// A kernel entry and the Rust path that names it in generated code.
#[derive(Clone, Copy)]
pub struct KernelEntry {
    /// The function.
    pub run: KernelFn,
    /// Its path, e.g. `ferrite_kernels::ops::conv::run_conv2d_i8`.
    pub path: &'static str,
}

impl core::fmt::Debug for KernelEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.path)
    }
}

macro_rules! entry {
    ($module:ident :: $func:ident) => {
        KernelEntry {
            run: ops::$module::$func,
            path: concat!(
                "ferrite_kernels::ops::",
                stringify!($module),
                "::",
                stringify!($func)
            ),
        }
    };
}

/// The kernel entry for `op` in `set`: the set's fast path where it has one (see
/// [`crate::arch`]), otherwise the portable entry of [`kernel_for`].
pub fn kernel_for_set(op: &Op, set: KernelSet) -> KernelEntry {
    crate::arch::fast_entry(op, set).unwrap_or_else(|| kernel_for(op))
}

/// The kernel entry for `op`.
pub fn kernel_for(op: &Op) -> KernelEntry {
    match op {
        Op::Conv2dI8(_) => entry!(conv::run_conv2d_i8),
        Op::Conv2dI8Packed(_) => entry!(conv::run_conv2d_i8_packed),
        Op::Conv2dF32(_) => entry!(conv::run_conv2d_f32),
        Op::Conv2dF32Packed(_) => entry!(conv::run_conv2d_f32_packed),
        Op::DepthwiseConv2dI8(_) => entry!(depthwise::run_depthwise_conv2d_i8),
        Op::DepthwiseConv2dF32(_) => entry!(depthwise::run_depthwise_conv2d_f32),
        Op::ConvGemmI8(_) => entry!(gemm::run_conv_gemm_i8),
        Op::DepthwiseDspI8(_) => entry!(depthwise_dsp::run_depthwise_dsp_i8),
        Op::DepthwiseDspPackedI8(_) => entry!(depthwise_dsp::run_depthwise_dsp_packed_i8),
        Op::DepthwiseInPlaceI8(_) => entry!(depthwise::run_depthwise_in_place_i8),
        Op::ConvHeliumI8(_) => entry!(conv_helium::run_conv_helium_i8),
        Op::ConvGemmI16(_) => entry!(dsp16::run_conv_gemm_i16),
        Op::DepthwiseDspI16(_) => entry!(dsp16::run_depthwise_dsp_i16),
        Op::DepthwiseHeliumI8(_) => entry!(depthwise_helium::run_depthwise_helium_i8),
        Op::FullyConnectedI8(_) => entry!(fully_connected::run_fully_connected_i8),
        Op::FullyConnectedF32(_) => entry!(fully_connected::run_fully_connected_f32),
        Op::PoolI8(_) => entry!(pool::run_pool_i8),
        Op::PoolI16(_) => entry!(pool::run_pool_i16),
        Op::PoolF32(_) => entry!(pool::run_pool_f32),
        Op::SoftmaxI8(_) => entry!(softmax::run_softmax_i8),
        Op::SoftmaxF32(_) => entry!(softmax::run_softmax_f32),
        Op::AddI8(_) => entry!(binary::run_add_i8),
        Op::MulI8(_) => entry!(binary::run_mul_i8),
        Op::BinaryF32(_) => entry!(binary::run_binary_f32),
        Op::Concat(_) => entry!(shape::run_concat),
        Op::Pad(_) => entry!(shape::run_pad),
        Op::Copy(_) => entry!(shape::run_copy),
        Op::MeanI8(_) => entry!(mean::run_mean_i8),
        Op::MeanI16(_) => entry!(mean::run_mean_i16),
        Op::MeanF32(_) => entry!(mean::run_mean_f32),
        Op::LutI8(_) => entry!(lut::run_lut_i8),
        Op::DequantizeI8(_) => entry!(lut::run_dequantize_i8),
        Op::QuantizeF32(_) => entry!(lut::run_quantize_f32),
        Op::QuantizeF32I16(_) => entry!(lut::run_quantize_f32_i16),
        Op::DequantizeI16(_) => entry!(lut::run_dequantize_i16),
        Op::UnaryF32(_) => entry!(unary_f32::run_unary_f32),
        Op::LoadConst(_) => entry!(load_const::run_load_const),
        Op::TransposeConv2dI8(_) => entry!(transpose_conv::run_transpose_conv2d_i8),
        Op::TransposeConv2dF32(_) => entry!(transpose_conv::run_transpose_conv2d_f32),
        Op::Conv2dI16(_) => entry!(conv::run_conv2d_i16),
        Op::DepthwiseConv2dI16(_) => entry!(depthwise::run_depthwise_conv2d_i16),
        Op::FullyConnectedI16(_) => entry!(fully_connected::run_fully_connected_i16),
        Op::TransposeConv2dI16(_) => entry!(transpose_conv::run_transpose_conv2d_i16),
        Op::ResizeNearest(_) => entry!(resize::run_resize_nearest),
        Op::Transpose(_) => entry!(movement::run_transpose),
        Op::StridedSlice(_) => entry!(movement::run_strided_slice),
        Op::Gather(_) => entry!(movement::run_gather),
        Op::GatherNd(_) => entry!(movement::run_gather_nd),
        Op::BroadcastTo(_) => entry!(movement::run_broadcast_to),
        Op::MirrorPad(_) => entry!(movement::run_mirror_pad),
        Op::Select(_) => entry!(movement::run_select),
        Op::DynamicUpdateSlice(_) => entry!(movement::run_dynamic_update_slice),
        Op::ReduceF32(_) => entry!(reduce::run_reduce_f32),
        Op::ReduceI8(_) => entry!(reduce::run_reduce_i8),
        Op::ReduceI16(_) => entry!(reduce::run_reduce_i16),
        Op::ReduceAll(_) => entry!(reduce::run_reduce_all),
        Op::ArgMinMax(_) => entry!(reduce::run_arg_min_max),
        Op::CumSumF32(_) => entry!(reduce::run_cumsum_f32),
        Op::CumSumI8(_) => entry!(reduce::run_cumsum_i8),
        Op::BatchMatMulF32(_) => entry!(batch_matmul::run_batch_matmul_f32),
        Op::BatchMatMulI8(_) => entry!(batch_matmul::run_batch_matmul_i8),
        Op::BatchMatMulI16(_) => entry!(batch_matmul::run_batch_matmul_i16),
        Op::LogSoftmaxF32(_) => entry!(normalize::run_log_softmax_f32),
        Op::LogSoftmaxI8(_) => entry!(normalize::run_log_softmax_i8),
        Op::L2NormF32(_) => entry!(normalize::run_l2_norm_f32),
        Op::L2NormI8(_) => entry!(normalize::run_l2_norm_i8),
        Op::L2PoolF32(_) => entry!(l2_pool::run_l2_pool_f32),
        Op::ResizeBilinearF32(_) => entry!(resize_bilinear::run_resize_bilinear_f32),
        Op::ResizeBilinearI8(_) => entry!(resize_bilinear::run_resize_bilinear_i8),
        Op::SpaceToBatch(_) => entry!(space_batch::run_space_to_batch),
        Op::BatchToSpace(_) => entry!(space_batch::run_batch_to_space),
        Op::DetectionPostprocess(_) => entry!(detection::run_detection_postprocess),
        Op::IntBinary(_) => entry!(elementwise::run_int_binary),
        Op::Compare(_) => entry!(elementwise::run_compare),
        Op::QuantBinary(_) => entry!(elementwise::run_quant_binary),
        Op::PreluQ(_) => entry!(elementwise::run_prelu_q),
        Op::AddN(_) => entry!(elementwise::run_add_n),
        Op::Cast(_) => entry!(cast::run_cast),
        Op::Requantize(_) => entry!(cast::run_requantize),
        Op::AddI16(_) => entry!(binary::run_add_i16),
        Op::MulI16(_) => entry!(binary::run_mul_i16),
        Op::ActI16(_) => entry!(act16::run_act_i16),
        Op::SoftmaxI16(_) => entry!(softmax16::run_softmax_i16),
        Op::SvdfI8(_) => entry!(svdf::run_svdf_i8),
        Op::SvdfI8S8(_) => entry!(svdf::run_svdf_i8_s8),
        Op::SvdfF32(_) => entry!(svdf::run_svdf_f32),
        Op::SignalWindow(_) => entry!(signal::run_signal_window),
        Op::SignalFftAutoScale(_) => entry!(signal::run_signal_fft_auto_scale),
        Op::SignalRfftI16(_) => entry!(signal::run_signal_rfft_i16),
        Op::SignalEnergy(_) => entry!(signal::run_signal_energy),
        Op::SignalFilterBank(_) => entry!(signal::run_signal_filter_bank),
        Op::SignalFilterBankSquareRoot(_) => entry!(signal::run_signal_filter_bank_square_root),
        Op::SignalSpectralSubtraction(_) => entry!(signal::run_signal_spectral_subtraction),
        Op::SignalPcan(_) => entry!(signal::run_signal_pcan),
        Op::SignalFilterBankLog(_) => entry!(signal::run_signal_filter_bank_log),
        Op::SignalIrfftI16(_) => entry!(signal::run_signal_irfft_i16),
        Op::SignalIrfftF32(_) => entry!(signal::run_signal_irfft_f32),
        Op::SignalFramer(_) => entry!(signal::run_signal_framer),
        Op::SignalStacker(_) => entry!(signal::run_signal_stacker),
        Op::SignalOverlapAdd(_) => entry!(signal::run_signal_overlap_add),
        Op::SignalDelay(_) => entry!(signal::run_signal_delay),
        Op::ReadVariable(_) => entry!(variable::run_read_variable),
        Op::AssignVariable(_) => entry!(variable::run_assign_variable),
        Op::CircularBuffer(_) => entry!(circular_buffer::run_circular_buffer),
        Op::LstmI8(_) => entry!(lstm::run_lstm_i8),
        Op::LstmI16(_) => entry!(lstm::run_lstm_i16),
        Op::LstmF32(_) => entry!(lstm::run_lstm_f32),
    }
}
