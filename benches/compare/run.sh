#!/usr/bin/env bash
# The comparison harness in one command: builds our side (ours/) and the Rust peers
# (peer-rust/: dfdx, matrixmultiply), sets up numpy, PyTorch and JAX in a virtualenv outside
# the repository, runs every side several times, round-robin, and prints one markdown table of
# medians and ratios (see README.md here and docs/performance.md).
#
#   benches/compare/run.sh                 # everything, 5 runs per side (10-12 minutes)
#   benches/compare/run.sh --runs 3
#   benches/compare/run.sh --quick         # 1 run, no 5-epoch accuracy run: a smoke test
#   benches/compare/run.sh --only mlp,matmul-square --no-setup
#   benches/compare/run.sh --no-nice       # do not raise the benchmarks' priority (root only)
#
# Groups (--only): mlp matmul-square matmul-mlp elementwise fused scalar mnist threads2
# Environment: BENCH_VENV (default ~/.cache/autograd-bench/venv), PYTHON (the interpreter
# the venv is made from, default python3), TORCH_VERSION (default 2.15.0). RUSTFLAGS, if
# set, applies to our side and to the Rust peers alike.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RUNS=5
QUICK=0
SETUP=1
# Benchmarks run at a raised priority where allowed (root), so that other jobs on a shared
# machine disturb them less; --no-nice turns that off.
NICE=()
if [ "$(id -u)" = 0 ]; then NICE=(nice -n -10); fi
ONLY="mlp,matmul-square,matmul-mlp,elementwise,fused,scalar,mnist,threads2"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --quick) QUICK=1; RUNS=1; shift ;;
        --no-setup) SETUP=0; shift ;;
        --no-nice) NICE=(); shift ;;
        --only) ONLY="$2"; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
# mnist_peers.py imports peers.py: leave no __pycache__ in the repository.
export PYTHONDONTWRITEBYTECODE=1
has() { [[ ",$ONLY," == *",$1,"* ]]; }
log() { echo "[compare $(date +%H:%M:%S)] $*" >&2; }

VENV="${BENCH_VENV:-$HOME/.cache/autograd-bench/venv}"
PY="$VENV/bin/python"
TORCH_VERSION="${TORCH_VERSION:-2.15.0}"
OUT="$ROOT/target/compare/results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
RES="$OUT/results.jsonl"
: > "$RES"

# ------------------------------------------------------------------ setup
setup_venv() {
    if "$PY" -c "import numpy, torch, threadpoolctl, jax" 2>/dev/null; then
        return
    fi
    log "setting up $VENV (numpy, threadpoolctl, jax, torch $TORCH_VERSION: about 4.9 GB, a few minutes)"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy threadpoolctl "jax[cpu]"
    # PyPI's Linux torch wheels are CUDA builds, and they load the CUDA libraries at import
    # even on a machine without a GPU, so those (nvidia-*, cuda-toolkit) are needed; triton
    # (the GPU compiler) and cuda-bindings are not, so install torch without its deps, then
    # its requirements less those two.
    local wheels="$HOME/.cache/autograd-bench/wheels"
    mkdir -p "$wheels"
    "$VENV/bin/pip" download -q --no-deps -d "$wheels" "torch==$TORCH_VERSION"
    local tag
    tag=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    "$VENV/bin/pip" install -q --no-deps "$wheels"/torch-"$TORCH_VERSION"-"$tag"-*.whl
    local reqs
    reqs=$("$PY" - <<'PY'
import importlib.metadata as md
for r in md.requires("torch") or []:
    spec = r.split(";")[0].strip()
    marker = r.split(";", 1)[1] if ";" in r else ""
    name = spec.split("[")[0].split("=")[0].split("<")[0].split(">")[0].split("~")[0].strip().lower()
    if "extra ==" in marker or name in ("triton", "cuda-bindings", "setuptools"):
        continue
    print(spec)
PY
)
    log "installing torch's requirements less triton and cuda-bindings (pip then warns that those two are missing: intended)"
    echo "$reqs" | tr '\n' '\0' | xargs -0 "$VENV/bin/pip" install -q
    "$PY" -c "import numpy, torch, threadpoolctl, jax" || { echo "run.sh: torch or jax does not import" >&2; exit 1; }
}

build() {
    log "building ours/ and peer-rust/ (release: codegen-units 1, thin LTO)"
    cargo build -q --release --manifest-path "$HERE/ours/Cargo.toml" --target-dir "$ROOT/target/compare/ours"
    cargo build -q --release --manifest-path "$HERE/peer-rust/Cargo.toml" --target-dir "$ROOT/target/compare/peer-rust"
    if has mnist; then
        log "building examples/classification (cargo build --release -p examples)"
        (cd "$ROOT" && cargo build -q --release -p examples --bin classification)
    fi
}

if [ "$SETUP" = 1 ]; then
    setup_venv
fi
build
OURS="$ROOT/target/compare/ours/release/compare-ours"
PEER="$ROOT/target/compare/peer-rust/release/compare-peer-rust"
EXAMPLE="$ROOT/target/release/classification"
MNIST_DATA="$ROOT/examples/data/mnist"

# numpy runs with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (set on some machines for old
# OpenBLAS builds; they force a slower kernel on a current numpy). Nothing else changes them.
NP_ENV=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
threads_vars() {
    local t="$1"
    echo "RAYON_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MATMUL_NUM_THREADS=$t"
}
read -r -a T1 <<< "$(threads_vars 1)"
read -r -a T2 <<< "$(threads_vars 2)"
# XLA has no simple thread-count switch: JAX runs pinned to one core.
JAX1=(taskset -c 0 env XLA_FLAGS=--xla_cpu_multi_thread_eigen=false)

# ------------------------------------------------------------------ the machine
"$PY" - "$ROOT" > "$OUT/env.json" <<'PY'
import datetime, json, os, re, subprocess, sys
root = sys.argv[1]
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""
lscpu = sh("lscpu")
get = lambda k: (re.search(rf"^{k}:\s*(.*)$", lscpu, re.M) or [None, "?"])[1]
def lock_version(path, name):
    try:
        txt = open(path).read()
    except OSError:
        return "?"
    m = re.search(rf'name = "{name}"\nversion = "([^"]+)"', txt)
    return m.group(1) if m else "?"
env = dict(os.environ)
for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    env.pop(k, None)
blas = sh(f"env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE {sys.executable} -c "
          "\"import numpy, threadpoolctl; i = threadpoolctl.threadpool_info(); "
          "print(';'.join(d['internal_api'] + ' ' + d.get('version', '?') + ' ' + str(d.get('architecture')) for d in i))\"")
torch_cap = sh(f"{sys.executable} -c \"import torch; print(torch.__version__, torch.backends.cpu.get_cpu_capability())\"")
info = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "cpu": f"{get('Model name')} (family {get('CPU family')}, model {get('Model')})",
    "cores": sh("nproc"),
    "commit": sh(f"git -C {root} rev-parse --short HEAD")
    + (" + uncommitted changes to crates/*/src" if sh(f"git -C {root} status --porcelain -- ':(glob)crates/*/src/**'") else ""),
    "rustc": sh("rustc -V"),
    "gemm": lock_version(os.path.join(root, "Cargo.lock"), "gemm"),
    "numpy": sh(f"{sys.executable} -c 'import numpy; print(numpy.__version__)'") + f" ({blas})",
    "torch": torch_cap,
    "jax": sh(f"{sys.executable} -c 'import jax; print(jax.__version__)'"),
    "dfdx": lock_version(os.path.join(root, "benches/compare/peer-rust/Cargo.lock"), "dfdx"),
    "matrixmultiply": lock_version(os.path.join(root, "benches/compare/peer-rust/Cargo.lock"), "matrixmultiply"),
}
print(json.dumps(info))
PY
log "machine: $(cat "$OUT/env.json")"

# ------------------------------------------------------------------ the runs
ONE_GROUPS=$(echo "$ONLY" | tr ',' '\n' | grep -E '^(mlp|matmul-square|matmul-mlp|elementwise|fused|scalar)$' | paste -sd, || true)
PY_GROUPS=$(echo "$ONE_GROUPS" | tr ',' '\n' | grep -v '^scalar$' | paste -sd, || true)
RS_GROUPS=$(echo "$ONE_GROUPS" | tr ',' '\n' | grep -E '^(mlp|matmul-square|matmul-mlp)$' | paste -sd, || true)

run_mnist() { # side epochs round
    local side="$1" epochs="$2" r="$3" so="$OUT/mnist-$1-e$2-r$3.out" tv="$OUT/mnist-$1-e$2-r$3.time"
    if [ "$side" = ours ]; then
        "${NICE[@]}" env "${T1[@]}" /usr/bin/time -v -o "$tv" "$EXAMPLE" --epochs "$epochs" --data-dir "$MNIST_DATA" > "$so"
    elif [ "$side" = jax ]; then
        "${NICE[@]}" env "${T1[@]}" /usr/bin/time -v -o "$tv" "${JAX1[@]}" "$PY" "$HERE/mnist_peers.py" --impl jax --data "$MNIST_DATA" \
            --epochs "$epochs" > "$so"
    else
        "${NICE[@]}" env "${T1[@]}" /usr/bin/time -v -o "$tv" "$PY" "$HERE/mnist_peers.py" --impl torch --data "$MNIST_DATA" \
            --epochs "$epochs" > "$so"
    fi
    python3 "$HERE/parse_mnist.py" "$side" "$so" "$tv" "$epochs" >> "$RES"
}

for r in $(seq 1 "$RUNS"); do
    log "round $r/$RUNS (load average $(cut -d' ' -f1 /proc/loadavg))"
    echo "{\"load1\": $(cut -d' ' -f1 /proc/loadavg)}" >> "$RES"
    if [ -n "$ONE_GROUPS" ]; then
        "${NICE[@]}" env "${T1[@]}" "$OURS" --threads 1 --only "$ONE_GROUPS" >> "$RES"
    fi
    if [ -n "$PY_GROUPS" ]; then
        "${NICE[@]}" env "${NP_ENV[@]}" "${T1[@]}" "$PY" "$HERE/peers.py" --threads 1 --only "$PY_GROUPS" --impl numpy >> "$RES"
        "${NICE[@]}" env "${T1[@]}" "$PY" "$HERE/peers.py" --threads 1 --only "$PY_GROUPS" --impl torch >> "$RES"
        if has mlp; then
            "${NICE[@]}" env "${T1[@]}" "${JAX1[@]}" "$PY" "$HERE/peers.py" --threads 1 --only mlp --impl jax >> "$RES"
        fi
    fi
    if [ -n "$RS_GROUPS" ]; then
        "${NICE[@]}" env "${T1[@]}" "$PEER" --threads 1 --only "$RS_GROUPS" >> "$RES"
    fi
    if has threads2; then
        {
            "${NICE[@]}" env "${T2[@]}" "$OURS" --threads 2 --only matmul-square,elementwise
            "${NICE[@]}" env "${NP_ENV[@]}" "${T2[@]}" "$PY" "$HERE/peers.py" --threads 2 --only matmul-square,elementwise --impl numpy
            "${NICE[@]}" env "${T2[@]}" "$PY" "$HERE/peers.py" --threads 2 --only matmul-square,elementwise --impl torch
            "${NICE[@]}" env "${T2[@]}" "$PEER" --threads 2 --only matmul-square
        } >> "$RES"
    fi
    if has mnist; then
        run_mnist ours 1 "$r"
        run_mnist torch 1 "$r"
        run_mnist jax 1 "$r"
    fi
done
if has mnist && [ "$QUICK" = 0 ]; then
    log "MNIST, 5 epochs, once per side (accuracy)"
    run_mnist ours 5 1
    run_mnist torch 5 1
    run_mnist jax 5 1
fi

python3 "$HERE/table.py" "$RES" --env "$OUT/env.json" | tee "$OUT/table.md"
log "raw results, logs and this table: ${OUT#"$ROOT"/}"
