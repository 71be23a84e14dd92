//! `ferrite run|verify --device`: stream samples through the runner firmware on a board (or a
//! board emulated by QEMU) over a serial link, speaking the `ferrite-link` protocol.
//!
//! `--device qemu-m4` (or `qemu-m3`) builds the board's runner firmware
//! (`targets/qemu-mps2-an386` or `-an385`, binary `ferrite-runner`) with the model baked in, boots it in QEMU with UART0 connected to a Unix
//! socket, and talks through that. `--device /dev/ttyACM0` (any path) talks to a board already
//! flashed with a runner built for the model, through its serial port (set to raw mode at
//! 115200 baud with `stty`).
//!
//! Every request is idempotent, so a corrupted or lost frame, in either direction, is resent
//! (at most [`MAX_ATTEMPTS`] times per request) and counted; a request that never gets an
//! intact reply is an error. Nothing is ever taken from a frame that failed its CRC.

use crate::sim;
use ferrite_convert::npy::{Array, Data};
use ferrite_convert::Compiled;
use ferrite_link::{
    CounterKind, Decoder, DeviceError, Error as LinkError, Info, Request, Response, MAX_CHUNK,
    MAX_FRAME,
};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Attempts per request before giving up.
pub const MAX_ATTEMPTS: usize = 8;

/// Where the runner is.
pub enum Device {
    /// An emulated board: its runner is built and booted in QEMU.
    Qemu(&'static sim::Board),
    /// A serial port of a board flashed with the runner.
    Serial(PathBuf),
}

/// Emulated boards with a runner firmware (their crate has a `ferrite-runner` binary).
const RUNNER_BOARDS: &[&str] = &["qemu-m4", "qemu-m3"];

/// Reads `--device`: an emulated board's name or a serial port's path.
pub fn parse(name: &str) -> Result<Device, String> {
    if RUNNER_BOARDS.contains(&name) {
        return Ok(Device::Qemu(sim::board(name)?));
    }
    if name.contains('/') || name.starts_with("COM") {
        return Ok(Device::Serial(PathBuf::from(name)));
    }
    Err(format!(
        "unknown device {name}: give an emulated board ({}) or a serial port path such as \
         /dev/ttyACM0",
        RUNNER_BOARDS.join(", ")
    ))
}

/// A byte stream to a runner whose reads give up after a short while (returning `Ok(0)` or a
/// `WouldBlock`/`TimedOut` error), so the client can resend.
pub trait Port: Read + Write + Send {}
impl<T: Read + Write + Send> Port for T {}

/// A reply, copied out of the decoder's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Info(Info),
    InputStored { offset: u32, len: u32 },
    Done { ticks: u32 },
    Output { offset: u32, data: Vec<u8> },
    Error(DeviceError),
}

impl Reply {
    fn from_response(r: Response<'_>) -> Option<Self> {
        Some(match r {
            Response::Info(i) => Reply::Info(i),
            Response::InputStored { offset, len } => Reply::InputStored { offset, len },
            Response::Done { ticks } => Reply::Done { ticks },
            Response::Output { offset, data } => Reply::Output {
                offset,
                data: data.to_vec(),
            },
            Response::Error(e) => Reply::Error(e),
            _ => return None,
        })
    }
}

/// The host's end of the protocol: sends requests, resends them until an intact reply with
/// the request's sequence number arrives.
pub struct Client<P: Port> {
    port: BufReader<P>,
    decoder: Decoder,
    seq: u8,
    /// Time to wait for a reply before resending.
    pub reply_timeout: Duration,
    /// Time an inference may take (its request is resent meanwhile, see `request`).
    pub infer_timeout: Duration,
    /// `Ok(0)` from the port means "nothing yet" (a tty's read timeout) rather than "closed".
    pub zero_read_is_timeout: bool,
    /// Requests resent so far.
    pub resends: usize,
    /// Corrupted frames received so far (and dropped).
    pub corrupted_replies: usize,
    /// Print why each request is resent (`FERRITE_LINK_TRACE=1`).
    pub trace: bool,
    /// The longest an inference has taken, request to reply.
    slowest_inference: Duration,
}

impl<P: Port> Client<P> {
    /// A client on `port`.
    pub fn new(port: P) -> Self {
        Client {
            port: BufReader::new(port),
            decoder: Decoder::new(),
            seq: 0,
            reply_timeout: Duration::from_secs(1),
            infer_timeout: Duration::from_secs(120),
            zero_read_is_timeout: false,
            resends: 0,
            corrupted_replies: 0,
            trace: std::env::var_os("FERRITE_LINK_TRACE").is_some(),
            slowest_inference: Duration::ZERO,
        }
    }

    /// The port.
    pub fn port_mut(&mut self) -> &mut P {
        self.port.get_mut()
    }

    /// Sends `request` until an intact reply to it arrives.
    fn request(&mut self, request: &Request<'_>) -> Result<Reply, String> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut frame = [0u8; MAX_FRAME];
        let n = request.encode(seq, &mut frame).map_err(|e| e.to_string())?;
        // An inference may take long: its request is resent whenever a reply is overdue (the
        // firmware answers a repeated `Infer` without rerunning it) until `infer_timeout`.
        // Overdue is `reply_timeout` at first, then half again the slowest inference seen.
        let is_infer = matches!(request, Request::Infer { .. });
        let (patience, wait) = if is_infer {
            (
                self.infer_timeout,
                self.reply_timeout.max(self.slowest_inference.mul_f32(1.5)),
            )
        } else {
            (Duration::ZERO, self.reply_timeout)
        };
        let started = Instant::now();
        let mut last_problem = String::from("no reply");
        let mut attempt = 0;
        while attempt < MAX_ATTEMPTS || started.elapsed() < patience {
            if attempt > 0 {
                self.resends += 1;
            }
            attempt += 1;
            let port = self.port.get_mut();
            port.write_all(&frame[..n])
                .and_then(|()| port.flush())
                .map_err(|e| format!("writing to the device: {e}"))?;
            match self.await_reply(seq, wait)? {
                Ok(reply) => {
                    if is_infer {
                        self.slowest_inference = self.slowest_inference.max(started.elapsed());
                    }
                    return Ok(reply);
                }
                Err(problem) => {
                    if self.trace {
                        eprintln!("link: request {seq} attempt {attempt}: {problem}; resending");
                    }
                    last_problem = problem;
                }
            }
        }
        Err(format!(
            "no intact reply from the device after {attempt} attempts (last: {last_problem})"
        ))
    }

    /// Reads until a reply numbered `seq` arrives (`Ok(Ok(reply))`), or a reason to resend:
    /// a corrupted frame in either direction, or the timeout (`Ok(Err(why))`). `Err` for a
    /// failed or closed port.
    fn await_reply(&mut self, seq: u8, timeout: Duration) -> Result<Result<Reply, String>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let available = match self.port.fill_buf() {
                Ok([]) if !self.zero_read_is_timeout => {
                    return Err("the device closed the link".into())
                }
                Ok(b) => b.to_vec(),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Vec::new()
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => Vec::new(),
                Err(e) => return Err(format!("reading from the device: {e}")),
            };
            if available.is_empty() {
                if Instant::now() > deadline {
                    // Whatever part of a frame arrived is not going to be completed.
                    self.decoder.reset();
                    return Ok(Err(format!("no reply within {} ms", timeout.as_millis())));
                }
                continue;
            }
            for (used, &b) in available.iter().enumerate() {
                let outcome = match self.decoder.push(b) {
                    Ok(None) => continue,
                    Ok(Some(frame)) => {
                        let stale = frame.seq != seq;
                        match Response::decode(&frame).map(Reply::from_response) {
                            Ok(Some(Reply::Error(DeviceError::CorruptedFrame))) => {
                                Err("the device received a corrupted frame".to_string())
                            }
                            // A late reply to an earlier request: already answered.
                            _ if stale => continue,
                            Ok(Some(reply)) => Ok(reply),
                            Ok(None) => Err("a reply this host does not know".to_string()),
                            Err(e) => Err(format!("a malformed reply: {e}")),
                        }
                    }
                    Err(LinkError::Version { got, .. }) => {
                        return Err(format!(
                            "the device speaks protocol version {got}, this ferrite version {}: \
                             rebuild the runner firmware",
                            ferrite_link::VERSION
                        ))
                    }
                    Err(e) => {
                        self.corrupted_replies += 1;
                        Err(format!("a corrupted reply ({e})"))
                    }
                };
                self.port.consume(used + 1);
                return Ok(outcome);
            }
            self.port.consume(available.len());
        }
    }

    /// Asks the runner what it runs.
    pub fn hello(&mut self) -> Result<Info, String> {
        match self.request(&Request::Hello)? {
            Reply::Info(i) => Ok(i),
            other => Err(unexpected(&other)),
        }
    }

    /// Runs one sample (all inputs' bytes, concatenated): returns the outputs' bytes and the
    /// counter ticks of the inference.
    pub fn infer(
        &mut self,
        model_id: u32,
        sample: &[u8],
        output_bytes: usize,
    ) -> Result<(Vec<u8>, u32), String> {
        for (k, chunk) in sample.chunks(MAX_CHUNK).enumerate() {
            let offset = (k * MAX_CHUNK) as u32;
            match self.request(&Request::Input {
                offset,
                data: chunk,
            })? {
                Reply::InputStored { offset: o, len }
                    if o == offset && len as usize == chunk.len() => {}
                other => return Err(unexpected(&other)),
            }
        }
        let ticks = match self.request(&Request::Infer {
            model_id,
            input_bytes: sample.len() as u32,
        })? {
            Reply::Done { ticks } => ticks,
            other => return Err(unexpected(&other)),
        };
        let mut outputs = Vec::with_capacity(output_bytes);
        while outputs.len() < output_bytes {
            let offset = outputs.len() as u32;
            let len = (output_bytes - outputs.len()).min(MAX_CHUNK) as u16;
            match self.request(&Request::ReadOutput { offset, len })? {
                Reply::Output { offset: o, data } if o == offset && data.len() == len as usize => {
                    outputs.extend_from_slice(&data)
                }
                other => return Err(unexpected(&other)),
            }
        }
        Ok((outputs, ticks))
    }
}

fn unexpected(reply: &Reply) -> String {
    match reply {
        Reply::Error(e) => e.to_string(),
        other => format!("unexpected reply from the device: {other:?}"),
    }
}

/// Corrupts the byte stream on purpose (a test hook, `FERRITE_LINK_FAULTS=W,R`): flips one bit
/// in every `W`th byte written and every `R`th byte read (0: never).
pub struct FaultyPort<P> {
    inner: P,
    write_period: usize,
    read_period: usize,
    written: usize,
    read: usize,
    /// Bits flipped so far.
    pub flipped: usize,
}

impl<P> FaultyPort<P> {
    /// Wraps `inner`.
    pub fn new(inner: P, write_period: usize, read_period: usize) -> Self {
        FaultyPort {
            inner,
            write_period,
            read_period,
            written: 0,
            read: 0,
            flipped: 0,
        }
    }
}

impl<P: Read> Read for FaultyPort<P> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for b in &mut buf[..n] {
            self.read += 1;
            if self.read_period > 0 && self.read.is_multiple_of(self.read_period) {
                *b ^= 1 << (self.read % 8);
                self.flipped += 1;
            }
        }
        Ok(n)
    }
}

impl<P: Write> Write for FaultyPort<P> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut copy = buf.to_vec();
        for b in &mut copy {
            self.written += 1;
            if self.write_period > 0 && self.written.is_multiple_of(self.write_period) {
                *b ^= 1 << (self.written % 8);
                self.flipped += 1;
            }
        }
        self.inner.write_all(&copy)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What a device run produced.
pub struct DeviceRun {
    /// Outputs, stacked `[N, *shape]`, one array per model output.
    pub outputs: Vec<Array>,
    /// Counter ticks of each sample's inference.
    pub ticks: Vec<u32>,
    /// What the runner reported about itself.
    pub info: Info,
    /// Requests resent after a corrupted or lost frame.
    pub resends: usize,
    /// Bits the fault injector flipped (`FERRITE_LINK_FAULTS`).
    pub injected_faults: usize,
}

impl DeviceRun {
    /// A sample's cost in the counter's unit: instructions (QEMU) or cycles.
    pub fn cost(&self, ticks: u32) -> (u64, &'static str) {
        match self.info.counter {
            CounterKind::Instructions => (
                (f64::from(ticks) * f64::from(self.info.calibration_instructions)
                    / f64::from(self.info.calibration_ticks.max(1)))
                .round() as u64,
                "instructions",
            ),
            CounterKind::Cycles => (u64::from(ticks), "cycles"),
            _ => (u64::from(ticks), "ticks"),
        }
    }
}

/// Builds (for an emulated board) and runs the runner, streaming every sample of `inputs`.
pub fn run(
    device: &Device,
    c: &Compiled,
    model: &Path,
    inputs: &[Array],
    targets_dir: &Path,
    quiet: bool,
) -> Result<DeviceRun, String> {
    let tflite = std::fs::read(model).map_err(|e| format!("{}: {e}", model.display()))?;
    let model_id = ferrite_link::model_id(&tflite);
    let faults = std::env::var("FERRITE_LINK_FAULTS").ok().map(|v| {
        let mut it = v.split(',').map(|x| x.trim().parse::<usize>().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    });
    match device {
        Device::Qemu(board) => {
            let elf = sim::build_runner(board, targets_dir, model, quiet)?;
            let mut qemu = Qemu::boot(board, elf, quiet)?;
            let stream = qemu.stream.take().ok_or("no link to QEMU")?;
            let result = match faults {
                Some((w, r)) => {
                    let mut client = Client::new(FaultyPort::new(stream, w, r));
                    let mut run = stream_samples(&mut client, c, model_id, inputs, quiet);
                    if let Ok(run) = &mut run {
                        run.injected_faults = client.port_mut().flipped;
                    }
                    run
                }
                None => stream_samples(&mut Client::new(stream), c, model_id, inputs, quiet),
            };
            result.map_err(|e| qemu.explain(e))
        }
        Device::Serial(path) => {
            // Raw bytes, 115200 baud, reads give up after 0.2 s (VTIME=2) so lost frames are
            // resent. `stty` is on every Unix; on other systems configure the port beforehand.
            let _ = Command::new("stty")
                .arg("-F")
                .arg(path)
                .args(["115200", "raw", "-echo", "min", "0", "time", "2"])
                .status();
            let port = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let mut client = Client::new(port);
            client.zero_read_is_timeout = true;
            stream_samples(&mut client, c, model_id, inputs, quiet)
        }
    }
}

/// Checks the runner is for this model, then runs every sample through it.
fn stream_samples<P: Port>(
    client: &mut Client<P>,
    c: &Compiled,
    model_id: u32,
    inputs: &[Array],
    quiet: bool,
) -> Result<DeviceRun, String> {
    let info = client.hello()?;
    if info.model_id != model_id {
        return Err(DeviceError::WrongModel {
            device: info.model_id,
            host: model_id,
        }
        .to_string());
    }
    let n = ferrite_convert::host::samples(c, inputs)?;
    let per_input: Vec<usize> = (0..inputs.len())
        .map(|i| c.input(i).map_or(0, |t| t.num_elements()))
        .collect();
    let sample_bytes: usize = (0..inputs.len())
        .map(|i| c.input(i).map_or(0, |t| t.size_bytes()))
        .sum();
    if sample_bytes != info.input_bytes as usize {
        return Err(DeviceError::InputSize {
            expected: info.input_bytes,
            got: sample_bytes as u32,
        }
        .to_string());
    }
    let output_sizes: Vec<usize> = (0..c.outputs.len())
        .map(|k| c.output(k).map_or(0, |t| t.size_bytes()))
        .collect();
    if output_sizes.iter().sum::<usize>() != info.output_bytes as usize {
        return Err(format!(
            "the device's model has {} output bytes, this model {}",
            info.output_bytes,
            output_sizes.iter().sum::<usize>()
        ));
    }
    if !quiet {
        eprintln!("streaming {n} samples to the device ...");
    }
    let mut out_data = vec![Vec::new(); c.outputs.len()];
    let mut ticks = Vec::with_capacity(n);
    for k in 0..n {
        let mut sample = Vec::with_capacity(sample_bytes);
        for (a, &per) in inputs.iter().zip(&per_input) {
            sample.extend(a.data.bytes(k * per, per));
        }
        let (bytes, t) = client
            .infer(model_id, &sample, info.output_bytes as usize)
            .map_err(|e| format!("sample {k}: {e}"))?;
        let mut at = 0;
        for (data, &size) in out_data.iter_mut().zip(&output_sizes) {
            data.extend_from_slice(&bytes[at..at + size]);
            at += size;
        }
        ticks.push(t);
    }
    let outputs = out_data
        .iter()
        .enumerate()
        .map(|(k, bytes)| {
            let t = c.output(k).ok_or("missing output")?;
            let mut shape = vec![n];
            shape.extend(t.shape.dims().iter().map(|&d| d as usize));
            Ok(Array {
                shape,
                data: Data::from_bytes(t.dtype, bytes),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(DeviceRun {
        outputs,
        ticks,
        info,
        resends: client.resends,
        injected_faults: 0,
    })
}

/// A runner booted in QEMU, its UART0 on a Unix socket; killed when dropped.
struct Qemu {
    child: Child,
    stream: Option<std::os::unix::net::UnixStream>,
    elf: Vec<u8>,
    work: PathBuf,
}

impl Qemu {
    fn boot(board: &sim::Board, elf: Vec<u8>, quiet: bool) -> Result<Self, String> {
        let work = std::env::temp_dir().join(format!(
            "ferrite-device-{}-{}",
            std::process::id(),
            board.name
        ));
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        // QEMU runs a private copy: the build directory may be rebuilt for another model.
        let elf_copy = work.join("runner.elf");
        std::fs::write(&elf_copy, &elf).map_err(|e| e.to_string())?;
        let socket = work.join("uart0.sock");
        let _ = std::fs::remove_file(&socket);
        // The host listens and QEMU connects: no race for the socket, no port to pick.
        let listener = std::os::unix::net::UnixListener::bind(&socket)
            .map_err(|e| format!("{}: {e}", socket.display()))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        if !quiet {
            eprintln!(
                "booting the runner in QEMU ({} {}) ...",
                board.machine, board.cpu
            );
        }
        let child = Command::new(sim::which_qemu()?)
            .args(["-cpu", board.cpu, "-machine", board.machine, "-nographic"])
            .args(["-monitor", "none"])
            .args([
                "-semihosting-config",
                "enable=on,target=native",
                "-icount",
                "shift=0,align=off,sleep=off",
            ])
            .arg("-chardev")
            .arg(format!("socket,id=link,path={}", socket.display()))
            .args(["-serial", "chardev:link"])
            .arg("-kernel")
            .arg(&elf_copy)
            .current_dir(&work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting qemu-system-arm: {e}"))?;
        let mut qemu = Qemu {
            child,
            stream: None,
            elf,
            work,
        };
        let started = Instant::now();
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if let Ok(Some(status)) = qemu.child.try_wait() {
                        return Err(qemu.explain(format!("QEMU exited ({status})")));
                    }
                    if started.elapsed() > Duration::from_secs(30) {
                        return Err(qemu.explain("QEMU did not connect to the link".into()));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        // Short reads let the client notice a lost frame and resend.
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(|e| e.to_string())?;
        qemu.stream = Some(stream);
        Ok(qemu)
    }

    /// `error`, with the firmware's log if QEMU has ended (a panic or fault of the runner).
    fn explain(&mut self, error: String) -> String {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        let mut raw = Vec::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_end(&mut raw);
        }
        let log = sim::decode_log(&self.elf, &raw);
        match status.and_then(|s| s.code()) {
            Some(code) if !log.is_empty() => format!(
                "{error}\nthe runner ended with status {code}; firmware log:\n{}",
                log.join("\n")
            ),
            _ => error,
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// An in-process runner: decodes what the client writes, answers like the firmware (a
    /// model that adds one to every byte), and can lose whole written chunks.
    struct FakeDevice {
        decoder: Decoder,
        replies: VecDeque<u8>,
        input: Vec<u8>,
        output: Vec<u8>,
        /// Drop the n-th write (1-based) without a trace, as a lost frame.
        lose_write: usize,
        writes: usize,
    }

    const ID: u32 = 0x1234_5678;

    impl FakeDevice {
        fn new(sample: usize) -> Self {
            FakeDevice {
                decoder: Decoder::new(),
                replies: VecDeque::new(),
                input: vec![0; sample],
                output: vec![0; sample],
                lose_write: 0,
                writes: 0,
            }
        }
    }

    impl Read for FakeDevice {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.replies.is_empty() {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.replies.len());
            for b in &mut buf[..n] {
                *b = self.replies.pop_front().unwrap();
            }
            Ok(n)
        }
    }

    impl Write for FakeDevice {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            if self.writes == self.lose_write {
                return Ok(buf.len());
            }
            for &b in buf {
                let mut out = [0u8; MAX_FRAME];
                let n = match self.decoder.push(b) {
                    Ok(None) => continue,
                    Err(_) => Response::Error(DeviceError::CorruptedFrame)
                        .encode(0, &mut out)
                        .unwrap(),
                    Ok(Some(f)) => {
                        let seq = f.seq;
                        let response = match Request::decode(&f).unwrap() {
                            Request::Hello => Response::Info(Info {
                                model_id: ID,
                                input_bytes: self.input.len() as u32,
                                output_bytes: self.output.len() as u32,
                                counter: CounterKind::Cycles,
                                calibration_instructions: 1,
                                calibration_ticks: 1,
                            }),
                            Request::Input { offset, data } => {
                                let o = offset as usize;
                                self.input[o..o + data.len()].copy_from_slice(data);
                                Response::InputStored {
                                    offset,
                                    len: data.len() as u32,
                                }
                            }
                            Request::Infer { model_id, .. } if model_id != ID => {
                                Response::Error(DeviceError::WrongModel {
                                    device: ID,
                                    host: model_id,
                                })
                            }
                            Request::Infer { .. } => {
                                for (o, i) in self.output.iter_mut().zip(&self.input) {
                                    *o = i.wrapping_add(1);
                                }
                                Response::Done { ticks: 42 }
                            }
                            Request::ReadOutput { offset, len } => {
                                let o = offset as usize;
                                let data = self.output[o..o + len as usize].to_vec();
                                let n = Response::Output {
                                    offset,
                                    data: &data,
                                }
                                .encode(seq, &mut out)
                                .unwrap();
                                self.replies.extend(&out[..n]);
                                continue;
                            }
                            _ => unreachable!(),
                        };
                        response.encode(seq, &mut out).unwrap()
                    }
                };
                self.replies.extend(&out[..n]);
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn expected(sample: &[u8]) -> Vec<u8> {
        sample.iter().map(|b| b.wrapping_add(1)).collect()
    }

    fn fast<P: Port>(mut c: Client<P>) -> Client<P> {
        c.reply_timeout = Duration::from_millis(20);
        c.infer_timeout = Duration::from_millis(20);
        c
    }

    #[test]
    fn streams_a_sample_in_chunks() {
        let s = sample(2500);
        let mut c = fast(Client::new(FakeDevice::new(s.len())));
        assert_eq!(c.hello().unwrap().model_id, ID);
        let (out, ticks) = c.infer(ID, &s, s.len()).unwrap();
        assert_eq!((out, ticks), (expected(&s), 42));
        assert_eq!(c.resends, 0);
    }

    #[test]
    fn corrupted_frames_both_ways_are_resent_never_used() {
        let s = sample(3000);
        // Periods above the largest frame, so that some attempt of every request gets through.
        for (w, r) in [(1500, 0), (0, 2500), (2999, 3001)] {
            let port = FaultyPort::new(FakeDevice::new(s.len()), w, r);
            let mut c = fast(Client::new(port));
            let (out, _) = c
                .infer(ID, &s, s.len())
                .unwrap_or_else(|e| panic!("faults every {w}/{r}: {e}"));
            assert_eq!(
                out,
                expected(&s),
                "faults every {w} written / {r} read bytes"
            );
            assert!(c.port_mut().flipped > 0);
            assert!(c.resends > 0, "faults every {w}/{r}: no resend");
        }
    }

    #[test]
    fn a_lost_frame_is_resent_after_the_timeout() {
        let s = sample(100);
        let mut device = FakeDevice::new(s.len());
        device.lose_write = 2; // the Infer request
        let mut c = fast(Client::new(device));
        let (out, _) = c.infer(ID, &s, s.len()).unwrap();
        assert_eq!(out, expected(&s));
        assert_eq!(c.resends, 1);
    }

    #[test]
    fn a_dead_link_is_an_error_not_a_result() {
        let s = sample(100);
        // Every written byte corrupted: nothing ever gets through.
        let port = FaultyPort::new(FakeDevice::new(s.len()), 1, 0);
        let mut c = fast(Client::new(port));
        let e = c.infer(ID, &s, s.len()).unwrap_err();
        assert!(e.contains("no intact reply"), "{e}");
        assert_eq!(c.resends, MAX_ATTEMPTS - 1);
    }

    #[test]
    fn another_model_is_refused_clearly() {
        let s = sample(10);
        let mut c = fast(Client::new(FakeDevice::new(s.len())));
        let e = c.infer(ID + 1, &s, s.len()).unwrap_err();
        assert!(e.contains("another model"), "{e}");
    }

    #[test]
    fn reads_device_names() {
        assert!(matches!(parse("qemu-m4"), Ok(Device::Qemu(b)) if b.name == "qemu-m4"));
        assert!(matches!(parse("/dev/ttyACM0"), Ok(Device::Serial(_))));
        assert!(parse("qemu-m9").is_err());
    }
}
