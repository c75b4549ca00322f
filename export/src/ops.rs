//! The ONNX operators the exporter emits, one small function each, and the [`GraphBuilder`] they
//! append to. Every function takes the value it consumes and returns the name of the value it
//! produces; nodes are named after the checkpoint layer they come from (`blocks.3.conv1`), and a
//! node's output value carries the node's name.
//!
//! Operator semantics follow the ONNX operator specification at opset 17 (Conv-11, PRelu-16,
//! Add-14, Mul-14, DepthToSpace-13, Clip-13, LeakyRelu-16, Relu-14, Concat-13, Resize-13); each is also valid at every opset from 13 (the lowest we write) to 21.

use std::collections::BTreeSet;

use crate::checkpoint::Tensor;
use crate::proto::{AttributeProto, NodeProto, TensorProto, DATA_TYPE_FLOAT};

/// Collects the nodes and initializers of one graph, in topological order.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    /// Nodes in the order they were added (topological by construction).
    pub nodes: Vec<NodeProto>,
    /// Weight tensors.
    pub initializers: Vec<TensorProto>,
    names: BTreeSet<String>,
    node_names: BTreeSet<String>,
    /// Emit PReLU as the `PRelu` operator ([`prelu`]) instead of its ReLU form
    /// ([`prelu_via_relu`]). Set from [`crate::ExportOptions::native_prelu`].
    pub native_prelu: bool,
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an f32 initializer and returns its name. Panics on a duplicate name (a bug).
    pub fn initializer(&mut self, name: &str, t: &Tensor, doc: &str) -> String {
        self.claim(name);
        self.initializers.push(TensorProto {
            dims: t.shape.iter().map(|&d| d as i64).collect(),
            data_type: DATA_TYPE_FLOAT,
            name: name.into(),
            doc_string: doc.into(),
            raw_data: t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.into()
    }

    /// Adds a scalar f32 initializer and returns its name.
    pub fn scalar(&mut self, name: &str, v: f32) -> String {
        self.initializer(name, &Tensor::new(vec![], vec![v]), "")
    }

    /// Whether a value or initializer is already named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Appends a node whose single output value is named like the node, and returns that name.
    /// Panics on a duplicate node or value name (a bug).
    pub fn node(
        &mut self,
        name: &str,
        op_type: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) -> String {
        self.node_with_output(name, op_type, inputs, attribute, name)
    }

    /// Appends a node with an explicitly named output value and returns that name.
    pub fn node_with_output(
        &mut self,
        name: &str,
        op_type: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
        output: &str,
    ) -> String {
        assert!(
            self.node_names.insert(name.to_string()),
            "duplicate node name `{name}`"
        );
        self.claim(output);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: name.into(),
            op_type: op_type.into(),
            attribute,
            ..Default::default()
        });
        output.into()
    }

    fn claim(&mut self, name: &str) {
        assert!(
            self.names.insert(name.to_string()),
            "duplicate value name `{name}`"
        );
    }
}

pub use srgan_contract::proto::{attr_float, attr_int, attr_ints, attr_string};

/// `Conv` with a square kernel (taken from the weight's shape), stride 1 and "same" zero
/// padding; `weight` is `[O, I, k, k]`, `bias` `[O]`.
pub fn conv(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    weight: &str,
    bias: &str,
    k: usize,
) -> String {
    conv_strided(g, name, x, weight, bias, k, 1, k / 2)
}

/// `PRelu` with a per-channel slope initializer shaped `[C, 1, 1]`.
pub fn prelu(g: &mut GraphBuilder, name: &str, x: &str, slope: &str) -> String {
    g.node(name, "PRelu", &[x, slope], vec![])
}

/// PReLU as `x + (1 - a) * Relu(-x)` (`a` the slope): `Mul(x, -1) -> Relu -> Mul(1 - a) ->
/// Add(x)`, with `minus_one` and `one_minus_slope` per-channel initializers shaped `[C, 1, 1]`.
/// The same function (for `x >= 0`: `x`; for `x < 0`: `x - (1 - a) x = a x`, to float
/// rounding), for any slope. ONNX Runtime runs every op of this form in its blocked NCHWc
/// layout (the two `Mul`s become depthwise convs, the `Relu` and the `Add` fuse into them), where
/// `PRelu` has no blocked kernel and costs a layout reorder on each side; tract fuses the chain
/// into one pass. The output value is named `name`, like [`prelu`]'s.
pub fn prelu_via_relu(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    minus_one: &str,
    one_minus_slope: &str,
) -> String {
    let n = mul(g, &format!("{name}.neg"), x, minus_one);
    let r = relu(g, &format!("{name}.relu"), &n);
    let m = mul(g, &format!("{name}.scale"), &r, one_minus_slope);
    add(g, name, x, &m)
}

/// `LeakyRelu` with slope `alpha` for negative inputs.
pub fn leaky_relu(g: &mut GraphBuilder, name: &str, x: &str, alpha: f32) -> String {
    g.node(name, "LeakyRelu", &[x], vec![attr_float("alpha", alpha)])
}

/// `Relu`.
pub fn relu(g: &mut GraphBuilder, name: &str, x: &str) -> String {
    g.node(name, "Relu", &[x], vec![])
}

/// `Concat` along the channel axis (1).
pub fn concat_channels(g: &mut GraphBuilder, name: &str, xs: &[&str]) -> String {
    g.node(name, "Concat", xs, vec![attr_int("axis", 1)])
}

/// Nearest-neighbour upsampling by an integer factor, as PyTorch's
/// `F.interpolate(x, scale_factor=f, mode="nearest")`: `Resize` with `scales` `[1, 1, f, f]`
/// (an initializer, `scales_name`), mode `nearest`, coordinate transformation `asymmetric`
/// and nearest mode `floor`, so `out[y, x] = in[floor(y / f), floor(x / f)]`.
pub fn resize_nearest(g: &mut GraphBuilder, name: &str, x: &str, scales: &str) -> String {
    g.node(
        name,
        "Resize",
        &[x, "", scales],
        vec![
            attr_string("coordinate_transformation_mode", "asymmetric"),
            attr_string("mode", "nearest"),
            attr_string("nearest_mode", "floor"),
        ],
    )
}

/// `Conv` with a square kernel `k`, stride `stride` and zero padding `pad` on every side.
#[allow(clippy::too_many_arguments)]
pub fn conv_strided(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    weight: &str,
    bias: &str,
    k: usize,
    stride: usize,
    pad: usize,
) -> String {
    let (k, s, p) = (k as i64, stride as i64, pad as i64);
    g.node(
        name,
        "Conv",
        &[x, weight, bias],
        vec![
            attr_ints("dilations", &[1, 1]),
            attr_int("group", 1),
            attr_ints("kernel_shape", &[k, k]),
            attr_ints("pads", &[p, p, p, p]),
            attr_ints("strides", &[s, s]),
        ],
    )
}

/// Element-wise `Add` (residual connections, input shift).
pub fn add(g: &mut GraphBuilder, name: &str, a: &str, b: &str) -> String {
    g.node(name, "Add", &[a, b], vec![])
}

/// Element-wise `Mul` (input scaling).
pub fn mul(g: &mut GraphBuilder, name: &str, a: &str, b: &str) -> String {
    g.node(name, "Mul", &[a, b], vec![])
}

/// PixelShuffle as `DepthToSpace` in mode CRD, which is PyTorch's `PixelShuffle` ordering:
/// `out[c, h*r+i, w*r+j] = in[c*r*r + i*r + j, h, w]`.
pub fn depth_to_space(g: &mut GraphBuilder, name: &str, x: &str, blocksize: i64) -> String {
    g.node(
        name,
        "DepthToSpace",
        &[x],
        vec![attr_int("blocksize", blocksize), attr_string("mode", "CRD")],
    )
}

/// `Clip` with its bounds as inputs (opset 11 and later): scalar initializers `min`, `max`.
/// Its output value is named `output` (the graph output).
pub fn clip(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    min: &str,
    max: &str,
    output: &str,
) -> String {
    g.node_with_output(name, "Clip", &[x, min, max], vec![], output)
}
