//! Datasets: batching, shuffling, validation split, one-hot.

use autograd::Tensor;
use nn::data::{epoch_permutation, num_batches, one_hot, one_hot_tensor, Dataset};

fn dataset(n: usize) -> Dataset<f32> {
    let x = Tensor::from_vec((0..n * 2).map(|v| v as f32).collect(), [n, 2]).unwrap();
    let y = Tensor::from_vec((0..n).map(|v| v as f32).collect(), [n]).unwrap();
    Dataset::new(x, y).unwrap()
}

#[test]
fn batches_cover_every_sample_once_and_shuffle_per_epoch() {
    let ds = dataset(103);
    assert_eq!(num_batches(103, 10), 11);
    let mut orders = vec![];
    for epoch in 0..3 {
        let batches: Vec<_> = ds.batches(10, Some((42, epoch))).collect();
        assert_eq!(batches.len(), 11);
        assert!(batches[..10].iter().all(|(x, y)| x.shape() == [10, 2] && y.shape() == [10]));
        assert_eq!(batches[10].0.shape(), &[3, 2], "last batch is partial");
        let order: Vec<usize> = batches.iter().flat_map(|(_, y)| y.data().iter().map(|&v| v as usize)).collect();
        // x and y stay paired
        for (x, y) in &batches {
            for (row, &label) in x.data().chunks(2).zip(y.data()) {
                assert_eq!(row, [2.0 * label, 2.0 * label + 1.0]);
            }
        }
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..103).collect::<Vec<_>>(), "every sample exactly once");
        assert_ne!(order, (0..103).collect::<Vec<_>>(), "shuffled");
        orders.push(order);
    }
    assert_ne!(orders[0], orders[1], "a different order each epoch");
    assert_ne!(orders[1], orders[2]);
    // The order of an epoch depends on (seed, epoch) only.
    let again: Vec<usize> = ds
        .batches(10, Some((42, 1)))
        .flat_map(|(_, y)| y.data().iter().map(|&v| v as usize).collect::<Vec<_>>())
        .collect();
    assert_eq!(again, orders[1]);
    assert_eq!(epoch_permutation(103, 42, 1), orders[1]);
    assert_ne!(epoch_permutation(103, 43, 1), orders[1]);
    // Unshuffled: in order.
    let plain: Vec<f32> = ds.batches(7, None).flat_map(|(_, y)| y.to_vec()).collect();
    assert_eq!(plain, (0..103).map(|v| v as f32).collect::<Vec<_>>());
}

#[test]
fn validation_split_takes_the_end() {
    let ds = dataset(10);
    let (train, val) = ds.split_validation(0.25).unwrap();
    // Keras: split_at = floor(10 * 0.75) = 7
    assert_eq!(train.y().to_vec(), (0..7).map(|v| v as f32).collect::<Vec<_>>());
    assert_eq!(val.y().to_vec(), vec![7.0, 8.0, 9.0]);
    assert_eq!(val.x().to_vec(), vec![14.0, 15.0, 16.0, 17.0, 18.0, 19.0]);
    let (all, none) = ds.split_validation(0.0).unwrap();
    assert_eq!((all.len(), none.len()), (10, 0));
    assert!(ds.split_validation(1.0).is_err());
    assert!(ds.split_validation(-0.1).is_err());
    assert!(dataset(3).split_validation(1e-17).is_err(), "no sample would be left for validation");
    assert_eq!(dataset(3).split_validation(0.1).unwrap().1.len(), 1, "floor(2.7) = 2 for training");
}

#[test]
fn dataset_checks() {
    let e = Dataset::new(Tensor::<f32>::zeros([3, 2]), Tensor::zeros([4])).unwrap_err();
    assert!(e.to_string().contains("3 samples") && e.to_string().contains("4"), "{e}");
    assert!(Dataset::new(Tensor::<f32>::scalar(1.0), Tensor::zeros([1])).is_err());
}

#[test]
fn one_hot_encoding() {
    let t: Tensor<f32> = one_hot(&[2, 0, 1], 3).unwrap();
    assert_eq!(t.shape(), &[3, 3]);
    assert_eq!(t.to_vec(), vec![0., 0., 1., 1., 0., 0., 0., 1., 0.]);
    let e = one_hot::<f32>(&[0, 3], 3).unwrap_err();
    assert!(e.to_string().contains("label 3 at position 1"), "{e}");
    let labels = Tensor::<f32>::from_vec(vec![1.0, 0.0], [2, 1]).unwrap();
    assert_eq!(one_hot_tensor(&labels, 2).unwrap().to_vec(), vec![0., 1., 1., 0.]);
    assert!(one_hot_tensor(&Tensor::<f32>::from_vec(vec![0.5], [1]).unwrap(), 2).is_err());
}
