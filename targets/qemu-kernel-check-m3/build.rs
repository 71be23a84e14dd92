//! Generates random convolution layers on the host (`ferrite_convert::kernel_cases`), each as
//! the reference operator and the no-DSP operator over the same constants, and embeds them:
//! `FERRITE_KERNEL_CASES` cases (default 60, half dense, half depthwise).
use ferrite_convert::kernel_cases::{nodsp_case, Rng};

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let wanted: usize = std::env::var("FERRITE_KERNEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    println!("cargo:rerun-if-env-changed=FERRITE_KERNEL_CASES");
    let mut rng = Rng(0x0d5b_37e5);
    let mut cases = Vec::new();
    while cases.len() < wanted {
        if let Some(c) = nodsp_case(&mut rng, cases.len() % 2 == 1) {
            cases.push(c);
        }
    }
    let s = ferrite_convert::kernel_cases::cases_module(&cases, Some(".ferrite_samples"));
    std::fs::write(out.join("cases.rs"), s).unwrap();
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
