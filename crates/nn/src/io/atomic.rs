//! Atomic file replacement: write a temporary file next to the target, fsync it, rename it
//! into place, fsync the directory.

use crate::error::NnError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A fresh temporary name in the target's directory: `.<name>.<pid>.<n>.tmp`. It is created
/// with `create_new`, so it never clobbers anything; the process id and a counter keep
/// concurrent writers (threads or processes) apart.
fn temp_path(path: &Path) -> Result<PathBuf, NnError> {
    let name = path.file_name().ok_or_else(|| NnError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a file path (no file name)"),
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.{n}.tmp", std::process::id()));
    Ok(parent_dir(path).join(tmp))
}

/// Writes a file atomically: `write` fills a temporary file in the same directory, which is
/// flushed and fsynced, then renamed over `path`, and the directory is fsynced so the rename
/// survives a crash.
///
/// Readers see either the old file or the complete new one, never a mix. On any error the
/// temporary file is removed and `path` is left exactly as it was. The errors name `path`
/// (and the temporary file when creating it fails).
pub(crate) fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), NnError> {
    let tmp = temp_path(path)?;
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| NnError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(e.kind(), format!("cannot create temporary file `{}`: {e}", tmp.display())),
    })?;
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 16, &file);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(NnError::Io { path: path.to_path_buf(), source });
    }
    // Make the rename durable. Best effort: some file systems cannot fsync a directory, and
    // the new file is already complete and in place.
    if let Ok(dir) = File::open(parent_dir(path)) {
        let _ = dir.sync_all();
    }
    Ok(())
}
