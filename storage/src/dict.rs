//! The shard's symbol dictionary: string ↔ dense u32 id, persisted as an append-only file.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::error::{IoContext, Result};
use crate::hash::FxHashMap;
use crate::sync::SyncFile;

pub const DICT_FILE: &str = "symbols.dict";
/// `len u32 | crc32c(bytes) u32 | bytes`.
const ENTRY_HEADER_BYTES: usize = 8;
/// Longest symbol accepted (bytes of UTF-8).
pub const SYMBOL_BYTES_MAX: usize = 4096;

/// Ids are dense and assigned in first-seen order. Ids referenced by sealed blocks are always
/// persisted before the block is indexed (`flush` runs first in every seal).
pub struct SymbolDict {
    /// Shared with the sync thread, which syncs it after a seal.
    file: Arc<SyncFile>,
    strings: Vec<Box<str>>,
    ids: FxHashMap<Box<str>, u32>,
    persisted: usize,
    /// Written since the last `take_dirty`.
    dirty: bool,
}

impl std::fmt::Debug for SymbolDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SymbolDict({} symbols)", self.strings.len())
    }
}

impl SymbolDict {
    pub fn open(dir: &Path) -> Result<SymbolDict> {
        let path = dir.join(DICT_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).at(&path),
        };
        let mut strings = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            let entry = (rest.len() >= ENTRY_HEADER_BYTES)
                .then(|| {
                    let len = u32::from_le_bytes(rest[..4].try_into().expect("4")) as usize;
                    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4"));
                    let s = rest.get(ENTRY_HEADER_BYTES..ENTRY_HEADER_BYTES + len)?;
                    (crc32c::crc32c(s) == crc).then_some(s)?;
                    std::str::from_utf8(s).ok()
                })
                .flatten();
            let Some(s) = entry else {
                log::warn!(
                    "symbol dictionary {}: torn entry at offset {at}; truncating {} bytes",
                    path.display(),
                    bytes.len() - at
                );
                break;
            };
            strings.push(Box::<str>::from(s));
            at += ENTRY_HEADER_BYTES + s.len();
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .at(&path)?;
        if (at as u64) < file.metadata().at(&path)?.len() {
            file.set_len(at as u64).at(&path)?;
        }
        let ids = strings
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as u32))
            .collect();
        let persisted = strings.len();
        Ok(SymbolDict {
            file: SyncFile::new(file, path),
            strings,
            ids,
            persisted,
            dirty: false,
        })
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    pub fn lookup(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub fn get(&self, id: u32) -> Option<&str> {
        self.strings.get(id as usize).map(|s| &**s)
    }

    /// The id of `s` when `hint` (an id `s` had before, e.g. in the previous batch) still names
    /// it: a compare instead of a hash; otherwise as [`SymbolDict::intern`].
    #[inline]
    pub fn intern_hinted(&mut self, s: &str, hint: u32) -> u32 {
        match self.strings.get(hint as usize) {
            Some(h) if **h == *s => hint,
            _ => self.intern(s),
        }
    }

    /// The id of `s`, assigning the next one if it is new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.strings.len()).expect("fewer than 2^32 symbols");
        let b: Box<str> = s.into();
        self.ids.insert(b.clone(), id);
        self.strings.push(b);
        id
    }

    /// Appends ids not yet on disk; fsyncs when `sync` (before blocks referencing them are indexed).
    pub fn flush(&mut self, sync: bool) -> Result<()> {
        if self.persisted == self.strings.len() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for s in &self.strings[self.persisted..] {
            buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
            buf.extend_from_slice(&crc32c::crc32c(s.as_bytes()).to_le_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
        (&self.file.file).write_all(&buf).at(&self.file.path)?;
        if sync {
            self.file.file.sync_data().at(&self.file.path)?;
        } else {
            self.dirty = true;
        }
        self.persisted = self.strings.len();
        Ok(())
    }

    /// The file, if it was written unsynced since the last call, for the caller to sync.
    pub(crate) fn take_dirty(&mut self) -> Option<Arc<SyncFile>> {
        std::mem::take(&mut self.dirty).then(|| Arc::clone(&self.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_across_reopen_and_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = SymbolDict::open(dir.path()).unwrap();
        assert_eq!(d.intern("AAPL"), 0);
        assert_eq!(d.intern("MSFT"), 1);
        assert_eq!(d.intern("AAPL"), 0);
        d.flush(true).unwrap();
        d.intern("unflushed");
        drop(d);
        let path = dir.path().join(DICT_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[7, 0, 0, 0, 1, 2]); // a torn entry
        fs::write(&path, &bytes).unwrap();
        let mut d = SymbolDict::open(dir.path()).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.lookup("MSFT"), Some(1));
        assert_eq!(d.get(0), Some("AAPL"));
        assert_eq!(d.intern("GOOG"), 2);
        d.flush(false).unwrap();
        drop(d);
        assert_eq!(
            SymbolDict::open(dir.path()).unwrap().lookup("GOOG"),
            Some(2)
        );
    }
}
