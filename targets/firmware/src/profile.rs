//! Per-layer cost, through the executor's [`LayerHook`].

use crate::counter::Counter;
use ferrite_core::{Layer, LayerHook};

/// Records the ticks each layer takes into `ticks[layer]`.
pub struct LayerProfile<'a, C: Counter> {
    counter: &'a C,
    ticks: &'a mut [u32],
    started: u32,
}

impl<'a, C: Counter> LayerProfile<'a, C> {
    /// A profile writing into `ticks` (one entry per layer; extra layers are not recorded).
    pub fn new(counter: &'a C, ticks: &'a mut [u32]) -> Self {
        LayerProfile {
            counter,
            ticks,
            started: 0,
        }
    }
}

impl<C: Counter> LayerHook for LayerProfile<'_, C> {
    fn before_layer(&mut self, _index: usize, _layer: &Layer) {
        self.started = self.counter.elapsed();
    }

    fn after_layer(&mut self, index: usize, _layer: &Layer, _arena: &[u8]) {
        let now = self.counter.elapsed();
        if let Some(t) = self.ticks.get_mut(index) {
            *t = now.wrapping_sub(self.started);
        }
    }
}
