//! The static model description and the executor that runs it.
//!
//! A [`Model`] is plain data: tables of tensors and layers plus one blob of constants, all of
//! which the converter emits as `static` items. Running it walks the layers in order and
//! calls each layer's kernel function on the arena.

use crate::arena::ARENA_ALIGN;
use crate::dtype::{DType, Element};
use crate::error::Error;
use crate::ops::Op;
use crate::Result;
use core::marker::PhantomData;

/// Largest tensor rank the runtime describes.
pub const MAX_RANK: usize = 6;

/// Index of an activation tensor in [`Model::tensors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorId(pub u16);

/// A tensor shape (row-major, NHWC for images).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Shape {
    /// Number of dimensions in use.
    pub rank: u8,
    /// The dimensions; entries at and beyond `rank` are 1.
    pub dims: [u32; MAX_RANK],
}

impl Shape {
    /// A shape from its dimensions (at most [`MAX_RANK`]; extra ones are ignored).
    // Bounds: the loop runs while `i < dims.len()` and `i < MAX_RANK == out.len()` (a const fn
    // cannot use `get`).
    #[allow(clippy::indexing_slicing)]
    pub const fn new(dims: &[u32]) -> Shape {
        let mut out = [1u32; MAX_RANK];
        let mut i = 0;
        while i < dims.len() && i < MAX_RANK {
            out[i] = dims[i];
            i += 1;
        }
        Shape {
            rank: i as u8,
            dims: out,
        }
    }

    /// The dimensions in use.
    pub fn dims(&self) -> &[u32] {
        let rank = (self.rank as usize).min(MAX_RANK);
        self.dims.get(..rank).unwrap_or(&self.dims)
    }

    /// Number of elements (the product of the dimensions), saturating at `usize::MAX`.
    pub fn num_elements(&self) -> usize {
        self.dims()
            .iter()
            .fold(1usize, |acc, &d| acc.saturating_mul(d as usize))
    }
}

/// An activation tensor: where it lives in the arena and how to read it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Tensor {
    /// Byte offset in the arena (a multiple of [`ARENA_ALIGN`]).
    pub offset: u32,
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Shape,
    /// Quantization scale (0.0 for float tensors).
    pub scale: f32,
    /// Quantization zero point (0 for float tensors).
    pub zero_point: i32,
}

impl Tensor {
    /// Number of elements.
    pub fn num_elements(&self) -> usize {
        self.shape.num_elements()
    }

    /// Size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.num_elements().saturating_mul(self.dtype.size_bytes())
    }

    /// The tensor's byte range within the arena, if the arena holds it.
    fn range(&self, arena_len: usize) -> Option<core::ops::Range<usize>> {
        let start = self.offset as usize;
        let end = start.checked_add(self.size_bytes())?;
        (end <= arena_len).then_some(start..end)
    }

    /// The tensor's bytes within `arena`, if the arena holds them.
    fn bytes<'r>(&self, arena: &'r [u8]) -> Option<&'r [u8]> {
        arena.get(self.range(arena.len())?)
    }

    /// The tensor's bytes within `arena`, mutable, if the arena holds them.
    fn bytes_mut<'r>(&self, arena: &'r mut [u8]) -> Option<&'r mut [u8]> {
        let range = self.range(arena.len())?;
        arena.get_mut(range)
    }
}

/// One variable tensor's place in the state region (see [`StatePlan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StateSlot {
    /// Byte offset in the state region (a multiple of [`ARENA_ALIGN`]).
    pub offset: u32,
    /// Size in bytes.
    pub bytes: u32,
    /// The byte every element starts from and returns to on [`Model::reset_state`]: an int8
    /// tensor's zero point, 0 for every other type (TFLite Micro's
    /// `ResetVariableTensors` sets the bytes of int8 variables to their zero point and of
    /// everything else to zero).
    pub fill: u8,
    /// The slot's initial contents in the constant blob ([`Model::consts`], exactly
    /// [`StateSlot::bytes`] long), or empty to start from [`StateSlot::fill`]: a resource
    /// variable that a `CALL_ONCE` initialisation subgraph assigns a constant starts, and
    /// restarts on [`Model::reset_state`], from that value.
    pub init: ConstRef<u8>,
}

impl StateSlot {
    /// The slot's byte range within a state region of `len` bytes, if the region holds it.
    fn range(&self, len: usize) -> Option<core::ops::Range<usize>> {
        let start = self.offset as usize;
        let end = start.checked_add(self.bytes as usize)?;
        (end <= len).then_some(start..end)
    }
}

/// The persistent state region of a model with variable (stateful) tensors: what SVDF and
/// recurrent layers carry from one inference to the next.
///
/// It lives outside the arena, in a buffer the caller owns (no heap, no hidden statics), so
/// the arena can be reused freely between inferences while the state stays. Its layout is
/// planned by the converter: `bytes` is the generated `STATE_BYTES` constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StatePlan<'a> {
    /// Bytes of state the model needs (0 for a stateless model).
    pub bytes: usize,
    /// The variable tensors, indexed by the slot numbers the layers name.
    pub slots: &'a [StateSlot],
}

impl StatePlan<'static> {
    /// No state: a model without variable tensors.
    pub const NONE: StatePlan<'static> = StatePlan {
        bytes: 0,
        slots: &[],
    };
}

/// A typed slice of the model's constant blob ([`Model::consts`]): `len` elements of `T`
/// starting `offset` bytes into the blob.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConstRef<T> {
    /// Byte offset into the constant blob (aligned for `T`).
    pub offset: u32,
    /// Number of elements.
    pub len: u32,
    #[cfg_attr(feature = "serde", serde(skip))]
    _marker: PhantomData<fn() -> T>,
}

impl<T> ConstRef<T> {
    /// A reference to `len` elements at byte `offset`.
    pub const fn new(offset: u32, len: u32) -> Self {
        ConstRef {
            offset,
            len,
            _marker: PhantomData,
        }
    }

    /// A reference to nothing (an absent bias, for instance).
    pub const EMPTY: Self = Self::new(0, 0);

    /// True when the reference holds no elements.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T> Clone for ConstRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ConstRef<T> {}
impl<T> Eq for ConstRef<T> {}
impl<T> PartialEq for ConstRef<T> {
    fn eq(&self, other: &Self) -> bool {
        self.offset == other.offset && self.len == other.len
    }
}
impl<T> core::fmt::Debug for ConstRef<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ConstRef({}+{})", self.offset, self.len)
    }
}

/// The function that runs one layer. The converter picks it per layer, so a firmware links
/// only the kernels its model uses.
pub type KernelFn = fn(&mut Ctx<'_>, &Op) -> Result<()>;

/// One step of the network: an operator with its precomputed parameters and its kernel.
#[derive(Clone, Copy)]
pub struct Layer {
    /// Parameters, with every tensor, constant and requantization value resolved.
    pub op: Op,
    /// The kernel that runs `op`.
    pub kernel: KernelFn,
    /// The TFLite operator this layer came from (`"CONV_2D"`), for logs and profiles.
    pub name: &'static str,
}

impl core::fmt::Debug for Layer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Layer")
            .field("name", &self.name)
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

/// Observes a run layer by layer: profiling, tracing, comparing intermediates with goldens.
///
/// Both methods default to doing nothing; [`NoHook`] is the hook that does nothing at all.
pub trait LayerHook {
    /// Called before layer `index` runs.
    fn before_layer(&mut self, _index: usize, _layer: &Layer) {}
    /// Called after layer `index` ran; `arena` holds its output.
    fn after_layer(&mut self, _index: usize, _layer: &Layer, _arena: &[u8]) {}
}

/// A [`LayerHook`] that does nothing (compiles away).
pub struct NoHook;
impl LayerHook for NoHook {}

/// A network ready to run: what the converter emits.
///
/// ```
/// use ferrite_core::*;
/// // The smallest model: no layers, the output is the input tensor.
/// static TENSORS: [Tensor; 1] = [Tensor {
///     offset: 0, dtype: DType::I8, shape: Shape::new(&[1, 4]), scale: 0.5, zero_point: 0,
/// }];
/// static MODEL: Model<'static> = Model {
///     tensors: &TENSORS, layers: &[], consts: &[],
///     inputs: &[TensorId(0)], outputs: &[TensorId(0)], arena_bytes: 16, state: StatePlan::NONE,
/// };
/// let mut arena = Arena::<16>::new();
/// let out: &[i8] = MODEL.run(arena.as_mut_slice(), &[1i8, 2, 3, 4]).unwrap();
/// assert_eq!(out, &[1, 2, 3, 4]);
/// assert_eq!(MODEL.run(arena.as_mut_slice(), &[1i8]).unwrap_err(),
///            Error::InputLength { expected: 4, actual: 1 });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    /// Activation tensors (everything that lives in the arena).
    pub tensors: &'a [Tensor],
    /// Layers in execution order.
    pub layers: &'a [Layer],
    /// Every constant (weights, biases, multipliers, tables), 16-byte aligned.
    pub consts: &'a [u8],
    /// Model inputs.
    pub inputs: &'a [TensorId],
    /// Model outputs.
    pub outputs: &'a [TensorId],
    /// Bytes of arena the model needs.
    pub arena_bytes: usize,
    /// The persistent state region ([`StatePlan::NONE`] for a stateless model).
    pub state: StatePlan<'a>,
}

impl<'a> Model<'a> {
    /// Runs a single-input, single-output model whose input and output share an element
    /// type: copies `input` in, runs every layer and returns the output tensor, which
    /// borrows the arena. Models with several inputs or mixed types use
    /// [`Model::set_input`], [`Model::invoke`] and [`Model::output`].
    pub fn run<'r, T: Element>(&self, arena: &'r mut [u8], input: &[T]) -> Result<&'r [T]> {
        self.run_with_hook(arena, input, &mut NoHook)
    }

    /// [`Model::run`] with a [`LayerHook`] observing each layer.
    pub fn run_with_hook<'r, T: Element, H: LayerHook>(
        &self,
        arena: &'r mut [u8],
        input: &[T],
        hook: &mut H,
    ) -> Result<&'r [T]> {
        self.run_stateful_with_hook(arena, &mut [], input, hook)
    }

    /// [`Model::run`] for a model with variable tensors: `state` is the persistent state
    /// region (at least [`StatePlan::bytes`], the generated `STATE_BYTES`, 16-byte aligned,
    /// e.g. an [`crate::Arena`] of its own). The run reads and updates it, so consecutive calls
    /// continue one sequence; [`Model::reset_state`] starts a new one and must be called once
    /// before the first run. A stateless model accepts an empty `state`.
    pub fn run_stateful<'r, T: Element>(
        &self,
        arena: &'r mut [u8],
        state: &mut [u8],
        input: &[T],
    ) -> Result<&'r [T]> {
        self.run_stateful_with_hook(arena, state, input, &mut NoHook)
    }

    /// [`Model::run_stateful`] with a [`LayerHook`] observing each layer.
    pub fn run_stateful_with_hook<'r, T: Element, H: LayerHook>(
        &self,
        arena: &'r mut [u8],
        state: &mut [u8],
        input: &[T],
        hook: &mut H,
    ) -> Result<&'r [T]> {
        if self.input_in_place(0)? {
            let t = self.input_tensor(0)?;
            check_dtype::<T>(t.dtype)?;
            if input.len() != t.num_elements() {
                return Err(Error::InputLength {
                    expected: t.num_elements(),
                    actual: input.len(),
                });
            }
            self.invoke_stateful_with_hook(arena, state, bytemuck::cast_slice(input), hook)?;
        } else {
            self.set_input(arena, 0, input)?;
            self.invoke_stateful_with_hook(arena, state, &[], hook)?;
        }
        self.output(arena, 0)
    }

    /// Checks that `state` can hold the model's state region: at least
    /// [`StatePlan::bytes`] long and, when the model has state, 16-byte aligned.
    pub fn check_state(&self, state: &[u8]) -> Result<()> {
        if state.len() < self.state.bytes {
            return Err(Error::StateTooSmall {
                required: self.state.bytes,
                actual: state.len(),
            });
        }
        if self.state.bytes > 0 && !(state.as_ptr() as usize).is_multiple_of(ARENA_ALIGN) {
            return Err(Error::StateMisaligned {
                required: ARENA_ALIGN,
            });
        }
        Ok(())
    }

    /// Puts every variable tensor back to its initial value, as TensorFlow Lite Micro's
    /// `MicroInterpreter::ResetVariableTensors` does: the bytes of an int8 variable become its
    /// zero point, those of any other type zero ([`StateSlot::fill`]); a resource variable
    /// with a constant initial value ([`StateSlot::init`]) gets that value back, as a freshly
    /// created TFLM interpreter's first `CALL_ONCE` gives it. Call it once before the first
    /// inference (TFLM resets when it allocates the tensors) and whenever a new sequence
    /// starts.
    pub fn reset_state(&self, state: &mut [u8]) -> Result<()> {
        self.check_state(state)?;
        let region = state
            .get_mut(..self.state.bytes)
            .ok_or(Error::StateTooSmall {
                required: self.state.bytes,
                actual: 0,
            })?;
        for slot in self.state.slots {
            let range = slot.range(region.len()).ok_or(Error::InvalidModel {
                reason: "state slot outside the state region",
            })?;
            let bytes = region.get_mut(range).ok_or(Error::InvalidModel {
                reason: "state slot outside the state region",
            })?;
            if slot.init.is_empty() {
                bytes.fill(slot.fill);
            } else {
                let start = slot.init.offset as usize;
                let init = start
                    .checked_add(slot.init.len as usize)
                    .and_then(|end| self.consts.get(start..end))
                    .filter(|init| init.len() == bytes.len())
                    .ok_or(Error::InvalidModel {
                        reason: "a state slot's initial value is not its size in the constants",
                    })?;
                bytes.copy_from_slice(init);
            }
        }
        Ok(())
    }

    /// True when input `index` is read in place from the caller's buffer rather than copied
    /// into the arena: the converter places it there (at tensor offset `arena_bytes`, just
    /// past the arena; views of it lie further on) when a RAM budget needs the arena without it. Such an input is passed to
    /// [`Model::run`] or [`Model::invoke_in_place`]; [`Model::set_input`] refuses it.
    pub fn input_in_place(&self, index: usize) -> Result<bool> {
        let t = self.input_tensor(index)?;
        Ok(t.offset as usize == self.arena_bytes && t.size_bytes() > 0)
    }

    /// The `index`-th input tensor.
    pub fn input_tensor(&self, index: usize) -> Result<&'a Tensor> {
        let id = self.inputs.get(index).ok_or(Error::NoSuchIo { index })?;
        self.tensor(*id)
    }

    /// The `index`-th output tensor.
    pub fn output_tensor(&self, index: usize) -> Result<&'a Tensor> {
        let id = self.outputs.get(index).ok_or(Error::NoSuchIo { index })?;
        self.tensor(*id)
    }

    /// A tensor by id.
    pub fn tensor(&self, id: TensorId) -> Result<&'a Tensor> {
        self.tensors.get(id.0 as usize).ok_or(Error::InvalidModel {
            reason: "tensor id out of range",
        })
    }

    /// Checks that `arena` is large enough and 16-byte aligned.
    pub fn check_arena(&self, arena: &[u8]) -> Result<()> {
        if arena.len() < self.arena_bytes {
            return Err(Error::ArenaTooSmall {
                required: self.arena_bytes,
                actual: arena.len(),
            });
        }
        if !(arena.as_ptr() as usize).is_multiple_of(ARENA_ALIGN) {
            return Err(Error::ArenaMisaligned {
                required: ARENA_ALIGN,
            });
        }
        Ok(())
    }

    /// Copies `data` into input tensor `index`.
    pub fn set_input<T: Element>(&self, arena: &mut [u8], index: usize, data: &[T]) -> Result<()> {
        self.check_arena(arena)?;
        if self.input_in_place(index)? {
            return Err(Error::InputInPlace { index });
        }
        let t = self.input_tensor(index)?;
        check_dtype::<T>(t.dtype)?;
        if data.len() != t.num_elements() {
            return Err(Error::InputLength {
                expected: t.num_elements(),
                actual: data.len(),
            });
        }
        let dst = t.bytes_mut(arena).ok_or(Error::InvalidModel {
            reason: "input tensor outside the arena",
        })?;
        // Same length: `data` has `num_elements` elements of the tensor's type (checked above);
        // checked again where the optimiser sees it, so no length-mismatch panic is linked.
        let src: &[u8] = bytemuck::cast_slice(data);
        if dst.len() != src.len() {
            return Err(Error::InvalidModel {
                reason: "input tensor size overflows",
            });
        }
        dst.copy_from_slice(src);
        Ok(())
    }

    /// Copies raw little-endian bytes into input tensor `index` (for tools that handle any
    /// element type); `data` must be exactly the tensor's size in bytes.
    pub fn set_input_bytes(&self, arena: &mut [u8], index: usize, data: &[u8]) -> Result<()> {
        self.check_arena(arena)?;
        if self.input_in_place(index)? {
            return Err(Error::InputInPlace { index });
        }
        let t = self.input_tensor(index)?;
        if data.len() != t.size_bytes() {
            return Err(Error::InputLength {
                expected: t.size_bytes(),
                actual: data.len(),
            });
        }
        let dst = t.bytes_mut(arena).ok_or(Error::InvalidModel {
            reason: "input tensor outside the arena",
        })?;
        // Same length: checked against `size_bytes` above, and again where the optimiser
        // sees it (`bytes_mut` returns the tensor's range), so no panic path is linked.
        if dst.len() != data.len() {
            return Err(Error::InputLength {
                expected: dst.len(),
                actual: data.len(),
            });
        }
        dst.copy_from_slice(data);
        Ok(())
    }

    /// The raw bytes of output `index`, read from the arena after [`Model::invoke`].
    pub fn output_bytes<'r>(&self, arena: &'r [u8], index: usize) -> Result<&'r [u8]> {
        let t = self.output_tensor(index)?;
        t.bytes(arena).ok_or(Error::InvalidModel {
            reason: "output tensor outside the arena",
        })
    }

    /// The `index`-th output, read from the arena after [`Model::invoke`].
    pub fn output<'r, T: Element>(&self, arena: &'r [u8], index: usize) -> Result<&'r [T]> {
        let t = self.output_tensor(index)?;
        check_dtype::<T>(t.dtype)?;
        let bytes = t.bytes(arena).ok_or(Error::InvalidModel {
            reason: "output tensor outside the arena",
        })?;
        bytemuck::try_cast_slice(bytes).map_err(|_| Error::ArenaMisaligned {
            required: ARENA_ALIGN,
        })
    }

    /// Runs every layer on an arena whose inputs are set.
    pub fn invoke(&self, arena: &mut [u8]) -> Result<()> {
        self.invoke_with_hook(arena, &mut NoHook)
    }

    /// [`Model::invoke`] with a [`LayerHook`] observing each layer.
    pub fn invoke_with_hook<H: LayerHook>(&self, arena: &mut [u8], hook: &mut H) -> Result<()> {
        self.invoke_in_place(arena, &[], hook)
    }

    /// [`Model::invoke_with_hook`] for a model whose input 0 is read in place
    /// ([`Model::input_in_place`]): `input` is its bytes, little-endian, read where they are
    /// (pass `&[]` for a model without such an input). Other inputs are set with
    /// [`Model::set_input`] first.
    pub fn invoke_in_place<H: LayerHook>(
        &self,
        arena: &mut [u8],
        input: &[u8],
        hook: &mut H,
    ) -> Result<()> {
        self.invoke_stateful_with_hook(arena, &mut [], input, hook)
    }

    /// Runs every layer on an arena whose inputs are set, reading and updating the persistent
    /// `state` region (see [`Model::run_stateful`]).
    pub fn invoke_stateful(&self, arena: &mut [u8], state: &mut [u8]) -> Result<()> {
        self.invoke_stateful_with_hook(arena, state, &[], &mut NoHook)
    }

    /// [`Model::invoke_in_place`] with the persistent `state` region (see
    /// [`Model::run_stateful`]): the general form every other run and invoke calls.
    pub fn invoke_stateful_with_hook<H: LayerHook>(
        &self,
        arena: &mut [u8],
        state: &mut [u8],
        input: &[u8],
        hook: &mut H,
    ) -> Result<()> {
        self.check_arena(arena)?;
        self.check_state(state)?;
        // Only the planned region: slots are checked against it, not against a longer buffer.
        let state = state
            .get_mut(..self.state.bytes)
            .ok_or(Error::StateTooSmall {
                required: self.state.bytes,
                actual: 0,
            })?;
        let expected = match self.inputs.first() {
            Some(_) if self.input_in_place(0)? => self.input_tensor(0)?.size_bytes(),
            _ => 0,
        };
        if input.len() != expected {
            return Err(Error::InputLength {
                expected,
                actual: input.len(),
            });
        }
        // Offsets at and past `arena_bytes` name the caller's input: a longer arena must not
        // answer for them.
        let arena = arena
            .get_mut(..self.arena_bytes)
            .ok_or(Error::ArenaTooSmall {
                required: self.arena_bytes,
                actual: 0,
            })?;
        for (index, layer) in self.layers.iter().enumerate() {
            hook.before_layer(index, layer);
            let mut ctx = Ctx {
                model: self,
                arena: &mut *arena,
                external: input,
                state: &mut *state,
                layer: index as u16,
            };
            (layer.kernel)(&mut ctx, &layer.op)?;
            hook.after_layer(index, layer, arena);
        }
        Ok(())
    }
}

fn check_dtype<T: Element>(dtype: DType) -> Result<()> {
    if T::DTYPE != dtype {
        return Err(Error::DTypeMismatch {
            expected: dtype,
            actual: T::DTYPE,
        });
    }
    Ok(())
}

/// What a kernel sees while its layer runs: the model (for tensors and constants) and the
/// arena, with helpers that hand out the right slices or an [`Error`] naming the layer.
pub struct Ctx<'r> {
    /// The model being run.
    pub model: &'r Model<'r>,
    /// The whole arena.
    pub arena: &'r mut [u8],
    /// The caller's input read in place (empty if none): the bytes of tensors at offsets from
    /// `model.arena_bytes` on ([`Model::input_in_place`]).
    pub external: &'r [u8],
    /// The model's persistent state region ([`Model::state`]; empty for a stateless model).
    pub state: &'r mut [u8],
    /// Index of the running layer.
    pub layer: u16,
}

impl<'r> Ctx<'r> {
    /// An [`Error::InvalidLayer`] for the running layer.
    pub fn error(&self, reason: &'static str) -> Error {
        Error::InvalidLayer {
            layer: self.layer,
            reason,
        }
    }

    /// A typed view of constants.
    pub fn consts<T: bytemuck::Pod>(&self, r: ConstRef<T>) -> Result<&'r [T]> {
        let start = r.offset as usize;
        let bytes = (r.len as usize)
            .checked_mul(core::mem::size_of::<T>())
            .ok_or(self.error("constant size overflows"))?;
        let end = start
            .checked_add(bytes)
            .ok_or(self.error("constant size overflows"))?;
        let raw = self
            .model
            .consts
            .get(start..end)
            .ok_or(self.error("constant outside the constant blob"))?;
        bytemuck::try_cast_slice(raw).map_err(|_| self.error("misaligned constant"))
    }

    /// A tensor of the model.
    pub fn tensor(&self, id: TensorId) -> Result<&'r Tensor> {
        self.model
            .tensors
            .get(id.0 as usize)
            .ok_or(self.error("tensor id out of range"))
    }

    /// Splits the arena into the output tensor's bytes (mutable) and everything else
    /// (readable), so a kernel can read its inputs while writing its output.
    pub fn split(&mut self, output: TensorId) -> Result<(Inputs<'_>, &mut [u8])> {
        let t = self.tensor(output)?;
        let range = t
            .range(self.arena.len())
            .ok_or(self.error("output tensor outside the arena"))?;
        // `range` lies within the arena (`Tensor::range` checked it): the checked splits never
        // fail, and leave no panic path in the firmware.
        let outside = self.error("output tensor outside the arena");
        let (before, rest) = self
            .arena
            .split_at_mut_checked(range.start)
            .ok_or(outside)?;
        let (out, after) = rest.split_at_mut_checked(range.len()).ok_or(outside)?;
        let inputs = Inputs {
            tensors: self.model.tensors,
            parts: [(0, &*before), (range.end, &*after), (0, &[])],
            external: (self.model.arena_bytes, self.external),
            layer: self.layer,
        };
        Ok((inputs, out))
    }

    /// Like [`Ctx::split`], plus the bytes of state slot `slot` ([`StatePlan::slots`]),
    /// mutable: a stateful layer reads and updates its variable tensor there. The state
    /// region is handed out once per layer run.
    pub fn split_with_state(
        &mut self,
        output: TensorId,
        slot: u16,
    ) -> Result<(Inputs<'_>, &mut [u8], &mut [u8])> {
        let range = self
            .model
            .state
            .slots
            .get(slot as usize)
            .ok_or(self.error("state slot out of range"))?
            .range(self.state.len())
            .ok_or(self.error("state slot outside the state region"))?;
        let region = core::mem::take(&mut self.state);
        let state = region
            .get_mut(range)
            .ok_or(self.error("state slot outside the state region"))?;
        let (inputs, out) = self.split(output)?;
        Ok((inputs, out, state))
    }

    /// The arena (readable, every tensor) and the bytes of state slot `slot`
    /// ([`StatePlan::slots`]), mutable: for a layer whose only output is the state.
    pub fn state_and_inputs(&mut self, slot: u16) -> Result<(Inputs<'_>, &mut [u8])> {
        let range = self
            .model
            .state
            .slots
            .get(slot as usize)
            .ok_or(self.error("state slot out of range"))?
            .range(self.state.len())
            .ok_or(self.error("state slot outside the state region"))?;
        let state = self.state.get_mut(range).ok_or(Error::InvalidLayer {
            layer: self.layer,
            reason: "state slot outside the state region",
        })?;
        let inputs = Inputs {
            tensors: self.model.tensors,
            parts: [(0, &*self.arena), (0, &[]), (0, &[])],
            external: (self.model.arena_bytes, self.external),
            layer: self.layer,
        };
        Ok((inputs, state))
    }

    /// Like [`Ctx::split_with_state`] for a layer with two variable tensors (an LSTM's
    /// hidden and cell states): the bytes of slots `a` and `b`, mutable, in that order. The
    /// two slots must not overlap (the converter plans them apart).
    #[allow(clippy::type_complexity)]
    pub fn split_with_two_states(
        &mut self,
        output: TensorId,
        a: u16,
        b: u16,
    ) -> Result<(Inputs<'_>, &mut [u8], &mut [u8], &mut [u8])> {
        let len = self.state.len();
        let range = |slot: u16| {
            self.model
                .state
                .slots
                .get(slot as usize)
                .ok_or(self.error("state slot out of range"))?
                .range(len)
                .ok_or(self.error("state slot outside the state region"))
        };
        let (ra, rb) = (range(a)?, range(b)?);
        let overlap = self.error("state slots overlap");
        let outside = self.error("state slot outside the state region");
        let (first, second, a_first) = if ra.start <= rb.start {
            (ra, rb, true)
        } else {
            (rb, ra, false)
        };
        if first.end > second.start {
            return Err(overlap);
        }
        let region = core::mem::take(&mut self.state);
        let (head, tail) = region.split_at_mut_checked(second.start).ok_or(outside)?;
        let s1 = head.get_mut(first).ok_or(outside)?;
        let s2 = tail.get_mut(..second.len()).ok_or(outside)?;
        let (sa, sb) = if a_first { (s1, s2) } else { (s2, s1) };
        let (inputs, out) = self.split(output)?;
        Ok((inputs, out, sa, sb))
    }

    /// Like [`Ctx::split`], plus a scratch region of `scratch_bytes` bytes at arena byte
    /// `scratch_offset` that must not overlap the output.
    pub fn split_with_scratch(
        &mut self,
        output: TensorId,
        scratch_offset: u32,
        scratch_bytes: u32,
    ) -> Result<(Inputs<'_>, &mut [u8], &mut [u8])> {
        let layer = self.layer;
        let err = move |reason| Error::InvalidLayer { layer, reason };
        let t = self.tensor(output)?;
        let mut out = t
            .range(self.arena.len())
            .ok_or(err("output tensor outside the arena"))?;
        let s_start = scratch_offset as usize;
        let s_end = s_start
            .checked_add(scratch_bytes as usize)
            .ok_or(err("scratch overflows"))?;
        if s_end > self.arena.len() {
            return Err(err("scratch outside the arena"));
        }
        let mut scratch = s_start..s_end;
        // An empty region overlaps nothing: move it next to the other one, so that the two
        // regions are disjoint and ordered as the cuts below need (an empty scratch inside
        // the output used to make the gap below negative).
        if scratch.is_empty() {
            scratch = out.end..out.end;
        } else if out.is_empty() {
            out = scratch.end..scratch.end;
        } else if scratch.start < out.end && out.start < scratch.end {
            return Err(err("scratch overlaps the output"));
        }
        let tensors = self.model.tensors;
        // Cut the arena at the two writable regions, in address order.
        let (first, second, out_first) = if out.start <= scratch.start {
            (out.clone(), scratch, true)
        } else {
            (scratch, out.clone(), false)
        };
        // Disjoint, ordered and inside the arena, so no cut below can panic; the checked
        // subtraction only keeps that true should the checks above ever change.
        let gap = second
            .start
            .checked_sub(first.end)
            .ok_or(err("scratch overlaps the output"))?;
        let outside = || err("scratch or output outside the arena");
        let (p0, rest) = self
            .arena
            .split_at_mut_checked(first.start)
            .ok_or_else(outside)?;
        let (w0, rest) = rest.split_at_mut_checked(first.len()).ok_or_else(outside)?;
        let (p1, rest) = rest.split_at_mut_checked(gap).ok_or_else(outside)?;
        let (w1, p2) = rest
            .split_at_mut_checked(second.len())
            .ok_or_else(outside)?;
        let inputs = Inputs {
            tensors,
            parts: [(0, &*p0), (first.end, &*p1), (second.end, &*p2)],
            external: (self.model.arena_bytes, self.external),
            layer,
        };
        if out_first {
            Ok((inputs, w0, w1))
        } else {
            Ok((inputs, w1, w0))
        }
    }
}

/// Most outputs one layer can write at once through [`Ctx::split_outputs`].
pub const MAX_LAYER_OUTPUTS: usize = 6;

/// Readable pieces of the arena [`Ctx::split_outputs`] hands out: one more than its writable
/// regions (the outputs and the scratch).
pub const SPLIT_OUTPUTS_PARTS: usize = MAX_LAYER_OUTPUTS + 2;

impl<'r> Ctx<'r> {
    /// Like [`Ctx::split_with_scratch`] for a layer with several outputs (an operator such as
    /// TFLite_Detection_PostProcess computes its outputs together, so one layer writes them
    /// all): the `N` output tensors' bytes (mutable, in the order given), a scratch region of
    /// `scratch_bytes` bytes at arena byte `scratch_offset`, and everything else (readable).
    ///
    /// The outputs and the scratch must lie in the arena and not overlap one another; empty
    /// ones (no bytes) overlap nothing and come back as empty slices. At most
    /// [`MAX_LAYER_OUTPUTS`] outputs.
    #[allow(clippy::type_complexity)]
    pub fn split_outputs<const N: usize>(
        &mut self,
        outputs: [TensorId; N],
        scratch_offset: u32,
        scratch_bytes: u32,
    ) -> Result<(Inputs<'_, SPLIT_OUTPUTS_PARTS>, [&mut [u8]; N], &mut [u8])> {
        let layer = self.layer;
        let err = move |reason| Error::InvalidLayer { layer, reason };
        if N > MAX_LAYER_OUTPUTS {
            return Err(err("too many outputs for one layer"));
        }
        let arena_len = self.arena.len();
        // The non-empty writable regions as `(start, end, slot)`; slot `N` is the scratch.
        let mut regions = [(0usize, 0usize, 0usize); MAX_LAYER_OUTPUTS + 1];
        let mut count = 0;
        let mut add = |start: usize, end: usize, slot: usize| {
            if start < end {
                if let Some(r) = regions.get_mut(count) {
                    *r = (start, end, slot);
                    count += 1;
                }
            }
        };
        for (slot, id) in outputs.iter().enumerate() {
            let r = self
                .tensor(*id)?
                .range(arena_len)
                .ok_or(err("output tensor outside the arena"))?;
            add(r.start, r.end, slot);
        }
        let s_start = scratch_offset as usize;
        let s_end = s_start
            .checked_add(scratch_bytes as usize)
            .ok_or(err("scratch overflows"))?;
        if s_end > arena_len {
            return Err(err("scratch outside the arena"));
        }
        add(s_start, s_end, N);
        let regions = regions.get_mut(..count).unwrap_or_default();
        // Selection sort by start (at most `MAX_LAYER_OUTPUTS + 1` regions): core's sorts keep
        // panic paths (inconsistent orders), which a firmware must not link.
        let mut unsorted = &mut *regions;
        while let Some((first, tail)) = unsorted.split_first_mut() {
            for r in tail.iter_mut() {
                if r.0 < first.0 {
                    core::mem::swap(first, r);
                }
            }
            unsorted = tail;
        }
        if regions.windows(2).any(|w| matches!(w, [a, b] if b.0 < a.1)) {
            return Err(err("layer outputs or scratch overlap"));
        }
        // Cut the arena at the writable regions, in address order: readable piece, writable
        // region, readable piece, ... (sorted and disjoint, so every cut is in range; the
        // checked cuts only keep that true should the checks above ever change).
        let mut outs: [&mut [u8]; N] = core::array::from_fn(|_| Default::default());
        let mut scratch: &mut [u8] = &mut [];
        let mut parts: [(usize, &[u8]); SPLIT_OUTPUTS_PARTS] = [(0, &[]); SPLIT_OUTPUTS_PARTS];
        let mut rest: &mut [u8] = &mut *self.arena;
        let mut pos = 0usize;
        for (k, &(start, end, slot)) in regions.iter().enumerate() {
            let overlap = err("layer outputs or scratch overlap");
            let (read, tail) = core::mem::take(&mut rest)
                .split_at_mut_checked(start.wrapping_sub(pos))
                .ok_or(overlap)?;
            let (write, tail) = tail.split_at_mut_checked(end - start).ok_or(overlap)?;
            if let Some(p) = parts.get_mut(k) {
                *p = (pos, &*read);
            }
            if slot == N {
                scratch = write;
            } else if let Some(o) = outs.get_mut(slot) {
                *o = write;
            }
            rest = tail;
            pos = end;
        }
        if let Some(p) = parts.get_mut(count) {
            *p = (pos, &*rest);
        }
        let inputs = Inputs {
            tensors: self.model.tensors,
            parts,
            external: (self.model.arena_bytes, self.external),
            layer,
        };
        Ok((inputs, outs, scratch))
    }
}

/// The readable part of the arena while a layer writes its output(s): the arena less the
/// writable regions, as `P` pieces (3 for [`Ctx::split`] and [`Ctx::split_with_scratch`],
/// [`SPLIT_OUTPUTS_PARTS`] for [`Ctx::split_outputs`]).
pub struct Inputs<'x, const P: usize = 3> {
    tensors: &'x [Tensor],
    /// Readable pieces of the arena with the arena offset each starts at.
    parts: [(usize, &'x [u8]); P],
    /// The caller's input read in place, with the (virtual) offset it starts at.
    external: (usize, &'x [u8]),
    layer: u16,
}

impl<'x, const P: usize> Inputs<'x, P> {
    /// The bytes of tensor `id`; an error if it overlaps the layer's output.
    pub fn bytes(&self, id: TensorId) -> Result<&'x [u8]> {
        let err = |reason| Error::InvalidLayer {
            layer: self.layer,
            reason,
        };
        let t = self
            .tensors
            .get(id.0 as usize)
            .ok_or(err("tensor id out of range"))?;
        let start = t.offset as usize;
        let end = start
            .checked_add(t.size_bytes())
            .ok_or(err("tensor size overflows"))?;
        for (base, part) in self.parts.into_iter().chain([self.external]) {
            if start >= base && end <= base.saturating_add(part.len()) {
                if let Some(bytes) = part.get(start - base..end - base) {
                    return Ok(bytes);
                }
            }
        }
        Err(err(
            "input tensor overlaps the output or lies outside the arena",
        ))
    }

    /// Tensor `id` as a typed slice.
    pub fn get<T: bytemuck::Pod>(&self, id: TensorId) -> Result<&'x [T]> {
        bytemuck::try_cast_slice(self.bytes(id)?).map_err(|_| Error::InvalidLayer {
            layer: self.layer,
            reason: "misaligned tensor",
        })
    }
}

/// Casts an output byte slice to a typed slice, or an error naming the layer.
pub fn cast_out<T: bytemuck::Pod>(ctx_layer: u16, out: &mut [u8]) -> Result<&mut [T]> {
    bytemuck::try_cast_slice_mut(out).map_err(|_| Error::InvalidLayer {
        layer: ctx_layer,
        reason: "misaligned output tensor",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_state_fills_each_slot_and_checks_the_buffer() {
        static SLOTS: [StateSlot; 2] = [
            StateSlot {
                offset: 0,
                bytes: 3,
                fill: 0xfd,
                init: ConstRef::EMPTY,
            },
            StateSlot {
                offset: 16,
                bytes: 4,
                fill: 0,
                init: ConstRef::new(4, 4),
            },
        ];
        let model = Model {
            tensors: &[],
            layers: &[],
            consts: &[9, 9, 9, 9, 1, 2, 3, 4],
            inputs: &[],
            outputs: &[],
            arena_bytes: 0,
            state: StatePlan {
                bytes: 32,
                slots: &SLOTS,
            },
        };
        let mut state = crate::Arena::<48>::new();
        state.as_mut_slice().fill(7);
        model.reset_state(state.as_mut_slice()).unwrap();
        let s = state.as_mut_slice();
        assert_eq!(&s[..4], &[0xfd, 0xfd, 0xfd, 7]);
        assert_eq!(
            &s[16..21],
            &[1, 2, 3, 4, 7],
            "the second slot starts from its constant"
        );
        assert_eq!(
            model.reset_state(&mut s[..31]),
            Err(Error::StateTooSmall {
                required: 32,
                actual: 31
            })
        );
        assert_eq!(
            model.reset_state(&mut s[1..]),
            Err(Error::StateMisaligned { required: 16 })
        );
        // A stateless model takes an empty state.
        let stateless = Model {
            state: StatePlan::NONE,
            ..model
        };
        stateless.reset_state(&mut []).unwrap();
    }

    #[test]
    fn shape_counts_elements() {
        let s = Shape::new(&[1, 96, 96, 3]);
        assert_eq!(s.dims(), &[1, 96, 96, 3]);
        assert_eq!(s.num_elements(), 27648);
        assert_eq!(Shape::new(&[]).num_elements(), 1);
    }

    fn t(offset: u32, n: u32) -> Tensor {
        Tensor {
            offset,
            dtype: DType::I8,
            shape: Shape::new(&[n]),
            scale: 1.0,
            zero_point: 0,
        }
    }

    #[test]
    fn split_separates_output_from_inputs() {
        let tensors = [t(0, 16), t(16, 16), t(32, 16)];
        let model = Model {
            tensors: &tensors,
            layers: &[],
            consts: &[],
            inputs: &[],
            outputs: &[],
            arena_bytes: 48,
            state: StatePlan::NONE,
        };
        let mut arena = [0u8; 48];
        for (i, b) in arena.iter_mut().enumerate() {
            *b = i as u8;
        }
        let mut ctx = Ctx {
            model: &model,
            arena: &mut arena,
            external: &[],
            state: &mut [],
            layer: 3,
        };
        let (inputs, out) = ctx.split(TensorId(1)).unwrap();
        assert_eq!(inputs.bytes(TensorId(0)).unwrap()[0], 0);
        assert_eq!(inputs.bytes(TensorId(2)).unwrap()[0], 32);
        assert_eq!(
            inputs.bytes(TensorId(1)).unwrap_err(),
            Error::InvalidLayer {
                layer: 3,
                reason: "input tensor overlaps the output or lies outside the arena"
            }
        );
        out[0] = 99;
        let (inputs, out, scratch) = ctx.split_with_scratch(TensorId(2), 0, 8).unwrap();
        assert_eq!(out.len(), 16);
        assert_eq!(scratch.len(), 8);
        assert_eq!(inputs.bytes(TensorId(1)).unwrap()[0], 99);
        assert!(inputs.bytes(TensorId(0)).is_err());
        assert!(ctx.split_with_scratch(TensorId(2), 30, 8).is_err());
    }

    #[test]
    fn split_outputs_hands_out_several_disjoint_outputs() {
        // Outputs given out of address order, one empty, an input between them.
        let tensors = [t(48, 16), t(0, 16), t(16, 8), t(32, 0), t(24, 8)];
        let model = Model {
            tensors: &tensors,
            layers: &[],
            consts: &[],
            inputs: &[],
            outputs: &[],
            arena_bytes: 96,
            state: StatePlan::NONE,
        };
        let mut arena = [0u8; 96];
        for (i, b) in arena.iter_mut().enumerate() {
            *b = i as u8;
        }
        let mut ctx = Ctx {
            model: &model,
            arena: &mut arena,
            external: &[],
            state: &mut [],
            layer: 5,
        };
        let ids = [TensorId(0), TensorId(1), TensorId(3), TensorId(4)];
        let (inputs, [a, b, c, d], scratch) = ctx.split_outputs(ids, 64, 32).unwrap();
        assert_eq!(
            (a.len(), b.len(), c.len(), d.len(), scratch.len()),
            (16, 16, 0, 8, 32)
        );
        assert_eq!((a[0], b[0], d[0], scratch[0]), (48, 0, 24, 64));
        assert_eq!(inputs.bytes(TensorId(2)).unwrap()[0], 16);
        for id in [0, 1, 4] {
            assert_eq!(
                inputs.bytes(TensorId(id)).unwrap_err(),
                Error::InvalidLayer {
                    layer: 5,
                    reason: "input tensor overlaps the output or lies outside the arena"
                }
            );
        }
        a[0] = 1;
        b[15] = 2;
        scratch[31] = 3;
        let overlap = Err(Error::InvalidLayer {
            layer: 5,
            reason: "layer outputs or scratch overlap",
        });
        // Two outputs sharing bytes, the scratch over an output, the same output twice.
        assert_eq!(
            ctx.split_outputs([TensorId(1), TensorId(2)], 0, 0).err(),
            None
        );
        let tensors2 = [t(0, 16), t(8, 16)];
        let model2 = Model {
            tensors: &tensors2,
            ..model
        };
        let mut arena2 = [0u8; 96];
        let mut ctx2 = Ctx {
            model: &model2,
            arena: &mut arena2,
            external: &[],
            state: &mut [],
            layer: 5,
        };
        assert_eq!(
            ctx2.split_outputs([TensorId(0), TensorId(1)], 64, 8)
                .map(|_| ()),
            overlap
        );
        assert_eq!(
            ctx2.split_outputs([TensorId(0)], 15, 8).map(|_| ()),
            overlap
        );
        assert_eq!(
            ctx2.split_outputs([TensorId(0), TensorId(0)], 0, 0)
                .map(|_| ()),
            overlap
        );
        // Regions outside the arena, and too many outputs.
        assert!(ctx2.split_outputs([TensorId(0)], 90, 8).is_err());
        assert!(ctx2
            .split_outputs([TensorId(0)], u32::MAX, u32::MAX)
            .is_err());
        assert!(ctx2.split_outputs([TensorId(7)], 0, 0).is_err());
        assert!(ctx2.split_outputs([TensorId(0); 7], 0, 0).is_err());
        // Every placement of two small outputs and a scratch: an answer, never a panic.
        for x in [0u32, 4, 8, 90] {
            for y in [0u32, 4, 12] {
                let tensors3 = [t(x, 8), t(y, 4)];
                let model3 = Model {
                    tensors: &tensors3,
                    ..model
                };
                let mut ctx3 = Ctx {
                    model: &model3,
                    arena: &mut arena2,
                    external: &[],
                    state: &mut [],
                    layer: 0,
                };
                for offset in 0..100 {
                    for bytes in 0..10 {
                        if let Ok((_, [o0, o1], s)) =
                            ctx3.split_outputs([TensorId(0), TensorId(1)], offset, bytes)
                        {
                            assert_eq!((o0.len(), o1.len(), s.len()), (8, 4, bytes as usize));
                        }
                    }
                }
            }
        }
    }
}

/// Shape and quantization of a model input or output, with helpers to convert between real
/// values and the tensor's quantized integers. The converter emits one per input and output.
///
/// ```
/// use ferrite_core::{DType, model::IoInfo};
/// const IN: IoInfo = IoInfo { dtype: DType::I8, shape: &[1, 4], scale: 0.5, zero_point: -1 };
/// let mut q = [0i8; 4];
/// IN.quantize(&[0.0, 1.0, -64.0, 100.0], &mut q).unwrap();
/// assert_eq!(q, [-1, 1, -128, 127]);
/// let mut f = [0f32; 4];
/// IN.dequantize(&q, &mut f).unwrap();
/// assert_eq!(f, [0.0, 1.0, -63.5, 64.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IoInfo {
    /// Element type.
    pub dtype: DType,
    /// Shape, batch dimension included.
    pub shape: &'static [usize],
    /// Quantization scale (0.0 for float tensors).
    pub scale: f32,
    /// Quantization zero point.
    pub zero_point: i32,
}

impl IoInfo {
    /// Number of elements (saturating at `usize::MAX`).
    pub fn len(&self) -> usize {
        self.shape
            .iter()
            .fold(1usize, |acc, &d| acc.saturating_mul(d))
    }

    /// True for a tensor without elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Quantizes real values to int8 as TFLite does (`round(x / scale) + zero_point`,
    /// saturated).
    pub fn quantize(&self, real: &[f32], out: &mut [i8]) -> Result<()> {
        if real.len() != out.len() {
            return Err(Error::InputLength {
                expected: real.len(),
                actual: out.len(),
            });
        }
        if self.scale <= 0.0 {
            return Err(Error::DTypeMismatch {
                expected: self.dtype,
                actual: DType::I8,
            });
        }
        for (o, &x) in out.iter_mut().zip(real) {
            let q = libm::roundf(x / self.scale) + self.zero_point as f32;
            *o = q.clamp(-128.0, 127.0) as i8;
        }
        Ok(())
    }

    /// Dequantizes int8 values: `(q - zero_point) * scale`.
    pub fn dequantize(&self, q: &[i8], out: &mut [f32]) -> Result<()> {
        if q.len() != out.len() {
            return Err(Error::InputLength {
                expected: q.len(),
                actual: out.len(),
            });
        }
        for (o, &v) in out.iter_mut().zip(q) {
            *o = (v as i32 - self.zero_point) as f32 * self.scale;
        }
        Ok(())
    }
}

/// The runtime's error paths: every misuse a caller or a corrupted model description can
/// produce ends in the matching [`Error`], never a panic.
#[cfg(test)]
mod error_paths {
    use super::*;
    use crate::arena::Arena;
    use crate::ops::{Copy as CopyOp, LoadConst};

    fn i8_tensor(offset: u32, dims: &[u32]) -> Tensor {
        Tensor {
            offset,
            dtype: DType::I8,
            shape: Shape::new(dims),
            scale: 0.5,
            zero_point: 0,
        }
    }

    /// A kernel written like `ferrite_kernels`' entries: it accepts only [`Op::Copy`].
    fn copy_kernel(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
        let Op::Copy(p) = op else {
            return Err(ctx.error("kernel for Copy run on another operator"));
        };
        let (inputs, out) = ctx.split(p.output)?;
        let input = inputs.bytes(p.input)?;
        if input.len() != out.len() {
            return Err(ctx.error("copy input and output differ in size"));
        }
        out.copy_from_slice(input);
        Ok(())
    }

    const TENSORS: [Tensor; 2] = [
        Tensor {
            offset: 0,
            dtype: DType::I8,
            shape: Shape::new(&[1, 4]),
            scale: 0.5,
            zero_point: 0,
        },
        Tensor {
            offset: 16,
            dtype: DType::I8,
            shape: Shape::new(&[4]),
            scale: 0.5,
            zero_point: 0,
        },
    ];

    fn copy_layer(op: Op) -> Layer {
        Layer {
            op,
            kernel: copy_kernel,
            name: "RESHAPE",
        }
    }

    fn model<'a>(tensors: &'a [Tensor], layers: &'a [Layer], consts: &'a [u8]) -> Model<'a> {
        Model {
            tensors,
            layers,
            consts,
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: StatePlan::NONE,
        }
    }

    const COPY: Op = Op::Copy(CopyOp {
        input: TensorId(0),
        output: TensorId(1),
    });

    #[test]
    fn an_input_read_in_place_comes_from_the_callers_buffer() {
        // Input 0 at offset `arena_bytes` (32): read where the caller keeps it; tensor 2 is a
        // view of its last two bytes.
        let tensors = [
            i8_tensor(32, &[1, 4]),
            i8_tensor(0, &[2]),
            i8_tensor(34, &[2]),
        ];
        let layers = [copy_layer(Op::Copy(CopyOp {
            input: TensorId(2),
            output: TensorId(1),
        }))];
        let m = model(&tensors, &layers, &[]);
        let mut arena = Arena::<48>::new();
        assert_eq!(m.input_in_place(0), Ok(true));
        // A longer arena's byte 34 must not answer for the input's.
        arena.as_mut_slice()[34] = 99;
        assert_eq!(
            m.run(arena.as_mut_slice(), &[1i8, 2, 3, 4]),
            Ok(&[3i8, 4][..])
        );
        assert_eq!(
            m.set_input(arena.as_mut_slice(), 0, &[0i8; 4]),
            Err(Error::InputInPlace { index: 0 })
        );
        assert_eq!(
            m.set_input_bytes(arena.as_mut_slice(), 0, &[0; 4]),
            Err(Error::InputInPlace { index: 0 })
        );
        assert_eq!(
            m.run(arena.as_mut_slice(), &[1i8, 2]),
            Err(Error::InputLength {
                expected: 4,
                actual: 2
            })
        );
        assert_eq!(
            m.invoke(arena.as_mut_slice()),
            Err(Error::InputLength {
                expected: 4,
                actual: 0
            })
        );
        m.invoke_in_place(arena.as_mut_slice(), &[5, 6, 7, 8], &mut NoHook)
            .unwrap();
        assert_eq!(m.output::<i8>(arena.as_mut_slice(), 0), Ok(&[7i8, 8][..]));
    }

    #[test]
    fn a_valid_model_runs() {
        let layers = [copy_layer(COPY)];
        let m = model(&TENSORS, &layers, &[]);
        let mut arena = Arena::<32>::new();
        assert_eq!(
            m.run(arena.as_mut_slice(), &[1i8, -2, 3, -4]).unwrap(),
            &[1, -2, 3, -4]
        );
    }

    #[test]
    fn wrong_input_length() {
        let layers = [copy_layer(COPY)];
        let m = model(&TENSORS, &layers, &[]);
        let mut arena = Arena::<32>::new();
        for len in [0, 3, 5, 1000] {
            let input = [0i8; 1000];
            assert_eq!(
                m.run::<i8>(arena.as_mut_slice(), &input[..len]),
                Err(Error::InputLength {
                    expected: 4,
                    actual: len
                })
            );
        }
        assert_eq!(
            m.set_input_bytes(arena.as_mut_slice(), 0, &[0u8; 3]),
            Err(Error::InputLength {
                expected: 4,
                actual: 3
            })
        );
    }

    #[test]
    fn wrong_dtype() {
        let layers = [copy_layer(COPY)];
        let m = model(&TENSORS, &layers, &[]);
        let mut arena = Arena::<32>::new();
        assert_eq!(
            m.run::<f32>(arena.as_mut_slice(), &[0.0; 4]),
            Err(Error::DTypeMismatch {
                expected: DType::I8,
                actual: DType::F32
            })
        );
        m.run::<i8>(arena.as_mut_slice(), &[0; 4]).unwrap();
        assert_eq!(
            m.output::<i32>(arena.as_mut_slice(), 0),
            Err(Error::DTypeMismatch {
                expected: DType::I8,
                actual: DType::I32
            })
        );
    }

    #[test]
    fn too_small_arena() {
        let layers = [copy_layer(COPY)];
        let m = model(&TENSORS, &layers, &[]);
        let mut arena = Arena::<32>::new();
        for len in [0, 1, 16, 31] {
            let expected = Err(Error::ArenaTooSmall {
                required: 32,
                actual: len,
            });
            assert_eq!(m.run(&mut arena.as_mut_slice()[..len], &[0i8; 4]), expected);
            assert_eq!(
                m.invoke(&mut arena.as_mut_slice()[..len]),
                expected.map(|_| ())
            );
        }
    }

    #[test]
    fn misaligned_arena() {
        let layers = [copy_layer(COPY)];
        let m = model(&TENSORS, &layers, &[]);
        let mut arena = Arena::<64>::new();
        for start in [1, 2, 4, 8, 15] {
            let slice = &mut arena.as_mut_slice()[start..start + 32];
            let expected = Err(Error::ArenaMisaligned { required: 16 });
            assert_eq!(m.run(&mut *slice, &[0i8; 4]), expected);
            assert_eq!(m.invoke(slice), expected.map(|_| ()));
        }
        // A larger arena starting on the next 16-byte boundary is fine.
        m.run(&mut arena.as_mut_slice()[16..], &[0i8; 4]).unwrap();
    }

    #[test]
    fn bad_tensor_ids_and_io_indices() {
        let layers = [copy_layer(COPY)];
        let mut m = model(&TENSORS, &layers, &[]);
        let mut arena = Arena::<32>::new();
        assert_eq!(
            m.set_input(arena.as_mut_slice(), 1, &[0i8; 4]),
            Err(Error::NoSuchIo { index: 1 })
        );
        assert_eq!(
            m.output::<i8>(arena.as_mut_slice(), 7),
            Err(Error::NoSuchIo { index: 7 })
        );
        m.inputs = &[TensorId(9)];
        assert_eq!(
            m.run(arena.as_mut_slice(), &[0i8; 4]),
            Err(Error::InvalidModel {
                reason: "tensor id out of range"
            })
        );
        // A layer naming a tensor that does not exist.
        let bad = [copy_layer(Op::Copy(CopyOp {
            input: TensorId(0),
            output: TensorId(2),
        }))];
        let m = model(&TENSORS, &bad, &[]);
        assert_eq!(
            m.invoke(arena.as_mut_slice()),
            Err(Error::InvalidLayer {
                layer: 0,
                reason: "tensor id out of range"
            })
        );
        let bad = [
            copy_layer(COPY),
            copy_layer(Op::Copy(CopyOp {
                input: TensorId(u16::MAX),
                output: TensorId(1),
            })),
        ];
        let m = model(&TENSORS, &bad, &[]);
        assert_eq!(
            m.invoke(arena.as_mut_slice()),
            Err(Error::InvalidLayer {
                layer: 1,
                reason: "tensor id out of range"
            })
        );
    }

    #[test]
    fn tensors_outside_the_arena_or_overlapping() {
        let mut arena = Arena::<32>::new();
        // Input tensor past the end of the arena.
        let tensors = [i8_tensor(u32::MAX - 2, &[4]), i8_tensor(16, &[4])];
        let m = model(&tensors, &[], &[]);
        assert_eq!(
            m.run(arena.as_mut_slice(), &[0i8; 4]),
            Err(Error::InvalidModel {
                reason: "input tensor outside the arena"
            })
        );
        // Output tensor past the end, and a shape whose size overflows.
        let tensors = [i8_tensor(0, &[4]), i8_tensor(30, &[4])];
        let m = model(&tensors, &[], &[]);
        m.set_input(arena.as_mut_slice(), 0, &[0i8; 4]).unwrap();
        assert_eq!(
            m.output_bytes(arena.as_mut_slice(), 0),
            Err(Error::InvalidModel {
                reason: "output tensor outside the arena"
            })
        );
        let huge = [u32::MAX; MAX_RANK];
        let tensors = [i8_tensor(0, &[4]), i8_tensor(0, &huge)];
        assert_eq!(tensors[1].num_elements(), usize::MAX);
        let layers = [copy_layer(COPY)];
        let m = model(&tensors, &layers, &[]);
        assert_eq!(
            m.invoke(arena.as_mut_slice()),
            Err(Error::InvalidLayer {
                layer: 0,
                reason: "output tensor outside the arena"
            })
        );
        // Input and output overlapping.
        let tensors = [i8_tensor(0, &[8]), i8_tensor(4, &[8])];
        let m = model(&tensors, &layers, &[]);
        assert_eq!(
            m.invoke(arena.as_mut_slice()),
            Err(Error::InvalidLayer {
                layer: 0,
                reason: "input tensor overlaps the output or lies outside the arena"
            })
        );
    }

    #[test]
    fn kernel_run_on_the_wrong_operator() {
        let layers = [copy_layer(Op::LoadConst(LoadConst {
            data: ConstRef::EMPTY,
            output: TensorId(1),
        }))];
        let m = model(&TENSORS, &layers, &[]);
        let mut arena = Arena::<32>::new();
        assert_eq!(
            m.run(arena.as_mut_slice(), &[0i8; 4]),
            Err(Error::InvalidLayer {
                layer: 0,
                reason: "kernel for Copy run on another operator"
            })
        );
    }

    #[test]
    fn bad_constant_references() {
        #[repr(C, align(16))]
        struct Blob([u8; 32]);
        let blob = Blob([7; 32]);
        let m = model(&TENSORS, &[], &blob.0);
        let mut arena = Arena::<32>::new();
        let ctx = Ctx {
            model: &m,
            arena: arena.as_mut_slice(),
            external: &[],
            state: &mut [],
            layer: 4,
        };
        let err = |reason| Error::InvalidLayer { layer: 4, reason };
        assert_eq!(
            ctx.consts(ConstRef::<i32>::new(16, 4)).unwrap(),
            &[0x0707_0707; 4]
        );
        assert_eq!(ctx.consts(ConstRef::<i8>::new(0, 0)).unwrap(), &[] as &[i8]);
        assert_eq!(
            ctx.consts(ConstRef::<i32>::new(16, 5)).unwrap_err(),
            err("constant outside the constant blob")
        );
        assert_eq!(
            ctx.consts(ConstRef::<u8>::new(u32::MAX, u32::MAX))
                .unwrap_err(),
            err("constant outside the constant blob")
        );
        assert_eq!(
            ctx.consts(ConstRef::<i32>::new(2, 1)).unwrap_err(),
            err("misaligned constant")
        );
        assert_eq!(
            ctx.tensor(TensorId(2)).unwrap_err(),
            err("tensor id out of range")
        );
    }

    #[test]
    fn scratch_regions_never_panic() {
        let tensors = [
            i8_tensor(0, &[16]),
            i8_tensor(16, &[16]),
            i8_tensor(8, &[0]),
        ];
        let m = model(&tensors, &[], &[]);
        let mut arena = Arena::<48>::new();
        let mut ctx = Ctx {
            model: &m,
            arena: arena.as_mut_slice(),
            external: &[],
            state: &mut [],
            layer: 0,
        };
        // An empty scratch inside the output, and an empty output inside the scratch, used
        // to cut the arena at a negative gap.
        let (_, out, scratch) = ctx.split_with_scratch(TensorId(1), 20, 0).unwrap();
        assert_eq!((out.len(), scratch.len()), (16, 0));
        let (inputs, out, scratch) = ctx.split_with_scratch(TensorId(2), 0, 16).unwrap();
        assert_eq!((out.len(), scratch.len()), (0, 16));
        assert!(inputs.bytes(TensorId(1)).is_ok());
        for (offset, bytes) in [(20, 1), (8, 16), (0, 48), (31, 2)] {
            assert_eq!(
                ctx.split_with_scratch(TensorId(1), offset, bytes).err(),
                Some(Error::InvalidLayer {
                    layer: 0,
                    reason: "scratch overlaps the output"
                }),
                "scratch {offset}+{bytes}"
            );
        }
        assert!(ctx.split_with_scratch(TensorId(1), 40, 9).is_err());
        assert!(ctx
            .split_with_scratch(TensorId(1), u32::MAX, u32::MAX)
            .is_err());
        // Every placement of a small scratch around a small output: an answer, never a panic.
        for t in [0u32, 8, 16, 40] {
            for n in [0u32, 1, 8] {
                let tensors = [i8_tensor(t, &[n])];
                let m = Model {
                    tensors: &tensors,
                    ..m
                };
                let mut ctx = Ctx {
                    model: &m,
                    arena: arena.as_mut_slice(),
                    external: &[],
                    state: &mut [],
                    layer: 0,
                };
                for offset in 0..50 {
                    for bytes in 0..10 {
                        if let Ok((_, out, scratch)) =
                            ctx.split_with_scratch(TensorId(0), offset, bytes)
                        {
                            assert_eq!((out.len(), scratch.len()), (n as usize, bytes as usize));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn corrupted_shapes_and_io_infos_never_panic() {
        let s = Shape {
            rank: 200,
            dims: [2; MAX_RANK],
        };
        assert_eq!(s.dims().len(), MAX_RANK);
        assert_eq!(s.num_elements(), 64);
        let io = IoInfo {
            dtype: DType::I8,
            shape: &[usize::MAX, 2],
            scale: 0.0,
            zero_point: 0,
        };
        assert_eq!(io.len(), usize::MAX);
        let mut q = [0i8; 2];
        assert!(io.quantize(&[1.0, 2.0], &mut q).is_err());
        assert!(io.quantize(&[1.0], &mut q).is_err());
        assert!(io.dequantize(&q, &mut [0.0; 3]).is_err());
    }
}
