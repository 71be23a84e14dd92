//! Converts the model (`FERRITE_MODEL`, default: the bundled digits classifier) and embeds one
//! input sample (`FERRITE_SAMPLES`) in flash for the demo run.
fn main() {
    ferrite_board_build::generate(&ferrite_board_build::Board {
        samples_section: None,
        max_samples: 1,
        target: ferrite_board_build::Target::CortexMDsp,
        // 320 KB of RAM less 32 KB for the stack and the firmware's own statics.
        arena_budget: Some(288 * 1024),
        // 1024 KB of flash less 32 KB for the rest of the firmware.
        flash_budget: Some(992 * 1024),
    });
}
