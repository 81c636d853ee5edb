//! Writes a small trained model and its predictions, for checking by hand that PyTorch reads
//! the weights (`safetensors.torch.load_file` + `torch.nn.Sequential.load_state_dict`, strict)
//! and computes the same outputs. See docs/user-guide.md, "Saving and loading".
//!
//! ```text
//! cargo run --release -p nn --example export_for_pytorch -- /tmp/interop
//! python3 crates/nn/examples/check_in_pytorch.py export /tmp/interop
//! ```

use autograd::Tensor;
use nn::losses::SparseCategoricalCrossentropy;
use nn::metrics::Accuracy;
use nn::{Adam, Dense, FitOptions, Model, Relu, Sequential, Softmax};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/interop".into()));
    std::fs::create_dir_all(&dir)?;
    nn::manual_seed(3);
    let mut model = Model::new(Sequential::new().add(Dense::new(4, 16)).add(Relu).add(Dense::new(16, 3)).add(Softmax));
    model.compile(Adam::default(), SparseCategoricalCrossentropy::new(), nn::metrics![Accuracy::new()]);
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::<f32>::rand_uniform([20, 4], -1.0, 1.0, &mut rng);
    let y = Tensor::from_vec((0..20).map(|i| (i % 3) as f32).collect(), [20])?;
    model.fit(&x, &y, FitOptions { epochs: 5, verbose: 0, seed: Some(1), ..Default::default() })?;
    model.save(dir.join("model.safetensors"))?;
    let mut io = nn::StateDict::new();
    io.insert("x".into(), x.clone());
    io.insert("probs".into(), model.predict(&x)?);
    nn::io::save_safetensors(dir.join("io.safetensors"), &io, &[])?;
    println!("wrote {}/model.safetensors and io.safetensors", dir.display());
    Ok(())
}
