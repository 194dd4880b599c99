//! A deterministic zip archive: entries in the order given (the caller sorts them), every
//! timestamp 1980-01-01 00:00, Unix modes kept (so hooks stay executable, symlinks stay
//! links), UTF-8 names, deflate where it shrinks the data. The same entries always give the
//! same bytes. No ZIP64: bundles are refused long before 4 GiB. Pure.

use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};
use std::io::Write;

/// What an entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryData {
    /// A regular file with its Unix permission bits (e.g. `0o755`).
    File { mode: u32, bytes: Vec<u8> },
    /// A symbolic link and its target.
    Symlink { target: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative, `/`-separated, no leading `/`.
    pub path: String,
    pub data: EntryData,
}

const DOS_DATE_1980_01_01: u16 = (1 << 5) | 1;
const UTF8_NAMES: u16 = 1 << 11;
const MADE_BY_UNIX: u16 = (3 << 8) | 20;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The archive of `entries`, in their order.
pub fn write(entries: &[Entry]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let (raw, mode): (&[u8], u32) = match &entry.data {
            EntryData::File { mode, bytes } => (bytes, S_IFREG | (mode & 0o7777)),
            EntryData::Symlink { target } => (target.as_bytes(), S_IFLNK | 0o777),
        };
        let mut crc = Crc::new();
        crc.update(raw);
        let deflated = {
            let mut encoder = DeflateEncoder::new(Vec::new(), Compression::new(6));
            encoder.write_all(raw)?;
            encoder.finish()?
        };
        let (method, stored): (u16, &[u8]) = if deflated.len() < raw.len() {
            (8, &deflated)
        } else {
            (0, raw)
        };
        let too_big = |n: usize| {
            u32::try_from(n).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "entry over 4 GiB")
            })
        };
        let offset = too_big(out.len())?;
        let name = entry.path.as_bytes();
        let name_len = u16::try_from(name.len())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path too long"))?;
        let header = |out: &mut Vec<u8>, central: bool| -> std::io::Result<()> {
            u32le(out, if central { 0x0201_4b50 } else { 0x0403_4b50 });
            if central {
                u16le(out, MADE_BY_UNIX);
            }
            u16le(out, 20);
            u16le(out, UTF8_NAMES);
            u16le(out, method);
            u16le(out, 0);
            u16le(out, DOS_DATE_1980_01_01);
            u32le(out, crc.sum());
            u32le(out, too_big(stored.len())?);
            u32le(out, too_big(raw.len())?);
            u16le(out, name_len);
            u16le(out, 0);
            if central {
                u16le(out, 0); // comment
                u16le(out, 0); // disk
                u16le(out, 0); // internal attributes
                u32le(out, mode << 16);
                u32le(out, offset);
            }
            out.extend_from_slice(name);
            Ok(())
        };
        header(&mut out, false)?;
        out.extend_from_slice(stored);
        header(&mut central, true)?;
    }
    let central_offset = u32::try_from(out.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "archive over 4 GiB"))?;
    let central_size = u32::try_from(central.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "archive over 4 GiB"))?;
    let count = u16::try_from(entries.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "over 65,535 files"))?;
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, count);
    u16le(&mut out, count);
    u32le(&mut out, central_size);
    u32le(&mut out, central_offset);
    u16le(&mut out, 0);
    Ok(out)
}
