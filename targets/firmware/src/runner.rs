//! The runner: serves inferences over a serial link, speaking the `ferrite-link` protocol, so
//! the host can stream any number of samples through the model baked into the firmware
//! (`ferrite run|verify --device`).
//!
//! Written against `embedded-io`'s `Read` and `Write`, so every board reuses it with its own
//! UART driver. Input chunks go straight into the model's input tensors in the arena and
//! outputs are read from it, so the only buffers are one frame in and one frame out.

use crate::counter::{calibrate, Counter, CALIBRATION_ITERATIONS};
use embedded_io::{Read, Write};
use ferrite_core::Model;
use ferrite_link::{
    CounterKind, Decoder, DeviceError, Error as LinkError, Info, Request, Response, MAX_CHUNK,
    MAX_FRAME, VERSION,
};

/// What the board tells the runner about itself.
pub struct RunnerConfig {
    /// `ferrite_link::model_id` of the `.tflite` file the firmware was built from (the board's
    /// build script writes it next to the converted model).
    pub model_id: u32,
    /// What the board's counter counts.
    pub counter: CounterKind,
}

/// Answers requests from `port` forever: returns only when the port fails.
pub fn serve<P, C>(
    port: &mut P,
    model: &Model<'_>,
    arena: &mut [u8],
    variables: &mut [u8],
    counter: &mut C,
    config: &RunnerConfig,
) -> P::Error
where
    P: Read + Write,
    C: Counter,
{
    let calibration_ticks = calibrate(counter);
    let info = Info {
        model_id: config.model_id,
        input_bytes: crate::sample_bytes(model) as u32,
        output_bytes: crate::output_bytes(model) as u32,
        counter: config.counter,
        calibration_instructions: 2 * CALIBRATION_ITERATIONS,
        calibration_ticks,
    };
    defmt::info!(
        "ferrite runner: model {=u32:#x}, {} input bytes, {} output bytes",
        info.model_id,
        info.input_bytes,
        info.output_bytes
    );
    let mut decoder = Decoder::new();
    let mut reply = [0u8; MAX_FRAME];
    let mut last_inference = None;
    let mut byte = [0u8; 1];
    loop {
        match port.read(&mut byte) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(e) => return e,
        }
        let encoded = match decoder.push(byte[0]) {
            Ok(None) => continue,
            Ok(Some(frame)) => {
                let seq = frame.seq;
                match Request::decode(&frame) {
                    Ok(request) => {
                        let mut state = State {
                            model,
                            arena: &mut *arena,
                            variables: &mut *variables,
                            counter: &mut *counter,
                            info: &info,
                            last_inference: &mut last_inference,
                        };
                        answer(request, seq, &mut state, &mut reply)
                    }
                    Err(_) => Response::Error(DeviceError::UnknownRequest(frame.kind))
                        .encode(seq, &mut reply),
                }
            }
            Err(LinkError::Version { got, seq }) => Response::Error(DeviceError::Version {
                device: VERSION,
                host: got,
            })
            .encode(seq, &mut reply),
            // The sequence number of a corrupted frame is unknown; the host resends on this
            // error whatever its number.
            Err(_) => Response::Error(DeviceError::CorruptedFrame).encode(0, &mut reply),
        };
        // Every reply fits `MAX_FRAME`: outputs are sent in chunks of at most `MAX_CHUNK`.
        let Ok(n) = encoded else {
            defmt::error!("a reply did not fit a frame");
            continue;
        };
        if let Err(e) = port.write_all(reply.get(..n).unwrap_or_default()) {
            return e;
        }
        if let Err(e) = port.flush() {
            return e;
        }
    }
}

/// What answering a request works with.
struct State<'s, 'm, C> {
    model: &'s Model<'m>,
    arena: &'s mut [u8],
    /// The model's persistent state region (`STATE_BYTES`; empty for a stateless model),
    /// reset before every inference: each sample runs from a fresh state, as `ferrite run`.
    variables: &'s mut [u8],
    counter: &'s mut C,
    info: &'s Info,
    /// Sequence number and ticks of the last inference, until new input arrives: a resent
    /// `Infer` (its reply lost, or the host tired of waiting) is answered again, not rerun.
    last_inference: &'s mut Option<(u8, u32)>,
}

/// Carries out `request` and encodes the reply into `reply`.
fn answer<C: Counter>(
    request: Request<'_>,
    seq: u8,
    state: &mut State<'_, '_, C>,
    reply: &mut [u8],
) -> Result<usize, LinkError> {
    let State {
        model,
        arena,
        variables,
        counter,
        info,
        last_inference,
    } = state;
    let response = match request {
        Request::Hello => Response::Info(**info),
        Request::Input { offset, data } => {
            // Saturating: an offset near the top of the range is refused, not wrapped around.
            let end = (offset as usize).saturating_add(data.len());
            if end > info.input_bytes as usize {
                Response::Error(DeviceError::InputRange {
                    end: u32::try_from(end).unwrap_or(u32::MAX),
                    size: info.input_bytes,
                })
            } else if copy_input(model, arena, offset as usize, data).is_err() {
                Response::Error(DeviceError::Model)
            } else {
                **last_inference = None;
                Response::InputStored {
                    offset,
                    len: data.len() as u32,
                }
            }
        }
        Request::Infer {
            model_id,
            input_bytes,
        } => {
            if model_id != info.model_id {
                Response::Error(DeviceError::WrongModel {
                    device: info.model_id,
                    host: model_id,
                })
            } else if input_bytes != info.input_bytes {
                Response::Error(DeviceError::InputSize {
                    expected: info.input_bytes,
                    got: input_bytes,
                })
            } else if let Some((_, ticks)) = last_inference.filter(|&(s, _)| s == seq) {
                Response::Done { ticks }
            } else {
                let reset = model.reset_state(variables);
                counter.start();
                let started = counter.elapsed();
                let result = reset.and_then(|()| model.invoke_stateful(arena, variables));
                let ticks = counter.elapsed().wrapping_sub(started);
                match result {
                    Ok(()) => {
                        **last_inference = Some((seq, ticks));
                        Response::Done { ticks }
                    }
                    Err(e) => {
                        defmt::error!("inference failed: {}", e);
                        Response::Error(DeviceError::Model)
                    }
                }
            }
        }
        Request::ReadOutput { offset, len } => {
            let end = (offset as usize).saturating_add(usize::from(len));
            let mut chunk = heapless::Vec::<u8, MAX_CHUNK>::new();
            if end > info.output_bytes as usize || usize::from(len) > MAX_CHUNK {
                Response::Error(DeviceError::OutputRange {
                    end: u32::try_from(end).unwrap_or(u32::MAX),
                    size: info.output_bytes,
                })
            } else if copy_output(model, arena, offset as usize, end, &mut chunk).is_err() {
                Response::Error(DeviceError::Model)
            } else {
                return Response::Output {
                    offset,
                    data: &chunk,
                }
                .encode(seq, reply);
            }
        }
        // Requests added to the protocol later.
        _ => Response::Error(DeviceError::UnknownRequest(0)),
    };
    response.encode(seq, reply)
}

/// The arena range of input `index`.
fn input_range(model: &Model<'_>, index: usize) -> ferrite_core::Result<core::ops::Range<usize>> {
    let t = model.input_tensor(index)?;
    let start = t.offset as usize;
    Ok(start..start + t.size_bytes())
}

/// Writes `data`, the bytes at `offset` of a sample (all inputs concatenated), into the input
/// tensors it covers.
fn copy_input(
    model: &Model<'_>,
    arena: &mut [u8],
    offset: usize,
    data: &[u8],
) -> ferrite_core::Result<()> {
    model.check_arena(arena)?;
    let mut sample_at = 0;
    for i in 0..model.inputs.len() {
        let range = input_range(model, i)?;
        let size = range.len();
        // The part of `data` that falls in this input.
        let from = offset.max(sample_at);
        let to = (offset + data.len()).min(sample_at + size);
        if from < to {
            let src = data.get(from - offset..to - offset);
            let dst = arena.get_mut(range.start + from - sample_at..range.start + to - sample_at);
            match (src, dst) {
                (Some(src), Some(dst)) => dst.copy_from_slice(src),
                _ => {
                    return Err(ferrite_core::Error::InvalidModel {
                        reason: "input tensor outside the arena",
                    })
                }
            }
        }
        sample_at += size;
    }
    Ok(())
}

/// Collects bytes `offset..end` of the outputs (all outputs concatenated) into `chunk`.
fn copy_output(
    model: &Model<'_>,
    arena: &[u8],
    offset: usize,
    end: usize,
    chunk: &mut heapless::Vec<u8, MAX_CHUNK>,
) -> ferrite_core::Result<()> {
    let mut outputs_at = 0;
    for i in 0..model.outputs.len() {
        let bytes = model.output_bytes(arena, i)?;
        let from = offset.max(outputs_at);
        let to = end.min(outputs_at + bytes.len());
        if from < to {
            let part = bytes
                .get(from - outputs_at..to - outputs_at)
                .unwrap_or_default();
            chunk
                .extend_from_slice(part)
                .map_err(|_| ferrite_core::Error::InvalidModel {
                    reason: "output chunk larger than a frame",
                })?;
        }
        outputs_at += bytes.len();
    }
    Ok(())
}
