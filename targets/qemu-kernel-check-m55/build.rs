//! Generates random convolution layers on the host (`ferrite_convert::kernel_cases`), each as
//! the reference operator and the fast operator over the same constants, and embeds them:
//! `FERRITE_KERNEL_CASES` Helium cases (default 240, half dense, half depthwise) and a quarter
//! as many DSP cases (the Cortex-M55 runs both kinds of kernels).
use ferrite_convert::kernel_cases::{dsp_case, helium_case, KernelCase, Rng};
use std::fmt::Write;

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let helium_wanted: usize = std::env::var("FERRITE_KERNEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(240);
    println!("cargo:rerun-if-env-changed=FERRITE_KERNEL_CASES");
    let mut cases: Vec<KernelCase> = Vec::new();
    let mut rng = Rng(0x0055_4e11_0bea);
    while cases.len() < helium_wanted {
        if let Some(c) = helium_case(&mut rng, cases.len() % 2 == 1) {
            cases.push(c);
        }
    }
    let mut rng = Rng(0xfe44_17e5);
    let dsp_wanted = helium_wanted + helium_wanted / 4;
    while cases.len() < dsp_wanted {
        if let Some(c) = dsp_case(&mut rng, cases.len() % 2 == 1) {
            cases.push(c);
        }
    }
    let mut s = String::new();
    let max_arena = cases.iter().map(|c| c.arena_bytes).max().unwrap_or(16);
    let _ = writeln!(s, "pub const ARENA_BYTES: usize = {max_arena};");
    for (i, c) in cases.iter().enumerate() {
        let consts = ferrite_convert::emit::byte_string(&c.consts);
        let input: Vec<u8> = c.input.iter().map(|&v| v as u8).collect();
        let _ = writeln!(s, "#[link_section = \".ferrite_samples\"]\nstatic CONSTS_{i}: ferrite_core::arena::Aligned<[u8; {}]> = ferrite_core::arena::Aligned(*b\"{consts}\");", c.consts.len());
        let _ = writeln!(
            s,
            "#[link_section = \".ferrite_samples\"]\nstatic INPUT_{i}: [u8; {}] = *b\"{}\";",
            input.len(),
            ferrite_convert::emit::byte_string(&input)
        );
        let _ = writeln!(
            s,
            "static TENSORS_{i}: [ferrite_core::Tensor; 2] = [{}, {}];",
            ferrite_convert::rustlit::to_rust(&c.tensors[0]).unwrap(),
            ferrite_convert::rustlit::to_rust(&c.tensors[1]).unwrap()
        );
        let _ = writeln!(
            s,
            "static REFERENCE_{i}: ferrite_core::Op = {};",
            ferrite_convert::rustlit::to_rust(&c.reference).unwrap()
        );
        let _ = writeln!(
            s,
            "static FAST_{i}: ferrite_core::Op = {};",
            ferrite_convert::rustlit::to_rust(&c.fast).unwrap()
        );
    }
    let _ = writeln!(s, "pub static CASES: [Case; {}] = [", cases.len());
    for (i, c) in cases.iter().enumerate() {
        let _ = writeln!(
            s,
            "    Case {{ name: {:?}, consts: &CONSTS_{i}.0, input: &INPUT_{i}, tensors: &TENSORS_{i}, reference: &REFERENCE_{i}, fast: &FAST_{i}, arena_bytes: {} }},",
            c.name, c.arena_bytes
        );
    }
    s.push_str("];\n");
    std::fs::write(out.join("cases.rs"), s).unwrap();
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
