//! Generates random convolution layers on the host (`ferrite_convert::kernel_cases`), each as
//! the reference operator and the fast operator over the same constants, and embeds them:
//! `FERRITE_KERNEL_CASES` Helium cases (default 240, half dense, half depthwise) and a quarter
//! as many int8 DSP cases and as many 16x8 DSP cases (the Cortex-M55 runs both kinds of
//! kernels).
use ferrite_convert::kernel_cases::{dsp16_case, dsp_case, helium_case, KernelCase, Rng};

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
    // The 16x8 DSP kernels: as many cases as the int8 DSP ones.
    let mut rng = Rng(0x16_08_17e5);
    let dsp16_wanted = dsp_wanted + helium_wanted / 4;
    while cases.len() < dsp16_wanted {
        if let Some(c) = dsp16_case(&mut rng, cases.len() % 2 == 1) {
            cases.push(c);
        }
    }
    let s = ferrite_convert::kernel_cases::cases_module(&cases, Some(".ferrite_samples"));
    std::fs::write(out.join("cases.rs"), s).unwrap();
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
