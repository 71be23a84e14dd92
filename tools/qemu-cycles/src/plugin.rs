//! The QEMU side: our own declarations of the QEMU 7.2 plugin API (version 1), the
//! translation-time classification and the run-time counters.
//!
//! Counting: every instruction adds its base cost to `CYCLES` and 1 to `INSNS` with inline
//! ops (cheap, and exact even when QEMU stops a block early: each fires as its instruction
//! starts). Instructions that may branch record their fall-through address when they execute;
//! the next block to start checks it, and if execution did not fall through, the branch was
//! taken and its refill is added. Every instruction gets a load callback: loads from flash are
//! counted, unaligned loads pay their penalty, and loads from the marker address write a line.

use crate::model::{self, Core};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

type PluginId = u64;

/// `qemu_info_t` of QEMU 7.2 (`include/qemu/qemu-plugin.h`): what QEMU tells a plugin at install.
#[repr(C)]
pub struct QemuInfo {
    target_name: *const c_char,
    version_min: c_int,
    version_cur: c_int,
    system_emulation: bool,
    smp_vcpus: c_int,
    max_vcpus: c_int,
}

/// Opaque `struct qemu_plugin_tb`.
#[repr(C)]
struct Tb {
    _private: [u8; 0],
}

/// Opaque `struct qemu_plugin_insn`.
#[repr(C)]
struct QInsn {
    _private: [u8; 0],
}

/// `QEMU_PLUGIN_CB_NO_REGS`.
const CB_NO_REGS: c_int = 0;
/// `QEMU_PLUGIN_MEM_RW`.
const MEM_RW: c_int = 3;
/// `QEMU_PLUGIN_INLINE_ADD_U64`.
const INLINE_ADD_U64: c_int = 0;

type VcpuUdataCb = extern "C" fn(c_uint, *mut c_void);
type MemCb = extern "C" fn(c_uint, u32, u64, *mut c_void);

extern "C" {
    fn qemu_plugin_register_vcpu_tb_trans_cb(id: PluginId, cb: extern "C" fn(PluginId, *mut Tb));
    fn qemu_plugin_register_vcpu_tb_exec_cb(
        tb: *mut Tb,
        cb: VcpuUdataCb,
        flags: c_int,
        udata: *mut c_void,
    );
    fn qemu_plugin_register_vcpu_insn_exec_cb(
        insn: *mut QInsn,
        cb: VcpuUdataCb,
        flags: c_int,
        udata: *mut c_void,
    );
    fn qemu_plugin_register_vcpu_insn_exec_inline(
        insn: *mut QInsn,
        op: c_int,
        ptr: *mut c_void,
        imm: u64,
    );
    fn qemu_plugin_register_vcpu_mem_cb(
        insn: *mut QInsn,
        cb: MemCb,
        flags: c_int,
        rw: c_int,
        udata: *mut c_void,
    );
    fn qemu_plugin_register_atexit_cb(
        id: PluginId,
        cb: extern "C" fn(PluginId, *mut c_void),
        udata: *mut c_void,
    );
    fn qemu_plugin_tb_n_insns(tb: *const Tb) -> usize;
    fn qemu_plugin_tb_vaddr(tb: *const Tb) -> u64;
    fn qemu_plugin_tb_get_insn(tb: *const Tb, idx: usize) -> *mut QInsn;
    fn qemu_plugin_insn_data(insn: *const QInsn) -> *const c_void;
    fn qemu_plugin_insn_size(insn: *const QInsn) -> usize;
    fn qemu_plugin_insn_vaddr(insn: *const QInsn) -> u64;
    fn qemu_plugin_mem_size_shift(info: u32) -> c_uint;
    fn qemu_plugin_mem_is_store(info: u32) -> bool;
    fn qemu_plugin_outs(s: *const c_char);
}

/// The plugin API version this plugin was written against (QEMU 7.2 accepts 0 to 1).
#[no_mangle]
#[used]
pub static qemu_plugin_version: c_int = 1;

static CYCLES: AtomicU64 = AtomicU64::new(0);
static INSNS: AtomicU64 = AtomicU64::new(0);
static FLASH_READS: AtomicU64 = AtomicU64::new(0);
static FLASH_BYTES: AtomicU64 = AtomicU64::new(0);
/// Set by a branch as it executes: its fall-through address in the low 32 bits, the refill
/// cycles if it is taken above them; 0 when no branch is pending.
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Per class: instructions executed and their base cycles (only with `stats=1`).
static CLASS_COUNT: [AtomicU64; 31] = [const { AtomicU64::new(0) }; 31];
static CLASS_CYCLES: [AtomicU64; 31] = [const { AtomicU64::new(0) }; 31];
/// Taken branches and their refill cycles; unaligned loads and their extra cycles.
static TAKEN: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static UNALIGNED: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

struct Config {
    core: Core,
    stats: bool,
    marker: Option<u64>,
    flash: (u64, u64),
    out: Mutex<std::fs::File>,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

fn outs(msg: &str) {
    if let Ok(c) = std::ffi::CString::new(format!("ferrite-qemu-cycles: {msg}\n")) {
        // SAFETY: a valid NUL-terminated string; QEMU copies it.
        unsafe { qemu_plugin_outs(c.as_ptr()) }
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_args(args: &[&str]) -> Result<Config, String> {
    let (mut core, mut marker, mut flash, mut out, mut stats) = (None, None, (0, 0), None, false);
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or(format!("argument {a} is not key=value"))?;
        match k {
            "core" => core = Some(Core::parse(v).ok_or(format!("unknown core {v}"))?),
            "marker" => marker = Some(parse_u64(v).ok_or(format!("bad marker {v}"))?),
            "flash" => {
                let (o, l) = v.split_once(':').ok_or("flash is origin:length")?;
                flash = (
                    parse_u64(o).ok_or("bad flash origin")?,
                    parse_u64(l).ok_or("bad flash length")?,
                );
            }
            "stats" => stats = v == "1" || v == "on",
            "out" => {
                out = Some(std::fs::File::create(v).map_err(|e| format!("{v}: {e}"))?);
            }
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    Ok(Config {
        core: core.ok_or("core= is required")?,
        stats,
        marker,
        flash,
        out: Mutex::new(out.ok_or("out= is required")?),
    })
}

fn write_line(kind: &str, pc: u64) {
    let Some(c) = CONFIG.get() else { return };
    let line = format!(
        "{kind} {pc:x} {} {} {} {}\n",
        CYCLES.load(Relaxed),
        INSNS.load(Relaxed),
        FLASH_READS.load(Relaxed),
        FLASH_BYTES.load(Relaxed)
    );
    if let Ok(mut f) = c.out.lock() {
        // Unbuffered: markers are few, and nothing is lost if QEMU exits without atexit.
        let _ = f.write_all(line.as_bytes());
    }
}

/// Called by QEMU when it loads the plugin.
///
/// # Safety
/// QEMU passes a valid `info` and `argc` valid C strings in `argv`.
#[no_mangle]
pub unsafe extern "C" fn qemu_plugin_install(
    id: PluginId,
    info: *const QemuInfo,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: QEMU passes a valid info block, live for this call.
    let info = unsafe { &*info };
    // SAFETY: target_name is a NUL-terminated string owned by QEMU.
    let target = unsafe { CStr::from_ptr(info.target_name) }.to_string_lossy();
    if target != "arm" {
        outs(&format!("only for qemu-system-arm, not {target}"));
        return -1;
    }
    let args: Vec<&str> = (0..usize::try_from(argc).unwrap_or(0))
        // SAFETY: argv holds argc NUL-terminated strings that live as long as the plugin.
        .filter_map(|i| unsafe { CStr::from_ptr(*argv.add(i)) }.to_str().ok())
        .collect();
    match parse_args(&args) {
        Ok(c) => {
            let _ = CONFIG.set(c);
        }
        Err(e) => {
            outs(&e);
            return -1;
        }
    }
    // SAFETY: registering callbacks with the id QEMU gave us, during install.
    unsafe {
        qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
        qemu_plugin_register_atexit_cb(id, on_exit, std::ptr::null_mut());
    }
    0
}

/// Classifies and instruments each instruction of a newly translated block.
extern "C" fn on_translate(_id: PluginId, tb: *mut Tb) {
    let Some(cfg) = CONFIG.get() else { return };
    // SAFETY: `tb` is the live handle QEMU passed to this callback; the instruction handles and
    // their bytes are valid for its duration, and the counters are statics that outlive QEMU's
    // generated code (the inline ops add to them from the vCPU thread).
    unsafe {
        let vaddr = qemu_plugin_tb_vaddr(tb);
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, CB_NO_REGS, vaddr as *mut c_void);
        let mut prev = None;
        for i in 0..qemu_plugin_tb_n_insns(tb) {
            let insn = qemu_plugin_tb_get_insn(tb, i);
            let size = qemu_plugin_insn_size(insn);
            let data = qemu_plugin_insn_data(insn) as *const u8;
            let bytes = std::slice::from_raw_parts(data, size);
            let pc = qemu_plugin_insn_vaddr(insn);
            let decoded = model::decode(bytes);
            let cost = model::cost(cfg.core, &decoded, prev.as_ref());
            prev = Some(decoded);
            if cost.base > 0 {
                qemu_plugin_register_vcpu_insn_exec_inline(
                    insn,
                    INLINE_ADD_U64,
                    CYCLES.as_ptr().cast(),
                    u64::from(cost.base),
                );
            }
            qemu_plugin_register_vcpu_insn_exec_inline(
                insn,
                INLINE_ADD_U64,
                INSNS.as_ptr().cast(),
                1,
            );
            if cfg.stats {
                let k = decoded.class.index();
                for (counter, add) in [(&CLASS_COUNT[k], 1), (&CLASS_CYCLES[k], cost.base)] {
                    qemu_plugin_register_vcpu_insn_exec_inline(
                        insn,
                        INLINE_ADD_U64,
                        counter.as_ptr().cast(),
                        u64::from(add),
                    );
                }
            }
            if cost.taken > 0 {
                let fall_through = (pc + size as u64) & 0xFFFF_FFFF;
                let pending = fall_through | (u64::from(cost.taken) << 32);
                qemu_plugin_register_vcpu_insn_exec_cb(
                    insn,
                    on_branch,
                    CB_NO_REGS,
                    pending as *mut c_void,
                );
            }
            // QEMU 7.2 calls a QEMU_PLUGIN_MEM_R callback for no access at all (its filter
            // tests the access against the wrong bits): take both, skip stores in the callback.
            qemu_plugin_register_vcpu_mem_cb(insn, on_load, CB_NO_REGS, MEM_RW, pc as *mut c_void);
        }
    }
}

/// A possibly branching instruction executes: remember where it falls through to.
extern "C" fn on_branch(_vcpu: c_uint, udata: *mut c_void) {
    PENDING.store(udata as u64, Relaxed);
}

/// A block starts: if a branch is pending and this is not its fall-through, it was taken.
extern "C" fn on_block(_vcpu: c_uint, udata: *mut c_void) {
    let pending = PENDING.swap(0, Relaxed);
    if pending != 0 && (udata as u64 & 0xFFFF_FFFF) != (pending & 0xFFFF_FFFF) {
        CYCLES.fetch_add(pending >> 32, Relaxed);
        TAKEN[0].fetch_add(1, Relaxed);
        TAKEN[1].fetch_add(pending >> 32, Relaxed);
    }
}

/// A load: flash reads, unaligned penalty, markers.
extern "C" fn on_load(_vcpu: c_uint, info: u32, vaddr: u64, udata: *mut c_void) {
    let Some(cfg) = CONFIG.get() else { return };
    // SAFETY: `info` is the handle QEMU passed to this callback.
    let (store, shift) = unsafe {
        (
            qemu_plugin_mem_is_store(info),
            qemu_plugin_mem_size_shift(info),
        )
    };
    if store {
        return;
    }
    let penalty = model::unaligned_penalty(vaddr, shift);
    if penalty > 0 {
        CYCLES.fetch_add(u64::from(penalty), Relaxed);
        UNALIGNED[0].fetch_add(1, Relaxed);
        UNALIGNED[1].fetch_add(u64::from(penalty), Relaxed);
    }
    if vaddr >= cfg.flash.0 && vaddr - cfg.flash.0 < cfg.flash.1 {
        FLASH_READS.fetch_add(1, Relaxed);
        FLASH_BYTES.fetch_add(1 << shift, Relaxed);
    }
    if cfg.marker == Some(vaddr) {
        write_line("mark", udata as u64);
    }
}

extern "C" fn on_exit(_id: PluginId, _udata: *mut c_void) {
    write_line("end", 0);
    let Some(cfg) = CONFIG.get() else { return };
    if !cfg.stats {
        return;
    }
    // Whole-run totals: `class <name> <instructions> <base cycles>`, then the dynamic extras.
    let mut text = String::new();
    for (k, name) in model::CLASS_NAMES.iter().enumerate() {
        let n = CLASS_COUNT[k].load(Relaxed);
        if n > 0 {
            text += &format!("class {name} {n} {}\n", CLASS_CYCLES[k].load(Relaxed));
        }
    }
    for (name, c) in [("taken-branch", &TAKEN), ("unaligned-load", &UNALIGNED)] {
        text += &format!(
            "extra {name} {} {}\n",
            c[0].load(Relaxed),
            c[1].load(Relaxed)
        );
    }
    if let Ok(mut f) = cfg.out.lock() {
        let _ = f.write_all(text.as_bytes());
    }
}
