//! Reverse-mode automatic differentiation on a tape.
//!
//! A [`Graph`] is an arena: every op appends a node holding its value and an [`Op`] that names
//! its inputs (as [`Var`] indices) and saves exactly the extra state its backward needs.
//! [`Graph::backward`] walks the tape once in reverse; [`Grads`] maps each parameter to its
//! gradient. Values are computed only through [`Tensor`] methods, the one dispatch boundary to
//! the kernels. A graph made with [`Graph::inference`] records no op (like `torch.no_grad`) and
//! runs layers in evaluation mode.

mod backward;
pub mod gradcheck;
mod ops;

use crate::error::{Error, Result};
use crate::tensor::Conv2dGeometry;
use crate::tensor::{BinaryOp, Element, Tensor, UnaryOp};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

pub use backward::Grads;

/// A handle to a node of a [`Graph`] (its index on the tape).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(usize);

impl Var {
    /// Position of the node on the tape.
    pub fn index(self) -> usize {
        self.0
    }
}

/// The identity of a trainable parameter, unique for the life of the process; a graph maps each
/// parameter it sees to one [`Var`], however often a layer is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

impl ParamId {
    /// A fresh, never-used identity.
    pub fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        ParamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A recorded operation: its inputs and the state its backward pass needs beyond their values
/// (which stay on the tape) and its own output value.
#[derive(Debug)]
pub enum Op<T: Element> {
    /// An input, constant or parameter: nothing to propagate.
    Leaf,
    /// `op(a) · op(b)`, transposing where the flags say.
    MatMul {
        /// Left operand.
        a: Var,
        /// Right operand.
        b: Var,
        /// Whether `a` is used transposed.
        trans_a: bool,
        /// Whether `b` is used transposed.
        trans_b: bool,
    },
    /// `a op b` with `b` broadcast onto `a`'s shape.
    Binary {
        /// Left operand (sets the output shape).
        a: Var,
        /// Right operand (broadcast).
        b: Var,
        /// Which operation.
        op: BinaryOp,
    },
    /// `a op s` for a constant scalar `s`.
    Scalar {
        /// The tensor operand.
        a: Var,
        /// The constant.
        s: T,
        /// Which operation.
        op: BinaryOp,
    },
    /// An elementwise unary function.
    Unary {
        /// The operand.
        a: Var,
        /// Which function.
        op: UnaryOp,
    },
    /// Sum over one axis (kept, length 1) or over everything (0-d output).
    Sum {
        /// The operand.
        a: Var,
    },
    /// The same elements under another shape.
    Reshape {
        /// The operand.
        a: Var,
    },
    /// Concatenation along an axis.
    Concat {
        /// The parts, in order.
        parts: Vec<Var>,
        /// The axis.
        axis: usize,
    },
    /// A range along an axis.
    Slice {
        /// The operand.
        a: Var,
        /// The axis.
        axis: usize,
        /// First index taken.
        start: usize,
    },
    /// Transpose of a matrix.
    Transpose {
        /// The operand.
        a: Var,
    },
    /// 2-D convolution (NCHW), optional bias.
    Conv2d {
        /// Input `[N, C, H, W]`.
        x: Var,
        /// Weight `[O, C, KH, KW]`.
        w: Var,
        /// Bias `[O]`.
        b: Option<Var>,
        /// Stride and padding.
        geom: Conv2dGeometry,
    },
    /// `avg_pool2d(relu(conv2d(x, w, b)), k)` as one op.
    Conv2dReluPool {
        /// Input `[N, C, H, W]`.
        x: Var,
        /// Weight `[O, C, KH, KW]`.
        w: Var,
        /// Bias `[O]`.
        b: Option<Var>,
        /// Stride and padding.
        geom: Conv2dGeometry,
        /// Pooling window (= stride).
        k: usize,
        /// The relu output `[N, O, OH, OW]` before pooling: where it is positive, the
        /// convolution's output gradient is the pooled gradient spread back; elsewhere 0.
        act: Tensor<T>,
    },
    /// Average pooling, kernel = stride = `k`.
    AvgPool2d {
        /// Input `[N, C, H, W]`.
        x: Var,
        /// Window size.
        k: usize,
    },
    /// Nearest-neighbour upsampling by `k`.
    UpsampleNearest2d {
        /// Input `[N, C, H, W]`.
        x: Var,
        /// Scale factor.
        k: usize,
    },
    /// Rows divided by their clamped L2 norm.
    L2NormalizeRows {
        /// The operand `[n, d]`.
        a: Var,
        /// The clamped norm of each row, `[n]` (a row whose norm is `eps` was clamped: its
        /// gradient is `g / eps`).
        norms: Tensor<T>,
    },
    /// Row-wise logsumexp, output `[n, 1]`.
    LogSumExpRows {
        /// The operand `[n, d]`.
        a: Var,
    },
    /// Row-wise log-softmax.
    LogSoftmaxRows {
        /// The operand `[n, d]`.
        a: Var,
    },
    /// Elements where the mask is true replaced by a constant.
    MaskedFill {
        /// The operand.
        a: Var,
        /// One flag per element.
        mask: Vec<bool>,
    },
    /// Rows picked by index (rows may repeat).
    GatherRows {
        /// The operand `[n, ...]`.
        a: Var,
        /// The picked rows.
        indices: Vec<usize>,
    },
}

struct Node<T: Element> {
    value: Tensor<T>,
    op: Op<T>,
    requires_grad: bool,
}

/// The tape: values of every node, and the ops that made them when recording.
pub struct Graph<T: Element> {
    nodes: Vec<Node<T>>,
    params: HashMap<ParamId, Var>,
    recording: bool,
    training: bool,
}

impl<T: Element> Default for Graph<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Element> Graph<T> {
    /// A recording graph in training mode.
    pub fn new() -> Self {
        Graph {
            nodes: Vec::new(),
            params: HashMap::new(),
            recording: true,
            training: true,
        }
    }

    /// A graph that records no op and runs layers in evaluation mode (embedding, validation
    /// metrics): values only, no backward.
    pub fn inference() -> Self {
        Graph {
            recording: false,
            training: false,
            ..Self::new()
        }
    }

    /// A graph that records no op but runs layers in training mode (batch statistics, running
    /// statistics updated): a momentum teacher's forward, which nidl runs under
    /// `torch.no_grad()` on a module in train mode. Values only, no backward.
    pub fn frozen() -> Self {
        Graph {
            recording: false,
            ..Self::new()
        }
    }

    /// Whether layers should behave as in training (batch statistics) or evaluation.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Number of nodes on the tape.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the tape is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Forgets every node, keeping the allocation of the tape (for reuse across batches).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.params.clear();
    }

    /// The value of a node.
    pub fn value(&self, v: Var) -> &Tensor<T> {
        &self.nodes[v.0].value
    }

    /// The value of every node, in tape order (what the tape holds: its memory is theirs).
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Tensor<T>> {
        self.nodes.iter().map(|n| &n.value)
    }

    /// A constant input (no gradient flows into it).
    pub fn input(&mut self, value: Tensor<T>) -> Var {
        self.push(value, Op::Leaf, false)
    }

    /// A trainable parameter; the same `id` always maps to the same node of this graph.
    pub fn param(&mut self, id: ParamId, value: &Tensor<T>) -> Var {
        if let Some(&v) = self.params.get(&id) {
            return v;
        }
        let v = self.push(value.clone(), Op::Leaf, self.recording);
        self.params.insert(id, v);
        v
    }

    fn push(&mut self, value: Tensor<T>, op: Op<T>, requires_grad: bool) -> Var {
        self.nodes.push(Node {
            value,
            op,
            requires_grad,
        });
        Var(self.nodes.len() - 1)
    }

    /// Appends an op's result; when not recording, or when no input needs a gradient, the op is
    /// dropped and the node is a constant.
    fn record(&mut self, value: Tensor<T>, op: Op<T>, inputs: &[Var]) -> Var {
        let requires_grad = self.recording && inputs.iter().any(|v| self.nodes[v.0].requires_grad);
        let op = if requires_grad { op } else { Op::Leaf };
        self.push(value, op, requires_grad)
    }

    fn check_var(&self, op: &'static str, v: Var) -> Result<()> {
        if v.0 < self.nodes.len() {
            Ok(())
        } else {
            Err(Error::invalid(
                op,
                format!(
                    "variable {} is not on this graph ({} nodes)",
                    v.0,
                    self.nodes.len()
                ),
            ))
        }
    }
}
