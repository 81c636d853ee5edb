//! The buffer pool: freed large buffers are reused, never with stale contents, within the
//! limit. One test function, so that no other test in this process touches the pool meanwhile.

use autograd::{pool, Tensor};

#[test]
fn large_buffers_are_reused_within_the_limit() {
    let n = 100_000;
    let a = Tensor::<f32>::full([n], 7.0);
    let ptr = a.data().as_ptr();
    drop(a);
    assert!(pool::pooled_bytes() >= n * 4);

    // The next output of about that size gets the same memory, fully overwritten.
    let x = Tensor::<f32>::arange(n - 5);
    let held = pool::pooled_bytes();
    let y = x.map(|v| v * 2.0);
    assert_eq!(y.data().as_ptr(), ptr, "the freed buffer was not reused");
    assert!(pool::pooled_bytes() < held);
    assert!(y.data().iter().enumerate().all(|(i, &v)| v == 2.0 * i as f32));

    // A much smaller request does not take a buffer it would mostly waste.
    drop(y);
    let small = Tensor::<f32>::zeros([n / 3]);
    assert_ne!(small.data().as_ptr(), ptr);

    // Small tensors are never pooled.
    pool::clear();
    assert_eq!(pool::pooled_bytes(), 0);
    drop(Tensor::<f32>::zeros([100]));
    assert_eq!(pool::pooled_bytes(), 0);

    // Limit 0 turns pooling off; a limit drops what is over it.
    let old = pool::limit();
    pool::set_limit(0);
    drop(Tensor::<f64>::zeros([n]));
    assert_eq!(pool::pooled_bytes(), 0);
    pool::set_limit(old);
    drop(Tensor::<f64>::zeros([n]));
    drop(Tensor::<f64>::zeros([2 * n]));
    assert_eq!(pool::pooled_bytes(), 3 * n * 8);
    pool::set_limit(2 * n * 8);
    assert_eq!(pool::pooled_bytes(), 2 * n * 8, "the oldest buffer goes first");
    pool::set_limit(old);
    pool::clear();
    assert_eq!(pool::pooled_bytes(), 0);

    // Copy-on-write and into_vec still see the right data.
    let t = Tensor::<f64>::full([n], 1.5);
    let mut u = t.clone();
    u.data_mut()[0] = 0.0;
    assert_eq!(t.data()[0], 1.5);
    assert_eq!(u.data()[0], 0.0);
    let v = u.into_vec();
    assert_eq!(v.len(), n);
    assert_eq!(v[1], 1.5);
}
