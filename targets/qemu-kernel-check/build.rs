//! Generates random convolution layers on the host (`ferrite_convert::kernel_cases`), each as
//! the reference operator and the DSP operator over the same constants, and embeds them:
//! `FERRITE_KERNEL_CASES` int8 cases (default 120) and a third as many 16x8 ones.

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let cases_wanted: usize = std::env::var("FERRITE_KERNEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    println!("cargo:rerun-if-env-changed=FERRITE_KERNEL_CASES");
    let cases = ferrite_convert::kernel_cases::qemu_check_cases(cases_wanted);
    let s = ferrite_convert::kernel_cases::cases_module(&cases, None);
    std::fs::write(out.join("cases.rs"), s).unwrap();
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
