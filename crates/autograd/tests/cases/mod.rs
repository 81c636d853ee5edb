//! The table of op cases: every differentiable op, with inputs (broadcasting shapes
//! included) and, where PyTorch gives known answers, edge points. Every gradient test
//! (`ops_table.rs`: gradcheck, gradgradcheck, forward mode, plain vs `create_graph` bit
//! equality, edge points; `properties.rs`: random shapes and random chains) iterates it.
//!
//! Adding an op: write it in its family file under `src/ops/`, then add one row here.

#![allow(dead_code)]

use autograd::{LinearActivation as Act, Tensor, Var};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A function of the case's inputs, in one element type.
pub type F<T> = Box<dyn Fn(&[Var<T>]) -> Var<T>>;

/// Where an input is drawn from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Domain {
    /// N(0, 1).
    Real,
    /// [0.3, 3): logarithms, roots, powers.
    Pos,
    /// ±[0.2, 2): away from the kinks at 0 (relu, abs, recip).
    Away,
    /// [0, 1): probabilities.
    Unit,
    /// On the grid 0.1 k, |k| <= 20: a second operand on the shifted grid never ties with it
    /// (maximum, minimum).
    Grid,
    /// The grid shifted by 0.05.
    Grid2,
    /// ±[0.2, 2) away from ±0.5 (clamp's bounds).
    AwayHalf,
}

/// What kind of op a row tests: elementwise rows also run at any shape (0-d, empty, large,
/// random), binary rows at any broadcasting pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Unary(Domain),
    Binary(Domain, Domain),
    Other,
}

/// A row that builds itself for an input shape (random axes, partners, permutations): the
/// reductions, softmax, data movement and products at random shapes in `properties.rs`.
/// Returns `None` where the op does not apply to the shape.
pub type Generic = (&'static str, fn(&[usize], &mut StdRng) -> Option<Case>);

/// A point where the value and the gradients are known (PyTorch's answers at kinks,
/// saturations and infinities).
pub struct Edge {
    pub inputs: Vec<Tensor<f64>>,
    /// The expected output, flat.
    pub value: Vec<f64>,
    /// The expected gradient of `sum(seed * output)` for each input, flat.
    pub grads: Vec<Vec<f64>>,
    /// The output's gradient (default: ones).
    pub seed: Option<Tensor<f64>>,
    /// The expected Hessian of `sum(output)`, flat over all input elements (0-d inputs).
    pub hessian: Option<Vec<f64>>,
}

pub struct Case {
    pub name: String,
    pub f64: F<f64>,
    pub f32: F<f32>,
    pub inputs: Vec<Tensor<f64>>,
    pub kind: Kind,
    /// Whether to gradgradcheck (false for ops whose second derivative is zero almost
    /// everywhere but not defined at the inputs, none today).
    pub second_order: bool,
    pub edges: Vec<Edge>,
}

impl Case {
    pub fn edge(mut self, inputs: &[(&[f64], &[usize])], value: &[f64], grads: &[&[f64]]) -> Self {
        self.edges.push(Edge {
            inputs: inputs.iter().map(|(v, s)| t(v, s)).collect(),
            value: value.to_vec(),
            grads: grads.iter().map(|g| g.to_vec()).collect(),
            seed: None,
            hessian: None,
        });
        self
    }

    /// An edge point of a function of 0-d inputs: `f(xs) = y` with gradients `gs`.
    pub fn at(self, xs: &[f64], y: f64, gs: &[f64]) -> Self {
        let inputs: Vec<(&[f64], &[usize])> = xs.iter().map(|x| (std::slice::from_ref(x), &[][..])).collect();
        let grads: Vec<&[f64]> = gs.iter().map(std::slice::from_ref).collect();
        self.edge(&inputs, &[y], &grads)
    }

    /// Sets the seed of the last edge point.
    pub fn seeded(mut self, seed: Tensor<f64>) -> Self {
        self.edges.last_mut().expect("an edge point").seed = Some(seed);
        self
    }

    /// Sets the expected Hessian of the last edge point.
    pub fn hess(mut self, h: &[f64]) -> Self {
        self.edges.last_mut().expect("an edge point").hessian = Some(h.to_vec());
        self
    }
}

/// A row: the same expression as an `f64` and an `f32` function. Values the expression
/// captures are listed in brackets (each closure gets a clone).
macro_rules! case {
    ($name:expr, [$($cap:ident),*], |$v:ident| $body:expr, $inputs:expr, $kind:expr) => {
        Case {
            name: $name.to_string(),
            f64: { $(let $cap = $cap.clone();)* Box::new(move |$v: &[Var<f64>]| $body) },
            f32: { $(let $cap = $cap.clone();)* Box::new(move |$v: &[Var<f32>]| $body) },
            inputs: $inputs,
            kind: $kind,
            second_order: true,
            edges: Vec::new(),
        }
    };
    ($name:expr, [$($cap:ident),*], |$v:ident| $body:expr, $inputs:expr) => {
        case!($name, [$($cap),*], |$v| $body, $inputs, Kind::Other)
    };
    ($name:expr, |$v:ident| $body:expr, $inputs:expr) => {
        case!($name, [], |$v| $body, $inputs, Kind::Other)
    };
}

pub fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `shape` drawn from `domain`.
pub fn sample(domain: Domain, shape: &[usize], seed: u64) -> Tensor<f64> {
    let u = |lo: f64, hi: f64, s: u64| -> Tensor<f64> { Tensor::rand_uniform(shape, lo, hi, &mut rng(s)) };
    let away = |s: u64| {
        let sign = u(-1.0, 1.0, s + 1000);
        u(0.2, 2.0, s).zip_with(&sign, "sign", |a, b| if b < 0.0 { -a } else { a })
    };
    match domain {
        Domain::Real => Tensor::randn(shape, &mut rng(seed)),
        Domain::Pos => u(0.3, 3.0, seed),
        Domain::Away => away(seed),
        Domain::Unit => u(0.0, 1.0, seed),
        Domain::AwayHalf => away(seed).map(|v| if (v.abs() - 0.5).abs() < 0.1 { v * 1.5 } else { v }),
        Domain::Grid | Domain::Grid2 => {
            let off = if domain == Domain::Grid2 { 0.05 } else { 0.0 };
            u(-20.5, 20.5, seed).map(|v| off + 0.1 * v.round())
        }
    }
}

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    sample(Domain::Real, shape, seed)
}

fn unary(name: &str, f: F<f64>, g: F<f32>, domain: Domain) -> Case {
    Case {
        name: name.to_string(),
        f64: f,
        f32: g,
        inputs: vec![sample(domain, &[3, 4], name.len() as u64)],
        kind: Kind::Unary(domain),
        second_order: true,
        edges: Vec::new(),
    }
}

/// A unary row: `un!("exp", |x| x.exp(), Domain::Real)`.
macro_rules! un {
    ($name:expr, |$x:ident| $body:expr, $domain:expr) => {
        unary(
            $name,
            Box::new(move |v: &[Var<f64>]| {
                let $x = &v[0];
                $body
            }),
            Box::new(move |v: &[Var<f32>]| {
                let $x = &v[0];
                $body
            }),
            $domain,
        )
    };
}

/// Shape pairs exercising NumPy broadcasting: equal, scalar, trailing, middle, both sides.
pub fn broadcast_pairs() -> Vec<(Vec<usize>, Vec<usize>)> {
    vec![
        (vec![2, 3], vec![2, 3]),
        (vec![2, 3], vec![]),
        (vec![], vec![2, 3]),
        (vec![2, 3], vec![3]),
        (vec![4, 1, 3], vec![2, 1]),
        (vec![2, 1], vec![1, 3]),
    ]
}

/// A binary row for each broadcasting pair: `bin!("mul", |a, b| a * b, Real, Real)`.
macro_rules! bin {
    ($out:ident, $name:expr, |$a:ident, $b:ident| $body:expr, $da:expr, $db:expr) => {
        for (k, (sa, sb)) in broadcast_pairs().into_iter().enumerate() {
            let inputs = vec![sample($da, &sa, 10 + k as u64), sample($db, &sb, 20 + k as u64)];
            $out.push(case!(
                format!("{} {sa:?} {sb:?}", $name),
                [],
                |v| {
                    let ($a, $b) = (&v[0], &v[1]);
                    $body
                },
                inputs,
                Kind::Binary($da, $db)
            ));
        }
    };
}

const E100: f64 = 3.720075976020836e-44; // e^-100
const INF: f64 = f64::INFINITY;

/// Every row.
pub fn cases() -> Vec<Case> {
    use Domain::*;
    let mut c: Vec<Case> = Vec::new();

    // ------------------------------------------------------------------ unary
    c.push(un!("neg", |x| x.neg(), Real));
    c.push(un!("exp", |x| x.exp(), Real));
    c.push(un!("ln", |x| x.ln(), Pos).at(&[0.0], -INF, &[INF]));
    c.push(un!("log1p", |x| x.log1p(), Pos).at(&[-1.0], -INF, &[INF]));
    c.push(un!("sqrt", |x| x.sqrt(), Pos).at(&[0.0], 0.0, &[INF]));
    c.push(un!("square", |x| x.square(), Real).at(&[0.0], 0.0, &[0.0]).hess(&[2.0]));
    c.push(un!("recip", |x| x.recip(), Away).at(&[0.0], INF, &[-INF]));
    c.push(un!("abs", |x| x.abs(), Away).at(&[0.0], 0.0, &[0.0]));
    c.push(un!("sin", |x| x.sin(), Real));
    c.push(un!("cos", |x| x.cos(), Real));
    c.push(un!("tanh", |x| x.tanh(), Real).at(&[100.0], 1.0, &[0.0]).at(&[-100.0], -1.0, &[0.0]));
    c.push(
        un!("sigmoid", |x| x.sigmoid(), Real)
            // y (1 - y) rounds to 0 at 100, as in PyTorch; e^-100 at -100
            .at(&[100.0], 1.0, &[0.0])
            .at(&[-100.0], E100, &[E100]),
    );
    c.push(un!("relu", |x| x.relu(), Away).at(&[0.0], 0.0, &[0.0]));
    c.push(un!("leaky_relu", |x| x.leaky_relu(0.1), Away).at(&[0.0], 0.0, &[0.1]));
    // elu'(x) = y + alpha for x <= 0 rounds to 0 at -100 (exactly 5.6e-44)
    c.push(un!("elu", |x| x.elu(1.3), Away).at(&[0.0], 0.0, &[1.3]));
    c.push(un!("gelu", |x| x.gelu(), Real).at(&[100.0], 100.0, &[1.0]).at(&[-100.0], -0.0, &[-0.0]));
    c.push(un!("silu", |x| x.silu(), Real).at(&[0.0], 0.0, &[0.5]).at(&[-100.0], -100.0 * E100, &[-99.0 * E100]));
    c.push(un!("erf", |x| x.erf(), Real).at(&[100.0], 1.0, &[0.0]).at(&[-100.0], -1.0, &[0.0]));
    c.push(
        un!("softplus", |x| x.softplus(), Real)
            .at(&[100.0], 100.0, &[1.0])
            .at(&[-100.0], E100, &[E100])
            .at(&[1e4], 1e4, &[1.0])
            .at(&[-1e4], 0.0, &[0.0]),
    );
    c.push(
        un!("clamp", |x| x.clamp(-0.5, 0.5), AwayHalf)
            // gradient 1 on the closed interval, boundaries included (PyTorch)
            .at(&[-0.5], -0.5, &[1.0])
            .at(&[0.5], 0.5, &[1.0])
            .at(&[0.7], 0.5, &[0.0]),
    );
    c.push(un!("clamp point", |x| x.clamp(0.5, 0.5), Real).at(&[0.5], 0.5, &[1.0]));
    c.push(un!("powi 3", |x| x.powi(3), Real).at(&[0.0], 0.0, &[0.0]).hess(&[0.0]));
    c.push(un!("powi 2", |x| x.powi(2), Real).at(&[0.0], 0.0, &[0.0]).hess(&[2.0]));
    c.push(un!("powi 1", |x| x.powi(1), Real).at(&[0.0], 0.0, &[1.0]));
    c.push(un!("powi 0", |x| x.powi(0), Real).at(&[0.0], 1.0, &[0.0]));
    c.push(un!("powi -2", |x| x.powi(-2), Pos));
    c.push(un!("powi -1", |x| x.powi(-1), Pos).at(&[0.0], INF, &[-INF]));
    c.push(un!("powf 2.5", |x| x.powf(2.5), Pos));
    c.push(un!("powf 0.5", |x| x.powf(0.5), Pos).at(&[0.0], 0.0, &[INF]));
    c.push(un!("powf 2", |x| x.powf(2.0), Pos).at(&[0.0], 0.0, &[0.0]));
    c.push(un!("powf 1", |x| x.powf(1.0), Pos).at(&[0.0], 0.0, &[1.0]));
    c.push(un!("powf 0", |x| x.powf(0.0), Pos).at(&[0.0], 1.0, &[0.0]));

    // ------------------------------------------------------------------ scalar forms
    c.push(un!("x * 2", |x| x * 2.0, Real));
    c.push(un!("2 * x", |x| 2.0 * x, Real));
    c.push(un!("x + 1", |x| x + 1.0, Real));
    c.push(un!("1 - x", |x| 1.0 - x, Real));
    c.push(un!("x - 1", |x| x - 1.0, Real));
    c.push(un!("x / 3", |x| x / 3.0, Real));
    c.push(un!("3 / x", |x| 3.0 / x, Pos));
    c.push(un!("-x", |x| -x, Real));
    c.push(un!("scalar chain", |x| (2.0 - x) * 3.0 / 4.0 + 1.0, Real));
    let mask = t(&[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0], &[3, 4]);
    c.push(case!("masked_fill", [mask], |v| v[0].masked_fill(&mask.cast(), -3.0), vec![randn(&[3, 4], 5)]));

    // ------------------------------------------------------------------ binary, broadcasting
    bin!(c, "add", |a, b| a + b, Real, Real);
    bin!(c, "sub", |a, b| a - b, Real, Real);
    bin!(c, "mul", |a, b| a * b, Real, Real);
    bin!(c, "div", |a, b| a / b, Real, Pos);
    bin!(c, "pow", |a, b| a.pow(b), Pos, Real);
    bin!(c, "maximum", |a, b| a.maximum(b), Grid, Grid2);
    bin!(c, "minimum", |a, b| a.minimum(b), Grid, Grid2);
    for (k, (sa, sb)) in broadcast_pairs().into_iter().enumerate() {
        let out = broadcast(&sa, &sb);
        let cond = randn(&sa, 50 + k as u64).map(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let cond = cond.broadcast_to(&out);
        c.push(case!(
            format!("where {sa:?} {sb:?}"),
            [cond],
            |v| v[0].where_(&cond.cast(), &v[1]),
            vec![randn(&sa, 10), randn(&sb, 20)]
        ));
    }
    // Ties share the gradient (PyTorch): half each.
    let fix = |c: &mut Vec<Case>, name: &str, edge: fn(Case) -> Case| {
        let i = c.iter().position(|r| r.name.starts_with(name)).unwrap();
        let row = c.remove(i);
        c.insert(i, edge(row));
    };
    fix(&mut c, "maximum [2, 3] [2, 3]", |r| r.at(&[1.0, 1.0], 1.0, &[0.5, 0.5]));
    fix(&mut c, "minimum [2, 3] [2, 3]", |r| r.at(&[1.0, 1.0], 1.0, &[0.5, 0.5]));
    // torch.pow(a, b) at a = 0: d/da = 0 where b == 0, else b 0^(b-1); d/db = a^b ln a,
    // taken as 0 where a == 0 and b >= 0 (-inf for b < 0).
    fix(&mut c, "pow [2, 3] [2, 3]", |r| {
        r.at(&[0.0, 2.0], 0.0, &[0.0, 0.0])
            .hess(&[2.0, 0.0, 0.0, 0.0])
            .at(&[0.0, 1.0], 0.0, &[1.0, 0.0])
            .at(&[0.0, 0.5], 0.0, &[INF, 0.0])
            .at(&[0.0, 0.0], 1.0, &[0.0, 0.0])
            .at(&[0.0, -1.0], INF, &[-INF, -INF])
            .at(&[2.0, 3.0], 8.0, &[12.0, 8.0 * 2f64.ln()])
            .at(&[2.0, 0.0], 1.0, &[0.0, 2f64.ln()])
            // broadcasting with zeros in the base: the mask follows the broadcast shape
            .edge(
                &[(&[0.0, 2.0], &[2, 1]), (&[0.0, 1.0, -1.0], &[3])],
                &[1.0, 0.0, INF, 1.0, 2.0, 0.5],
                &[&[-INF, 0.75], &[2f64.ln(), 2.0 * 2f64.ln(), -INF]],
            )
    });

    // ------------------------------------------------------------------ reductions
    let x = randn(&[2, 3, 4], 60);
    for (axes, keep) in [(vec![], false), (vec![0], false), (vec![1], true), (vec![-1], false), (vec![0, 2], true)] {
        let tag = format!("{axes:?} keepdim={keep}");
        let a = axes.clone();
        c.push(case!(format!("sum {tag}"), [a], |v| v[0].sum_axes(&a, keep), vec![x.clone()]));
        let a = axes.clone();
        c.push(case!(format!("mean {tag}"), [a], |v| v[0].mean_axes(&a, keep), vec![x.clone()]));
        let a = axes.clone();
        c.push(case!(format!("max {tag}"), [a], |v| v[0].max_axes(&a, keep), vec![x.clone()]));
        let a = axes.clone();
        c.push(case!(format!("min {tag}"), [a], |v| v[0].min_axes(&a, keep), vec![x.clone()]));
        let a = axes.clone();
        c.push(case!(format!("var {tag}"), [a], |v| v[0].var_axes(&a, keep, 1), vec![x.clone()]));
        let a = axes.clone();
        c.push(case!(format!("std {tag}"), [a], |v| v[0].std_axes(&a, keep, 0), vec![x.clone()]));
        let a = axes.clone();
        c.push(case!(format!("logsumexp {tag}"), [a], |v| v[0].logsumexp(&a, keep), vec![x.clone()]));
    }
    c.push(case!("sum()", |v| v[0].sum(), vec![x.clone()]));
    c.push(case!(
        "reductions of a 0-d value",
        |v| v[0].sum()
            + v[0].mean()
            + v[0].max()
            + v[0].min_axes(&[], true).sum()
            + v[0].logsumexp(&[], false)
            + v[0].sum_axes(&[], true),
        vec![Tensor::scalar(1.5)]
    ));
    c.push(
        case!("max() ties", |v| v[0].max(), vec![x.clone()])
            // ties share the gradient equally (torch.amax)
            .edge(&[(&[2.0, 2.0, 2.0, 1.0], &[4])], &[2.0], &[&[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0]])
            .edge(&[(&[1.0, 3.0, 3.0, 2.0], &[4])], &[3.0], &[&[0.0, 0.5, 0.5, 0.0]]),
    );
    c.push(
        case!("logsumexp() masked", |v| v[0].logsumexp(&[], false), vec![x.clone()])
            .edge(&[(&[f64::NEG_INFINITY, 0.0, 0.0], &[3])], &[2f64.ln()], &[&[0.0, 0.5, 0.5]])
            .edge(&[(&[1e4, 0.0], &[2])], &[1e4], &[&[1.0, 0.0]]),
    );
    // Empty and zero-size: sums over nothing are 0 (their gradients empty), means NaN.
    c.push(case!(
        "sum of empty rows",
        |v| (&v[0] * &v[1]).exp().sum() + v[1].sum(),
        vec![Tensor::zeros([0, 3]), randn(&[3], 61)]
    ));
    c.push(case!(
        "tanh of empty, summed over axis 0",
        |v| (&v[0] * &v[1]).tanh().sum_axes(&[0], false),
        vec![Tensor::zeros([0, 3]), randn(&[3], 62)]
    ));
    c.push(case!("max over an empty axis", |v| v[0].max_axes(&[1], false).sum(), vec![Tensor::zeros([2, 0])]));

    // ------------------------------------------------------------------ linear algebra
    let mm_shapes: [(&[usize], &[usize]); 10] = [
        (&[3, 4], &[4, 2]),
        (&[4], &[4, 2]),
        (&[3, 4], &[4]),
        (&[4], &[4]),
        (&[2, 3, 4], &[4, 5]),
        (&[3, 4], &[2, 4, 5]),
        (&[2, 1, 3, 4], &[3, 4, 2]),
        (&[0, 3], &[3, 2]),
        (&[2, 0], &[0, 3]),
        (&[2, 3], &[3, 0]),
    ];
    for (k, (sa, sb)) in mm_shapes.into_iter().enumerate() {
        c.push(case!(
            format!("matmul {sa:?} {sb:?}"),
            |v| v[0].matmul(&v[1]),
            vec![randn(sa, 70 + k as u64), randn(sb, 80 + k as u64)]
        ));
    }
    c.push(case!("matmul_t", |v| v[0].matmul_t(&v[1]), vec![randn(&[3, 4], 90), randn(&[5, 4], 91)]));
    c.push(case!("t_matmul", |v| v[0].t_matmul(&v[1]), vec![randn(&[3, 4], 90), randn(&[3, 5], 97)]));
    c.push(case!("dot", |v| v[0].dot(&v[1]), vec![randn(&[4], 92), randn(&[4], 93)]));
    c.push(case!("outer", |v| v[0].outer(&v[1]), vec![randn(&[4], 92), randn(&[3], 94)]));
    let (lx, lw, lb) = (randn(&[5, 4], 110), randn(&[4, 3], 111), randn(&[3], 112));
    for act in [Act::Identity, Act::Relu, Act::Sigmoid, Act::Tanh] {
        c.push(case!(
            format!("linear {act:?}"),
            |v| v[0].linear(&v[1], Some(&v[2]), act),
            vec![lx.clone(), lw.clone(), lb.clone()]
        ));
        c.push(case!(
            format!("linear {act:?} without bias"),
            |v| v[0].linear(&v[1], None, act),
            vec![lx.clone(), lw.clone()]
        ));
    }

    // ------------------------------------------------------------------ shape ops
    let x = randn(&[2, 3, 4], 100);
    c.push(case!("reshape", |v| v[0].reshape([6, 4]), vec![x.clone()]));
    c.push(case!("reshape_infer", |v| v[0].reshape_infer(&[4, -1]), vec![x.clone()]));
    c.push(case!("flatten", |v| v[0].flatten(1, -1), vec![x.clone()]));
    c.push(case!("unsqueeze", |v| v[0].unsqueeze(1), vec![x.clone()]));
    c.push(case!("squeeze", |v| v[0].squeeze(1), vec![randn(&[3, 1, 2], 101)]));
    c.push(case!("broadcast_to", |v| v[0].broadcast_to(&[2, 3, 4]), vec![randn(&[3, 1], 102)]));
    c.push(case!("broadcast 0-d", |v| v[0].broadcast_to(&[2, 3]).sum() + &v[0] * 2.0, vec![Tensor::scalar(1.5)]));
    c.push(case!("sum_to", |v| v[0].sum_to(&[3, 1]), vec![x.clone()]));
    c.push(case!("transpose", |v| v[0].transpose(0, 2), vec![x.clone()]));
    c.push(case!("permute", |v| v[0].permute(&[1, 2, 0]), vec![x.clone()]));
    c.push(case!("t", |v| v[0].t(), vec![randn(&[3, 2], 96)]));
    c.push(case!("narrow", |v| v[0].narrow(1, 1, 2), vec![x.clone()]));
    c.push(case!("slice", |v| v[0].slice(-1, 1..3), vec![x.clone()]));
    c.push(case!("concat", |v| Var::concat(&[&v[0], &v[1]], 1), vec![x.clone(), randn(&[2, 2, 4], 103)]));
    c.push(case!("stack", |v| Var::stack(&[&v[0], &v[1]], 1), vec![x.clone(), randn(&[2, 3, 4], 104)]));
    c.push(case!("split", |v| v[0].split(&[1, 2], 1)[1].clone(), vec![x.clone()]));
    c.push(case!("chunk", |v| &v[0].chunk(2, -1)[0] * &v[0].chunk(2, -1)[1], vec![x.clone()]));
    c.push(case!("index_select", |v| v[0].index_select(1, &[2, 0, 2, 1]), vec![x.clone()]));
    // gather along the last axis: 2 picks per row
    let idx = [0usize, 3, 1, 1, 2, 0, 3, 3, 0, 1, 2, 2];
    c.push(case!("gather", |v| v[0].gather(-1, &idx), vec![x.clone()]));

    // ------------------------------------------------------------------ functional
    let x = randn(&[3, 5], 110);
    let w3 = t(&[0.0, 1.0, 2.0], &[3]);
    let w2 = t(&[1.0, 2.0, 3.0], &[3]);
    c.push(
        case!("softmax -1", |v| v[0].softmax(-1), vec![x.clone()])
            // finite and exact at logits of ±1e4; d sum(w * y) = y (w - sum(w y))
            .edge(&[(&[1e4, -1e4, 0.0], &[3])], &[1.0, 0.0, 0.0], &[&[0.0, 0.0, 0.0]])
            .seeded(w3.clone())
            .edge(&[(&[1e4, 1e4], &[2])], &[0.5, 0.5], &[&[-0.25, 0.25]])
            .seeded(t(&[0.0, 1.0], &[2]))
            // the attention-mask pattern: -inf logits get probability 0 and gradient 0
            .edge(&[(&[f64::NEG_INFINITY, 0.0, 0.0], &[3])], &[0.0, 0.5, 0.5], &[&[0.0, -0.25, 0.25]])
            .seeded(w2.clone()),
    );
    c.push(case!("softmax 0", |v| v[0].softmax(0), vec![x.clone()]));
    c.push(
        case!("log_softmax -1", |v| v[0].log_softmax(-1), vec![x.clone()])
            // d/dx sum(log_softmax(x)) = 1 - n softmax(x)
            .edge(&[(&[1e4, 0.0, -1e4], &[3])], &[0.0, -1e4, -2e4], &[&[-2.0, 1.0, 1.0]]),
    );
    c.push(case!("log_softmax 0", |v| v[0].log_softmax(0), vec![x.clone()]));
    c.push(case!("cross_entropy", |v| v[0].cross_entropy(&[4, 0, 2]), vec![x.clone()]));
    c.push(
        case!("cross_entropy 2 classes", |v| v[0].cross_entropy(&[1, 0, 0]), vec![randn(&[3, 2], 114)])
            // finite and exact at logits of ±1e4 and -inf (a masked class)
            .edge(&[(&[0.0, 1e4, 1e4, 0.0, 0.0, -1e4], &[3, 2])], &[0.0], &[&[0.0; 6]])
            .edge(
                &[(&[f64::NEG_INFINITY, 0.0, 0.0, 1e4, 0.0, 0.0], &[3, 2])],
                &[(1e4 + 2f64.ln()) / 3.0],
                &[&[0.0, 0.0, -1.0 / 3.0, 1.0 / 3.0, -0.5 / 3.0, 0.5 / 3.0]],
            ),
    );
    c.push(case!("cross_entropy targets 1", |v| v[0].cross_entropy(&[1]), vec![randn(&[1, 2], 113)]).edge(
        &[(&[1e4, 0.0], &[1, 2])],
        &[1e4],
        &[&[1.0, -1.0]],
    ));
    c.push(case!("cross_entropy of no rows", |v| v[0].cross_entropy(&[]).sum() * 0.0, vec![Tensor::zeros([0, 4])]));
    c.push(case!(
        "cross_entropy vs log_softmax",
        |v| v[0].cross_entropy(&[1, 0, 3]) + v[0].log_softmax(-1).gather(1, &[1, 0, 3]).mean(),
        vec![x.clone()]
    ));
    let targets = sample(Unit, &[3, 5], 111);
    c.push(
        case!("bce_with_logits", |v| v[0].binary_cross_entropy_with_logits(&v[1]), vec![x.clone(), targets])
            // d/dx = sigmoid(x) - t at huge logits; d/dt = -x
            .at(&[1e4, 1.0], 0.0, &[0.0, -1e4])
            .at(&[1e4, 0.0], 1e4, &[1.0, -1e4])
            .at(&[-1e4, 1.0], 1e4, &[-1.0, 1e4])
            .at(&[100.0, 0.0], 100.0, &[1.0, -100.0]),
    );

    // ------------------------------------------------------------------ composites
    let labels = [0usize, 2, 1, 1, 0];
    c.push(case!(
        "mlp",
        |v| (v[0].matmul(&v[1]) + &v[2]).tanh().matmul(&v[3]).cross_entropy(&labels),
        vec![randn(&[5, 4], 130), randn(&[4, 6], 131), randn(&[6], 132), randn(&[6, 3], 133)]
    ));
    c.push(case!(
        "rnn loop",
        |v| {
            let mut h = v[1].clone();
            for s in 0..4 {
                h = (v[0].matmul(&h) + v[2].narrow(0, s, 1).squeeze(0)).tanh();
            }
            h.square().sum()
        },
        vec![randn(&[3, 3], 140).scale(0.5), randn(&[3], 141), randn(&[4, 3], 142)]
    ));
    c.push(case!(
        "scalar loop",
        |v| {
            let mut y = v[0].clone();
            for _ in 0..10 {
                y = ((&y * &v[1]).sin() + &v[0]).tanh().exp();
            }
            y
        },
        vec![Tensor::scalar(0.5), Tensor::scalar(0.9)]
    ));
    c.push(case!(
        "scalar and tensor mixed",
        |v| {
            let s = (&v[0] * &v[1]).tanh().sum();
            (&s * &v[0]).exp() + v[0].sin()
        },
        vec![Tensor::scalar(0.7), t(&[1.0, -2.0, 0.5], &[3])]
    ));
    c.push(case!(
        "0-d against n-d",
        |v| (&v[0] * &v[1]).tanh() + v[0].sigmoid(),
        vec![Tensor::scalar(0.3), t(&[0.5, -1.0, 2.0], &[3])]
    ));
    c
}

/// The broadcast shape of two shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
            let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
            da.max(db)
        })
        .collect()
}

/// Pairwise distinct values (a shuffled grid with spacing 0.1), for max/min reductions.
pub fn distinct(shape: &[usize], rng: &mut StdRng) -> Tensor<f64> {
    use rand::seq::SliceRandom;
    let n: usize = shape.iter().product();
    let mut data: Vec<f64> = (0..n).map(|i| 0.1 * i as f64 - 0.05 * n as f64).collect();
    data.shuffle(rng);
    Tensor::from_vec(data, shape).unwrap()
}

/// A random subset of the axes of a rank-`rank` tensor, some written negative (empty: all).
pub fn random_axes(rank: usize, rng: &mut StdRng) -> Vec<isize> {
    use rand::RngExt;
    let mut axes = Vec::new();
    for a in 0..rank {
        if rng.random_bool(0.5) {
            axes.push(if rng.random_bool(0.5) { a as isize - rank as isize } else { a as isize });
        }
    }
    axes
}

/// The rows that build themselves for a shape.
pub fn generics() -> Vec<Generic> {
    use rand::seq::SliceRandom;
    use rand::RngExt;
    fn seed(rng: &mut StdRng) -> u64 {
        rng.random()
    }
    vec![
        ("sum_axes", |s, r| {
            let (a, k) = (random_axes(s.len(), r), r.random_bool(0.5));
            Some(case!("sum_axes", [a], |v| v[0].sum_axes(&a, k), vec![randn(s, seed(r))]))
        }),
        ("mean_axes", |s, r| {
            let (a, k) = (random_axes(s.len(), r), r.random_bool(0.5));
            Some(case!("mean_axes", [a], |v| v[0].mean_axes(&a, k), vec![randn(s, seed(r))]))
        }),
        ("max_axes", |s, r| {
            let (a, k) = (random_axes(s.len(), r), r.random_bool(0.5));
            Some(case!("max_axes", [a], |v| v[0].max_axes(&a, k), vec![distinct(s, r)]))
        }),
        ("min_axes", |s, r| {
            let (a, k) = (random_axes(s.len(), r), r.random_bool(0.5));
            Some(case!("min_axes", [a], |v| v[0].min_axes(&a, k), vec![distinct(s, r)]))
        }),
        ("var_axes", |s, r| {
            let (a, k) = (random_axes(s.len(), r), r.random_bool(0.5));
            Some(case!("var_axes", [a], |v| v[0].var_axes(&a, k, 0), vec![randn(s, seed(r))]))
        }),
        ("logsumexp", |s, r| {
            let (a, k) = (random_axes(s.len(), r), r.random_bool(0.5));
            Some(case!("logsumexp", [a], |v| v[0].logsumexp(&a, k), vec![randn(s, seed(r))]))
        }),
        ("softmax", |s, r| {
            let axis = r.random_range(-(s.len() as i64)..s.len().max(1) as i64) as isize;
            (!s.is_empty()).then(|| case!("softmax", |v| v[0].softmax(axis), vec![randn(s, seed(r))]))
        }),
        ("log_softmax", |s, r| {
            let axis = r.random_range(-(s.len() as i64)..s.len().max(1) as i64) as isize;
            (!s.is_empty()).then(|| case!("log_softmax", |v| v[0].log_softmax(axis), vec![randn(s, seed(r))]))
        }),
        ("permute", |s, r| {
            let mut p: Vec<usize> = (0..s.len()).collect();
            p.shuffle(r);
            Some(case!("permute", [p], |v| v[0].permute(&p), vec![randn(s, seed(r))]))
        }),
        ("reshape", |s, r| {
            let target: Vec<usize> = s.iter().rev().copied().collect();
            Some(case!("reshape", [target], |v| v[0].reshape(&target), vec![randn(s, seed(r))]))
        }),
        ("broadcast_to", |s, r| {
            let mut out = vec![2];
            out.extend_from_slice(s);
            Some(case!("broadcast_to", [out], |v| v[0].broadcast_to(&out), vec![randn(s, seed(r))]))
        }),
        ("matmul", |s, r| {
            // a vector (contracting the last axis away) or a k x n matrix
            let k = *s.last()?;
            let w = if r.random_bool(0.3) { vec![k] } else { vec![k, r.random_range(1..=3)] };
            let scale = 1.0 / (k.max(1) as f64).sqrt();
            Some(case!("matmul", |v| v[0].matmul(&v[1]), vec![randn(s, seed(r)), randn(&w, seed(r)).scale(scale)]))
        }),
        ("narrow", |s, r| {
            let axis = r.random_range(0..s.len().max(1));
            let n = *s.get(axis)?;
            let start = r.random_range(0..n.max(1));
            let len = r.random_range(0..=n - start.min(n));
            Some(case!("narrow", |v| v[0].narrow(axis as isize, start, len), vec![randn(s, seed(r))]))
        }),
        ("index_select", |s, r| {
            let axis = r.random_range(0..s.len().max(1));
            let n = *s.get(axis)?;
            let idx: Vec<usize> =
                (0..r.random_range(0..4)).map(|_| r.random_range(0..n.max(1))).filter(|&i| i < n).collect();
            Some(case!("index_select", [idx], |v| v[0].index_select(axis as isize, &idx), vec![randn(s, seed(r))]))
        }),
        ("concat", |s, r| {
            let axis = r.random_range(0..s.len().max(1));
            let mut other = s.to_vec();
            *other.get_mut(axis)? = r.random_range(1..3);
            Some(case!(
                "concat",
                |v| Var::concat(&[&v[0], &v[1]], axis as isize),
                vec![randn(s, seed(r)), randn(&other, seed(r))]
            ))
        }),
        ("where", |s, r| {
            let cond = randn(s, seed(r)).map(|v| if v > 0.0 { 1.0 } else { 0.0 });
            Some(case!(
                "where",
                [cond],
                |v| v[0].where_(&cond.cast(), &v[1]),
                vec![randn(s, seed(r)), randn(s, seed(r))]
            ))
        }),
        ("cross_entropy", |s, r| {
            if s.len() != 2 || s[1] == 0 {
                return None;
            }
            let t: Vec<usize> = (0..s[0]).map(|_| r.random_range(0..s[1])).collect();
            Some(case!("cross_entropy", [t], |v| v[0].cross_entropy(&t), vec![randn(s, seed(r))]))
        }),
        ("bce_with_logits", |s, r| {
            Some(case!(
                "bce_with_logits",
                |v| v[0].binary_cross_entropy_with_logits(&v[1]),
                vec![randn(s, seed(r)), sample(Domain::Unit, s, seed(r))]
            ))
        }),
        ("linear", |s, r| {
            if s.len() != 2 {
                return None;
            }
            let out = r.random_range(1..=3);
            // (relu's kink is covered by the fixed rows: random pre-activations may sit on it)
            let act = [Act::Identity, Act::Sigmoid, Act::Tanh][r.random_range(0..3)];
            let x = randn(s, seed(r));
            Some(case!(
                "linear",
                |v| v[0].linear(&v[1], Some(&v[2]), act),
                vec![x, randn(&[s[1], out], seed(r)), randn(&[out], seed(r))]
            ))
        }),
    ]
}
