//! Microbenchmarks: hand-encoded Thumb sequences run on QEMU's Cortex-M4 (and M3, M55) with
//! the plugin loaded; each sequence's estimated cycles must equal what the Cortex-M4 TRM (ARM
//! DDI 0439B, Table 3-1 and §3.3.1) or the Cortex-M3 TRM gives for it (on the M55: the
//! model's stated Helium assumptions, docs/cycle-model.md).
//!
//! Each program is a raw image: a two-word vector table, then code that sets registers up and
//! runs sequences between markers (loads from the MPS2 timer's value register, which the plugin
//! watches; a RAM word on the M55). Around a sequence: `marker; nop; <sequence>; nop; marker`,
//! so the difference between the two markers' counts is the sequence plus 1 (nop) + 1 (nop) +
//! 2 (the second marker's load, which does not pipeline after a nop).
//!
//! Needs `qemu-system-arm` (`scripts/test.sh` installs it); builds the plugin with cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The MPS2 boards' timer value register, the marker `ferrite sim` uses on them.
const MARKER_ADDR: u32 = 0x4000_0004;
/// `ldr r7, [r6]` with r6 = the marker address.
const MARKER: u16 = 0x6837;
const NOP: u16 = 0xBF00;
/// Cycles the frame around a sequence adds: nop, nop, marker load.
const FRAME: u64 = 1 + 1 + 2;

use ferrite_tests::qemu_available;

/// Builds the plugin (release, its own target directory so it never waits on the build that
/// runs these tests) and returns the shared object.
fn plugin() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target_dir = root.join("target/qemu-cycles");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--quiet", "-p", "ferrite-qemu-cycles"])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&root)
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("running cargo");
    assert!(status.success(), "building the plugin failed");
    target_dir.join("release/libferrite_qemu_cycles.so")
}

/// A Thumb program under construction.
#[derive(Default)]
struct Prog {
    code: Vec<u16>,
    /// Per measured sequence: name, expected cycles, expected flash reads, instructions in it.
    expect: Vec<(&'static str, u64, u64, u64)>,
}

impl Prog {
    fn mov32(&mut self, rd: u16, v: u32) {
        for (top, half) in [(0xF240, v & 0xFFFF), (0xF2C0, v >> 16)] {
            let h = half as u16;
            // MOVW/MOVT T3: imm16 = imm4:i:imm3:imm8.
            self.code.push(top | ((h >> 1) & 0x0400) | (h >> 12));
            self.code.push(((h << 4) & 0x7000) | (rd << 8) | (h & 0xFF));
        }
    }

    /// Measures `seq` (halfwords of `instructions` instructions): it must take `cycles` and
    /// read flash `flash` times.
    fn bench(
        &mut self,
        name: &'static str,
        seq: &[u16],
        instructions: u64,
        cycles: u64,
        flash: u64,
    ) {
        self.code.extend([MARKER, NOP]);
        self.code.extend_from_slice(seq);
        self.code.extend([NOP, MARKER]);
        self.expect.push((name, cycles, flash, instructions));
    }

    fn image(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(0x2001_0000u32.to_le_bytes()); // initial SP
        b.extend(0x0000_0009u32.to_le_bytes()); // reset: code at 8, Thumb
        for h in &self.code {
            b.extend(h.to_le_bytes());
        }
        // Exit through semihosting: SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit.
        let mut exit = Prog::default();
        exit.mov32(1, 0x20026);
        exit.code.extend([0x2018, 0xBEAB]); // movs r0, #0x18; bkpt 0xab
        for h in &exit.code {
            b.extend(h.to_le_bytes());
        }
        b
    }
}

/// A QEMU board: `-cpu`, `-machine`, the plugin's `core`, the marker address (any readable
/// word), the flash region's length (from 0).
struct Board {
    cpu: &'static str,
    machine: &'static str,
    core: &'static str,
    marker: u32,
    flash_len: u32,
}

const M4: Board = Board {
    cpu: "cortex-m4",
    machine: "mps2-an386",
    core: "m4",
    marker: MARKER_ADDR,
    flash_len: 0x20_0000,
};

/// Runs `prog` on `board`; returns the marker lines' counts: (cycles, instructions, flash
/// reads).
fn run(prog: &Prog, board: &Board) -> Vec<(u64, u64, u64)> {
    let Board {
        cpu,
        machine,
        core,
        marker,
        flash_len,
    } = *board;
    let dir =
        std::env::temp_dir().join(format!("ferrite-microbench-{}-{core}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("bench.bin");
    std::fs::write(&image, prog.image()).unwrap();
    let out = dir.join("cycles.txt");
    let plugin = plugin();
    let mut child = Command::new("qemu-system-arm")
        .args(["-cpu", cpu, "-machine", machine, "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-icount", "shift=0,align=off,sleep=off", "-kernel"])
        .arg(&image)
        .arg("-plugin")
        .arg(format!(
            "{},core={core},marker={marker:#x},flash=0x0:{flash_len:#x},out={}",
            plugin.display(),
            out.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running qemu-system-arm");
    // A fault in these programs (no handlers) locks the core up and QEMU keeps running.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the program did not exit within 60 s (a fault?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(status.success(), "qemu failed: {stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    text.lines()
        .filter(|l| l.starts_with("mark "))
        .map(|l| {
            let f: Vec<u64> = l.split(' ').skip(2).map(|x| x.parse().unwrap()).collect();
            (f[0], f[1], f[2])
        })
        .collect()
}

/// Checks every sequence's cycles, instructions and flash reads.
fn check(prog: &Prog, marks: &[(u64, u64, u64)]) {
    assert_eq!(marks.len(), 2 * prog.expect.len(), "marker count");
    let mut failures = Vec::new();
    for (k, &(name, cycles, flash, insns)) in prog.expect.iter().enumerate() {
        let (a, b) = (marks[2 * k], marks[2 * k + 1]);
        let got = (b.0 - a.0 - FRAME, b.1 - a.1 - 3, b.2 - a.2);
        println!(
            "{name}: {} cycles (expected {cycles}), {} instructions, {} flash reads",
            got.0, got.1, got.2
        );
        if got != (cycles, insns, flash) {
            failures.push(format!(
                "{name}: got (cycles, instructions, flash reads) {got:?}, want {:?}",
                (cycles, insns, flash)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn m4_program() -> Prog {
    let mut p = Prog::default();
    p.mov32(6, MARKER_ADDR);
    p.mov32(4, 0x2000_0000);
    p.mov32(1, 0x2000_0000);
    p.mov32(5, 0);
    p.mov32(2, 0x2000_0004);
    // §3.3.1: "LDR R0,[R1,R5]; LDR R1,[R2]; LDR R2,[R4] - normally four cycles total."
    p.bench("trm ldr triple", &[0x5948, 0x6811, 0x6822], 3, 4, 0);
    // Eight independent loads: 2 for the first, 1 for each that pipelines after it.
    let ldr4 = [0x6820, 0x6861, 0x68A2, 0x68E3];
    let eight: Vec<u16> = ldr4.iter().chain(&ldr4).copied().collect();
    p.bench("8 independent ldr", &eight, 8, 2 + 7, 0);
    // A load whose address is the previous load's result cannot pipeline: 2 + 2. RAM is zero,
    // so the second load reads address 0: a flash read.
    p.bench("dependent ldr", &[0x6820, 0x6801], 2, 4, 1);
    // Eight SMLADs: 1 each (Table 3-1).
    p.bench("8 smlad", &[0xFB21, 0x0002].repeat(8), 8, 8, 0);
    // LDM of four registers: 1 + N.
    p.bench("ldm 4 registers", &[0xE894, 0x000F], 1, 5, 0);
    // movs r0, #10; loop: subs r0, #1; bne loop. 1 + 10 subs + 9 taken bne (1 + P) + 1
    // bne falling through.
    p.bench(
        "10-iteration loop",
        &[0x200A, 0x3801, 0xD1FD],
        21,
        1 + 10 + 9 * (1 + 2) + 1,
        0,
    );
    // Stores with an immediate offset: 1 each.
    p.bench("4 str imm", &[0x6120, 0x6160, 0x61A0, 0x61E0], 4, 4, 0);
    // LDRD: 1 + N = 3.
    p.bench("ldrd", &[0xE9D4, 0x0100], 1, 3, 0);
    // PUSH {r0-r3}; POP {r0-r3}: (1 + 4) twice.
    p.bench("push pop 4", &[0xB40F, 0xBC0F], 2, 10, 0);
    // MUL, MLA, UMULL 1 each; UDIV the 2..12 range's middle, 7.
    p.bench(
        "mul mla umull udiv",
        &[
            0xFB01, 0xF002, 0xFB01, 0x0002, 0xFBA2, 0x0103, 0xFBB1, 0xF0F2,
        ],
        4,
        1 + 1 + 1 + 7,
        0,
    );
    // cmp r0, #0; it eq; moveq r1, r2: the IT folds onto the 16-bit CMP.
    p.bench("it folded", &[0x2800, 0xBF08, 0x4611], 3, 2, 0);
    // Four loads from flash (r5 = 0x100): 2 + 1 + 1 + 1, four flash reads.
    p.mov32(5, 0x100);
    p.bench("4 flash ldr", &[0x6828, 0x6869, 0x68AA, 0x68EB], 4, 5, 4);
    // Unaligned loads: halfword-aligned word +1, byte-aligned word +2 (§3.3.1).
    p.mov32(3, 0x2000_0002);
    p.bench("ldr halfword-aligned", &[0x6818], 1, 3, 0);
    p.mov32(3, 0x2000_0001);
    p.bench("ldr byte-aligned", &[0x6818], 1, 4, 0);
    p
}

#[test]
fn cortex_m4_sequences_cost_what_the_trm_says() {
    if !qemu_available() {
        return;
    }
    let p = m4_program();
    check(&p, &run(&p, &M4));
}

#[test]
fn cortex_m3_multiplies_cost_what_its_trm_says() {
    if !qemu_available() {
        return;
    }
    let mut p = Prog::default();
    p.mov32(6, MARKER_ADDR);
    // MUL 1, MLA 2, UMULL 3..5 (taken as 4), UDIV 2..12 (taken as 7): Cortex-M3 TRM Table 3-1.
    p.bench(
        "mul mla umull udiv",
        &[
            0xFB01, 0xF002, 0xFB01, 0x0002, 0xFBA2, 0x0103, 0xFBB1, 0xF0F2,
        ],
        4,
        1 + 2 + 4 + 7,
        0,
    );
    // The same loop as on the M4: branches cost the same.
    p.bench(
        "10-iteration loop",
        &[0x200A, 0x3801, 0xD1FD],
        21,
        1 + 10 + 9 * (1 + 2) + 1,
        0,
    );
    let m3 = Board {
        cpu: "cortex-m3",
        machine: "mps2-an385",
        core: "m3",
        ..M4
    };
    check(&p, &run(&p, &m3));
}

/// The Cortex-M0+ timing (qemu-m0's board: ARMv6-M code on QEMU's Cortex-M3), from the
/// Cortex-M0+ TRM's Table 3-2 with the single-cycle multiplier. Only ARMv6-M encodings.
#[test]
fn cortex_m0plus_sequences_cost_what_its_trm_says() {
    if !qemu_available() {
        return;
    }
    let mut p = Prog::default();
    p.mov32(6, MARKER_ADDR);
    // MULS 1 each.
    p.bench("4 muls", &[0x4348, 0x4348, 0x4348, 0x4348], 4, 4, 0);
    // Loads do not pipeline: 2 each (from the stack, in RAM).
    p.bench("4 ldr", &[0x9800, 0x9901, 0x9A02, 0x9B03], 4, 8, 0);
    // Stores 2 each.
    p.bench("4 str", &[0x9000, 0x9101, 0x9202, 0x9303], 4, 8, 0);
    // PUSH/POP 1 + N.
    p.bench("push pop", &[0xB40F, 0xBC0F], 2, 10, 0);
    // MOVS; 10 x (SUBS; BNE): taken branches cost 2, the last (not taken) 1.
    p.bench(
        "10-iteration loop",
        &[0x200A, 0x3801, 0xD1FD],
        21,
        1 + 10 + 9 * 2 + 1,
        0,
    );
    // BL to the next instruction: 3.
    p.bench("bl", &[0xF000, 0xF800], 1, 3, 0);
    let m0 = Board {
        cpu: "cortex-m3",
        machine: "mps2-an385",
        core: "m0+",
        ..M4
    };
    check(&p, &run(&p, &m0));
}

/// Helium on the Cortex-M55 (qemu-m55's board): checks the model's stated assumptions (no TRM
/// table exists), and that QEMU's Helium loads reach the plugin element by element.
#[test]
fn cortex_m55_helium_beats() {
    if !qemu_available() {
        return;
    }
    // A DTCM word as the marker (the MPS3 board has no CMSDK timer at 0x4000_0004).
    let marker = 0x2000_0100;
    let mut p = Prog::default();
    p.mov32(6, marker);
    // Enable CP10/CP11 (FPU and Helium) in CPACR: ldr, orr, str, dsb, isb.
    p.mov32(0, 0xE000_ED88);
    p.code.extend([
        0x6801, 0xF441, 0x0170, 0x6001, 0xF3BF, 0x8F4F, 0xF3BF, 0x8F6F,
    ]);
    p.mov32(4, 0x2000_0000);
    p.mov32(5, 0x100);
    // vldrb.u8 q0, [r4]: 2 (after a nop); vadd.i8 q1, q0, q0: 1 (overlaps the load);
    // vldrb.u8 q2, [r5]: 1 (overlaps the add; 16 byte reads from flash); vadd.i8 q3, q2, q2: 1;
    // vmlav.s8 r0, q0, q2: 2 (arithmetic after arithmetic does not overlap).
    p.bench(
        "helium load/add pairs",
        &[
            0xED94, 0x1E00, 0xEF00, 0x2840, 0xED95, 0x5E00, 0xEF04, 0x6844, 0xEEF0, 0x0F04,
        ],
        5,
        2 + 1 + 1 + 1 + 2,
        16,
    );
    let m55 = Board {
        cpu: "cortex-m55",
        machine: "mps3-an547",
        core: "m55",
        marker,
        flash_len: 0x8_0000,
    };
    check(&p, &run(&p, &m55));
}
