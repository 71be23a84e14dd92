//! Converts the gesture model at build time (DSP kernels for the Cortex-M4F, the portable
//! ones for the host tests) and puts `memory.x` where the linker finds it.
use std::path::PathBuf;

fn main() {
    let model = "model/gesture_int8.tflite";
    println!("cargo:rerun-if-changed={model}");
    println!("cargo:rerun-if-changed=memory.x");
    let on_board = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none");
    let target = if on_board {
        ferrite_convert::Target::CortexMDsp
    } else {
        ferrite_convert::Target::Portable
    };
    if let Err(e) = ferrite_convert::Builder::new(model)
        .target(target)
        .emit_to_out_dir()
    {
        panic!("converting {model}: {e}");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::copy("memory.x", out.join("memory.x")) {
        panic!("copying memory.x: {e}");
    }
    println!("cargo:rustc-link-search={}", out.display());
}
