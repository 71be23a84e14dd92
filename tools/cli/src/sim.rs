//! `ferrite sim`: build a board's firmware with the model and the input samples embedded, run
//! it in QEMU, and report outputs and cost per layer.
//!
//! Cost is counted in instructions: QEMU runs with `-icount shift=0` (1 ns of virtual time per
//! instruction), the firmware times each layer with a board timer and calibrates the timer
//! against a loop of known length, so the counts are exact to the timer's resolution and
//! identical from run to run.
//!
//! Cycles are estimated by a QEMU plugin (`tools/qemu-cycles`, loaded with `-plugin`) that
//! prices every executed Thumb instruction with the core's documented timing (see
//! `docs/cycle-model.md`). The plugin takes a snapshot of its counts at every load from the
//! board timer's counter register, which the firmware reads at exactly the points where it
//! times (calibration, inference start, before and after each layer, inference end): the
//! firmware is unchanged and the instruction counts stay those of the timer. (SysTick's start
//! also polls the register; see [`attribute`].)

use ferrite_convert::npy::{self, Array, Data};
use ferrite_convert::Compiled;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An emulated board `ferrite sim` can run.
pub struct Board {
    /// Name on the command line.
    pub name: &'static str,
    /// Crate directory under `targets/`.
    pub crate_dir: &'static str,
    /// QEMU `-cpu`.
    pub cpu: &'static str,
    /// QEMU `-machine`.
    pub machine: &'static str,
    /// What it stands for.
    pub description: &'static str,
    /// Kernels its firmware links (the board's `build.rs` converts for the same target), so
    /// the host report shows the layers the firmware runs.
    pub target: ferrite_convert::Target,
    /// The cycle plugin's `core=` (whose timing applies).
    pub core: &'static str,
    /// Address of the timer counter register the firmware reads at every timing point: the
    /// plugin's marker.
    pub timer_read: u64,
    /// Counter reads `Counter::start` leaves once its polling loop is collapsed (SysTick
    /// polls until its first tick): skipped before the calibration and each sample.
    pub start_reads: usize,
    /// The arena and flash budgets its `build.rs` passes by default (its part's RAM and flash
    /// less 32 KB each): `sim` and `--device` convert on the host with the same ones (unless
    /// `--max-arena`/`--max-flash` say otherwise) and hand them to the firmware build, so both
    /// sides pick the same plan.
    pub budgets: (usize, usize),
}

/// The emulated boards.
pub const BOARDS: &[Board] = &[
    Board {
        name: "qemu-m4",
        crate_dir: "qemu-mps2-an386",
        cpu: "cortex-m4",
        machine: "mps2-an386",
        description: "Cortex-M4F with DSP (MPS2 AN386), memory of an STM32L4R5ZI",
        target: ferrite_convert::Target::CortexMDsp,
        core: "m4",
        timer_read: 0x4000_0004, // CMSDK timer 0 VALUE
        start_reads: 0,
        budgets: (608 * 1024, 2016 * 1024),
    },
    Board {
        name: "qemu-m3",
        crate_dir: "qemu-mps2-an385",
        cpu: "cortex-m3",
        machine: "mps2-an385",
        description: "Cortex-M3 without DSP (MPS2 AN385), memory of an STM32F207ZG",
        target: ferrite_convert::Target::CortexMNoDsp,
        core: "m3",
        timer_read: 0x4000_0004, // CMSDK timer 0 VALUE
        start_reads: 0,
        budgets: (96 * 1024, 992 * 1024),
    },
    Board {
        name: "qemu-m0",
        crate_dir: "qemu-mps2-an385-m0",
        cpu: "cortex-m3",
        machine: "mps2-an385",
        description:
            "Cortex-M0+ code (ARMv6-M, thumbv6m) on the MPS2 AN385's Cortex-M3, memory of an RP2040",
        target: ferrite_convert::Target::CortexMNoDsp,
        core: "m0+",
        timer_read: 0x4000_0004, // CMSDK timer 0 VALUE
        start_reads: 0,
        budgets: (96 * 1024, 992 * 1024),
    },
    Board {
        name: "qemu-m55",
        crate_dir: "qemu-mps3-an547",
        cpu: "cortex-m55",
        machine: "mps3-an547",
        description: "Cortex-M55 with Helium (MPS3 AN547, Corstone-300 TCMs)",
        target: ferrite_convert::Target::Helium,
        core: "m55",
        timer_read: 0xE000_E018, // SysTick current value (SYST_CVR)
        start_reads: 1,
        budgets: (480 * 1024, 480 * 1024),
    },
];

/// One layer's cost.
#[derive(Debug, Clone, Serialize)]
pub struct LayerCost {
    /// Layer index.
    pub index: usize,
    /// TFLite operator.
    pub op: String,
    /// Kernel entry.
    pub kernel: String,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Instructions per inference (mean over samples).
    pub instructions: u64,
    /// Instructions per MAC (0 for layers without MACs).
    pub instructions_per_mac: f64,
    /// Estimated cycles per inference (mean over samples; the cycle plugin's timing model).
    pub cycles: u64,
    /// Estimated cycles per MAC (0 for layers without MACs).
    pub cycles_per_mac: f64,
    /// Data loads from the flash region per inference (mean over samples; one per access,
    /// so an `LDRD` or `LDM` counts each word).
    pub flash_reads: u64,
}

/// Everything a simulation measured.
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// Board name.
    pub board: String,
    /// Model file.
    pub model: String,
    /// Samples run.
    pub samples: usize,
    /// Instructions per inference (mean over samples).
    pub instructions_per_inference: u64,
    /// Instructions of each sample.
    pub instructions_per_sample: Vec<u64>,
    /// MACs per inference.
    pub macs: u64,
    /// Instructions per MAC for the whole inference.
    pub instructions_per_mac: f64,
    /// Estimated cycles per inference (mean over samples), from the cycle plugin.
    pub cycles_per_inference: u64,
    /// Estimated cycles of each sample.
    pub cycles_per_sample: Vec<u64>,
    /// Estimated cycles per MAC for the whole inference.
    pub cycles_per_mac: f64,
    /// The timing model the cycles come from (`docs/cycle-model.md`).
    pub cycle_model: String,
    /// Data loads from the flash region per inference (mean over samples).
    pub flash_reads: u64,
    /// Bytes those loads read.
    pub flash_read_bytes: u64,
    /// Arena bytes.
    pub arena_bytes: usize,
    /// Flash: code, constants and initialised data (`.vector_table`, `.text`, `.rodata`, `.data`).
    pub flash_bytes: u64,
    /// Static RAM (`.data`, `.bss`, `.uninit`; the arena is part of it).
    pub static_ram_bytes: u64,
    /// Deepest stack use seen.
    pub stack_bytes: u64,
    /// Static RAM plus stack.
    pub ram_bytes: u64,
    /// Timer ticks per instruction calibration: (instructions, ticks).
    pub calibration: (u32, u32),
    /// Per-layer costs.
    pub layers: Vec<LayerCost>,
    /// Firmware ELF.
    pub elf: String,
}

/// Outputs and cost of a run.
pub struct SimRun {
    /// Outputs, stacked `[N, *shape]`, one array per model output.
    pub outputs: Vec<Array>,
    /// Measurements.
    pub report: SimReport,
}

/// Where the board crates are: `--targets-dir`, `FERRITE_TARGETS_DIR`, or the source tree
/// this binary was built from.
pub fn targets_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("FERRITE_TARGETS_DIR").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets"))
}

fn abs(p: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// Memory regions of a board, from its `memory.x`: (origin, length) of FLASH and RAM.
fn memory_regions(memory_x: &str) -> Option<((u64, u64), (u64, u64))> {
    let parse_num = |s: &str| -> Option<u64> {
        let s = s.trim().trim_end_matches(',');
        let (num, mult) = if let Some(k) = s.strip_suffix('K') {
            (k, 1024)
        } else if let Some(m) = s.strip_suffix('M') {
            (m, 1024 * 1024)
        } else {
            (s, 1)
        };
        let v = if let Some(hex) = num.strip_prefix("0x") {
            u64::from_str_radix(&hex.replace('_', ""), 16).ok()?
        } else {
            num.parse().ok()?
        };
        Some(v * mult)
    };
    let region = |name: &str| -> Option<(u64, u64)> {
        let line = memory_x
            .lines()
            .find(|l| l.trim_start().starts_with(name) && l.contains("ORIGIN"))?;
        let origin = line
            .split("ORIGIN")
            .nth(1)?
            .split('=')
            .nth(1)?
            .split(',')
            .next()?;
        let length = line.split("LENGTH").nth(1)?.split('=').nth(1)?;
        Some((parse_num(origin)?, parse_num(length)?))
    };
    Some((region("FLASH")?, region("RAM")?))
}

fn human(bytes: u64) -> String {
    if bytes.is_multiple_of(1024 * 1024) {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes / 1024)
    }
}

/// The binary of a board crate that serves inferences over a serial link (`ferrite run|verify
/// --device`).
pub const RUNNER_BIN: &str = "ferrite-runner";

/// Builds the board's serial runner for `model` (no samples embedded: they arrive over the
/// link) and returns a copy of its ELF, taken under the board's build lock.
pub fn build_runner(
    board: &Board,
    dir: &Path,
    model: &Path,
    quiet: bool,
) -> Result<Vec<u8>, String> {
    let lock = lock_board(board)?;
    let elf_path = build(board, dir, model, &[], Some(RUNNER_BIN), quiet)?;
    let elf = std::fs::read(&elf_path).map_err(|e| format!("{}: {e}", elf_path.display()))?;
    drop(lock);
    Ok(elf)
}

/// Builds of one board share an output path: a lock held from building the firmware to
/// reading it keeps concurrent runs from running each other's model.
fn lock_board(board: &Board) -> Result<std::fs::File, String> {
    let lock_path = std::env::temp_dir().join(format!("ferrite-sim-{}.lock", board.crate_dir));
    let lock =
        std::fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    Ok(lock)
}

/// Builds the board firmware for `model` with `inputs` embedded (binary `bin`, default the
/// one named like the board's crate; no inputs: none embedded); returns the ELF path.
fn build(
    board: &Board,
    dir: &Path,
    model: &Path,
    inputs: &[PathBuf],
    bin: Option<&str>,
    quiet: bool,
) -> Result<PathBuf, String> {
    let crate_dir = dir.join(board.crate_dir);
    let memory = std::fs::read_to_string(crate_dir.join("memory.x"))
        .map_err(|e| format!("{}: {e}", crate_dir.display()))?;
    let samples = std::env::join_paths(
        inputs
            .iter()
            .map(|p| abs(p))
            .collect::<Result<Vec<_>, _>>()?,
    )
    .map_err(|e| e.to_string())?;
    if !quiet {
        eprintln!(
            "building {} firmware ({} {}) ...",
            board.name,
            board.crate_dir,
            bin.unwrap_or("")
        );
    }
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args([
        "build",
        "--release",
        "--message-format=json-render-diagnostics",
    ]);
    // Only the binary wanted: each binary compiles the whole model.
    cmd.args(["--bin", bin.unwrap_or(board.crate_dir)]);
    if inputs.is_empty() {
        cmd.env("FERRITE_MAX_SAMPLES", "0")
            .env_remove("FERRITE_SAMPLES");
    } else {
        cmd.env("FERRITE_SAMPLES", samples);
    }
    cmd.current_dir(&crate_dir)
        .env("FERRITE_MODEL", abs(model)?)
        .env("FERRITE_BATCH", crate::batch().to_string())
        .env(
            "FERRITE_MAX_ARENA",
            crate::max_arena().unwrap_or(board.budgets.0).to_string(),
        )
        .env(
            "FERRITE_MAX_FLASH",
            crate::max_flash().unwrap_or(board.budgets.1).to_string(),
        )
        .env("FERRITE_INT8_WEIGHTS", crate::int8_weights().to_string())
        .env("FERRITE_STREAM", if crate::stream() { "1" } else { "0" })
        // The board's .cargo/config.toml picks target and linker flags; a caller's flags must
        // not override them.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().map_err(|e| format!("running cargo: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // The linker names the region and the overflow: turn that into a clear error.
        for region in ["FLASH", "RAM"] {
            // rust-lld: "will not fit in region 'RAM': overflowed by N bytes";
            // GNU ld: "region `RAM' overflowed by N bytes".
            let found = [
                format!("in region '{region}': overflowed by "),
                format!("region `{region}' overflowed by "),
            ]
            .into_iter()
            .find_map(|needle| stderr.find(&needle).map(|pos| pos + needle.len()));
            if let Some(pos) = found {
                let rest = &stderr[pos..];
                let bytes: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let size =
                    memory_regions(&memory).map(|(f, r)| if region == "FLASH" { f.1 } else { r.1 });
                return Err(format!(
                    "{} does not fit {} ({}): {} {} overflowed by {bytes} bytes",
                    model.display(),
                    board.name,
                    board.description,
                    size.map(human).unwrap_or_default(),
                    if region == "FLASH" { "flash" } else { "RAM" },
                ));
            }
        }
        return Err(format!(
            "building the {} firmware failed:\n{stderr}",
            board.name
        ));
    }
    // The last compiler-artifact with an executable is the firmware.
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| "cargo reported no firmware executable".to_string())
}

/// The cycle plugin: `FERRITE_QEMU_PLUGIN` if set, else built from `tools/qemu-cycles` next to
/// the board crates (release, in its own target directory so it never waits on, or
/// invalidates, another build).
fn cycle_plugin(dir: &Path, quiet: bool) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("FERRITE_QEMU_PLUGIN") {
        return Ok(PathBuf::from(p));
    }
    let root = dir.join("..");
    let manifest = root.join("tools/qemu-cycles/Cargo.toml");
    if !manifest.is_file() {
        return Err(format!(
            "the cycle plugin's source is not at {}; set FERRITE_QEMU_PLUGIN to a built \
             libferrite_qemu_cycles.so",
            manifest.display()
        ));
    }
    if !quiet {
        eprintln!("building the cycle plugin (tools/qemu-cycles) ...");
    }
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(root.join("target/qemu-cycles"))
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the cycle plugin failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == "ferrite_qemu_cycles")
        .filter_map(|v| {
            v["filenames"].as_array()?.iter().find_map(|f| {
                let f = f.as_str()?;
                f.ends_with(std::env::consts::DLL_SUFFIX)
                    .then(|| PathBuf::from(f))
            })
        })
        .next_back()
        .ok_or_else(|| "cargo reported no cycle plugin library".to_string())
}

/// Counts the plugin wrote at one marker (a read of the board timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    pc: u64,
    cycles: u64,
    instructions: u64,
    flash_reads: u64,
    flash_bytes: u64,
}

/// Parses the plugin's `mark` lines.
fn read_marks(text: &str) -> Result<Vec<Mark>, String> {
    text.lines()
        .filter(|l| l.starts_with("mark "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let num = |i: usize| -> Option<u64> { f.get(i)?.parse().ok() };
            Some(Mark {
                pc: u64::from_str_radix(f.get(1)?, 16).ok()?,
                cycles: num(2)?,
                instructions: num(3)?,
                flash_reads: num(4)?,
                flash_bytes: num(5)?,
            })
        })
        .map(|m| m.ok_or_else(|| "the cycle plugin's output is malformed".to_string()))
        .collect()
}

/// One sample's counts between timer reads: the whole inference, then each layer (each the
/// difference of two marks).
type SampleMarks = (Mark, Vec<Mark>);

/// Counter reads at most this many instructions apart belong to one polling loop (SysTick's
/// start waits for its first tick in a loop of 2 to 3 instructions per read; the closest two
/// timing reads, between layers, are 10 or more apart).
const POLL_GAP: u64 = 4;

/// Matches the marks to the firmware's timer reads (see `ferrite_firmware::qemu::run`):
/// calibration start and end, then per sample the inference start, before and after each
/// layer, and the inference end. On boards whose counter reads itself while starting
/// (`start_reads` reads left once each polling loop is collapsed to its last read), those
/// reads precede the calibration and each sample and are skipped.
fn attribute(
    marks: &[Mark],
    start_reads: usize,
    samples: usize,
    layers: usize,
) -> Result<Vec<SampleMarks>, String> {
    let marks: Vec<Mark> = if start_reads == 0 {
        marks.to_vec()
    } else {
        marks
            .iter()
            .zip(marks.iter().skip(1).map(Some).chain([None]))
            .filter(|(m, next)| next.is_none_or(|n| n.instructions - m.instructions > POLL_GAP))
            .map(|(m, _)| *m)
            .collect()
    };
    let per_sample = start_reads + 2 * layers + 2;
    let expected = start_reads + 2 + samples * per_sample;
    if marks.len() != expected {
        return Err(format!(
            "the cycle plugin saw {} timer reads, expected {expected} ({} for calibration, \
             {per_sample} per sample)",
            marks.len(),
            start_reads + 2
        ));
    }
    let diff = |a: Mark, b: Mark| Mark {
        pc: 0,
        cycles: b.cycles - a.cycles,
        instructions: b.instructions - a.instructions,
        flash_reads: b.flash_reads - a.flash_reads,
        flash_bytes: b.flash_bytes - a.flash_bytes,
    };
    Ok(marks[start_reads + 2..]
        .chunks(per_sample)
        .map(|m| {
            let m = &m[start_reads..];
            let total = diff(m[0], m[m.len() - 1]);
            let layers = (0..layers)
                .map(|l| diff(m[1 + 2 * l], m[2 + 2 * l]))
                .collect();
            (total, layers)
        })
        .collect())
}

/// Decodes the firmware's defmt log (semihosting stdout) into lines.
pub(crate) fn decode_log(elf: &[u8], raw: &[u8]) -> Vec<String> {
    let Ok(Some(table)) = defmt_decoder::Table::parse(elf) else {
        return vec![format!("({} bytes of undecodable log)", raw.len())];
    };
    let mut decoder = table.new_stream_decoder();
    decoder.received(raw);
    let mut lines = Vec::new();
    while let Ok(frame) = decoder.decode() {
        let level = frame.level().map_or("", |l| l.as_str());
        lines.push(format!("{level:>5} {}", frame.display_message()));
    }
    lines
}

/// Sizes from the ELF: (flash, static RAM).
fn elf_sizes(elf: &[u8], flash: (u64, u64), ram: (u64, u64)) -> Result<(u64, u64), String> {
    use object::{Object, ObjectSection, SectionFlags};
    let file = object::File::parse(elf).map_err(|e| format!("reading the firmware ELF: {e}"))?;
    let (mut flash_bytes, mut ram_bytes) = (0, 0);
    for s in file.sections() {
        let alloc = matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0);
        if !alloc || s.name() == Ok(".ferrite_samples") {
            continue;
        }
        let addr = s.address();
        let in_flash = addr >= flash.0 && addr < flash.0 + flash.1;
        let in_ram = addr >= ram.0 && addr < ram.0 + ram.1;
        if in_flash {
            flash_bytes += s.size();
        }
        if in_ram {
            ram_bytes += s.size();
            if s.name() == Ok(".data") {
                flash_bytes += s.size(); // its initial values live in flash
            }
        }
    }
    Ok((flash_bytes, ram_bytes))
}

struct Reader<'a>(&'a [u8], usize);
impl Reader<'_> {
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        let s = self
            .0
            .get(self.1..self.1 + n)
            .ok_or("the results file is truncated")?;
        self.1 += n;
        Ok(s)
    }
}

/// The board named `name`.
pub fn board(name: &str) -> Result<&'static Board, String> {
    BOARDS.iter().find(|b| b.name == name).ok_or_else(|| {
        format!(
            "unknown board {name}; boards: {}",
            BOARDS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Runs `model` on `board` over `inputs`.
pub fn simulate(
    board_name: &str,
    c: &Compiled,
    model: &Path,
    inputs: &[PathBuf],
    dir: &Path,
    timeout: Duration,
    quiet: bool,
) -> Result<SimRun, String> {
    let board = BOARDS
        .iter()
        .find(|b| b.name == board_name)
        .ok_or_else(|| {
            format!(
                "unknown board {board_name}; boards: {}",
                BOARDS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
            )
        })?;
    let arrays: Vec<Array> = inputs
        .iter()
        .map(|p| npy::read(p))
        .collect::<Result<_, _>>()?;
    let n = ferrite_convert::host::samples(c, &arrays)?;
    let lock = lock_board(board)?;
    let elf_path = build(board, dir, model, inputs, None, quiet)?;
    let elf = std::fs::read(&elf_path).map_err(|e| format!("{}: {e}", elf_path.display()))?;
    drop(lock);

    let work =
        std::env::temp_dir().join(format!("ferrite-sim-{}-{}", std::process::id(), board.name));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let results_path = work.join("ferrite-results.bin");
    let _ = std::fs::remove_file(&results_path);
    let qemu = which_qemu()?;
    let plugin = cycle_plugin(dir, quiet)?;
    let memory = std::fs::read_to_string(dir.join(board.crate_dir).join("memory.x"))
        .map_err(|e| e.to_string())?;
    let (flash, ram) = memory_regions(&memory).ok_or("cannot read FLASH/RAM from memory.x")?;
    let marks_path = work.join("cycles.txt");
    if !quiet {
        eprintln!("running in QEMU ({} {}) ...", board.machine, board.cpu);
    }
    // QEMU runs a private copy: the build directory may be rebuilt for another model meanwhile.
    let elf_copy = work.join("firmware.elf");
    std::fs::write(&elf_copy, &elf).map_err(|e| e.to_string())?;
    let mut child = Command::new(qemu)
        .args(["-cpu", board.cpu, "-machine", board.machine, "-nographic"])
        .args([
            "-semihosting-config",
            "enable=on,target=native",
            "-icount",
            "shift=0,align=off,sleep=off",
            "-kernel",
        ])
        .arg(&elf_copy)
        .arg("-plugin")
        .arg(format!(
            "{},core={},marker={:#x},flash={:#x}:{:#x},out={}",
            plugin.display(),
            board.core,
            board.timer_read,
            flash.0,
            flash.1,
            marks_path.display()
        ))
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting qemu-system-arm: {e}"))?;
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut buf);
        }
        buf
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the firmware did not finish within {} s (killed)",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let log = decode_log(&elf, &reader.join().unwrap_or_default());
    if !status.success() {
        let code = status.code().unwrap_or(-1);
        let what = match code {
            2 => "the model returned an error",
            3 => "writing results failed",
            101 => "the firmware panicked",
            102 => "the firmware hit a HardFault",
            _ => "the firmware failed",
        };
        return Err(format!(
            "{what} (exit status {code}); firmware log:\n{}",
            log.join("\n")
        ));
    }

    let raw = std::fs::read(&results_path)
        .map_err(|e| format!("reading {}: {e}", results_path.display()))?;
    let marks = std::fs::read_to_string(&marks_path)
        .map_err(|e| format!("reading {}: {e}", marks_path.display()))
        .and_then(|t| read_marks(&t));
    let _ = std::fs::remove_dir_all(&work);
    let marks = marks?;
    let mut r = Reader(&raw, 0);
    if r.bytes(4)? != b"FRST" || r.u32()? != 1 {
        return Err("the results file has an unknown format".into());
    }
    let (calib_instr, calib_ticks) = (r.u32()?, r.u32()?);
    let (count, layers, out_bytes) = (r.u32()? as usize, r.u32()? as usize, r.u32()? as usize);
    if count != n || layers != c.layers.len() {
        return Err(format!(
            "the firmware ran {count} samples x {layers} layers, expected {n} x {}",
            c.layers.len()
        ));
    }
    let to_instr =
        |ticks: u32| (ticks as f64 * calib_instr as f64 / calib_ticks.max(1) as f64).round() as u64;
    let mut out_data = vec![Vec::new(); c.outputs.len()];
    let mut layer_sum = vec![0u64; layers];
    let mut totals = Vec::with_capacity(count);
    for _ in 0..count {
        let bytes = r.bytes(out_bytes)?.to_vec();
        let mut at = 0;
        for (k, data) in out_data.iter_mut().enumerate() {
            let size = c.output(k).map_or(0, |t| t.size_bytes());
            data.extend_from_slice(&bytes[at..at + size]);
            at += size;
        }
        for s in layer_sum.iter_mut() {
            *s += to_instr(r.u32()?);
        }
        totals.push(to_instr(r.u32()?));
    }
    let stack = r.u32()? as u64;
    let outputs = out_data
        .iter()
        .enumerate()
        .map(|(k, bytes)| {
            let t = c.output(k).expect("output exists");
            let mut shape = vec![count];
            shape.extend(t.shape.dims().iter().map(|&d| d as usize));
            Array {
                shape,
                data: Data::from_bytes(t.dtype, bytes),
            }
        })
        .collect();

    let (flash_bytes, static_ram) = elf_sizes(&elf, flash, ram)?;
    let per_inference = totals.iter().sum::<u64>() / count.max(1) as u64;
    let macs = c.report.macs;
    let attributed = attribute(&marks, board.start_reads, count, layers)?;
    let mean = |f: &dyn Fn(&SampleMarks) -> u64| {
        attributed.iter().map(f).sum::<u64>() / count.max(1) as u64
    };
    let cycles_per_sample: Vec<u64> = attributed.iter().map(|(t, _)| t.cycles).collect();
    let cycles_per_inference = mean(&|(t, _)| t.cycles);
    let per_mac = |v: u64, macs: u64| {
        if macs > 0 {
            v as f64 / macs as f64
        } else {
            0.0
        }
    };
    let layers = c
        .report
        .layers
        .iter()
        .zip(&layer_sum)
        .enumerate()
        .map(|(k, (l, &sum))| {
            let instructions = sum / count.max(1) as u64;
            let cycles = mean(&|(_, ls)| ls[k].cycles);
            LayerCost {
                cycles,
                cycles_per_mac: per_mac(cycles, l.macs),
                flash_reads: mean(&|(_, ls)| ls[k].flash_reads),
                index: l.index,
                op: l.op.clone(),
                kernel: l.kernel.rsplit("::").next().unwrap_or(l.kernel).to_string(),
                macs: l.macs,
                instructions,
                instructions_per_mac: if l.macs > 0 {
                    instructions as f64 / l.macs as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    Ok(SimRun {
        outputs,
        report: SimReport {
            board: board.name.into(),
            model: model.display().to_string(),
            samples: count,
            instructions_per_inference: per_inference,
            instructions_per_sample: totals,
            cycles_per_inference,
            cycles_per_sample,
            cycles_per_mac: per_mac(cycles_per_inference, macs),
            cycle_model: format!("cortex-{} (docs/cycle-model.md)", board.core),
            flash_reads: mean(&|(t, _)| t.flash_reads),
            flash_read_bytes: mean(&|(t, _)| t.flash_bytes),
            macs,
            instructions_per_mac: if macs > 0 {
                per_inference as f64 / macs as f64
            } else {
                0.0
            },
            arena_bytes: c.arena_bytes,
            flash_bytes,
            static_ram_bytes: static_ram,
            stack_bytes: stack,
            ram_bytes: static_ram + stack,
            calibration: (calib_instr, calib_ticks),
            layers,
            elf: elf_path.display().to_string(),
        },
    })
}

pub(crate) fn which_qemu() -> Result<PathBuf, String> {
    let name = "qemu-system-arm";
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            format!("{name} not found; install it with: sudo apt-get install -y qemu-system-arm")
        })
}

/// Prints the per-layer table and totals.
pub fn print_table(r: &SimReport) {
    println!(
        "{:>3}  {:<18} {:<28} {:>10} {:>13} {:>9} {:>12} {:>9} {:>11}",
        "#",
        "op",
        "kernel",
        "MACs",
        "instructions",
        "instr/MAC",
        "cycles",
        "cyc/MAC",
        "flash reads"
    );
    let per_mac = |macs: u64, v: f64| {
        if macs > 0 {
            format!("{v:.2}")
        } else {
            "-".into()
        }
    };
    for l in &r.layers {
        println!(
            "{:>3}  {:<18} {:<28} {:>10} {:>13} {:>9} {:>12} {:>9} {:>11}",
            l.index,
            l.op,
            l.kernel,
            l.macs,
            l.instructions,
            per_mac(l.macs, l.instructions_per_mac),
            l.cycles,
            per_mac(l.macs, l.cycles_per_mac),
            l.flash_reads
        );
    }
    println!();
    println!("board                    {}", r.board);
    println!("samples                  {}", r.samples);
    println!("instructions/inference   {}", r.instructions_per_inference);
    println!("MACs                     {}", r.macs);
    println!("instructions/MAC         {:.3}", r.instructions_per_mac);
    println!(
        "cycles/inference         {} (estimated: {})",
        r.cycles_per_inference, r.cycle_model
    );
    println!("cycles/MAC               {:.3}", r.cycles_per_mac);
    println!(
        "flash reads/inference    {} ({} bytes)",
        r.flash_reads, r.flash_read_bytes
    );
    println!("arena                    {} bytes", r.arena_bytes);
    println!(
        "flash                    {} bytes (code + constants)",
        r.flash_bytes
    );
    println!(
        "RAM                      {} bytes ({} static incl. arena + {} stack)",
        r.ram_bytes, r.static_ram_bytes, r.stack_bytes
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(pc: u64, cycles: u64) -> Mark {
        Mark {
            pc,
            cycles,
            instructions: cycles,
            flash_reads: cycles / 10,
            flash_bytes: cycles / 5,
        }
    }

    #[test]
    fn attributes_marks_to_layers() {
        // Calibration (2 reads), then one sample of two layers: start, 2 x (before, after), end.
        let marks: Vec<Mark> = [0, 100, 200, 210, 300, 320, 500, 530]
            .iter()
            .map(|&c| mark(0x100, c))
            .collect();
        let a = attribute(&marks, 0, 1, 2).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0.cycles, 330);
        assert_eq!(a[0].0.flash_reads, 53 - 20);
        let layers: Vec<u64> = a[0].1.iter().map(|m| m.cycles).collect();
        assert_eq!(layers, [90, 180]);
        assert!(attribute(&marks[1..], 0, 1, 2).is_err());
        // A counter that polls itself while starting: each polling loop (reads a few
        // instructions apart) collapses to one read, which is skipped.
        let polls = |at: u64| [mark(0x200, at), mark(0x204, at + 2), mark(0x200, at + 5)];
        let mut polled = polls(0).to_vec();
        polled.extend(marks[..2].iter().map(|m| mark(m.pc, m.cycles + 20)));
        polled.extend(polls(150));
        polled.extend(marks[2..].iter().copied());
        let a = attribute(&polled, 1, 1, 2).unwrap();
        assert_eq!(a[0].0.cycles, 330);
        assert_eq!(a[0].1[1].cycles, 180);
        assert!(attribute(&polled, 0, 1, 2).is_err());
    }

    #[test]
    fn reads_plugin_marks() {
        let m = read_marks("mark 1f2 10 3 4 16\nend 0 20 6 4 16\n").unwrap();
        assert_eq!(
            m,
            [Mark {
                pc: 0x1f2,
                cycles: 10,
                instructions: 3,
                flash_reads: 4,
                flash_bytes: 16
            }]
        );
        assert!(read_marks("mark x\n").is_err());
    }

    #[test]
    fn reads_memory_x() {
        let m = "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 2048K\n  RAM : ORIGIN = 0x20000000, LENGTH = 640K\n}";
        assert_eq!(
            memory_regions(m),
            Some(((0, 2048 * 1024), (0x2000_0000, 640 * 1024)))
        );
    }
}
