//! Tells the kernels whether they build for ARMv6-M (Cortex-M0/M0+), which has no 64-bit
//! multiply instruction: stable Rust exposes no `cfg` for it, so this reads the target name.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(ferrite_armv6m)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv6m") {
        println!("cargo::rustc-cfg=ferrite_armv6m");
    }
}
