//! # ferrite-link
//!
//! The serial protocol between the host (`ferrite run/verify --device`) and Ferrite's runner
//! firmware, which receives input tensors, runs the model baked into it and sends the outputs
//! and the inference's cost back. Both sides use this crate: `no_std`, no heap, no panics.
//!
//! ## Frames
//!
//! | field | bytes |
//! |---|---|
//! | sync `F3 7E` | 2 |
//! | protocol version ([`VERSION`]) | 1 |
//! | message kind ([`kind`]) | 1 |
//! | sequence number (a reply echoes its request's) | 1 |
//! | payload length, little-endian, at most [`MAX_PAYLOAD`] | 2 |
//! | the length's bits inverted: a corrupted length is caught before it swallows bytes | 2 |
//! | payload | length |
//! | CRC-32 (IEEE) of everything after the sync, little-endian | 4 |
//!
//! A receiver that meets a corrupted frame drops it and looks for the next sync; the host
//! resends a request whose reply does not arrive or arrives corrupted (every request is
//! idempotent), so a bad byte on the wire costs a retry, never a wrong result.
//!
//! ## Conversation
//!
//! The host sends [`Request::Hello`] and gets [`Info`]: the model the firmware was built for
//! ([`model_id`] of the `.tflite` file), the bytes of one sample and of its outputs. Then, per
//! sample: [`Request::Input`] chunks (each acknowledged), [`Request::Infer`] (naming the model
//! and the sample size again, so a mismatch is a clear [`DeviceError`] rather than garbage),
//! answered by [`Response::Done`] with the counter ticks of the inference, and
//! [`Request::ReadOutput`] chunks.
//!
//! ```
//! use ferrite_link::{Decoder, Request};
//! let mut wire = [0u8; ferrite_link::MAX_FRAME];
//! let n = Request::Infer { model_id: 7, input_bytes: 96 }.encode(3, &mut wire).unwrap();
//! let mut decoder = Decoder::new();
//! let mut frames = 0;
//! for &b in &wire[..n] {
//!     if let Some(frame) = decoder.push(b).unwrap() {
//!         assert_eq!(frame.seq, 3);
//!         let request = Request::decode(&frame).unwrap();
//!         assert_eq!(request, Request::Infer { model_id: 7, input_bytes: 96 });
//!         frames += 1;
//!     }
//! }
//! assert_eq!(frames, 1);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use core::fmt;

/// Version of this protocol, carried by every frame.
pub const VERSION: u8 = 1;
/// The two bytes every frame starts with.
pub const SYNC: [u8; 2] = [0xF3, 0x7E];
/// Sync, version, kind, sequence number, payload length and its inverse.
pub const HEADER_BYTES: usize = 9;
/// The CRC-32 at the end of a frame.
pub const CRC_BYTES: usize = 4;
/// Largest payload of one frame: inputs and outputs larger than this travel in chunks.
pub const MAX_PAYLOAD: usize = 1024;
/// Largest frame.
pub const MAX_FRAME: usize = HEADER_BYTES + MAX_PAYLOAD + CRC_BYTES;
/// Largest data chunk of an [`Request::Input`] or [`Response::Output`] (the payload less the
/// chunk's offset).
pub const MAX_CHUNK: usize = MAX_PAYLOAD - 4;

/// Message kinds: requests below `0x80`, responses from `0x80`.
pub mod kind {
    /// [`crate::Request::Hello`].
    pub const HELLO: u8 = 0x01;
    /// [`crate::Request::Input`].
    pub const INPUT: u8 = 0x02;
    /// [`crate::Request::Infer`].
    pub const INFER: u8 = 0x03;
    /// [`crate::Request::ReadOutput`].
    pub const READ_OUTPUT: u8 = 0x04;
    /// [`crate::Response::Info`].
    pub const INFO: u8 = 0x81;
    /// [`crate::Response::InputStored`].
    pub const INPUT_STORED: u8 = 0x82;
    /// [`crate::Response::Done`].
    pub const DONE: u8 = 0x83;
    /// [`crate::Response::Output`].
    pub const OUTPUT: u8 = 0x84;
    /// [`crate::Response::Error`].
    pub const ERROR: u8 = 0xEE;
}

/// Errors of framing and decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The frame's CRC does not match its contents: corrupted on the wire.
    Crc {
        /// CRC carried by the frame.
        carried: u32,
        /// CRC of the bytes received.
        computed: u32,
    },
    /// The header's length and its inverted copy disagree (a corrupted header).
    BadHeader,
    /// The header announces a payload longer than [`MAX_PAYLOAD`] (a corrupted length).
    TooLong {
        /// Announced payload bytes.
        len: usize,
    },
    /// An intact frame of another protocol version.
    Version {
        /// Its version.
        got: u8,
        /// Its sequence number, so the receiver can answer it.
        seq: u8,
    },
    /// The output buffer cannot hold the frame, or a payload is larger than [`MAX_PAYLOAD`].
    NoRoom {
        /// Bytes needed.
        needed: usize,
    },
    /// A message kind this side does not know.
    UnknownKind(u8),
    /// A payload whose size does not fit its message kind.
    BadPayload {
        /// The message kind.
        kind: u8,
        /// Payload bytes received.
        len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Crc { carried, computed } => write!(
                f,
                "corrupted frame: CRC {carried:#010x} carried, {computed:#010x} computed"
            ),
            Error::BadHeader => write!(f, "corrupted frame header"),
            Error::TooLong { len } => write!(
                f,
                "corrupted frame: payload of {len} bytes announced, at most {MAX_PAYLOAD} allowed"
            ),
            Error::Version { got, .. } => write!(
                f,
                "the other side speaks protocol version {got}, this side version {VERSION}"
            ),
            Error::NoRoom { needed } => write!(f, "a frame of {needed} bytes does not fit"),
            Error::UnknownKind(k) => write!(f, "unknown message kind {k:#04x}"),
            Error::BadPayload { kind, len } => {
                write!(f, "message kind {kind:#04x} with a payload of {len} bytes")
            }
        }
    }
}

/// Incremental CRC-32 (IEEE 802.3, reflected, polynomial `0xEDB88320`), as zlib computes it.
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Crc32 {
    /// A CRC over no bytes yet.
    pub const fn new() -> Self {
        Crc32(!0)
    }

    /// Adds `bytes`. Bitwise rather than table-driven: 1 KB of flash saved, and the link, not
    /// this loop, limits the speed.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u32::from(b);
            for _ in 0..8 {
                let mask = (self.0 & 1).wrapping_neg();
                self.0 = (self.0 >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
    }

    /// The CRC of the bytes added so far.
    pub const fn finish(&self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

/// The identity of a model: the CRC-32 of its `.tflite` file. The firmware's build embeds it;
/// the host computes it from the model it was given, and the two must agree.
pub fn model_id(tflite: &[u8]) -> u32 {
    crc32(tflite)
}

/// One received frame of this protocol's version, its CRC checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Message kind ([`kind`]).
    pub kind: u8,
    /// Sequence number.
    pub seq: u8,
    /// Payload.
    pub payload: &'a [u8],
}

/// Writes a frame of `kind` and `seq` into `out`, its payload the concatenation of `parts`;
/// returns the frame's length.
pub fn encode_frame(kind: u8, seq: u8, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, Error> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let total = HEADER_BYTES + len + CRC_BYTES;
    if len > MAX_PAYLOAD || out.len() < total {
        return Err(Error::NoRoom { needed: total });
    }
    let [s0, s1] = SYNC;
    // `len <= MAX_PAYLOAD` fits 16 bits.
    let [l0, l1] = (len as u16).to_le_bytes();
    let mut at = 0;
    for b in [s0, s1, VERSION, kind, seq, l0, l1, !l0, !l1] {
        put(out, &mut at, &[b])?;
    }
    for p in parts {
        put(out, &mut at, p)?;
    }
    let crc = crc32(out.get(2..at).ok_or(Error::NoRoom { needed: total })?);
    put(out, &mut at, &crc.to_le_bytes())?;
    Ok(at)
}

fn put(out: &mut [u8], at: &mut usize, bytes: &[u8]) -> Result<(), Error> {
    let end = *at + bytes.len();
    out.get_mut(*at..end)
        .ok_or(Error::NoRoom { needed: end })?
        .copy_from_slice(bytes);
    *at = end;
    Ok(())
}

/// Reassembles frames from a byte stream, one byte at a time, in a buffer of [`MAX_FRAME`]
/// bytes (no heap): bytes before a sync are skipped, corrupted frames are reported and
/// dropped.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: heapless::Vec<u8, MAX_FRAME>,
    /// The buffer holds a frame returned by the last `push`: clear it before the next byte.
    delivered: bool,
}

impl Decoder {
    /// A decoder waiting for a sync.
    pub const fn new() -> Self {
        Decoder {
            buf: heapless::Vec::new(),
            delivered: false,
        }
    }

    /// Drops any partly received frame.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.delivered = false;
    }

    /// Adds one received byte; returns a frame when `byte` completes one, `Ok(None)` while one
    /// is incomplete (or no sync was seen), and an error (after which the decoder looks for
    /// the next sync) when a completed frame is corrupted or of another protocol version.
    pub fn push(&mut self, byte: u8) -> Result<Option<Frame<'_>>, Error> {
        if self.delivered {
            self.reset();
        }
        let [s0, s1] = SYNC;
        match self.buf.len() {
            0 if byte != s0 => return Ok(None),
            1 if byte != s1 => {
                // Not a sync; the byte may itself start one.
                self.buf.clear();
                if byte == s0 {
                    self.push_byte(byte)?;
                }
                return Ok(None);
            }
            _ => self.push_byte(byte)?,
        }
        let Some(len) = self.payload_len() else {
            return Ok(None);
        };
        let Some(len) = len else {
            self.reset();
            return Err(Error::BadHeader);
        };
        if len > MAX_PAYLOAD {
            self.reset();
            return Err(Error::TooLong { len });
        }
        let total = HEADER_BYTES + len + CRC_BYTES;
        if self.buf.len() < total {
            return Ok(None);
        }
        let body = self.buf.get(2..HEADER_BYTES + len).unwrap_or_default();
        let computed = crc32(body);
        let carried = match self.buf.get(HEADER_BYTES + len..total) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        };
        let (version, kind, seq) = match self.buf.get(2..5) {
            Some(&[v, k, s]) => (v, k, s),
            _ => (0, 0, 0),
        };
        if carried != computed {
            self.reset();
            return Err(Error::Crc { carried, computed });
        }
        if version != VERSION {
            self.reset();
            return Err(Error::Version { got: version, seq });
        }
        self.delivered = true;
        Ok(Some(Frame {
            kind,
            seq,
            payload: self
                .buf
                .get(HEADER_BYTES..HEADER_BYTES + len)
                .unwrap_or_default(),
        }))
    }

    fn push_byte(&mut self, byte: u8) -> Result<(), Error> {
        self.buf.push(byte).map_err(|_| Error::NoRoom {
            needed: MAX_FRAME + 1,
        })
    }

    /// The payload length once the header is complete: `Some(None)` if its copies disagree.
    fn payload_len(&self) -> Option<Option<usize>> {
        match self.buf.get(5..HEADER_BYTES) {
            Some(&[a, b, na, nb]) => {
                Some((a == !na && b == !nb).then(|| usize::from(u16::from_le_bytes([a, b]))))
            }
            _ => None,
        }
    }
}

/// What the host asks of the runner firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request<'a> {
    /// Which model do you run, and with what sizes? Answered by [`Response::Info`].
    Hello,
    /// Store `data` at `offset` of the next sample (all inputs' bytes concatenated). Answered
    /// by [`Response::InputStored`].
    Input {
        /// Byte offset into the sample.
        offset: u32,
        /// At most [`MAX_CHUNK`] bytes.
        data: &'a [u8],
    },
    /// Run the model on the stored sample. Answered by [`Response::Done`].
    Infer {
        /// [`model_id`] of the model the host means.
        model_id: u32,
        /// Bytes of one sample as the host sees the model.
        input_bytes: u32,
    },
    /// Send `len` bytes of the last inference's outputs (all outputs concatenated) from
    /// `offset`. Answered by [`Response::Output`].
    ReadOutput {
        /// Byte offset into the outputs.
        offset: u32,
        /// At most [`MAX_CHUNK`] bytes.
        len: u16,
    },
}

/// How the firmware's counter relates to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CounterKind {
    /// A timer on QEMU's virtual clock under `-icount shift=0`: ticks convert to executed
    /// instructions through the calibration.
    Instructions,
    /// A cycle counter (the DWT) or a timer at the core clock: ticks are cycles.
    Cycles,
    /// A code this side does not know.
    Other(u8),
}

impl CounterKind {
    fn code(self) -> u8 {
        match self {
            CounterKind::Instructions => 0,
            CounterKind::Cycles => 1,
            CounterKind::Other(c) => c,
        }
    }

    fn from_code(c: u8) -> Self {
        match c {
            0 => CounterKind::Instructions,
            1 => CounterKind::Cycles,
            c => CounterKind::Other(c),
        }
    }
}

/// The firmware's description of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// [`model_id`] of the model the firmware was built with.
    pub model_id: u32,
    /// Bytes of one sample: all inputs, concatenated.
    pub input_bytes: u32,
    /// Bytes of all outputs, concatenated.
    pub output_bytes: u32,
    /// What the counter counts.
    pub counter: CounterKind,
    /// Calibration: instructions of the calibration loop...
    pub calibration_instructions: u32,
    /// ...and the ticks the counter advanced over it.
    pub calibration_ticks: u32,
}

/// Why the firmware refused or failed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceError {
    /// The firmware received a corrupted frame (the host resends).
    CorruptedFrame,
    /// The request's frame is of a protocol version the firmware does not speak.
    Version {
        /// The firmware's version.
        device: u8,
        /// The request's.
        host: u8,
    },
    /// The firmware was built for another model.
    WrongModel {
        /// [`model_id`] the firmware was built with.
        device: u32,
        /// The one the host asked for.
        host: u32,
    },
    /// The sample size the host gives is not the model's.
    InputSize {
        /// Bytes the firmware's model takes.
        expected: u32,
        /// Bytes the host gives.
        got: u32,
    },
    /// An input chunk beyond the end of the sample.
    InputRange {
        /// End of the chunk.
        end: u32,
        /// Bytes of one sample.
        size: u32,
    },
    /// An output read beyond the end of the outputs.
    OutputRange {
        /// End of the read.
        end: u32,
        /// Bytes of the outputs.
        size: u32,
    },
    /// The model returned an error while running.
    Model,
    /// A request kind the firmware does not know (or a malformed payload).
    UnknownRequest(u8),
    /// An error code this side does not know.
    Other(u8),
}

impl DeviceError {
    fn encode(self) -> [u8; 9] {
        let (code, a, b) = match self {
            DeviceError::CorruptedFrame => (1, 0, 0),
            DeviceError::Version { device, host } => (2, device.into(), host.into()),
            DeviceError::WrongModel { device, host } => (3, device, host),
            DeviceError::InputSize { expected, got } => (4, expected, got),
            DeviceError::InputRange { end, size } => (5, end, size),
            DeviceError::OutputRange { end, size } => (6, end, size),
            DeviceError::Model => (7, 0, 0),
            DeviceError::UnknownRequest(k) => (8, k.into(), 0),
            DeviceError::Other(c) => (c, 0, 0),
        };
        let [a0, a1, a2, a3] = a.to_le_bytes();
        let [b0, b1, b2, b3] = b.to_le_bytes();
        [code, a0, a1, a2, a3, b0, b1, b2, b3]
    }

    fn decode(code: u8, a: u32, b: u32) -> Self {
        let byte = |v: u32| v.to_le_bytes()[0];
        match code {
            1 => DeviceError::CorruptedFrame,
            2 => DeviceError::Version {
                device: byte(a),
                host: byte(b),
            },
            3 => DeviceError::WrongModel { device: a, host: b },
            4 => DeviceError::InputSize {
                expected: a,
                got: b,
            },
            5 => DeviceError::InputRange { end: a, size: b },
            6 => DeviceError::OutputRange { end: a, size: b },
            7 => DeviceError::Model,
            8 => DeviceError::UnknownRequest(byte(a)),
            c => DeviceError::Other(c),
        }
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DeviceError::CorruptedFrame => write!(f, "the device received a corrupted frame"),
            DeviceError::Version { device, host } => write!(
                f,
                "the device speaks protocol version {device}, the host version {host}"
            ),
            DeviceError::WrongModel { device, host } => write!(
                f,
                "the device runs another model (id {device:#010x}; this model's is {host:#010x}): \
                 rebuild or reflash its runner for this model"
            ),
            DeviceError::InputSize { expected, got } => write!(
                f,
                "wrong input size: the device's model takes {expected} bytes per sample, got {got}"
            ),
            DeviceError::InputRange { end, size } => write!(
                f,
                "input chunk ends at byte {end}, beyond the sample's {size} bytes"
            ),
            DeviceError::OutputRange { end, size } => write!(
                f,
                "output read ends at byte {end}, beyond the outputs' {size} bytes"
            ),
            DeviceError::Model => write!(f, "the model returned an error on the device"),
            DeviceError::UnknownRequest(k) => {
                write!(f, "the device does not understand request kind {k:#04x}")
            }
            DeviceError::Other(c) => write!(f, "the device reported error code {c}"),
        }
    }
}

/// What the runner firmware answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response<'a> {
    /// Answers [`Request::Hello`].
    Info(Info),
    /// Answers [`Request::Input`]: the chunk is stored.
    InputStored {
        /// Its offset.
        offset: u32,
        /// Its length.
        len: u32,
    },
    /// Answers [`Request::Infer`]: the inference ran.
    Done {
        /// Counter ticks the inference took.
        ticks: u32,
    },
    /// Answers [`Request::ReadOutput`].
    Output {
        /// Byte offset into the outputs.
        offset: u32,
        /// The bytes.
        data: &'a [u8],
    },
    /// Answers any request the firmware refused or failed.
    Error(DeviceError),
}

fn u32_at(p: &[u8], at: usize) -> Option<u32> {
    match p.get(at..at + 4) {
        Some(&[a, b, c, d]) => Some(u32::from_le_bytes([a, b, c, d])),
        _ => None,
    }
}

impl<'a> Request<'a> {
    /// Encodes the request as a frame with sequence number `seq` into `out`; returns its length.
    pub fn encode(&self, seq: u8, out: &mut [u8]) -> Result<usize, Error> {
        match *self {
            Request::Hello => encode_frame(kind::HELLO, seq, &[], out),
            Request::Input { offset, data } => {
                encode_frame(kind::INPUT, seq, &[&offset.to_le_bytes(), data], out)
            }
            Request::Infer {
                model_id,
                input_bytes,
            } => encode_frame(
                kind::INFER,
                seq,
                &[&model_id.to_le_bytes(), &input_bytes.to_le_bytes()],
                out,
            ),
            Request::ReadOutput { offset, len } => encode_frame(
                kind::READ_OUTPUT,
                seq,
                &[&offset.to_le_bytes(), &len.to_le_bytes()],
                out,
            ),
        }
    }

    /// Reads a request from a frame.
    pub fn decode(frame: &Frame<'a>) -> Result<Self, Error> {
        let p = frame.payload;
        let bad = Error::BadPayload {
            kind: frame.kind,
            len: p.len(),
        };
        match (frame.kind, p.len()) {
            (kind::HELLO, 0) => Ok(Request::Hello),
            (kind::INPUT, 4..) => Ok(Request::Input {
                offset: u32_at(p, 0).ok_or(bad)?,
                data: p.get(4..).unwrap_or_default(),
            }),
            (kind::INFER, 8) => Ok(Request::Infer {
                model_id: u32_at(p, 0).ok_or(bad)?,
                input_bytes: u32_at(p, 4).ok_or(bad)?,
            }),
            (kind::READ_OUTPUT, 6) => Ok(Request::ReadOutput {
                offset: u32_at(p, 0).ok_or(bad)?,
                len: match p.get(4..6) {
                    Some(&[a, b]) => u16::from_le_bytes([a, b]),
                    _ => return Err(bad),
                },
            }),
            (kind::HELLO | kind::INPUT | kind::INFER | kind::READ_OUTPUT, _) => Err(bad),
            (k, _) => Err(Error::UnknownKind(k)),
        }
    }
}

impl<'a> Response<'a> {
    /// Encodes the response as a frame with sequence number `seq` into `out`; returns its
    /// length.
    pub fn encode(&self, seq: u8, out: &mut [u8]) -> Result<usize, Error> {
        match *self {
            Response::Info(i) => encode_frame(
                kind::INFO,
                seq,
                &[
                    &i.model_id.to_le_bytes(),
                    &i.input_bytes.to_le_bytes(),
                    &i.output_bytes.to_le_bytes(),
                    &[i.counter.code()],
                    &i.calibration_instructions.to_le_bytes(),
                    &i.calibration_ticks.to_le_bytes(),
                ],
                out,
            ),
            Response::InputStored { offset, len } => encode_frame(
                kind::INPUT_STORED,
                seq,
                &[&offset.to_le_bytes(), &len.to_le_bytes()],
                out,
            ),
            Response::Done { ticks } => encode_frame(kind::DONE, seq, &[&ticks.to_le_bytes()], out),
            Response::Output { offset, data } => {
                encode_frame(kind::OUTPUT, seq, &[&offset.to_le_bytes(), data], out)
            }
            Response::Error(e) => encode_frame(kind::ERROR, seq, &[&e.encode()], out),
        }
    }

    /// Reads a response from a frame.
    pub fn decode(frame: &Frame<'a>) -> Result<Self, Error> {
        let p = frame.payload;
        let bad = Error::BadPayload {
            kind: frame.kind,
            len: p.len(),
        };
        let word = |at| u32_at(p, at).ok_or(bad);
        match (frame.kind, p.len()) {
            (kind::INFO, 21) => Ok(Response::Info(Info {
                model_id: word(0)?,
                input_bytes: word(4)?,
                output_bytes: word(8)?,
                counter: CounterKind::from_code(p.get(12).copied().ok_or(bad)?),
                calibration_instructions: word(13)?,
                calibration_ticks: word(17)?,
            })),
            (kind::INPUT_STORED, 8) => Ok(Response::InputStored {
                offset: word(0)?,
                len: word(4)?,
            }),
            (kind::DONE, 4) => Ok(Response::Done { ticks: word(0)? }),
            (kind::OUTPUT, 4..) => Ok(Response::Output {
                offset: word(0)?,
                data: p.get(4..).unwrap_or_default(),
            }),
            (kind::ERROR, 9) => Ok(Response::Error(DeviceError::decode(
                p.first().copied().ok_or(bad)?,
                word(1)?,
                word(5)?,
            ))),
            (kind::INFO | kind::INPUT_STORED | kind::DONE | kind::OUTPUT | kind::ERROR, _) => {
                Err(bad)
            }
            (k, _) => Err(Error::UnknownKind(k)),
        }
    }
}

#[cfg(test)]
mod tests;
