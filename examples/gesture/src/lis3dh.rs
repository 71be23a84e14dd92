//! A minimal LIS3DH accelerometer driver over any `embedded_hal::i2c::I2c`: 50 Hz, +-2 g,
//! high-resolution mode, readings in milli-g. Generic over the bus so the same code runs on
//! every board's HAL and against a simulated bus in the tests.

use embedded_hal::i2c::I2c;

/// I2C address with SA0 tied low (0x19 with SA0 high).
pub const ADDRESS: u8 = 0x18;
const WHO_AM_I: u8 = 0x0F;
const WHO_AM_I_VALUE: u8 = 0x33;
const CTRL_REG1: u8 = 0x20;
const CTRL_REG4: u8 = 0x23;
const STATUS_REG: u8 = 0x27;
const OUT_X_L: u8 = 0x28;
/// Set in a register address to read several registers in one transfer.
const AUTO_INCREMENT: u8 = 0x80;
/// 50 Hz output rate (ODR = 0100), normal power, X, Y and Z enabled.
const CTRL_REG1_50HZ_XYZ: u8 = 0x47;
/// Block data update (both bytes of a reading from one sample), +-2 g, high resolution.
const CTRL_REG4_BDU_2G_HR: u8 = 0x88;
/// STATUS_REG: a new X, Y and Z sample is available.
const ZYXDA: u8 = 0x08;

/// What can go wrong talking to the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<E> {
    /// The bus failed.
    Bus(E),
    /// Something answered that is not a LIS3DH (its WHO_AM_I value).
    WrongDevice(u8),
}

/// The sensor on its bus.
pub struct Lis3dh<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Lis3dh<I2C> {
    /// Checks the device's identity and configures 50 Hz, +-2 g, high resolution.
    pub fn new(mut i2c: I2C, address: u8) -> Result<Self, Error<I2C::Error>> {
        let mut id = [0u8];
        i2c.write_read(address, &[WHO_AM_I], &mut id)
            .map_err(Error::Bus)?;
        if id[0] != WHO_AM_I_VALUE {
            return Err(Error::WrongDevice(id[0]));
        }
        i2c.write(address, &[CTRL_REG1, CTRL_REG1_50HZ_XYZ])
            .map_err(Error::Bus)?;
        i2c.write(address, &[CTRL_REG4, CTRL_REG4_BDU_2G_HR])
            .map_err(Error::Bus)?;
        Ok(Self { i2c, address })
    }

    /// The next X, Y, Z reading in milli-g, or `None` when no new sample is ready yet.
    pub fn read_mg(&mut self) -> Result<Option<[i16; 3]>, Error<I2C::Error>> {
        let mut status = [0u8];
        self.i2c
            .write_read(self.address, &[STATUS_REG], &mut status)
            .map_err(Error::Bus)?;
        if status[0] & ZYXDA == 0 {
            return Ok(None);
        }
        let mut raw = [0u8; 6];
        self.i2c
            .write_read(self.address, &[OUT_X_L | AUTO_INCREMENT], &mut raw)
            .map_err(Error::Bus)?;
        // High resolution: 12 bits left-justified in each little-endian pair, 1 mg per digit.
        let axis = |lo: u8, hi: u8| i16::from_le_bytes([lo, hi]) >> 4;
        Ok(Some([
            axis(raw[0], raw[1]),
            axis(raw[2], raw[3]),
            axis(raw[4], raw[5]),
        ]))
    }

    /// Gives the bus back (for a firmware that shares it; this example's does not).
    #[cfg_attr(target_os = "none", allow(dead_code))]
    pub fn release(self) -> I2C {
        self.i2c
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use embedded_hal::i2c::{ErrorKind, ErrorType, Operation};
    use std::collections::VecDeque;

    /// A LIS3DH on a simulated bus: answers WHO_AM_I, records configuration writes, and
    /// serves queued readings (milli-g) in the sensor's register format.
    pub(crate) struct SimulatedLis3dh {
        pub(crate) who_am_i: u8,
        pub(crate) writes: Vec<(u8, u8)>,
        pub(crate) readings: VecDeque<[i16; 3]>,
    }

    impl SimulatedLis3dh {
        pub(crate) fn new(readings: impl IntoIterator<Item = [i16; 3]>) -> Self {
            Self {
                who_am_i: WHO_AM_I_VALUE,
                writes: Vec::new(),
                readings: readings.into_iter().collect(),
            }
        }
    }

    impl ErrorType for SimulatedLis3dh {
        type Error = ErrorKind;
    }

    impl I2c for SimulatedLis3dh {
        fn transaction(
            &mut self,
            address: u8,
            operations: &mut [Operation<'_>],
        ) -> Result<(), ErrorKind> {
            if address != ADDRESS {
                return Err(ErrorKind::NoAcknowledge(
                    embedded_hal::i2c::NoAcknowledgeSource::Address,
                ));
            }
            let mut register = None;
            for op in operations {
                match op {
                    Operation::Write(bytes) => match **bytes {
                        [r] => register = Some(r),
                        [r, v] => self.writes.push((r, v)),
                        _ => return Err(ErrorKind::Other),
                    },
                    Operation::Read(buf) => match (register, buf.len()) {
                        (Some(WHO_AM_I), 1) => buf[0] = self.who_am_i,
                        (Some(STATUS_REG), 1) => {
                            buf[0] = if self.readings.is_empty() { 0 } else { ZYXDA }
                        }
                        (Some(r), 6) if r == OUT_X_L | AUTO_INCREMENT => {
                            let mg = self.readings.pop_front().ok_or(ErrorKind::Other)?;
                            for (pair, v) in buf.chunks_exact_mut(2).zip(mg) {
                                pair.copy_from_slice(&(v << 4).to_le_bytes());
                            }
                        }
                        _ => return Err(ErrorKind::Other),
                    },
                }
            }
            Ok(())
        }
    }

    #[test]
    fn configures_the_sensor_and_decodes_readings() {
        let bus = SimulatedLis3dh::new([[0, -1, 1000], [-2000, 1999, -7]]);
        let mut sensor = Lis3dh::new(bus, ADDRESS).unwrap();
        assert_eq!(sensor.read_mg().unwrap(), Some([0, -1, 1000]));
        assert_eq!(sensor.read_mg().unwrap(), Some([-2000, 1999, -7]));
        assert_eq!(sensor.read_mg().unwrap(), None);
        let bus = sensor.release();
        assert_eq!(bus.writes, [(CTRL_REG1, 0x47), (CTRL_REG4, 0x88)]);
    }

    #[test]
    fn another_device_is_refused() {
        let mut bus = SimulatedLis3dh::new([]);
        bus.who_am_i = 0x6A;
        assert!(matches!(
            Lis3dh::new(bus, ADDRESS),
            Err(Error::WrongDevice(0x6A))
        ));
        let bus = SimulatedLis3dh::new([]);
        assert!(matches!(Lis3dh::new(bus, 0x19), Err(Error::Bus(_))));
    }
}
