//! Tensor construction, access, conversion, kernels and printing.

use autograd::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn constructors() {
    assert_eq!(Tensor::<f64>::zeros([2, 3]).to_vec(), vec![0.0; 6]);
    assert_eq!(Tensor::<f32>::ones([2]).to_vec(), vec![1.0, 1.0]);
    assert_eq!(Tensor::<f64>::full([2], 7.5).to_vec(), vec![7.5, 7.5]);
    let s = Tensor::<f64>::scalar(4.0);
    assert_eq!(s.ndim(), 0);
    assert_eq!(s.item(), 4.0);
    assert_eq!(Tensor::<f64>::arange(4).to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(Tensor::<f64>::arange_step(1.0, 2.0, 0.25).to_vec(), vec![1.0, 1.25, 1.5, 1.75]);
    assert_eq!(Tensor::<f64>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    assert!(Tensor::<f64>::from_vec(vec![1.0; 6], [2, 3]).is_ok());
    assert!(Tensor::<f64>::from_vec(vec![1.0; 6], [4, 2]).is_err());
    assert!(Tensor::<f64>::from_vec(vec![], [usize::MAX, 3]).is_err());
}

#[test]
fn random_constructors_are_seeded_and_have_the_right_statistics() {
    let a = Tensor::<f64>::randn([10000], &mut StdRng::seed_from_u64(1));
    let b = Tensor::<f64>::randn([10000], &mut StdRng::seed_from_u64(1));
    assert_eq!(a, b);
    let mean = a.mean_all();
    let var = a.map(|v| (v - mean) * (v - mean)).mean_all();
    assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
    let u = Tensor::<f32>::rand_uniform([10000], -2.0, 3.0, &mut StdRng::seed_from_u64(2));
    assert!(u.data().iter().all(|&v| (-2.0..3.0).contains(&v)));
    assert!((u.mean_all() - 0.5).abs() < 0.1);
    let n = Tensor::<f64>::rand_normal([10000], 5.0, 0.1, &mut StdRng::seed_from_u64(3));
    assert!((n.mean_all() - 5.0).abs() < 0.01);
}

#[test]
fn access_and_conversion() {
    let t = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), [2, 3]).unwrap();
    assert_eq!(t.get(&[1, 0]), 3.0);
    assert_eq!(t.try_get(&[2, 0]), None);
    assert_eq!(t.try_get(&[0]), None);
    let f: Tensor<f32> = t.cast();
    assert_eq!(f.to_vec(), vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let back: Tensor<f64> = Tensor::<f32>::from_slice(&[0.1]).cast();
    assert_eq!(back.item(), 0.1f32 as f64);
}

#[test]
fn display_like_numpy() {
    let t = Tensor::<f64>::from_vec(vec![1.0, 2.5, -3.0, 4.0], [2, 2]).unwrap();
    assert_eq!(format!("{t}"), "[[ 1.0000  2.5000]\n [-3.0000  4.0000]]");
    assert_eq!(format!("{t:.1}"), "[[ 1.0  2.5]\n [-3.0  4.0]]");
    assert_eq!(format!("{}", Tensor::<f32>::scalar(0.5)), "0.5000");
    let big = Tensor::<f64>::arange(2000).reshape([2, 1000]);
    let s = format!("{big:.0}");
    assert!(s.contains("..."), "{s}");
    assert!(s.len() < 200, "large tensors are summarised: {s}");
    let d = format!("{:?}", Tensor::<f32>::zeros([2]));
    assert!(d.starts_with("Tensor(shape=[2], dtype=f32, "), "{d}");
}

#[test]
fn broadcasting_and_reductions() {
    let a = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), [2, 3]).unwrap();
    let b = Tensor::<f64>::from_vec(vec![10.0, 20.0], [2, 1]).unwrap();
    assert_eq!(a.add(&b).to_vec(), vec![10.0, 11.0, 12.0, 23.0, 24.0, 25.0]);
    assert_eq!(a.sum_axes(&[1], true).shape(), &[2, 1]);
    assert_eq!(a.sum_axes(&[1], false).to_vec(), vec![3.0, 12.0]);
    assert_eq!(a.max_axes(&[0], false).to_vec(), vec![3.0, 4.0, 5.0]);
    assert_eq!(a.min_axes(&[], false).item(), 0.0);
    assert_eq!(a.argmax(1).0, vec![2, 2]);
    assert_eq!(a.sum_to(&[3]).to_vec(), vec![3.0, 5.0, 7.0]);
    let c = Tensor::<f64>::ones([4, 1, 3]);
    let d = Tensor::<f64>::ones([2, 1]);
    assert_eq!(c.mul(&d).shape(), &[4, 2, 3]);
    // middle-axis reduction goes through the general strided path
    let x = Tensor::<f64>::arange(24).reshape([2, 3, 4]);
    let s = x.sum_axes(&[1], false);
    assert_eq!(s.get(&[1, 2]), 14.0 + 18.0 + 22.0);
}

#[test]
fn shape_kernels() {
    let x = Tensor::<f64>::arange(24).reshape([2, 3, 4]);
    let p = x.permute(&[2, 0, 1]);
    assert_eq!(p.shape(), &[4, 2, 3]);
    assert_eq!(p.get(&[3, 1, 2]), x.get(&[1, 2, 3]));
    assert_eq!(x.narrow(2, 1, 2).get(&[1, 1, 1]), x.get(&[1, 1, 2]));
    let cat = Tensor::try_concat(&[&x, &x.narrow(1, 0, 1)], 1).unwrap();
    assert_eq!(cat.shape(), &[2, 4, 4]);
    assert_eq!(cat.get(&[1, 3, 2]), x.get(&[1, 0, 2]));
    let sel = x.try_index_select(1, &[2, 2]).unwrap();
    assert_eq!(sel.get(&[0, 1, 3]), x.get(&[0, 2, 3]));
    let g = x.try_gather(2, &[3; 6]).unwrap();
    assert_eq!(g.shape(), &[2, 3, 1]);
    assert_eq!(g.get(&[1, 2, 0]), x.get(&[1, 2, 3]));
    assert!(x.try_gather(2, &[4; 6]).is_err());
    assert!(x.try_narrow(1, 2, 2).is_err());
    let oh = Tensor::<f32>::try_one_hot(&[2, 0], 3).unwrap();
    assert_eq!(oh.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    assert!(Tensor::<f32>::try_one_hot(&[3], 3).is_err());
    assert_eq!(x.try_reshape_infer(&[-1, 4]).unwrap().shape(), &[6, 4]);
}

#[test]
fn matmul_shapes() {
    let a = Tensor::<f64>::ones([2, 3]);
    let v = Tensor::<f64>::ones([3]);
    assert_eq!(a.matmul(&v).shape(), &[2]);
    assert_eq!(v.matmul(&a.transpose(0, 1)).shape(), &[2]);
    assert_eq!(v.matmul(&v).shape(), &[] as &[usize]);
    assert_eq!(Tensor::<f64>::ones([5, 2, 3]).matmul(&Tensor::ones([3, 4])).shape(), &[5, 2, 4]);
    assert_eq!(Tensor::<f64>::ones([0, 3]).matmul(&Tensor::ones([3, 4])).shape(), &[0, 4]);
    assert_eq!(Tensor::<f64>::ones([2, 0]).matmul(&Tensor::ones([0, 4])).to_vec(), vec![0.0; 8]);
    let e = Tensor::<f64>::ones([2, 3]).try_matmul(&Tensor::ones([2, 3])).unwrap_err();
    assert_eq!(e.to_string(), "matmul: [2, 3] x [2, 3]: inner dimensions 3 and 2 differ");
    assert!(Tensor::<f64>::scalar(1.0).try_matmul(&v).is_err());
}

#[test]
fn broadcast_fast_paths_keep_operand_order() {
    // scalar on the left, on the right, one-element tensors of different rank, row broadcast
    let a = Tensor::<f64>::from_vec(vec![10.0], [1]).unwrap();
    let b = Tensor::<f64>::from_vec(vec![3.0], [1, 1]).unwrap();
    assert_eq!(a.sub(&b).to_vec(), vec![7.0]);
    assert_eq!(b.sub(&a).to_vec(), vec![-7.0]);
    let m = Tensor::<f64>::arange(6).reshape([2, 3]);
    let s = Tensor::<f64>::scalar(1.0);
    assert_eq!(s.sub(&m).to_vec(), vec![1.0, 0.0, -1.0, -2.0, -3.0, -4.0]);
    assert_eq!(m.sub(&s).to_vec(), vec![-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
    let row = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], [3]).unwrap();
    assert_eq!(m.sub(&row).to_vec(), vec![-1.0, -1.0, -1.0, 2.0, 2.0, 2.0]);
    assert_eq!(row.sub(&m).to_vec(), vec![1.0, 1.0, 1.0, -2.0, -2.0, -2.0]);
    let big = Tensor::<f32>::ones([1000]);
    assert_eq!(big.map(|v| v * 3.0).sum_all(), 3000.0);
}

#[test]
fn long_reductions_use_lanes_but_stay_exact_where_order_does_not_matter() {
    // integers: the sum is exact whatever the order
    let t = Tensor::<f64>::arange(10_007);
    assert_eq!(t.sum_axes(&[], false).item(), (10_006.0 * 10_007.0) / 2.0);
    let m = t.reshape([1, 10_007]);
    assert_eq!(m.max_axes(&[1], false).item(), 10_006.0);
    assert_eq!(m.min_axes(&[1], false).item(), 0.0);
    let mut v = t.to_vec();
    v[5_000] = f64::NAN;
    let nan = Tensor::from_vec(v, [10_007]).unwrap();
    assert!(nan.max_axes(&[], false).item().is_nan(), "NaN propagates through the lanes");
    assert!(nan.sum_axes(&[], false).item().is_nan());
}

#[test]
fn leading_axis_reductions_match_the_general_path() {
    let x = Tensor::<f64>::arange(2 * 3 * 4).reshape([2, 3, 4]).map(|v| (v * 0.37).sin());
    // over axis 0 and over axes 0 and 1 (rows fast path) vs element-by-element sums
    let s0 = x.sum_axes(&[0], false);
    let s01 = x.sum_axes(&[0, 1], false);
    for j in 0..3 {
        for k in 0..4 {
            assert_eq!(s0.get(&[j, k]), x.get(&[0, j, k]) + x.get(&[1, j, k]));
        }
    }
    for k in 0..4 {
        let want = (0..2).flat_map(|i| (0..3).map(move |j| (i, j))).fold(0.0, |a, (i, j)| a + x.get(&[i, j, k]));
        assert_eq!(s01.get(&[k]), want);
    }
    assert_eq!(x.max_axes(&[0], true).shape(), &[1, 3, 4]);
    assert_eq!(x.sum_to(&[4]).to_vec(), s01.to_vec());
}

/// Large elementwise outputs are filled by several threads; each element is computed on its
/// own, so the result is bit-for-bit that of one thread, for every broadcasting form.
#[test]
fn threaded_elementwise_equals_one_thread() {
    use rand::{rngs::StdRng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(3);
    let x = Tensor::<f32>::rand_uniform([43_001, 7], -3.0, 3.0, &mut rng);
    let y = Tensor::<f32>::rand_uniform([43_001, 7], -3.0, 3.0, &mut rng);
    let row = Tensor::<f32>::rand_uniform([7], -3.0, 3.0, &mut rng);
    let c = Tensor::<f32>::scalar(0.75);
    let run = || vec![x.map(|v| v.exp()), x.add(&y), x.mul(&row), x.sub(&c), c.sub(&x), x.map(|v| v.tanh())];
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(run);
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(run);
    for (k, (a, b)) in one.iter().zip(&two).enumerate() {
        assert_eq!(a.shape(), b.shape());
        assert!(a.data().iter().zip(b.data()).all(|(p, q)| p.to_bits() == q.to_bits()), "case {k} differs");
    }
    // And the values are right (against a plain loop).
    let want: Vec<f32> = x.data().iter().zip(y.data()).map(|(a, b)| a + b).collect();
    assert_eq!(two[1].data(), &want[..]);
    let want: Vec<f32> = x.data().iter().enumerate().map(|(i, a)| a * row.data()[i % 7]).collect();
    assert_eq!(two[2].data(), &want[..]);
    let want: Vec<f32> = x.data().iter().map(|a| 0.75 - a).collect();
    assert_eq!(two[4].data(), &want[..]);
}

/// `broadcast_to` and `permute` copy through strides in runs (blocks, fills, single elements);
/// every element must land where the plain index arithmetic says.
#[test]
fn strided_copies_match_index_arithmetic() {
    let unravel = |mut i: usize, shape: &[usize]| -> Vec<usize> {
        let mut idx = vec![0; shape.len()];
        for d in (0..shape.len()).rev() {
            idx[d] = i % shape[d];
            i /= shape[d];
        }
        idx
    };
    let broadcasts: &[(&[usize], &[usize])] = &[
        (&[], &[4, 3]),
        (&[1], &[5]),
        (&[3], &[4, 3]),
        (&[4, 1], &[4, 3]),
        (&[2, 1, 3], &[2, 5, 3]),
        (&[1, 3, 1], &[2, 3, 4]),
        (&[2, 1, 1, 3], &[2, 4, 5, 3]),
        (&[1, 1], &[1, 1]),
        (&[3], &[0, 3]),
        (&[1, 4], &[2, 1, 3, 4]),
    ];
    for &(from, to) in broadcasts {
        let n: usize = from.iter().product();
        let t = Tensor::<f64>::from_vec((0..n).map(|v| v as f64 + 1.0).collect(), from).unwrap();
        let b = t.broadcast_to(to);
        assert_eq!(b.shape(), to);
        for (i, &v) in b.data().iter().enumerate() {
            let idx = unravel(i, to);
            let off = to.len() - from.len();
            let src: Vec<usize> =
                from.iter().enumerate().map(|(d, &s)| if s == 1 { 0 } else { idx[off + d] }).collect();
            assert_eq!(v, t.get(&src), "broadcast {from:?} -> {to:?} at {idx:?}");
        }
    }
    let t = Tensor::<f64>::arange(2 * 3 * 4 * 5).reshape([2, 3, 4, 5]);
    for perm in [[0, 1, 2, 3], [3, 2, 1, 0], [0, 2, 1, 3], [1, 0, 2, 3], [0, 1, 3, 2], [2, 3, 0, 1]] {
        let p = t.permute(&perm);
        let shape = p.shape().to_vec();
        for (i, &v) in p.data().iter().enumerate() {
            let idx = unravel(i, &shape);
            let mut src = [0; 4];
            for (d, &pd) in perm.iter().enumerate() {
                src[pd] = idx[d];
            }
            assert_eq!(v, t.get(&src), "permute {perm:?} at {idx:?}");
        }
    }
}
