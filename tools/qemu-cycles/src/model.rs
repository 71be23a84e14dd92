//! The timing model: a Thumb/Thumb-2 decoder that sorts instructions into timing classes, and
//! the cycles each class costs on Cortex-M3, Cortex-M4 and Cortex-M55.
//!
//! Sources: the Cortex-M4 TRM (ARM DDI 0439B, Table 3-1 "Processor instruction set summary",
//! §3.3 "Load/store timings", Table 7-1 for the FPU), the Cortex-M3 TRM (ARM DDI 0337, Table
//! 3-1), the Cortex-M0+ TRM (ARM DDI 0484C, Table 3-2 "Cortex-M0+ instruction summary", with
//! the single-cycle multiplier) and, for the Cortex-M55, Arm's public description of Helium's beat-wise execution
//! (the M55 is a dual-beat implementation). All figures assume zero wait states.
//!
//! What is static (known when QEMU translates a block) is decided here: the class, the base
//! cost, and the pipelining of a load or store with the instruction before it in the same
//! translation block. What is dynamic is left to the plugin: whether a branch was taken (it
//! then adds [`Cost::taken`]) and the extra cycles of unaligned loads ([`unaligned_penalty`]).

/// Cycles of a pipeline refill after a taken branch, `P` in the TRM tables, which gives a range
/// of 1 to 3 "depending on the alignment and width of the target instruction, and whether the
/// processor manages to speculate the address early". We cannot see either: the middle, 2.
pub const PIPELINE_REFILL: u32 = 2;

/// Cycles of `SDIV`/`UDIV`. The TRMs give 2 to 12 with early termination on the operands'
/// leading zeros or ones, which the plugin cannot see (QEMU 7.2's plugin API has no register
/// access): the middle, 7.
pub const DIVIDE_CYCLES: u32 = 7;

/// The core whose timing applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Core {
    /// Cortex-M3 (ARMv7-M, no DSP extension, no FPU).
    M3,
    /// Cortex-M4 with FPU (ARMv7E-M).
    M4,
    /// Cortex-M55 (ARMv8.1-M with Helium): scalar code timed as on the Cortex-M4, Helium
    /// instructions by beats (see [`cost`]).
    M55,
    /// Cortex-M0+ (ARMv6-M) with the fast (single-cycle) multiplier: its two-stage pipeline
    /// does not overlap loads, and a taken branch refills one stage (see [`cost`]).
    M0Plus,
}

impl Core {
    /// Parses `m0+`, `m3`, `m4` or `m55`.
    pub fn parse(s: &str) -> Option<Core> {
        match s {
            "m0+" | "m0plus" | "cortex-m0+" | "cortex-m0plus" => Some(Core::M0Plus),
            "m3" | "cortex-m3" => Some(Core::M3),
            "m4" | "cortex-m4" => Some(Core::M4),
            "m55" | "cortex-m55" => Some(Core::M55),
            _ => None,
        }
    }
}

/// Timing class of an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Data processing, moves, shifts, extends, bit fields, saturation, SIMD add/sub: 1.
    Alu,
    /// `MOV PC, Rm` or `ADD PC, ...`: 1 + P.
    AluPc,
    /// `NOP` and other hints (`YIELD`, `DBG`, `PLD`...): 1.
    Nop,
    /// `IT`: 1, or 0 when folded onto the 16-bit instruction before it.
    It,
    /// `DMB`, `DSB`, `ISB`: 1 + B with B taken as 0 (no outstanding memory traffic here).
    Barrier,
    /// `B`, `B<c>`, `BL`, `BX`, `BLX`, `CBZ`, `CBNZ`: 1, + P when taken.
    Branch,
    /// A single load (`LDR`, `LDRB`, `LDRH`, `LDRSB`, `LDRSH`, `LDREX`...): 2, or 1 when it
    /// pipelines after a single load whose destination is not one of its address registers.
    Load {
        /// Destination register.
        rt: u8,
        /// Address registers (base and offset) as a bit mask.
        addr: u16,
    },
    /// `LDR PC, ...`: 2 + P.
    LoadPc,
    /// A single store: 1 with an immediate offset (the store completes while the next
    /// instruction executes); 2 with a register offset, or 1 after a single load it
    /// pipelines with.
    Store {
        /// Register-offset addressing.
        reg_offset: bool,
        /// Address registers as a bit mask.
        addr: u16,
    },
    /// `LDRD`: 1 + N with N = 2, i.e. 3.
    LoadDual,
    /// `STRD`: 3.
    StoreDual,
    /// `LDM`, `POP`: 1 + N (+ P when the list holds PC and the load branches).
    LoadMultiple {
        /// Registers loaded.
        n: u8,
        /// The list holds PC.
        pc: bool,
    },
    /// `STM`, `PUSH`: 1 + N.
    StoreMultiple {
        /// Registers stored.
        n: u8,
    },
    /// `TBB`, `TBH`: 2 + P.
    TableBranch,
    /// `MUL`: 1.
    Mul,
    /// `MLA`, `MLS`: 1 on M4, 2 on M3.
    MulAcc,
    /// `SMULL`, `UMULL`: 1 on M4; 3 to 5 on M3 (early termination), taken as 4.
    LongMul,
    /// `SMLAL`, `UMLAL`: 1 on M4; 4 to 7 on M3, taken as 5.
    LongMulAcc,
    /// DSP multiplies (`SMLAD`, `SMUAD`, `SMLABB`, `SMMUL`, `SMLALD`, `UMAAL`, `USADA8`...):
    /// 1 (Cortex-M4 Table 3-1; the M3 has none).
    Dsp,
    /// `SDIV`, `UDIV`: [`DIVIDE_CYCLES`].
    Div,
    /// `VLDR`: 2 (.F32, 1 when pipelined after a load) or 3 (.F64).
    FpLoad {
        /// Words transferred (1 or 2).
        words: u8,
    },
    /// `VSTR`: 2 (.F32) or 3 (.F64).
    FpStore {
        /// Words transferred (1 or 2).
        words: u8,
    },
    /// `VLDM`, `VPOP`, `VSTM`, `VPUSH`: 1 + N words.
    FpMultiple {
        /// Words transferred.
        n: u8,
    },
    /// FPU arithmetic, compares, conversions and moves: 1.
    FpAlu,
    /// `VMLA`, `VMLS`, `VNMLA`, `VNMLS`, `VFMA`, `VFMS`, `VFNMA`, `VFNMS`: 3.
    FpMac,
    /// `VDIV`, `VSQRT`: 14.
    FpDivSqrt,
    /// Helium load or store (`VLDRB/H/W`, `VSTRB/H/W`, gathers, scatters, `VLD2x`...).
    MveMem,
    /// Helium data processing (`VMLADAV`, `VADD`, `VMOV`...).
    MveAlu,
    /// Low-overhead-branch instructions (`WLS`, `DLS`, `LE`, `LETP`, `LCTP`, `BF`): 1, and
    /// no refill when they branch (the loop is assumed to be held by the M55's loop cache).
    LowOverheadBranch,
    /// `SVC`, `BKPT`, `UDF`, system instructions, unknown encodings: 1.
    Other,
}

/// Names of the classes, indexed by [`Class::index`] (for statistics).
pub const CLASS_NAMES: [&str; 31] = [
    "alu",
    "alu-pc",
    "nop",
    "it",
    "barrier",
    "branch",
    "load",
    "load-pc",
    "store",
    "load-dual",
    "store-dual",
    "load-multiple",
    "store-multiple",
    "table-branch",
    "mul",
    "mul-acc",
    "long-mul",
    "long-mul-acc",
    "dsp",
    "div",
    "fp-load",
    "fp-store",
    "fp-multiple",
    "fp-alu",
    "fp-mac",
    "fp-div-sqrt",
    "mve-mem",
    "mve-alu",
    "low-overhead-branch",
    "other",
    "unused",
];

impl Class {
    /// Index of the class in [`CLASS_NAMES`].
    pub fn index(&self) -> usize {
        match self {
            Class::Alu => 0,
            Class::AluPc => 1,
            Class::Nop => 2,
            Class::It => 3,
            Class::Barrier => 4,
            Class::Branch => 5,
            Class::Load { .. } => 6,
            Class::LoadPc => 7,
            Class::Store { .. } => 8,
            Class::LoadDual => 9,
            Class::StoreDual => 10,
            Class::LoadMultiple { .. } => 11,
            Class::StoreMultiple { .. } => 12,
            Class::TableBranch => 13,
            Class::Mul => 14,
            Class::MulAcc => 15,
            Class::LongMul => 16,
            Class::LongMulAcc => 17,
            Class::Dsp => 18,
            Class::Div => 19,
            Class::FpLoad { .. } => 20,
            Class::FpStore { .. } => 21,
            Class::FpMultiple { .. } => 22,
            Class::FpAlu => 23,
            Class::FpMac => 24,
            Class::FpDivSqrt => 25,
            Class::MveMem => 26,
            Class::MveAlu => 27,
            Class::LowOverheadBranch => 28,
            Class::Other => 29,
        }
    }
}

/// A decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Timing class.
    pub class: Class,
    /// Size in bytes (2 or 4).
    pub size: u8,
}

/// The cost of one execution of an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Cycles it always takes.
    pub base: u32,
    /// Cycles added when it changes the flow of control (a taken branch's pipeline refill).
    pub taken: u32,
}

const fn bit(r: u16) -> u16 {
    1 << (r & 15)
}

/// Decodes the instruction at the start of `bytes` (little-endian Thumb halfwords, as QEMU
/// reports them). Fewer than two bytes, or a 32-bit prefix without its second halfword,
/// decodes as [`Class::Other`].
pub fn decode(bytes: &[u8]) -> Insn {
    let hw = |i: usize| -> Option<u16> {
        Some(u16::from_le_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]))
    };
    let Some(hw1) = hw(0) else {
        return Insn {
            class: Class::Other,
            size: bytes.len() as u8,
        };
    };
    // 0b11101, 0b11110 and 0b11111 in the top five bits start a 32-bit instruction.
    if hw1 >> 11 >= 0b11101 {
        let class = hw(2).map_or(Class::Other, |hw2| decode32(hw1, hw2));
        Insn { class, size: 4 }
    } else {
        Insn {
            class: decode16(hw1),
            size: 2,
        }
    }
}

fn decode16(hw: u16) -> Class {
    let low3 = |shift: u16| (hw >> shift) & 7;
    match hw >> 11 {
        // Shift by immediate, add/subtract register or imm3, MOV/CMP/ADD/SUB imm8.
        0b00000..=0b00111 => Class::Alu,
        0b01000 => {
            if hw & 0xFC00 == 0x4000 {
                // Data processing on low registers; MULS is 0100 0011 01.
                if hw & 0xFFC0 == 0x4340 {
                    Class::Mul
                } else {
                    Class::Alu
                }
            } else {
                // Special data processing and branch-exchange.
                match (hw >> 8) & 3 {
                    3 => Class::Branch, // BX, BLX
                    1 => Class::Alu,    // CMP high registers
                    _ => {
                        // ADD or MOV with high registers: Rd = D:Rdn.
                        let rd = ((hw >> 4) & 8) | (hw & 7);
                        if rd == 15 {
                            Class::AluPc
                        } else {
                            Class::Alu
                        }
                    }
                }
            }
        }
        // LDR (literal): the base is PC, which no load writes without branching.
        0b01001 => Class::Load {
            rt: low3(8) as u8,
            addr: 0,
        },
        // Load/store with register offset.
        0b01010 | 0b01011 => {
            let addr = bit(low3(3)) | bit(low3(6));
            if low3(9) < 3 {
                Class::Store {
                    reg_offset: true,
                    addr,
                }
            } else {
                Class::Load {
                    rt: low3(0) as u8,
                    addr,
                }
            }
        }
        // Load/store word, byte (0110x, 0111x) or halfword (1000x) with immediate offset.
        0b01100..=0b10001 => {
            let addr = bit(low3(3));
            if hw & 0x0800 != 0 {
                Class::Load {
                    rt: low3(0) as u8,
                    addr,
                }
            } else {
                Class::Store {
                    reg_offset: false,
                    addr,
                }
            }
        }
        // Load/store SP-relative.
        0b10010 | 0b10011 => {
            if hw & 0x0800 != 0 {
                Class::Load {
                    rt: low3(8) as u8,
                    addr: bit(13),
                }
            } else {
                Class::Store {
                    reg_offset: false,
                    addr: bit(13),
                }
            }
        }
        // ADR, ADD Rd, SP, #imm.
        0b10100 | 0b10101 => Class::Alu,
        // Miscellaneous.
        0b10110 | 0b10111 => {
            let regs = (hw & 0xFF).count_ones() as u8;
            let extra = ((hw >> 8) & 1) as u8; // LR for PUSH, PC for POP
            match (hw >> 8) & 0xF {
                0x1 | 0x3 | 0x9 | 0xB => Class::Branch, // CBZ, CBNZ
                0x4 | 0x5 => Class::StoreMultiple { n: regs + extra },
                0xC | 0xD => Class::LoadMultiple {
                    n: regs + extra,
                    pc: extra == 1,
                },
                0xE => Class::Other, // BKPT
                0xF => {
                    if hw & 0xF == 0 {
                        Class::Nop // NOP, YIELD, WFE, WFI, SEV
                    } else {
                        Class::It
                    }
                }
                0x6 => Class::Other, // CPS
                _ => Class::Alu,     // ADD/SUB SP, SXTH/SXTB/UXTH/UXTB, REV*
            }
        }
        0b11000 => Class::StoreMultiple {
            n: (hw & 0xFF).count_ones() as u8,
        },
        0b11001 => Class::LoadMultiple {
            n: (hw & 0xFF).count_ones() as u8,
            pc: false,
        },
        0b11010 | 0b11011 => match (hw >> 8) & 0xF {
            0xE | 0xF => Class::Other, // UDF, SVC
            _ => Class::Branch,        // B<c>
        },
        0b11100 => Class::Branch, // B
        _ => Class::Other,
    }
}

fn decode32(hw1: u16, hw2: u16) -> Class {
    let rn = hw1 & 0xF;
    let rt = (hw2 >> 12) as u8;
    match hw1 >> 11 {
        0b11101 => match (hw1 >> 9) & 3 {
            0b00 => {
                if hw1 & 0x0040 == 0 {
                    // Load/store multiple: op (bits 8:7) 01 is IA, 10 is DB; 00/11 SRS, RFE.
                    let op = (hw1 >> 7) & 3;
                    let n = hw2.count_ones() as u8;
                    match (op, hw1 & 0x0010 != 0) {
                        (1 | 2, true) => Class::LoadMultiple {
                            n,
                            pc: hw2 & 0x8000 != 0,
                        },
                        (1 | 2, false) => Class::StoreMultiple { n },
                        _ => Class::Other,
                    }
                } else if hw1 & 0x0120 != 0 {
                    // P or W set: LDRD/STRD (immediate).
                    if hw1 & 0x0010 != 0 {
                        Class::LoadDual
                    } else {
                        Class::StoreDual
                    }
                } else if hw1 & 0xFFF0 == 0xE8D0 && hw2 & 0xFFE0 == 0xF000 {
                    Class::TableBranch
                } else if hw1 & 0x0010 != 0 {
                    // LDREX, LDREXB, LDREXH.
                    Class::Load { rt, addr: bit(rn) }
                } else {
                    // STREX, STREXB, STREXH.
                    Class::Store {
                        reg_offset: false,
                        addr: bit(rn),
                    }
                }
            }
            0b01 => Class::Alu, // data processing (shifted register)
            _ => coprocessor(hw1, hw2),
        },
        0b11110 => {
            if hw2 & 0x8000 == 0 {
                return Class::Alu; // data processing (modified or plain immediate)
            }
            // Branches and miscellaneous control: hw2 bits 14 and 12.
            match (hw2 >> 12) & 5 {
                0 => {
                    if (hw1 >> 7) & 7 == 7 {
                        match hw1 & 0xFFF0 {
                            0xF3A0 => Class::Nop,     // hints (NOP.W, DBG, ...)
                            0xF3B0 => Class::Barrier, // DSB, DMB, ISB (and CLREX)
                            _ => Class::Alu,          // MSR, MRS
                        }
                    } else {
                        Class::Branch // B<c>.W
                    }
                }
                1 | 5 => Class::Branch,        // B.W, BL
                _ => Class::LowOverheadBranch, // BLX (imm) slot: ARMv8.1-M loop instructions
            }
        }
        _ => {
            if hw1 & 0x0E00 == 0x0800 {
                // Load/store single (1111 100x): bit 4 is L, bits 6:5 the size.
                let reg_offset = hw1 & 0x0080 == 0 && hw2 & 0x0FC0 == 0 && rn != 15;
                let mut addr = if rn == 15 { 0 } else { bit(rn) };
                if reg_offset {
                    addr |= bit(hw2 & 0xF);
                }
                if hw1 & 0x0010 != 0 {
                    if rt == 15 {
                        if (hw1 >> 5) & 3 == 2 {
                            Class::LoadPc
                        } else {
                            Class::Nop // PLD, PLI
                        }
                    } else {
                        Class::Load { rt, addr }
                    }
                } else {
                    Class::Store { reg_offset, addr }
                }
            } else if hw1 & 0x0F00 == 0x0A00 {
                Class::Alu // data processing (register), parallel add/sub, CLZ, REV, SEL
            } else if hw1 & 0x0F80 == 0x0B00 {
                let op1 = (hw1 >> 4) & 7;
                let op2 = (hw2 >> 4) & 3;
                match (op1, op2) {
                    (0, 0) if rt == 15 => Class::Mul,
                    (0, 0 | 1) => Class::MulAcc, // MLA, MLS
                    _ => Class::Dsp,
                }
            } else if hw1 & 0x0F80 == 0x0B80 {
                let op1 = (hw1 >> 4) & 7;
                let op2 = (hw2 >> 4) & 0xF;
                match (op1, op2) {
                    (1 | 3, 0xF) => Class::Div,
                    (0 | 2, _) => Class::LongMul,
                    (4 | 6, 0) => Class::LongMulAcc,
                    _ => Class::Dsp, // SMLALxy, SMLALD, SMLSLD, UMAAL
                }
            } else if hw1 & 0x0C00 == 0x0C00 {
                coprocessor(hw1, hw2)
            } else {
                Class::Other
            }
        }
    }
}

/// Coprocessor, floating-point and Helium space (111x 11xx): the coprocessor field tells FP
/// (0b101x) from Helium (0b111x).
fn coprocessor(hw1: u16, hw2: u16) -> Class {
    let cp = (hw2 >> 8) & 0xF;
    let fp = cp & 0xE == 0xA;
    let mve = cp & 0xE == 0xE;
    if hw1 & 0x0F00 == 0x0F00 {
        return Class::MveAlu; // 111x 1111: vector data processing
    }
    if hw1 & 0x0E00 == 0x0C00 {
        // Loads, stores and 64-bit transfers.
        if mve {
            return Class::MveMem;
        }
        if !fp {
            return Class::Other;
        }
        if hw1 & 0x0FE0 == 0x0C40 {
            return Class::FpAlu; // VMOV between two core registers and a D or two S registers
        }
        let (p, w, l) = (hw1 & 0x0100 != 0, hw1 & 0x0020 != 0, hw1 & 0x0010 != 0);
        if p && !w {
            let words = if cp == 0xB { 2 } else { 1 };
            return if l {
                Class::FpLoad { words }
            } else {
                Class::FpStore { words }
            };
        }
        return Class::FpMultiple {
            n: (hw2 & 0xFF) as u8,
        };
    }
    if mve {
        return Class::MveAlu;
    }
    if !fp {
        return Class::Other;
    }
    if hw2 & 0x0010 != 0 {
        return Class::FpAlu; // VMOV core <-> S, VMRS, VMSR
    }
    // opc1 is bits 7:4 of hw1 without D (bit 6).
    match (hw1 >> 4) & 0xB {
        0b0000 | 0b0001 | 0b1001 | 0b1010 => Class::FpMac,
        0b1000 => Class::FpDivSqrt,
        0b1011 if hw1 & 0xF == 1 && hw2 & 0x00C0 == 0x00C0 => Class::FpDivSqrt, // VSQRT
        _ => Class::FpAlu,
    }
}

/// The cost of `insn` on `core` when `prev` is the instruction executed just before it, if
/// known (the one before it in the same translation block; `None` at a block's start, which
/// follows a branch or a block split: no pipelining is assumed there).
pub fn cost(core: Core, insn: &Insn, prev: Option<&Insn>) -> Cost {
    if core == Core::M0Plus {
        return cost_m0plus(insn);
    }
    let p = PIPELINE_REFILL;
    let m3 = core == Core::M3;
    // A single load before this one, and the register it wrote (none for VLDR).
    let prev_load = match prev.map(|i| i.class) {
        Some(Class::Load { rt, .. }) => Some(bit(u16::from(rt))),
        Some(Class::FpLoad { words: 1 }) => Some(0),
        _ => None,
    };
    // §3.3.1: a load or store pipelines after a single load unless that load's destination is
    // one of its address registers.
    let pipelines = |addr: u16| prev_load.is_some_and(|rt| rt & addr == 0);
    let (base, taken) = match insn.class {
        Class::Alu | Class::Nop | Class::Barrier | Class::Other | Class::Mul => (1, 0),
        Class::AluPc | Class::Branch => (1, p),
        Class::It => {
            // "IT instructions can be folded onto a preceding 16-bit Thumb instruction".
            let folds = prev.is_some_and(|i| {
                i.size == 2 && !matches!(i.class, Class::It | Class::Branch | Class::AluPc)
            });
            (u32::from(!folds), 0)
        }
        Class::Load { addr, .. } => (if pipelines(addr) { 1 } else { 2 }, 0),
        Class::LoadPc => (2, p),
        Class::Store {
            reg_offset: false, ..
        } => (1, 0),
        Class::Store {
            reg_offset: true,
            addr,
        } => (if pipelines(addr) { 1 } else { 2 }, 0),
        Class::LoadDual | Class::StoreDual => (3, 0),
        Class::LoadMultiple { n, pc } => (1 + u32::from(n), if pc { p } else { 0 }),
        Class::StoreMultiple { n } => (1 + u32::from(n), 0),
        Class::TableBranch => (2, p),
        Class::MulAcc => (if m3 { 2 } else { 1 }, 0),
        Class::LongMul => (if m3 { 4 } else { 1 }, 0),
        Class::LongMulAcc => (if m3 { 5 } else { 1 }, 0),
        Class::Dsp => (1, 0),
        Class::Div => (DIVIDE_CYCLES, 0),
        Class::FpLoad { words: 1 } => (if pipelines(0) { 1 } else { 2 }, 0),
        Class::FpLoad { words } | Class::FpStore { words } => (1 + u32::from(words), 0),
        Class::FpMultiple { n } => (1 + u32::from(n), 0),
        Class::FpAlu => (1, 0),
        Class::FpMac => (3, 0),
        Class::FpDivSqrt => (14, 0),
        Class::MveMem | Class::MveAlu => {
            // Dual-beat Helium: a 128-bit instruction is four 32-bit beats, two a cycle. A
            // memory instruction and an arithmetic one overlap (the second's first beats run
            // with the first's last), so after one of the other kind it costs one cycle.
            let mem = insn.class == Class::MveMem;
            let overlaps = match prev.map(|i| i.class) {
                Some(Class::MveMem) => !mem,
                Some(Class::MveAlu) => mem,
                _ => false,
            };
            (if overlaps { 1 } else { 2 }, 0)
        }
        Class::LowOverheadBranch => (1, 0),
    };
    Cost { base, taken }
}

/// The Cortex-M0+ TRM's Table 3-2 (ARMv6-M; zero wait states, the single-cycle multiplier):
/// data processing and `MULS` 1; every load and store 2 (no pipelining between loads);
/// `LDM`/`STM`/`PUSH`/`POP` 1 + N, `POP` with PC 3 + N; a branch 1 not taken and 2 taken
/// (one refill cycle), `BL` 3 (the only 32-bit branch in ARMv6-M), `BX`/`BLX` 2; `MOV PC`
/// and `ADD PC` 2; barriers (`DMB`, `DSB`, `ISB`) 3. ARMv6-M has none of the other classes
/// (long multiplies, `IT`, `LDRD`, table branches, division, FPU, DSP); should a decoder
/// class without an ARMv6-M encoding occur it is priced as on the Cortex-M3 with a refill of
/// one cycle.
fn cost_m0plus(insn: &Insn) -> Cost {
    let (base, taken) = match insn.class {
        Class::Alu | Class::Nop | Class::Other | Class::Mul | Class::It => (1, 0),
        Class::Barrier => (3, 0),
        // BL (32-bit) always branches: 3 cycles, priced in full whether or not the plugin sees
        // a jump (a BL to the next instruction does not look taken).
        Class::Branch if insn.size == 4 => (3, 0),
        Class::Branch | Class::AluPc => (1, 1),
        Class::Load { .. } | Class::Store { .. } => (2, 0),
        Class::LoadPc => (2, 1),
        Class::LoadMultiple { n, pc } => (1 + u32::from(n), if pc { 2 } else { 0 }),
        Class::StoreMultiple { n } => (1 + u32::from(n), 0),
        Class::LoadDual | Class::StoreDual => (3, 0),
        Class::TableBranch => (2, 1),
        Class::MulAcc => (2, 0),
        Class::LongMul => (4, 0),
        Class::LongMulAcc => (5, 0),
        Class::Div => (DIVIDE_CYCLES, 0),
        Class::Dsp
        | Class::FpLoad { .. }
        | Class::FpStore { .. }
        | Class::FpMultiple { .. }
        | Class::FpAlu
        | Class::FpMac
        | Class::FpDivSqrt
        | Class::MveMem
        | Class::MveAlu
        | Class::LowOverheadBranch => (1, 0),
    };
    Cost { base, taken }
}

/// Extra cycles of a load of `1 << size_shift` bytes at `addr` (§3.3.1): a byte-aligned
/// halfword or a halfword-aligned word adds 1, a byte-aligned word adds 2. Stores add none
/// (they drain through the write buffer).
pub fn unaligned_penalty(addr: u64, size_shift: u32) -> u32 {
    match size_shift {
        1 => (addr & 1) as u32,
        2 => match addr & 3 {
            0 => 0,
            2 => 1,
            _ => 2,
        },
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d16(hw: u16) -> Insn {
        decode(&hw.to_le_bytes())
    }

    fn d32(hw1: u16, hw2: u16) -> Insn {
        let mut b = hw1.to_le_bytes().to_vec();
        b.extend_from_slice(&hw2.to_le_bytes());
        decode(&b)
    }

    fn m4(insn: Insn, prev: Option<Insn>) -> Cost {
        cost(Core::M4, &insn, prev.as_ref())
    }

    // Encodings below were checked with `llvm-mc --triple=thumbv7em -show-encoding`.

    #[test]
    fn decodes_16_bit() {
        assert_eq!(
            d16(0x6828).class,
            Class::Load {
                rt: 0,
                addr: 1 << 5
            }
        ); // ldr r0, [r5]
        assert_eq!(
            d16(0x5948).class,
            Class::Load {
                rt: 0,
                addr: 0b10_0010
            }
        ); // ldr r0, [r1, r5]
        assert_eq!(d16(0x4801).class, Class::Load { rt: 0, addr: 0 }); // ldr r0, [pc, #4]
        assert_eq!(
            d16(0x9801).class,
            Class::Load {
                rt: 0,
                addr: 1 << 13
            }
        ); // ldr r0, [sp, #4]
        assert_eq!(
            d16(0x6028).class, // str r0, [r5]
            Class::Store {
                reg_offset: false,
                addr: 1 << 5
            }
        );
        assert_eq!(d16(0xCD0F).class, Class::LoadMultiple { n: 4, pc: false }); // ldm r5!, {r0-r3}
        assert_eq!(d16(0xB5F0).class, Class::StoreMultiple { n: 5 }); // push {r4-r7, lr}
        assert_eq!(d16(0xBDF0).class, Class::LoadMultiple { n: 5, pc: true }); // pop {r4-r7, pc}
        assert_eq!(d16(0xD1FD).class, Class::Branch); // bne
        assert_eq!(d16(0xE7FE).class, Class::Branch); // b
        assert_eq!(d16(0x4770).class, Class::Branch); // bx lr
        assert_eq!(d16(0xB108).class, Class::Branch); // cbz r0, +2
        assert_eq!(d16(0x4687).class, Class::AluPc); // mov pc, r0
        assert_eq!(d16(0x4348).class, Class::Mul); // muls r0, r1, r0
        assert_eq!(d16(0xBF08).class, Class::It); // it eq
        assert_eq!(d16(0xBF00).class, Class::Nop); // nop
        assert_eq!(d16(0x3801).class, Class::Alu); // subs r0, #1
        assert_eq!(d16(0xBEAB).class, Class::Other); // bkpt 0xab
        assert_eq!(d16(0xDF00).class, Class::Other); // svc 0
    }

    #[test]
    fn decodes_32_bit() {
        assert_eq!(
            d32(0xF8D5, 0x0004).class,
            Class::Load {
                rt: 0,
                addr: 1 << 5
            }
        ); // ldr.w r0, [r5, #4]
        assert_eq!(
            d32(0xF851, 0x0022).class,
            Class::Load { rt: 0, addr: 0b110 }
        ); // ldr.w r0, [r1, r2, lsl #2]
        assert_eq!(
            d32(0xF915, 0x0C01).class,
            Class::Load {
                rt: 0,
                addr: 1 << 5
            }
        ); // ldrsb r0, [r5, #-1]
        assert_eq!(d32(0xF85D, 0xFB04).class, Class::LoadPc); // ldr pc, [sp], #4
        assert_eq!(
            d32(0xF845, 0x0021).class, // str.w r0, [r5, r1, lsl #2]
            Class::Store {
                reg_offset: true,
                addr: 0b10_0010
            }
        );
        assert_eq!(d32(0xE9D5, 0x0100).class, Class::LoadDual); // ldrd r0, r1, [r5]
        assert_eq!(d32(0xE9C5, 0x0100).class, Class::StoreDual); // strd r0, r1, [r5]
        assert_eq!(
            d32(0xE895, 0x00FF).class,
            Class::LoadMultiple { n: 8, pc: false }
        ); // ldm.w r5, {r0-r7}
        assert_eq!(
            d32(0xE8BD, 0x8FF0).class,
            Class::LoadMultiple { n: 9, pc: true }
        ); // pop.w {r4-r11, pc}
        assert_eq!(d32(0xE92D, 0x4FF0).class, Class::StoreMultiple { n: 9 }); // push.w {r4-r11, lr}
        assert_eq!(d32(0xE8DF, 0xF000).class, Class::TableBranch); // tbb [pc, r0]
        assert_eq!(d32(0xFB00, 0xF001).class, Class::Mul); // mul.w r0, r0, r1
        assert_eq!(d32(0xFB00, 0x2001).class, Class::MulAcc); // mla r0, r0, r1, r2
        assert_eq!(d32(0xFB00, 0x2011).class, Class::MulAcc); // mls r0, r0, r1, r2
        assert_eq!(d32(0xFB20, 0x2001).class, Class::Dsp); // smlad r0, r0, r1, r2
        assert_eq!(d32(0xFB81, 0x0102).class, Class::LongMul); // smull r0, r1, r1, r2
        assert_eq!(d32(0xFBC2, 0x0103).class, Class::LongMulAcc); // smlal r0, r1, r2, r3
        assert_eq!(d32(0xFBB0, 0xF0F1).class, Class::Div); // udiv r0, r0, r1
        assert_eq!(d32(0xFB90, 0xF0F1).class, Class::Div); // sdiv r0, r0, r1
        assert_eq!(d32(0xF000, 0xF800).class, Class::Branch); // bl
        assert_eq!(d32(0xF47F, 0xAFFE).class, Class::Branch); // bne.w
        assert_eq!(d32(0xF3AF, 0x8000).class, Class::Nop); // nop.w
        assert_eq!(d32(0xF3BF, 0x8F5F).class, Class::Barrier); // dmb sy
        assert_eq!(d32(0xF240, 0x0504).class, Class::Alu); // movw r5, #4
        assert_eq!(d32(0xEA40, 0x0001).class, Class::Alu); // orr.w r0, r0, r1
        assert_eq!(d32(0xFA82, 0xF011).class, Class::Alu); // qadd8 r0, r2, r1
        assert_eq!(d32(0xF300, 0x0007).class, Class::Alu); // ssat r0, #8, r0
        assert_eq!(d32(0xED95, 0x0A00).class, Class::FpLoad { words: 1 }); // vldr s0, [r5]
        assert_eq!(d32(0xED85, 0x0A00).class, Class::FpStore { words: 1 }); // vstr s0, [r5]
        assert_eq!(d32(0xECB5, 0x0A04).class, Class::FpMultiple { n: 4 }); // vldmia r5!, {s0-s3}
        assert_eq!(d32(0xEE20, 0x0A20).class, Class::FpAlu); // vmul.f32 s0, s0, s1
        assert_eq!(d32(0xEE00, 0x0A20).class, Class::FpMac); // vmla.f32 s0, s0, s1
        assert_eq!(d32(0xEEA0, 0x0A20).class, Class::FpMac); // vfma.f32 s0, s0, s1
        assert_eq!(d32(0xEE80, 0x0A20).class, Class::FpDivSqrt); // vdiv.f32 s0, s0, s1
        assert_eq!(d32(0xEEB1, 0x0AC0).class, Class::FpDivSqrt); // vsqrt.f32 s0, s0
        assert_eq!(d32(0xEE10, 0x0A10).class, Class::FpAlu); // vmov r0, s0
        assert_eq!(d32(0xED95, 0x1E00).class, Class::MveMem); // vldrb.u8 q0, [r5]
        assert_eq!(d32(0xEEF0, 0x0F00).class, Class::MveAlu); // vmlav.s8 r0, q0, q0
        assert_eq!(d32(0xEF00, 0x0840).class, Class::MveAlu); // vadd.i8 q0, q0, q0
        assert_eq!(d32(0xF00F, 0xC001).class, Class::LowOverheadBranch); // le lr, ...
        assert_eq!(d32(0xF040, 0xE001).class, Class::LowOverheadBranch); // dls lr, r0
    }

    #[test]
    fn loads_pipeline_as_in_trm_3_3_1() {
        let ldr_r0_r1_r5 = d16(0x5848); // ldr r0, [r1, r5]
        let ldr_r1_r2 = d16(0x6811); // ldr r1, [r2]
        let ldr_r2_r4 = d16(0x6822); // ldr r2, [r4]
                                     // "LDR R0,[R1,R5]; LDR R1,[R2]; LDR R2,[R4] - normally four cycles total."
        let total = m4(ldr_r0_r1_r5, None).base
            + m4(ldr_r1_r2, Some(ldr_r0_r1_r5)).base
            + m4(ldr_r2_r4, Some(ldr_r1_r2)).base;
        assert_eq!(total, 4);
        // A load whose base is the previous load's destination waits: 2 + 2.
        let ldr_r1_r0 = d16(0x6801); // ldr r1, [r0]
        assert_eq!(m4(ldr_r1_r0, Some(ldr_r0_r1_r5)).base, 2);
        // "LDR R0,[R1,R2]; STR R0,[R3,#20] - normally three cycles total" (the store pipelines
        // and writes out what the load read; an immediate-offset store is always one cycle).
        let ldr = d16(0x5888); // ldr r0, [r1, r2]
        let str_imm = d16(0x6158); // str r0, [r3, #20]
        assert_eq!(m4(ldr, None).base + m4(str_imm, Some(ldr)).base, 3);
        // "LDR R0,[R1,R2]; STR R1,[R3,R2] - normally three cycles total."
        let str_reg = d16(0x5099); // str r1, [r3, r2]
        assert_eq!(m4(ldr, None).base + m4(str_reg, Some(ldr)).base, 3);
        // Nothing pipelines after a store: a register-offset store alone is 2.
        assert_eq!(m4(str_reg, Some(str_imm)).base, 2);
        assert_eq!(m4(ldr, Some(str_imm)).base, 2);
    }

    #[test]
    fn costs_match_table_3_1() {
        assert_eq!(m4(d16(0xCD0F), None), Cost { base: 5, taken: 0 }); // ldm {r0-r3}: 1+N
        assert_eq!(m4(d16(0xBDF0), None), Cost { base: 6, taken: 2 }); // pop {.., pc}: 1+N+P
        assert_eq!(m4(d16(0xB5F0), None), Cost { base: 6, taken: 0 }); // push 5 regs
        assert_eq!(m4(d32(0xE9D5, 0x0100), None).base, 3); // ldrd
        assert_eq!(m4(d32(0xFB20, 0x2001), None).base, 1); // smlad
        assert_eq!(m4(d32(0xFBC2, 0x0103), None).base, 1); // smlal
        assert_eq!(m4(d32(0xFB00, 0x2001), None).base, 1); // mla
        assert_eq!(m4(d32(0xFBB0, 0xF0F1), None).base, DIVIDE_CYCLES);
        assert_eq!(m4(d16(0xD1FD), None), Cost { base: 1, taken: 2 }); // bne: 1 or 1+P
        assert_eq!(m4(d32(0xF85D, 0xFB04), None), Cost { base: 2, taken: 2 }); // ldr pc
        assert_eq!(m4(d32(0xEE00, 0x0A20), None).base, 3); // vmla.f32
        assert_eq!(m4(d32(0xEE80, 0x0A20), None).base, 14); // vdiv.f32
                                                            // IT folds onto a 16-bit instruction, not onto a 32-bit one.
        assert_eq!(m4(d16(0xBF08), Some(d16(0x2800))).base, 0); // cmp r0, #0; it eq
        assert_eq!(m4(d16(0xBF08), Some(d32(0xF1B0, 0x0F00))).base, 1); // cmp.w; it eq
    }

    #[test]
    fn m3_multiplies_are_slower() {
        let m3 = |i: Insn| cost(Core::M3, &i, None).base;
        assert_eq!(m3(d32(0xFB00, 0x2001)), 2); // mla
        assert_eq!(m3(d32(0xFB81, 0x0102)), 4); // smull
        assert_eq!(m3(d32(0xFBC2, 0x0103)), 5); // smlal
        assert_eq!(m3(d16(0x4348)), 1); // muls
    }

    #[test]
    fn m0plus_follows_its_table() {
        let m0 = |i: Insn, p: Option<Insn>| cost(Core::M0Plus, &i, p.as_ref());
        // No pipelining: a load after a load is still 2.
        let ldr = d16(0x6828); // ldr r0, [r5]
        assert_eq!(m0(ldr, Some(ldr)), Cost { base: 2, taken: 0 });
        assert_eq!(m0(d16(0x6158), None).base, 2); // str r0, [r3, #20]
        assert_eq!(m0(d16(0x5C88), None).base, 2); // ldrb r0, [r1, r2]
        assert_eq!(m0(d16(0x4348), None).base, 1); // muls (single-cycle multiplier)
        assert_eq!(m0(d16(0xD1FD), None), Cost { base: 1, taken: 1 }); // bne: 1 or 2
        assert_eq!(m0(d32(0xF000, 0xF800), None), Cost { base: 3, taken: 0 }); // bl: 3
        assert_eq!(m0(d16(0x4770), None), Cost { base: 1, taken: 1 }); // bx lr: 2
        assert_eq!(m0(d16(0xCD0F), None).base, 5); // ldm {r0-r3}: 1+N
        assert_eq!(m0(d16(0xBDF0), None), Cost { base: 6, taken: 2 }); // pop {.., pc}: 3+N
        assert_eq!(m0(d16(0xB5F0), None).base, 6); // push 5 regs: 1+N
    }

    #[test]
    fn helium_overlaps_memory_and_arithmetic() {
        let vldr = d32(0xED95, 0x1E00);
        let vadd = d32(0xEF00, 0x0840);
        let m55 = |i: Insn, p: Option<Insn>| cost(Core::M55, &i, p.as_ref()).base;
        assert_eq!(m55(vldr, None), 2);
        assert_eq!(m55(vadd, Some(vldr)), 1);
        assert_eq!(m55(vadd, Some(vadd)), 2);
        assert_eq!(m55(vldr, Some(vadd)), 1);
    }

    #[test]
    fn class_names_match_indices() {
        assert_eq!(CLASS_NAMES[Class::Load { rt: 0, addr: 0 }.index()], "load");
        assert_eq!(CLASS_NAMES[Class::Other.index()], "other");
        assert_eq!(CLASS_NAMES[Class::MveAlu.index()], "mve-alu");
    }

    #[test]
    fn unaligned_loads_cost_extra() {
        assert_eq!(unaligned_penalty(0x2000_0000, 2), 0);
        assert_eq!(unaligned_penalty(0x2000_0002, 2), 1);
        assert_eq!(unaligned_penalty(0x2000_0001, 2), 2);
        assert_eq!(unaligned_penalty(0x2000_0001, 1), 1);
        assert_eq!(unaligned_penalty(0x2000_0001, 0), 0);
    }
}
