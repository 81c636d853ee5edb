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
/// and the temporary file, say which step failed, keep the OS error's kind (e.g.
/// `StorageFull`, `ReadOnlyFilesystem`) and its text, and say that the file was not changed.
/// After a successful write, stale temporary files of killed writers are removed (see
/// [`remove_stale_temps`]).
pub(crate) fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), NnError> {
    let tmp = temp_path(path)?;
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| NnError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(
            e.kind(),
            format!("cannot create temporary file `{}`: {e}; the file was not changed", tmp.display()),
        ),
    })?;
    let written = (|| {
        let mut w = BufWriter::with_capacity(1 << 16, &file);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        file.sync_all()
    })();
    drop(file);
    let result = match written {
        Err(e) => Err(("writing the temporary file", e)),
        Ok(()) => fs::rename(&tmp, path).map_err(|e| ("renaming the temporary file onto it", e)),
    };
    if let Err((what, e)) = result {
        let _ = fs::remove_file(&tmp);
        // E.g. `ckpt.safetensors: writing the temporary file `.ckpt.safetensors.42.0.tmp`
        // failed: No space left on device (os error 28); the file was not changed`.
        let message = format!("{what} `{}` failed: {e}; the file was not changed", tmp.display());
        return Err(NnError::Io { path: path.to_path_buf(), source: io::Error::new(e.kind(), message) });
    }
    // Make the rename durable. Best effort: some file systems cannot fsync a directory, and
    // the new file is already complete and in place.
    if let Ok(dir) = File::open(parent_dir(path)) {
        let _ = dir.sync_all();
    }
    remove_stale_temps(path);
    Ok(())
}

/// Removes the temporary files that earlier writers of `path` left behind when they were
/// killed mid-write (`.<name>.<pid>.<n>.tmp` whose process `pid` no longer exists), so that a
/// job killed and restarted many times does not fill its directory. Readers never look at
/// these files anyway: they open `path` only.
///
/// Best effort, errors ignored. Linux only, where `/proc/<pid>` tells whether a process
/// exists; elsewhere leftovers stay until removed by hand. A writer in another PID namespace
/// (another container sharing the directory) looks dead from here: if its temporary file is
/// removed while it writes, its rename fails with an error and its target is left unchanged,
/// so nothing is ever corrupted.
fn remove_stale_temps(path: &Path) {
    if !cfg!(target_os = "linux") || !Path::new("/proc/self").exists() {
        return;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return };
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(parent_dir(path)) else { return };
    let me = std::process::id();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(middle) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)?.strip_suffix(".tmp")) else {
            continue;
        };
        let Some((pid, n)) = middle.split_once('.') else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid == me || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}
