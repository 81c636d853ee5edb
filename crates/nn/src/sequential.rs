//! [`Sequential`]: modules applied in order.

use crate::activation::Activation;
use crate::module::{Ctx, Forward, Module, ModuleFields, Visitor, VisitorMut};
use autograd::{Float, Var};

/// Layers applied in order (each `Send`, so a model can move to another thread). A
/// `Sequential` is a module like any other; train it with [`Model`](crate::Model).
///
/// Parameter names are those of the `torch.nn.Sequential` a PyTorch user would write for the
/// same network: each layer is numbered by its position there, where an activation is a
/// module of its own. So `Dense(784, 128).activation(Relu)` takes two indices (`Linear`,
/// `ReLU`), and the MNIST network below saves `0.weight`, `0.bias`, `2.weight`, `2.bias`,
/// `4.weight`, `4.bias`, which `torch.nn.Sequential(Linear(784, 128), ReLU(), Linear(128, 64),
/// ReLU(), Linear(64, 10))` loads with `strict=True` (see
/// [`Module::torch_modules`]). Files written when each layer took one index (`0.*`, `1.*`,
/// `2.*`) still load.
///
/// ```
/// use nn::{Activation, Dense, Module, Sequential};
/// let net = Sequential::<f32>::new()
///     .add(Dense::new(784, 128).activation(Activation::Relu))
///     .add(Dense::new(128, 64).activation(Activation::Relu))
///     .add(Dense::new(64, 10).activation(Activation::Softmax));
/// let names: Vec<String> = net.state_dict().keys().cloned().collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]);
/// ```
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Module<T> + Send>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty stack.
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer (builder form).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + Send + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a layer.
    pub fn push(&mut self, layer: impl Module<T> + Send + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layer at `i`.
    pub fn layer(&self, i: usize) -> Option<&dyn Module<T>> {
        self.layers.get(i).map(|l| &**l as &dyn Module<T>)
    }

    /// The layers' names: their indices in the equivalent `torch.nn.Sequential` (or their
    /// positions, with `legacy`).
    fn names(&self, legacy: bool) -> impl Iterator<Item = String> + '_ {
        self.layers.iter().scan(0, move |next, l| {
            let i = *next;
            *next += if legacy { 1 } else { l.torch_modules().max(1) };
            Some(i.to_string())
        })
    }
}

impl<T: Float> ModuleFields<T> for Sequential<T> {
    fn visit<'a>(&'a self, v: &mut dyn Visitor<'a, T>) {
        let names: Vec<String> = self.names(v.legacy_names()).collect();
        for (name, l) in names.iter().zip(&self.layers) {
            v.module(name, &**l);
        }
    }

    fn visit_mut<'a>(&'a mut self, v: &mut dyn VisitorMut<'a, T>) {
        let names: Vec<String> = self.names(v.legacy_names()).collect();
        for (name, l) in names.iter().zip(&mut self.layers) {
            v.module(name, &mut **l);
        }
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward(&self, x: &Var<T>, ctx: &mut Ctx<T>) -> Var<T> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.forward(&h, ctx);
        }
        h
    }

    fn forward_logits(&self, x: &Var<T>, ctx: &mut Ctx<T>, head: Activation) -> Forward<T> {
        let Some((last, rest)) = self.layers.split_last() else { return Forward::Output(x.clone()) };
        let mut h = x.clone();
        for l in rest {
            h = l.forward(&h, ctx);
        }
        last.forward_logits(&h, ctx, head)
    }

    fn describe(&self) -> String {
        format!("Sequential({})", self.layers.iter().map(|l| l.describe()).collect::<Vec<_>>().join(", "))
    }

    fn in_features(&self) -> Option<usize> {
        self.layers.first().and_then(|l| l.in_features())
    }

    fn out_features(&self, input: Option<usize>) -> Option<usize> {
        self.layers.iter().try_fold(input, |f, l| Some(l.out_features(f))).flatten()
    }
}
