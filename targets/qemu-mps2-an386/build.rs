//! Converts the model (`FERRITE_MODEL`, default: the bundled digits classifier) and embeds
//! the input samples (`FERRITE_SAMPLES`) in memory outside the emulated chip's flash.
fn main() {
    ferrite_board_build::generate(&ferrite_board_build::Board {
        samples_section: Some(".ferrite_samples"),
        max_samples: usize::MAX,
        target: ferrite_board_build::Target::CortexMDsp,
        // 640 KB of RAM less 32 KB for the stack and the firmware's own statics.
        arena_budget: Some(608 * 1024),
        // 2048 KB of flash less 32 KB for the rest of the firmware.
        flash_budget: Some(2016 * 1024),
    });
}
