//! TFLite `BuiltinOperator` codes and names (from `schema.fbs`).

/// Schema name of every builtin operator code, indexed by code.
pub const NAMES: [&str; 210] = [
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
    "STABLEHLO_COMPOSITE",
    "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT",
    "STABLEHLO_CASE",
];

/// The schema's name of builtin operator `code`.
pub fn name(code: i32) -> &'static str {
    usize::try_from(code)
        .ok()
        .and_then(|c| NAMES.get(c))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// `ADD`
pub const ADD: i32 = 0;
/// `AVERAGE_POOL_2D`
pub const AVERAGE_POOL_2D: i32 = 1;
/// `CONCATENATION`
pub const CONCATENATION: i32 = 2;
/// `CONV_2D`
pub const CONV_2D: i32 = 3;
/// `DEPTHWISE_CONV_2D`
pub const DEPTHWISE_CONV_2D: i32 = 4;
/// `DEPTH_TO_SPACE`
pub const DEPTH_TO_SPACE: i32 = 5;
/// `DEQUANTIZE`
pub const DEQUANTIZE: i32 = 6;
/// `EMBEDDING_LOOKUP`
pub const EMBEDDING_LOOKUP: i32 = 7;
/// `FLOOR`
pub const FLOOR: i32 = 8;
/// `FULLY_CONNECTED`
pub const FULLY_CONNECTED: i32 = 9;
/// `HASHTABLE_LOOKUP`
pub const HASHTABLE_LOOKUP: i32 = 10;
/// `L2_NORMALIZATION`
pub const L2_NORMALIZATION: i32 = 11;
/// `L2_POOL_2D`
pub const L2_POOL_2D: i32 = 12;
/// `LOCAL_RESPONSE_NORMALIZATION`
pub const LOCAL_RESPONSE_NORMALIZATION: i32 = 13;
/// `LOGISTIC`
pub const LOGISTIC: i32 = 14;
/// `LSH_PROJECTION`
pub const LSH_PROJECTION: i32 = 15;
/// `LSTM`
pub const LSTM: i32 = 16;
/// `MAX_POOL_2D`
pub const MAX_POOL_2D: i32 = 17;
/// `MUL`
pub const MUL: i32 = 18;
/// `RELU`
pub const RELU: i32 = 19;
/// `RELU_N1_TO_1`
pub const RELU_N1_TO_1: i32 = 20;
/// `RELU6`
pub const RELU6: i32 = 21;
/// `RESHAPE`
pub const RESHAPE: i32 = 22;
/// `RESIZE_BILINEAR`
pub const RESIZE_BILINEAR: i32 = 23;
/// `RNN`
pub const RNN: i32 = 24;
/// `SOFTMAX`
pub const SOFTMAX: i32 = 25;
/// `SPACE_TO_DEPTH`
pub const SPACE_TO_DEPTH: i32 = 26;
/// `SVDF`
pub const SVDF: i32 = 27;
/// `TANH`
pub const TANH: i32 = 28;
/// `CONCAT_EMBEDDINGS`
pub const CONCAT_EMBEDDINGS: i32 = 29;
/// `SKIP_GRAM`
pub const SKIP_GRAM: i32 = 30;
/// `CALL`
pub const CALL: i32 = 31;
/// `CUSTOM`
pub const CUSTOM: i32 = 32;
/// `EMBEDDING_LOOKUP_SPARSE`
pub const EMBEDDING_LOOKUP_SPARSE: i32 = 33;
/// `PAD`
pub const PAD: i32 = 34;
/// `UNIDIRECTIONAL_SEQUENCE_RNN`
pub const UNIDIRECTIONAL_SEQUENCE_RNN: i32 = 35;
/// `GATHER`
pub const GATHER: i32 = 36;
/// `BATCH_TO_SPACE_ND`
pub const BATCH_TO_SPACE_ND: i32 = 37;
/// `SPACE_TO_BATCH_ND`
pub const SPACE_TO_BATCH_ND: i32 = 38;
/// `TRANSPOSE`
pub const TRANSPOSE: i32 = 39;
/// `MEAN`
pub const MEAN: i32 = 40;
/// `SUB`
pub const SUB: i32 = 41;
/// `DIV`
pub const DIV: i32 = 42;
/// `SQUEEZE`
pub const SQUEEZE: i32 = 43;
/// `UNIDIRECTIONAL_SEQUENCE_LSTM`
pub const UNIDIRECTIONAL_SEQUENCE_LSTM: i32 = 44;
/// `STRIDED_SLICE`
pub const STRIDED_SLICE: i32 = 45;
/// `BIDIRECTIONAL_SEQUENCE_RNN`
pub const BIDIRECTIONAL_SEQUENCE_RNN: i32 = 46;
/// `EXP`
pub const EXP: i32 = 47;
/// `TOPK_V2`
pub const TOPK_V2: i32 = 48;
/// `SPLIT`
pub const SPLIT: i32 = 49;
/// `LOG_SOFTMAX`
pub const LOG_SOFTMAX: i32 = 50;
/// `DELEGATE`
pub const DELEGATE: i32 = 51;
/// `BIDIRECTIONAL_SEQUENCE_LSTM`
pub const BIDIRECTIONAL_SEQUENCE_LSTM: i32 = 52;
/// `CAST`
pub const CAST: i32 = 53;
/// `PRELU`
pub const PRELU: i32 = 54;
/// `MAXIMUM`
pub const MAXIMUM: i32 = 55;
/// `ARG_MAX`
pub const ARG_MAX: i32 = 56;
/// `MINIMUM`
pub const MINIMUM: i32 = 57;
/// `LESS`
pub const LESS: i32 = 58;
/// `NEG`
pub const NEG: i32 = 59;
/// `PADV2`
pub const PADV2: i32 = 60;
/// `GREATER`
pub const GREATER: i32 = 61;
/// `GREATER_EQUAL`
pub const GREATER_EQUAL: i32 = 62;
/// `LESS_EQUAL`
pub const LESS_EQUAL: i32 = 63;
/// `SELECT`
pub const SELECT: i32 = 64;
/// `SLICE`
pub const SLICE: i32 = 65;
/// `SIN`
pub const SIN: i32 = 66;
/// `TRANSPOSE_CONV`
pub const TRANSPOSE_CONV: i32 = 67;
/// `SPARSE_TO_DENSE`
pub const SPARSE_TO_DENSE: i32 = 68;
/// `TILE`
pub const TILE: i32 = 69;
/// `EXPAND_DIMS`
pub const EXPAND_DIMS: i32 = 70;
/// `EQUAL`
pub const EQUAL: i32 = 71;
/// `NOT_EQUAL`
pub const NOT_EQUAL: i32 = 72;
/// `LOG`
pub const LOG: i32 = 73;
/// `SUM`
pub const SUM: i32 = 74;
/// `SQRT`
pub const SQRT: i32 = 75;
/// `RSQRT`
pub const RSQRT: i32 = 76;
/// `SHAPE`
pub const SHAPE: i32 = 77;
/// `POW`
pub const POW: i32 = 78;
/// `ARG_MIN`
pub const ARG_MIN: i32 = 79;
/// `FAKE_QUANT`
pub const FAKE_QUANT: i32 = 80;
/// `REDUCE_PROD`
pub const REDUCE_PROD: i32 = 81;
/// `REDUCE_MAX`
pub const REDUCE_MAX: i32 = 82;
/// `PACK`
pub const PACK: i32 = 83;
/// `LOGICAL_OR`
pub const LOGICAL_OR: i32 = 84;
/// `ONE_HOT`
pub const ONE_HOT: i32 = 85;
/// `LOGICAL_AND`
pub const LOGICAL_AND: i32 = 86;
/// `LOGICAL_NOT`
pub const LOGICAL_NOT: i32 = 87;
/// `UNPACK`
pub const UNPACK: i32 = 88;
/// `REDUCE_MIN`
pub const REDUCE_MIN: i32 = 89;
/// `FLOOR_DIV`
pub const FLOOR_DIV: i32 = 90;
/// `REDUCE_ANY`
pub const REDUCE_ANY: i32 = 91;
/// `SQUARE`
pub const SQUARE: i32 = 92;
/// `ZEROS_LIKE`
pub const ZEROS_LIKE: i32 = 93;
/// `FILL`
pub const FILL: i32 = 94;
/// `FLOOR_MOD`
pub const FLOOR_MOD: i32 = 95;
/// `RANGE`
pub const RANGE: i32 = 96;
/// `RESIZE_NEAREST_NEIGHBOR`
pub const RESIZE_NEAREST_NEIGHBOR: i32 = 97;
/// `LEAKY_RELU`
pub const LEAKY_RELU: i32 = 98;
/// `SQUARED_DIFFERENCE`
pub const SQUARED_DIFFERENCE: i32 = 99;
/// `MIRROR_PAD`
pub const MIRROR_PAD: i32 = 100;
/// `ABS`
pub const ABS: i32 = 101;
/// `SPLIT_V`
pub const SPLIT_V: i32 = 102;
/// `UNIQUE`
pub const UNIQUE: i32 = 103;
/// `CEIL`
pub const CEIL: i32 = 104;
/// `REVERSE_V2`
pub const REVERSE_V2: i32 = 105;
/// `ADD_N`
pub const ADD_N: i32 = 106;
/// `GATHER_ND`
pub const GATHER_ND: i32 = 107;
/// `COS`
pub const COS: i32 = 108;
/// `WHERE`
pub const WHERE: i32 = 109;
/// `RANK`
pub const RANK: i32 = 110;
/// `ELU`
pub const ELU: i32 = 111;
/// `REVERSE_SEQUENCE`
pub const REVERSE_SEQUENCE: i32 = 112;
/// `MATRIX_DIAG`
pub const MATRIX_DIAG: i32 = 113;
/// `QUANTIZE`
pub const QUANTIZE: i32 = 114;
/// `MATRIX_SET_DIAG`
pub const MATRIX_SET_DIAG: i32 = 115;
/// `ROUND`
pub const ROUND: i32 = 116;
/// `HARD_SWISH`
pub const HARD_SWISH: i32 = 117;
/// `IF`
pub const IF: i32 = 118;
/// `WHILE`
pub const WHILE: i32 = 119;
/// `NON_MAX_SUPPRESSION_V4`
pub const NON_MAX_SUPPRESSION_V4: i32 = 120;
/// `NON_MAX_SUPPRESSION_V5`
pub const NON_MAX_SUPPRESSION_V5: i32 = 121;
/// `SCATTER_ND`
pub const SCATTER_ND: i32 = 122;
/// `SELECT_V2`
pub const SELECT_V2: i32 = 123;
/// `DENSIFY`
pub const DENSIFY: i32 = 124;
/// `SEGMENT_SUM`
pub const SEGMENT_SUM: i32 = 125;
/// `BATCH_MATMUL`
pub const BATCH_MATMUL: i32 = 126;
/// `CUMSUM`
pub const CUMSUM: i32 = 128;
/// `CALL_ONCE`
pub const CALL_ONCE: i32 = 129;
/// `BROADCAST_TO`
pub const BROADCAST_TO: i32 = 130;
/// `RFFT2D`
pub const RFFT2D: i32 = 131;
/// `CONV_3D`
pub const CONV_3D: i32 = 132;
/// `IMAG`
pub const IMAG: i32 = 133;
/// `REAL`
pub const REAL: i32 = 134;
/// `COMPLEX_ABS`
pub const COMPLEX_ABS: i32 = 135;
/// `HASHTABLE`
pub const HASHTABLE: i32 = 136;
/// `HASHTABLE_FIND`
pub const HASHTABLE_FIND: i32 = 137;
/// `HASHTABLE_IMPORT`
pub const HASHTABLE_IMPORT: i32 = 138;
/// `HASHTABLE_SIZE`
pub const HASHTABLE_SIZE: i32 = 139;
/// `REDUCE_ALL`
pub const REDUCE_ALL: i32 = 140;
/// `CONV_3D_TRANSPOSE`
pub const CONV_3D_TRANSPOSE: i32 = 141;
/// `VAR_HANDLE`
pub const VAR_HANDLE: i32 = 142;
/// `READ_VARIABLE`
pub const READ_VARIABLE: i32 = 143;
/// `ASSIGN_VARIABLE`
pub const ASSIGN_VARIABLE: i32 = 144;
/// `BROADCAST_ARGS`
pub const BROADCAST_ARGS: i32 = 145;
/// `RANDOM_STANDARD_NORMAL`
pub const RANDOM_STANDARD_NORMAL: i32 = 146;
/// `BUCKETIZE`
pub const BUCKETIZE: i32 = 147;
/// `RANDOM_UNIFORM`
pub const RANDOM_UNIFORM: i32 = 148;
/// `MULTINOMIAL`
pub const MULTINOMIAL: i32 = 149;
/// `GELU`
pub const GELU: i32 = 150;
/// `DYNAMIC_UPDATE_SLICE`
pub const DYNAMIC_UPDATE_SLICE: i32 = 151;
/// `RELU_0_TO_1`
pub const RELU_0_TO_1: i32 = 152;
/// `UNSORTED_SEGMENT_PROD`
pub const UNSORTED_SEGMENT_PROD: i32 = 153;
/// `UNSORTED_SEGMENT_MAX`
pub const UNSORTED_SEGMENT_MAX: i32 = 154;
/// `UNSORTED_SEGMENT_SUM`
pub const UNSORTED_SEGMENT_SUM: i32 = 155;
/// `ATAN2`
pub const ATAN2: i32 = 156;
/// `UNSORTED_SEGMENT_MIN`
pub const UNSORTED_SEGMENT_MIN: i32 = 157;
/// `SIGN`
pub const SIGN: i32 = 158;
/// `BITCAST`
pub const BITCAST: i32 = 159;
/// `BITWISE_XOR`
pub const BITWISE_XOR: i32 = 160;
/// `RIGHT_SHIFT`
pub const RIGHT_SHIFT: i32 = 161;
/// `STABLEHLO_LOGISTIC`
pub const STABLEHLO_LOGISTIC: i32 = 162;
/// `STABLEHLO_ADD`
pub const STABLEHLO_ADD: i32 = 163;
/// `STABLEHLO_DIVIDE`
pub const STABLEHLO_DIVIDE: i32 = 164;
/// `STABLEHLO_MULTIPLY`
pub const STABLEHLO_MULTIPLY: i32 = 165;
/// `STABLEHLO_MAXIMUM`
pub const STABLEHLO_MAXIMUM: i32 = 166;
/// `STABLEHLO_RESHAPE`
pub const STABLEHLO_RESHAPE: i32 = 167;
/// `STABLEHLO_CLAMP`
pub const STABLEHLO_CLAMP: i32 = 168;
/// `STABLEHLO_CONCATENATE`
pub const STABLEHLO_CONCATENATE: i32 = 169;
/// `STABLEHLO_BROADCAST_IN_DIM`
pub const STABLEHLO_BROADCAST_IN_DIM: i32 = 170;
/// `STABLEHLO_CONVOLUTION`
pub const STABLEHLO_CONVOLUTION: i32 = 171;
/// `STABLEHLO_SLICE`
pub const STABLEHLO_SLICE: i32 = 172;
/// `STABLEHLO_CUSTOM_CALL`
pub const STABLEHLO_CUSTOM_CALL: i32 = 173;
/// `STABLEHLO_REDUCE`
pub const STABLEHLO_REDUCE: i32 = 174;
/// `STABLEHLO_ABS`
pub const STABLEHLO_ABS: i32 = 175;
/// `STABLEHLO_AND`
pub const STABLEHLO_AND: i32 = 176;
/// `STABLEHLO_COSINE`
pub const STABLEHLO_COSINE: i32 = 177;
/// `STABLEHLO_EXPONENTIAL`
pub const STABLEHLO_EXPONENTIAL: i32 = 178;
/// `STABLEHLO_FLOOR`
pub const STABLEHLO_FLOOR: i32 = 179;
/// `STABLEHLO_LOG`
pub const STABLEHLO_LOG: i32 = 180;
/// `STABLEHLO_MINIMUM`
pub const STABLEHLO_MINIMUM: i32 = 181;
/// `STABLEHLO_NEGATE`
pub const STABLEHLO_NEGATE: i32 = 182;
/// `STABLEHLO_OR`
pub const STABLEHLO_OR: i32 = 183;
/// `STABLEHLO_POWER`
pub const STABLEHLO_POWER: i32 = 184;
/// `STABLEHLO_REMAINDER`
pub const STABLEHLO_REMAINDER: i32 = 185;
/// `STABLEHLO_RSQRT`
pub const STABLEHLO_RSQRT: i32 = 186;
/// `STABLEHLO_SELECT`
pub const STABLEHLO_SELECT: i32 = 187;
/// `STABLEHLO_SUBTRACT`
pub const STABLEHLO_SUBTRACT: i32 = 188;
/// `STABLEHLO_TANH`
pub const STABLEHLO_TANH: i32 = 189;
/// `STABLEHLO_SCATTER`
pub const STABLEHLO_SCATTER: i32 = 190;
/// `STABLEHLO_COMPARE`
pub const STABLEHLO_COMPARE: i32 = 191;
/// `STABLEHLO_CONVERT`
pub const STABLEHLO_CONVERT: i32 = 192;
/// `STABLEHLO_DYNAMIC_SLICE`
pub const STABLEHLO_DYNAMIC_SLICE: i32 = 193;
/// `STABLEHLO_DYNAMIC_UPDATE_SLICE`
pub const STABLEHLO_DYNAMIC_UPDATE_SLICE: i32 = 194;
/// `STABLEHLO_PAD`
pub const STABLEHLO_PAD: i32 = 195;
/// `STABLEHLO_IOTA`
pub const STABLEHLO_IOTA: i32 = 196;
/// `STABLEHLO_DOT_GENERAL`
pub const STABLEHLO_DOT_GENERAL: i32 = 197;
/// `STABLEHLO_REDUCE_WINDOW`
pub const STABLEHLO_REDUCE_WINDOW: i32 = 198;
/// `STABLEHLO_SORT`
pub const STABLEHLO_SORT: i32 = 199;
/// `STABLEHLO_WHILE`
pub const STABLEHLO_WHILE: i32 = 200;
/// `STABLEHLO_GATHER`
pub const STABLEHLO_GATHER: i32 = 201;
/// `STABLEHLO_TRANSPOSE`
pub const STABLEHLO_TRANSPOSE: i32 = 202;
/// `DILATE`
pub const DILATE: i32 = 203;
/// `STABLEHLO_RNG_BIT_GENERATOR`
pub const STABLEHLO_RNG_BIT_GENERATOR: i32 = 204;
/// `REDUCE_WINDOW`
pub const REDUCE_WINDOW: i32 = 205;
/// `STABLEHLO_COMPOSITE`
pub const STABLEHLO_COMPOSITE: i32 = 206;
/// `STABLEHLO_SHIFT_LEFT`
pub const STABLEHLO_SHIFT_LEFT: i32 = 207;
/// `STABLEHLO_CBRT`
pub const STABLEHLO_CBRT: i32 = 208;
/// `STABLEHLO_CASE`
pub const STABLEHLO_CASE: i32 = 209;
