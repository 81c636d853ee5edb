//! Atomic file replacement: write a temporary file next to the target, fsync it, rename it
//! into place, fsync the directory.

use crate::error::NnError;
use std::ffi::{OsStr, OsString};
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

/// The longest file name the common file systems take (ext4, XFS, Btrfs, APFS, NTFS: 255).
const NAME_MAX: usize = 255;
/// The longest `.<pid>.<n>.tmp` tail: a `u32` pid and a `u64` counter.
const MAX_TAIL: usize = ".4294967295.18446744073709551615.tmp".len();

/// FNV-1a, 64 bits: a hash that is the same in every process and Rust release, so that a
/// later writer recognises an earlier one's shortened temporary names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The part of the temporary names of `name` before `.<pid>.<n>.tmp`: `.<name>`, or, where
/// that would make a temporary name longer than [`NAME_MAX`] bytes, `.<start of name>~<hash
/// of the whole name>`, so that a target of up to 255 bytes still gets a valid temporary
/// name, and distinct long names distinct ones.
fn temp_stem(name: &OsStr) -> OsString {
    let bytes = name.as_encoded_bytes();
    let mut stem = OsString::from(".");
    if 1 + bytes.len() + MAX_TAIL <= NAME_MAX {
        stem.push(name);
        return stem;
    }
    let hash = format!("~{:016x}", fnv1a(bytes));
    let room = NAME_MAX - MAX_TAIL - 1 - hash.len();
    // The start is only a hint for a person listing the directory: lossy is fine.
    let lossy = name.to_string_lossy();
    let mut end = room.min(lossy.len());
    while !lossy.is_char_boundary(end) {
        end -= 1;
    }
    stem.push(&lossy[..end]);
    stem.push(hash);
    stem
}

/// A fresh temporary name in the target's directory: `.<name>.<pid>.<n>.tmp` (see
/// [`temp_stem`] for long names), at most 255 bytes. It is created with `create_new`, so it
/// never clobbers anything; the process id and a counter keep concurrent writers (threads or
/// processes) apart.
pub(super) fn temp_path(path: &Path) -> Result<PathBuf, NnError> {
    let name = path.file_name().ok_or_else(|| NnError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a file path (no file name)"),
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp = temp_stem(name);
    tmp.push(format!(".{}.{n}.tmp", std::process::id()));
    Ok(parent_dir(path).join(tmp))
}

/// Checks now that [`write_atomic`] could write `path` later, so that a program can refuse a
/// bad destination before hours of work rather than after: `path` is not a directory, its
/// directory exists and takes a new file (a temporary file is created and removed), and,
/// where `path` does not exist yet, a file of that name can be created there (it is created
/// and removed again, which catches a name too long for the file system). An existing
/// `path` is not touched.
///
/// # Errors
/// [`NnError::Io`] naming `path`, with the OS error and what was being tried.
pub fn check_writable(path: impl AsRef<Path>) -> Result<(), NnError> {
    let path = path.as_ref();
    let fail = |kind: io::ErrorKind, message: String| NnError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(kind, format!("cannot be written: {message}")),
    };
    if path.is_dir() {
        return Err(fail(io::ErrorKind::IsADirectory, "it is a directory".into()));
    }
    let dir = parent_dir(path);
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(fail(io::ErrorKind::NotADirectory, format!("`{}` is not a directory", dir.display()))),
        Err(e) => return Err(fail(e.kind(), format!("directory `{}`: {e}", dir.display()))),
    }
    let tmp = temp_path(path)?;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| fail(e.kind(), format!("cannot create a file in directory `{}`: {e}", dir.display())))?;
    let _ = fs::remove_file(&tmp);
    if fs::symlink_metadata(path).is_err() {
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => {
                let _ = fs::remove_file(path);
            }
            // Created meanwhile by someone else: the name is valid.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(e.kind(), e.to_string())),
        }
    }
    Ok(())
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
///
/// This is how every file of `nn::io` is written; other files (a plot, a report) can use it
/// the same way:
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("nn-doc-atomic-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("report.txt");
/// nn::io::write_atomic(&path, |w| w.write_all(b"accuracy 0.97\n")).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"accuracy 0.97\n");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// [`NnError::Io`] naming `path` (see above); an error returned by `write` is reported the
/// same way.
pub fn write_atomic(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), NnError> {
    let path = path.as_ref();
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
    let Some(name) = path.file_name() else { return };
    let mut prefix = temp_stem(name).into_encoded_bytes();
    prefix.push(b'.');
    let Ok(entries) = fs::read_dir(parent_dir(path)) else { return };
    let me = std::process::id();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(middle) =
            file_name.as_encoded_bytes().strip_prefix(prefix.as_slice()).and_then(|r| r.strip_suffix(b".tmp"))
        else {
            continue;
        };
        let Some((pid, n)) = std::str::from_utf8(middle).ok().and_then(|m| m.split_once('.')) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid == me || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}
