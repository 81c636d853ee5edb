//! The tiny 3-5-2 sigmoid network trained by plain gradient descent on one example, with its
//! gradients computed twice: by the chain-rule formulas derived by hand, and by the tape.
//! Both are checked against finite differences, and so are the two wrong formulas that many
//! write-ups of this network print, to show the check catching them.
//!
//! ```text
//! cargo run --release -p examples --bin backprop_by_hand
//! cargo run --release -p examples --bin backprop_by_hand -- --loss mse --steps 2000
//! ```
//!
//! Network: h = sigmoid(x W1 + b1) (5 units), p = sigmoid(h W2 + b2) (2 units).
//! With z2 = h W2 + b2 and delta2 = dL/dz2, the chain rule gives, for each loss:
//!
//! * `ce`  (L = -sum_k y_k ln p_k, the categorical cross-entropy on sigmoid outputs):
//!   dL/dp_k = -y_k / p_k and dp_k/dz2_k = p_k (1 - p_k), so delta2_k = -y_k (1 - p_k).
//! * `bce` (L = -sum_k [y_k ln p_k + (1 - y_k) ln(1 - p_k)]): delta2_k = p_k - y_k.
//! * `mse` (L = 1/2 sum_k (p_k - y_k)^2): delta2_k = (p_k - y_k) p_k (1 - p_k).
//!
//! Then dW2[j][k] = h_j delta2_k (no sum over k: each output weight sees only its own output's
//! error), db2 = delta2, delta1_j = (sum_k W2[j][k] delta2_k) h_j (1 - h_j),
//! dW1[i][j] = x_i delta1_j, db1 = delta1.
//!
//! The commonly printed versions take delta2 = p - y whatever the loss (right only for `bce`)
//! and sum the output error over k in dW2 (never right).

use autograd::{Tape, Tensor, Var};
use clap::{Command, Parser, ValueEnum};
use examples::cli::{self, CommandExt, OptimArgs, OutputArgs};
use examples::guard::{check_loss, check_memory, short_number};
use examples::outln;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::error::Error;
use std::process::ExitCode;

/// The loss on the sigmoid outputs.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Loss {
    /// Categorical cross-entropy, -sum y ln p
    Ce,
    /// Binary cross-entropy, -sum [y ln p + (1 - y) ln(1 - p)]
    Bce,
    /// Half the squared error, 1/2 sum (p - y)^2
    Mse,
}

struct Params {
    w1: Tensor<f64>,
    b1: Tensor<f64>,
    w2: Tensor<f64>,
    b2: Tensor<f64>,
}

const NAMES: [&str; 4] = ["W1", "b1", "W2", "b2"];

impl Params {
    fn list(&self) -> [&Tensor<f64>; 4] {
        [&self.w1, &self.b1, &self.w2, &self.b2]
    }
}

/// The forward pass on `Var`s: returns (h, p, loss).
fn forward(p: &[Var<f64>], x: &Var<f64>, y: &Var<f64>, loss: Loss) -> (Var<f64>, Var<f64>, Var<f64>) {
    let h = (x.matmul(&p[0]) + &p[1]).sigmoid();
    let out = (h.matmul(&p[2]) + &p[3]).sigmoid();
    let l = match loss {
        Loss::Ce => -(y * &out.ln()).sum(),
        Loss::Bce => -(y * &out.ln() + (1.0 - y) * (1.0 - &out).ln()).sum(),
        Loss::Mse => (&out - y).square().sum() * 0.5,
    };
    (h, out, l)
}

fn loss_value(params: &[Tensor<f64>], x: &Tensor<f64>, y: &Tensor<f64>, loss: Loss) -> f64 {
    let vars: Vec<Var<f64>> = params.iter().map(|t| Var::constant(t.clone())).collect();
    forward(&vars, &Var::constant(x.clone()), &Var::constant(y.clone()), loss).2.item()
}

/// Central differences of the loss for every parameter element.
fn finite_differences(params: &Params, x: &Tensor<f64>, y: &Tensor<f64>, loss: Loss) -> Vec<Tensor<f64>> {
    let base: Vec<Tensor<f64>> = params.list().iter().map(|t| (*t).clone()).collect();
    let eps = 1e-6;
    (0..4)
        .map(|i| {
            let mut g = vec![0.0; base[i].numel()];
            for (k, gk) in g.iter_mut().enumerate() {
                let mut plus = base.clone();
                plus[i].data_mut()[k] += eps;
                let mut minus = base.clone();
                minus[i].data_mut()[k] -= eps;
                *gk = (loss_value(&plus, x, y, loss) - loss_value(&minus, x, y, loss)) / (2.0 * eps);
            }
            Tensor::from_vec(g, base[i].shape()).expect("same shape")
        })
        .collect()
}

/// Which formula to use for the hand-derived gradients.
#[derive(Clone, Copy, PartialEq)]
enum Formula {
    /// Derived above.
    Correct,
    /// delta2 = p - y for any loss.
    TextbookDelta,
    /// dW2[j][k] = h_j * sum_k delta2_k.
    TextbookSum,
}

fn by_hand(params: &Params, x: &Tensor<f64>, y: &Tensor<f64>, loss: Loss, formula: Formula) -> Vec<Tensor<f64>> {
    let (w1, b1, w2, b2) = (&params.w1, &params.b1, &params.w2, &params.b2);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    // forward, written out
    let h: Vec<f64> =
        (0..5).map(|j| sig((0..3).map(|i| x.get(&[i]) * w1.get(&[i, j])).sum::<f64>() + b1.get(&[j]))).collect();
    let p: Vec<f64> = (0..2).map(|k| sig((0..5).map(|j| h[j] * w2.get(&[j, k])).sum::<f64>() + b2.get(&[k]))).collect();
    let yv: Vec<f64> = y.to_vec();
    let delta2: Vec<f64> = (0..2)
        .map(|k| match (formula, loss) {
            (Formula::TextbookDelta, _) | (_, Loss::Bce) => p[k] - yv[k],
            (_, Loss::Ce) => -yv[k] * (1.0 - p[k]),
            (_, Loss::Mse) => (p[k] - yv[k]) * p[k] * (1.0 - p[k]),
        })
        .collect();
    let dw2: Vec<f64> = (0..5)
        .flat_map(|j| {
            let delta2 = &delta2;
            let h = &h;
            (0..2).map(move |k| {
                if formula == Formula::TextbookSum {
                    h[j] * delta2.iter().sum::<f64>()
                } else {
                    h[j] * delta2[k]
                }
            })
        })
        .collect();
    let delta1: Vec<f64> =
        (0..5).map(|j| (0..2).map(|k| w2.get(&[j, k]) * delta2[k]).sum::<f64>() * h[j] * (1.0 - h[j])).collect();
    let dw1: Vec<f64> =
        (0..3).flat_map(|i| (0..5).map(move |j| (i, j))).map(|(i, j)| x.get(&[i]) * delta1[j]).collect();
    vec![
        Tensor::from_vec(dw1, [3, 5]).expect("shape"),
        Tensor::from_vec(delta1, [5]).expect("shape"),
        Tensor::from_vec(dw2, [5, 2]).expect("shape"),
        Tensor::from_vec(delta2, [2]).expect("shape"),
    ]
}

fn by_tape(params: &Params, x: &Tensor<f64>, y: &Tensor<f64>, loss: Loss) -> (f64, Vec<Tensor<f64>>) {
    let tape = Tape::new();
    let vars: Vec<Var<f64>> = params.list().iter().map(|t| tape.var((*t).clone())).collect();
    let (_, _, l) = forward(&vars, &Var::constant(x.clone()), &Var::constant(y.clone()), loss);
    let g = l.backward();
    (l.item(), vars.iter().map(|v| g.wrt(v)).collect())
}

fn max_rel_err(a: &[Tensor<f64>], b: &[Tensor<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(ta, tb)| {
            ta.data().iter().zip(tb.data()).map(|(&u, &v)| (u - v).abs() / (1e-8 + u.abs().max(v.abs())))
        })
        .fold(0.0, f64::max)
}

fn verdict(err: f64) -> &'static str {
    if err < 1e-5 {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Backpropagation by hand vs the tape on a 3-5-2 sigmoid network, checked by finite
/// differences; then gradient descent with the hand-derived gradients, checked against the
/// tape at every step.
#[derive(Parser, Debug)]
#[command(name = "backprop_by_hand", version)]
struct Args {
    /// Loss on the sigmoid outputs
    #[arg(long, value_enum, default_value = "ce")]
    loss: Loss,
    /// Gradient-descent steps
    #[arg(long, value_name = "N", value_parser = cli::positive_int, allow_negative_numbers = true)]
    steps: usize,
    #[command(flatten)]
    optim: OptimArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// The defaults of the shared flags.
fn setup(c: Command) -> Command {
    OptimArgs::defaults(c, 0.01, 42).default_of("steps", 1000)
}

fn main() -> ExitCode {
    cli::run_main("backprop_by_hand", || walkthrough(&cli::parse(setup)?))
}

fn walkthrough(a: &Args) -> Result<(), Box<dyn Error>> {
    let (loss, steps, lr, quiet) = (a.loss, a.steps, a.optim.lr, a.output.quiet);
    // The loss curve keeps one (step, loss) pair per step.
    check_memory(&format!("--steps {steps}"), steps as u128 * 16)?;
    if let Some(path) = &a.output.plot {
        nn::io::check_writable(path)?;
    }

    let mut rng = StdRng::seed_from_u64(a.optim.seed);
    let mut params = Params {
        w1: Tensor::rand_normal([3, 5], 0.0, 0.5, &mut rng),
        b1: Tensor::zeros([5]),
        w2: Tensor::rand_normal([5, 2], 0.0, 0.5, &mut rng),
        b2: Tensor::zeros([2]),
    };
    let x = Tensor::from_vec(vec![0.5, 0.1, -0.3], [3]).expect("shape");
    let y = Tensor::from_vec(vec![1.0, 0.0], [2]).expect("shape");

    // 1. The gradients at the initial weights, side by side.
    let hand = by_hand(&params, &x, &y, loss, Formula::Correct);
    let (l0, tape) = by_tape(&params, &x, &y, loss);
    let fd = finite_differences(&params, &x, &y, loss);
    if !quiet {
        outln!("Initial loss {l0:.6}. Gradients at the initial weights (hand | tape | finite difference):")?;
        for (n, name) in NAMES.iter().enumerate() {
            outln!("{name}:")?;
            for k in 0..hand[n].numel() {
                let (h, t, f) = (hand[n].data()[k], tape[n].data()[k], fd[n].data()[k]);
                outln!("  [{k:2}] {h:>13.8} | {t:>13.8} | {f:>13.8}")?;
            }
        }
        outln!()?;
    }
    let e_hand = max_rel_err(&hand, &fd);
    let e_tape = max_rel_err(&tape, &fd);
    let e_ht = max_rel_err(&hand, &tape);
    outln!("Finite-difference check (max relative error):")?;
    outln!("  hand-derived formulas      {e_hand:.2e}  {}", verdict(e_hand))?;
    outln!("  tape                       {e_tape:.2e}  {}", verdict(e_tape))?;
    outln!("  hand vs tape               {e_ht:.2e}")?;
    for (formula, what) in [
        (Formula::TextbookDelta, "textbook: delta2 = p - y      "),
        (Formula::TextbookSum, "textbook: dW2 sums over k     "),
    ] {
        let wrong = by_hand(&params, &x, &y, loss, formula);
        let e = max_rel_err(&wrong, &fd);
        let note = if e < 1e-5 { " (this formula happens to be right for this loss)" } else { "" };
        outln!("  {what} {e:.2e}  {}{note}", verdict(e))?;
    }

    // 2. Plain gradient descent with the hand-derived gradients, checked against the tape
    //    at every step. The steps are shown as one Keras-style epoch.
    outln!("\nTraining: {steps} steps of gradient descent, learning rate {}", short_number(lr))?;
    let mut worst: f64 = 0.0;
    let mut curve = Vec::with_capacity(steps);
    let mut bar = nn::train::Progress::new(steps, u8::from(!quiet));
    let mut logs = nn::Logs::new();
    for step in 1..=steps {
        let g = by_hand(&params, &x, &y, loss, Formula::Correct);
        let (l, gt) = by_tape(&params, &x, &y, loss);
        check_loss(l, step, steps, lr)?;
        let err = max_rel_err(&g, &gt);
        worst = worst.max(err);
        for (p, gp) in [&mut params.w1, &mut params.b1, &mut params.w2, &mut params.b2].into_iter().zip(&g) {
            for (v, d) in p.data_mut().iter_mut().zip(gp.data()) {
                *v -= lr * d;
            }
        }
        curve.push((step as f64, l));
        logs.insert("loss".into(), l);
        logs.insert("hand_vs_tape".into(), err);
        bar.update(step, &logs)?;
    }
    bar.finish(&logs)?;
    let (l_end, _) = by_tape(&params, &x, &y, loss);
    check_loss(l_end, steps, steps, lr)?;
    if !quiet {
        for &(step, l) in curve.iter().step_by((steps / 10).max(1)) {
            outln!("  step {:>5}: loss {l:.6}", step as usize)?;
        }
    }
    if let Some(path) = &a.output.plot {
        let series = examples::plot::Series { label: "loss", points: curve.clone() };
        examples::plot::line_chart(path, "Backprop by hand: loss", "step", "loss", &[series])?;
        outln!("Loss curve written to {}", path.display())?;
    }
    let out = {
        let vars: Vec<Var<f64>> = params.list().iter().map(|t| Var::constant((*t).clone())).collect();
        forward(&vars, &Var::constant(x.clone()), &Var::constant(y.clone()), loss).1.into_value()
    };
    outln!("Final loss {l_end:.6}, output {out:.4} for target {y:.1}")?;
    outln!("Largest hand-vs-tape relative difference over all steps: {worst:.2e}")?;
    // Written so that a NaN fails every comparison it takes part in.
    let passed = e_hand < 1e-5 && e_tape < 1e-5 && worst < 1e-6 && l_end < l0;
    if !passed {
        return Err(format!(
            "gradient check failed or the loss did not decrease (initial {l0:.6}, final {l_end:.6}); \
             with a large --lr ({lr}) the descent can overshoot: try a smaller one"
        )
        .into());
    }
    Ok(())
}
