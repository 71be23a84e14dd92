//! `ferrite sim`: build a board's firmware with the model and the input samples embedded, run
//! it in QEMU, and report outputs and cost per layer.
//!
//! Cost is counted in instructions: QEMU runs with `-icount shift=0` (1 ns of virtual time per
//! instruction), the firmware times each layer with a board timer and calibrates the timer
//! against a loop of known length, so the counts are exact to the timer's resolution and
//! identical from run to run.

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
    },
    Board {
        name: "qemu-m3",
        crate_dir: "qemu-mps2-an385",
        cpu: "cortex-m3",
        machine: "mps2-an385",
        description: "Cortex-M3 without DSP (MPS2 AN385), memory of an STM32F207ZG",
        target: ferrite_convert::Target::Portable,
    },
    Board {
        name: "qemu-m55",
        crate_dir: "qemu-mps3-an547",
        cpu: "cortex-m55",
        machine: "mps3-an547",
        description: "Cortex-M55 with Helium (MPS3 AN547, Corstone-300 TCMs)",
        target: ferrite_convert::Target::Helium,
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

/// Builds the board firmware for `model` with `inputs` embedded; returns the ELF path.
fn build(
    board: &Board,
    dir: &Path,
    model: &Path,
    inputs: &[PathBuf],
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
        eprintln!("building {} firmware ({}) ...", board.name, board.crate_dir);
    }
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args([
        "build",
        "--release",
        "--message-format=json-render-diagnostics",
    ])
    .current_dir(&crate_dir)
    .env("FERRITE_MODEL", abs(model)?)
    .env("FERRITE_BATCH", crate::batch().to_string())
    .env("FERRITE_SAMPLES", samples)
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

/// Decodes the firmware's defmt log (semihosting stdout) into lines.
fn decode_log(elf: &[u8], raw: &[u8]) -> Vec<String> {
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
    // Builds of one board share an output path: hold a lock from building the firmware to
    // reading it, so concurrent simulations cannot run each other's model.
    let lock_path = std::env::temp_dir().join(format!("ferrite-sim-{}.lock", board.crate_dir));
    let lock =
        std::fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let elf_path = build(board, dir, model, inputs, quiet)?;
    let elf = std::fs::read(&elf_path).map_err(|e| format!("{}: {e}", elf_path.display()))?;
    drop(lock);

    let work =
        std::env::temp_dir().join(format!("ferrite-sim-{}-{}", std::process::id(), board.name));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let results_path = work.join("ferrite-results.bin");
    let _ = std::fs::remove_file(&results_path);
    let qemu = which_qemu()?;
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
    let _ = std::fs::remove_dir_all(&work);
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

    let memory = std::fs::read_to_string(dir.join(board.crate_dir).join("memory.x"))
        .map_err(|e| e.to_string())?;
    let (flash, ram) = memory_regions(&memory).ok_or("cannot read FLASH/RAM from memory.x")?;
    let (flash_bytes, static_ram) = elf_sizes(&elf, flash, ram)?;
    let per_inference = totals.iter().sum::<u64>() / count.max(1) as u64;
    let macs = c.report.macs;
    let layers = c
        .report
        .layers
        .iter()
        .zip(&layer_sum)
        .map(|(l, &sum)| {
            let instructions = sum / count.max(1) as u64;
            LayerCost {
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

fn which_qemu() -> Result<PathBuf, String> {
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
        "{:>3}  {:<18} {:<28} {:>10} {:>13} {:>9}",
        "#", "op", "kernel", "MACs", "instructions", "instr/MAC"
    );
    for l in &r.layers {
        let per_mac = if l.macs > 0 {
            format!("{:.2}", l.instructions_per_mac)
        } else {
            "-".into()
        };
        println!(
            "{:>3}  {:<18} {:<28} {:>10} {:>13} {:>9}",
            l.index, l.op, l.kernel, l.macs, l.instructions, per_mac
        );
    }
    println!();
    println!("board                    {}", r.board);
    println!("samples                  {}", r.samples);
    println!("instructions/inference   {}", r.instructions_per_inference);
    println!("MACs                     {}", r.macs);
    println!("instructions/MAC         {:.3}", r.instructions_per_mac);
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

    #[test]
    fn reads_memory_x() {
        let m = "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 2048K\n  RAM : ORIGIN = 0x20000000, LENGTH = 640K\n}";
        assert_eq!(
            memory_regions(m),
            Some(((0, 2048 * 1024), (0x2000_0000, 640 * 1024)))
        );
    }
}
