//! Round trips, the CRC against known values, and corruption: a frame with any bit flipped is
//! never delivered as something else, and the decoder finds the next intact frame.

use super::*;
use proptest::prelude::*;

/// Feeds `bytes`; returns the (kind, seq, payload) of every frame and the number of errors.
fn feed(d: &mut Decoder, bytes: &[u8]) -> (std::vec::Vec<(u8, u8, std::vec::Vec<u8>)>, usize) {
    let mut frames = std::vec::Vec::new();
    let mut errors = 0;
    for &b in bytes {
        match d.push(b) {
            Ok(Some(f)) => frames.push((f.kind, f.seq, f.payload.to_vec())),
            Ok(None) => {}
            Err(_) => errors += 1,
        }
    }
    (frames, errors)
}

extern crate std;

#[test]
fn crc32_matches_zlib() {
    // Check values of CRC-32/ISO-HDLC (zlib's crc32).
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    assert_eq!(
        crc32(b"The quick brown fox jumps over the lazy dog"),
        0x414F_A339
    );
    let mut c = Crc32::new();
    c.update(b"1234");
    c.update(b"56789");
    assert_eq!(c.finish(), 0xCBF4_3926);
}

#[test]
fn every_message_round_trips() {
    let data = [7u8; 300];
    let requests = [
        Request::Hello,
        Request::Input {
            offset: 1020,
            data: &data,
        },
        Request::Infer {
            model_id: 0xDEAD_BEEF,
            input_bytes: 27_648,
        },
        Request::ReadOutput {
            offset: 4,
            len: 1020,
        },
    ];
    let mut wire = [0u8; MAX_FRAME];
    for (seq, r) in requests.iter().enumerate() {
        let n = r.encode(seq as u8, &mut wire).unwrap();
        let mut d = Decoder::new();
        let (frames, errors) = feed(&mut d, &wire[..n]);
        assert_eq!((frames.len(), errors), (1, 0));
        let (kind, s, payload) = &frames[0];
        let f = Frame {
            kind: *kind,
            seq: *s,
            payload,
        };
        assert_eq!(f.seq, seq as u8);
        assert_eq!(Request::decode(&f).unwrap(), *r);
    }
    let responses = [
        Response::Info(Info {
            model_id: 1,
            input_bytes: 2,
            output_bytes: 3,
            counter: CounterKind::Instructions,
            calibration_instructions: 2_000_000,
            calibration_ticks: 50_001,
        }),
        Response::InputStored {
            offset: 1020,
            len: 4,
        },
        Response::Done { ticks: 123_456 },
        Response::Output {
            offset: 0,
            data: &data[..10],
        },
        Response::Error(DeviceError::InputSize {
            expected: 10,
            got: 11,
        }),
        Response::Error(DeviceError::WrongModel { device: 5, host: 6 }),
        Response::Error(DeviceError::Version { device: 1, host: 2 }),
        Response::Error(DeviceError::UnknownRequest(0x42)),
    ];
    for r in responses {
        let n = r.encode(9, &mut wire).unwrap();
        let mut d = Decoder::new();
        let (frames, _) = feed(&mut d, &wire[..n]);
        let (kind, seq, payload) = &frames[0];
        let f = Frame {
            kind: *kind,
            seq: *seq,
            payload,
        };
        assert_eq!(Response::decode(&f).unwrap(), r);
    }
}

#[test]
fn refuses_what_does_not_fit() {
    let big = [0u8; MAX_PAYLOAD + 1];
    let mut wire = [0u8; MAX_FRAME + 8];
    assert!(matches!(
        encode_frame(kind::INPUT, 0, &[&big], &mut wire),
        Err(Error::NoRoom { .. })
    ));
    let mut small = [0u8; 10];
    assert_eq!(
        Request::Infer {
            model_id: 0,
            input_bytes: 0
        }
        .encode(0, &mut small),
        Err(Error::NoRoom { needed: 21 })
    );
    // Malformed payloads and unknown kinds are errors, not guesses.
    let f = Frame {
        kind: kind::INFER,
        seq: 0,
        payload: &[1, 2, 3],
    };
    assert_eq!(
        Request::decode(&f),
        Err(Error::BadPayload {
            kind: kind::INFER,
            len: 3
        })
    );
    let f = Frame {
        kind: 0x7F,
        seq: 0,
        payload: &[],
    };
    assert_eq!(Request::decode(&f), Err(Error::UnknownKind(0x7F)));
    assert_eq!(Response::decode(&f), Err(Error::UnknownKind(0x7F)));
}

#[test]
fn reports_other_versions_and_long_lengths() {
    let mut wire = [0u8; 64];
    let n = encode_frame(kind::HELLO, 4, &[], &mut wire).unwrap();
    // The same frame as a version-2 sender would write it (its CRC recomputed).
    wire[2] = 2;
    let crc = crc32(&wire[2..n - 4]).to_le_bytes();
    wire[n - 4..n].copy_from_slice(&crc);
    let mut d = Decoder::new();
    let errors: std::vec::Vec<_> = wire[..n].iter().filter_map(|&b| d.push(b).err()).collect();
    assert_eq!(errors, [Error::Version { got: 2, seq: 4 }]);

    let header = [0xF3, 0x7E, VERSION, kind::INPUT, 0, 0xFF, 0xFF, 0, 0];
    let mut d = Decoder::new();
    let errors: std::vec::Vec<_> = header.iter().filter_map(|&b| d.push(b).err()).collect();
    assert_eq!(errors, [Error::TooLong { len: 0xFFFF }]);
    // A length whose inverted copy disagrees is caught at the header.
    let header = [0xF3, 0x7E, VERSION, kind::INPUT, 0, 0x10, 0x00, !0x11, 0xFF];
    let mut d = Decoder::new();
    let errors: std::vec::Vec<_> = header.iter().filter_map(|&b| d.push(b).err()).collect();
    assert_eq!(errors, [Error::BadHeader]);
}

#[test]
fn skips_noise_between_frames() {
    let mut wire = [0u8; 64];
    let n = Request::Hello.encode(1, &mut wire).unwrap();
    let mut stream = std::vec![0x00, 0xF3, 0xF3, 0x11, 0x7E];
    stream.extend_from_slice(&wire[..n]);
    stream.extend_from_slice(&[0xF3]);
    stream.extend_from_slice(&wire[..n]);
    let (frames, errors) = feed(&mut Decoder::new(), &stream);
    assert_eq!(errors, 0);
    assert_eq!(frames.len(), 2);
}

proptest! {
    #[test]
    fn frames_round_trip(kind in any::<u8>(), seq in any::<u8>(),
                         payload in proptest::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD),
                         split in 0usize..=MAX_PAYLOAD) {
        let mut wire = [0u8; MAX_FRAME];
        let (a, b) = payload.split_at(split.min(payload.len()));
        let n = encode_frame(kind, seq, &[a, b], &mut wire).unwrap();
        prop_assert_eq!(n, HEADER_BYTES + payload.len() + CRC_BYTES);
        let (frames, errors) = feed(&mut Decoder::new(), &wire[..n]);
        prop_assert_eq!(errors, 0);
        prop_assert_eq!(frames, std::vec![(kind, seq, payload)]);
    }

    /// Flip one bit anywhere in a frame: the decoder never delivers it, and the intact frame
    /// repeated right after it (as the host resends after an error reply or a timeout) gets
    /// through.
    #[test]
    fn corruption_is_detected_and_recovered(
        seq in any::<u8>(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        bit in any::<proptest::sample::Index>(),
    ) {
        let mut wire = [0u8; MAX_FRAME];
        let n = encode_frame(kind::INPUT, seq, &[&payload], &mut wire).unwrap();
        let good = wire[..n].to_vec();
        let mut bad = good.clone();
        let bit = bit.index(n * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
        let mut d = Decoder::new();
        let (frames, _) = feed(&mut d, &bad);
        prop_assert!(frames.is_empty(), "a corrupted frame was delivered");
        // The length is checked against its inverted copy, so a flipped bit never makes the
        // decoder swallow the next frame: the first repetition gets through.
        let (frames, _) = feed(&mut d, &good);
        prop_assert_eq!(frames, std::vec![(kind::INPUT, seq, payload.clone())]);
    }
}
