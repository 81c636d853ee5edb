//! Crash safety of checkpoints.
//!
//! * A child process (this test binary, re-executed) trains a small model and saves a
//!   checkpoint to the same path after every epoch, resuming from that checkpoint when it
//!   starts. The parent kills it with SIGKILL at random moments, many times, and after each
//!   kill checks that the checkpoint either does not exist yet or loads, passes its checksum,
//!   holds exactly the state an uninterrupted run has after that many epochs, and resumes
//!   (one more epoch gives exactly the uninterrupted run's next state). A temporary file left
//!   by a kill mid-write is never read as the checkpoint, is rejected by the loader when it
//!   is incomplete, and is removed by the next successful save.
//! * A full disk and a read-only file system (a small tmpfs, where the test may mount one:
//!   as root in a container; skipped with a note otherwise) give a clear error naming the
//!   file and the cause, and leave the old checkpoint byte-identical with no temporary file.
//!   (An injected write error, which runs everywhere, is tested in `nn::io`'s unit tests.)

use autograd::Tensor;
use nn::io::{checkpoint_from_bytes, load_checkpoint, save_checkpoint, Checkpoint};
use nn::losses::SparseCategoricalCrossentropy;
use nn::{Activation, Adam, Dense, FitOptions, Model, NnError, Sequential, StateDict};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Set in the child's environment to the directory it writes its checkpoint into.
const CHILD_ENV: &str = "NN_CRASH_CHILD_DIR";
/// The name of the child test, which does nothing unless `CHILD_ENV` is set.
const CHILD_TEST: &str = "crash_child_writes_checkpoints_until_killed";
const CKPT: &str = "ckpt.safetensors";
/// Kill cycles. Each takes the random delay (2-60 ms) plus a process start and the checks.
const CYCLES: usize = 200;
const SEED: u64 = 17;

/// 16 -> 128 -> 128 -> 4 with Adam: about 19k parameters, so a checkpoint (weights and two
/// Adam moments) is about 230 KB and its write (two fsyncs included) takes long enough for
/// many kills to land in the middle of it.
fn model() -> Model<Sequential> {
    nn::manual_seed(SEED);
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(16, 128).activation(Activation::Relu))
            .add(Dense::new(128, 128).activation(Activation::Relu))
            .add(Dense::new(128, 4)),
    );
    m.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::new(), []);
    m
}

fn data() -> (Tensor<f32>, Tensor<f32>) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let x = Tensor::<f32>::rand_uniform([64, 16], -1.0, 1.0, &mut rng);
    let y = Tensor::from_vec((0..64).map(|i| (i % 4) as f32).collect(), [64]).unwrap();
    (x, y)
}

/// Trains epoch `epoch` (0-based) only, as the child does between two saves.
fn train_epoch(m: &mut Model<Sequential>, epoch: usize) {
    let (x, y) = data();
    let opts = FitOptions {
        epochs: epoch + 1,
        initial_epoch: epoch,
        batch_size: 16,
        verbose: 0,
        seed: Some(SEED),
        ..Default::default()
    };
    m.fit(&x, &y, opts).unwrap();
}

/// A state dict's names and bit patterns.
type Bits = Vec<(String, Vec<u32>)>;

fn bits(sd: &StateDict<f32>) -> Bits {
    sd.iter().map(|(k, t)| (k.clone(), t.data().iter().map(|v| v.to_bits()).collect())).collect()
}

/// The states of an uninterrupted run after 0, 1, 2, ... epochs, computed on demand.
struct Reference {
    model: Model<Sequential>,
    /// (model, optimizer) after 0, 1, 2, ... epochs.
    states: Vec<(Bits, Bits)>,
}

impl Reference {
    fn new() -> Self {
        let model = model();
        let first = (bits(&model.state_dict()), bits(&model.optimizer_state_dict().unwrap()));
        Reference { model, states: vec![first] }
    }

    /// (model bits, optimizer bits) after `epochs` epochs.
    fn after(&mut self, epochs: usize) -> &(Bits, Bits) {
        while self.states.len() <= epochs {
            let e = self.states.len() - 1;
            train_epoch(&mut self.model, e);
            self.states.push((bits(&self.model.state_dict()), bits(&self.model.optimizer_state_dict().unwrap())));
        }
        &self.states[epochs]
    }
}

/// A fresh, empty directory under the system temp dir.
fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "nn-crash-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        TempDir(fresh_dir(tag))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// File names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// The child: resume from the checkpoint if there is one, then train and save after every
/// epoch until killed. Returns at once in a normal test run.
#[test]
fn crash_child_writes_checkpoints_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let path = Path::new(&dir).join(CKPT);
    let mut m = model();
    let mut epoch = if path.exists() { m.load_checkpoint(&path).expect("resume from the last checkpoint") } else { 0 };
    loop {
        train_epoch(&mut m, epoch);
        epoch += 1;
        m.save_checkpoint(&path, epoch).expect("save a checkpoint");
    }
}

/// The tests of this file run one at a time: a child spawned by the kill loop inherits, for
/// the moment between fork and exec, every open file of the parent, and a filler file held
/// open that way keeps a full tmpfs full after it was deleted.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn sigkill_while_saving_checkpoints_never_leaves_a_bad_one() {
    let _serial = serial();
    let root = TempDir::new("kill");
    let dir = root.0.join("ckpt");
    fs::create_dir(&dir).unwrap();
    let log = root.0.join("child-stderr.txt");
    let path = dir.join(CKPT);
    let exe = std::env::current_exe().unwrap();
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut reference = Reference::new();

    let mut last_epoch = 0;
    let (mut without_checkpoint, mut torn, mut complete, mut max_leftovers) = (0, 0, 0, 0);
    // Each leftover is examined once (it stays until the next successful save).
    let mut seen = std::collections::HashSet::new();
    let start = Instant::now();
    for cycle in 0..CYCLES {
        let mut child = Command::new(&exe)
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.random_range(2_000..60_000)));
        if let Some(status) = child.try_wait().unwrap() {
            panic!("cycle {cycle}: the child exited by itself ({status}):\n{}", fs::read_to_string(&log).unwrap());
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        // Whatever the kill interrupted, the checkpoint path holds a complete checkpoint.
        let names = entries(&dir);
        let temps: Vec<&String> = names.iter().filter(|n| *n != CKPT).collect();
        max_leftovers = max_leftovers.max(temps.len());
        for t in &temps {
            assert!(t.starts_with(&format!(".{CKPT}.")) && t.ends_with(".tmp"), "unexpected file {t}");
            if !seen.insert(t.to_string()) {
                continue;
            }
            // A leftover is never read as the checkpoint; read directly, an incomplete one
            // fails the length checks (or the checksum), a complete one is a good file that
            // the kill kept from being renamed.
            match checkpoint_from_bytes::<f32>(&fs::read(dir.join(t)).unwrap(), t) {
                Ok(_) => complete += 1,
                Err(NnError::Format { .. }) => torn += 1,
                Err(e) => panic!("{t}: {e}"),
            }
        }
        if !path.exists() {
            assert_eq!(last_epoch, 0, "cycle {cycle}: the checkpoint disappeared");
            without_checkpoint += 1;
            continue;
        }
        let ckpt = load_checkpoint::<f32>(&path).unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        assert!(ckpt.epoch >= last_epoch, "cycle {cycle}: epoch went back from {last_epoch} to {}", ckpt.epoch);
        last_epoch = ckpt.epoch;
        let expected = reference.after(ckpt.epoch);
        assert!(
            bits(&ckpt.model) == expected.0 && bits(&ckpt.optimizer) == expected.1,
            "cycle {cycle}: the checkpoint of epoch {} differs from an uninterrupted run",
            ckpt.epoch
        );
        // It resumes: one more epoch gives exactly the uninterrupted run's next state.
        let mut resumed = model();
        assert_eq!(resumed.load_checkpoint(&path).unwrap(), ckpt.epoch);
        train_epoch(&mut resumed, ckpt.epoch);
        let next = reference.after(ckpt.epoch + 1);
        assert_eq!(bits(&resumed.state_dict()), next.0, "cycle {cycle}: resuming from epoch {}", ckpt.epoch);
        assert_eq!(bits(&resumed.optimizer_state_dict().unwrap()), next.1);
    }
    assert!(last_epoch > 0, "no checkpoint was ever written");

    // The next successful save removes the leftovers of killed writers.
    let mut resumed = model();
    let epoch = resumed.load_checkpoint(&path).unwrap();
    train_epoch(&mut resumed, epoch);
    resumed.save_checkpoint(&path, epoch + 1).unwrap();
    assert_eq!(entries(&dir), [CKPT]);
    assert_eq!(load_checkpoint::<f32>(&path).unwrap().epoch, epoch + 1);

    eprintln!(
        "{CYCLES} SIGKILL cycles survived in {:.1} s: {without_checkpoint} before the first checkpoint, last \
         epoch {last_epoch}; {} kills landed mid-save, leaving a temporary file ({torn} torn mid-write and rejected by \
         the loader, {complete} complete but not yet renamed; at most {max_leftovers} at once)",
        start.elapsed().as_secs_f64(),
        seen.len()
    );
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` bytes at a fresh directory, or `None` where the test may not
    /// mount (not root, no `mount`, no permission in this container).
    fn mount(size: usize) -> Option<Self> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let dir = fresh_dir("tmpfs");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "nn-test-tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs(dir))
        } else {
            let _ = fs::remove_dir_all(&dir);
            None
        }
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount").args(["-o", &format!("remount,{options}")]).arg(&self.0).status().unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A checkpoint of about `n * 4` bytes of data.
fn checkpoint_of(n: usize, epoch: usize) -> Checkpoint<f32> {
    let mut model = StateDict::new();
    model.insert("w".into(), Tensor::from_vec((0..n).map(|i| i as f32).collect(), [n]).unwrap());
    Checkpoint::new(model, StateDict::new(), epoch)
}

#[test]
fn a_full_disk_gives_a_clear_error_and_keeps_the_old_checkpoint() {
    let _serial = serial();
    let Some(fs_) = Tmpfs::mount(1 << 20) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); the injected-error test in nn::io covers the path");
        return;
    };
    let path = fs_.0.join(CKPT);
    save_checkpoint(&path, &checkpoint_of(1000, 1)).unwrap();
    let before = fs::read(&path).unwrap();
    // Fill the file system, leaving less room than the new checkpoint needs.
    let filler = fs_.0.join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);

    let e = save_checkpoint(&path, &checkpoint_of(50_000, 2)).unwrap_err();
    let message = e.to_string();
    eprintln!("full disk: {message}");
    match &e {
        NnError::Io { path: p, source } => {
            assert_eq!(p, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{message}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(message.starts_with(&path.display().to_string()), "{message}");
    assert!(message.contains("No space left on device") && message.contains("the file was not changed"), "{message}");
    assert_eq!(fs::read(&path).unwrap(), before, "the old checkpoint is byte-identical");
    assert_eq!(load_checkpoint::<f32>(&path).unwrap().epoch, 1);
    assert_eq!(entries(&fs_.0), [CKPT, "filler"], "no temporary file is left");

    // With room again, the save succeeds.
    fs::remove_file(&filler).unwrap();
    save_checkpoint(&path, &checkpoint_of(50_000, 2)).unwrap();
    assert_eq!(load_checkpoint::<f32>(&path).unwrap().epoch, 2);
}

#[test]
fn a_read_only_file_system_gives_a_clear_error_and_keeps_the_old_checkpoint() {
    let _serial = serial();
    let Some(fs_) = Tmpfs::mount(1 << 20) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); see the read-only directory test in nn::io");
        return;
    };
    let path = fs_.0.join(CKPT);
    save_checkpoint(&path, &checkpoint_of(1000, 1)).unwrap();
    let before = fs::read(&path).unwrap();
    // Read-only even for root, unlike a directory's permission bits.
    fs_.remount("ro");
    let e = save_checkpoint(&path, &checkpoint_of(1000, 2)).unwrap_err();
    let message = e.to_string();
    eprintln!("read-only: {message}");
    assert!(matches!(&e, NnError::Io { path: p, .. } if p == &path), "{e:?}");
    assert!(message.contains("Read-only file system") && message.contains("the file was not changed"), "{message}");
    assert_eq!(fs::read(&path).unwrap(), before, "the old checkpoint is byte-identical");
    assert_eq!(load_checkpoint::<f32>(&path).unwrap().epoch, 1);
    assert_eq!(entries(&fs_.0), [CKPT], "no temporary file is left");
    fs_.remount("rw");
    save_checkpoint(&path, &checkpoint_of(1000, 2)).unwrap();
    assert_eq!(load_checkpoint::<f32>(&path).unwrap().epoch, 2);
}
