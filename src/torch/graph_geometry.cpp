#include "graph_geometry.hpp"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/remove_mutation.h>

#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "graph_ops.hpp"
#include "linearised.hpp"
#include "patches.hpp"

namespace apd {

namespace jit = torch::jit;
using geometry_ops::construct;
using geometry_ops::is_data;
using geometry_ops::normalised_dim;
using geometry_ops::pair_of;
using geometry_ops::Rule;
using geometry_ops::rules;
using linearised::Dual;
using linearised::Pass;
using linearised::Window2d;

struct GraphGeometry::Impl {
  std::shared_ptr<jit::Graph> graph;
  std::unordered_map<const jit::Node*, std::size_t> relu_layer;
  std::unordered_map<const jit::Node*, Rule> rule;
  std::optional<torch::Tensor> basis;        // a narrow first Linear layer's row space
  std::optional<linearised::Widest> widest;  // what a pass's tangents hold (sized by the first call)
  SourceOf where;
  std::string name;

  // One pass's values: every value's primal, the linearised ones' tangents.
  std::unordered_map<const jit::Value*, c10::IValue> values;
  std::unordered_map<const jit::Value*, Dual> duals;
  std::unordered_map<const jit::Value*, std::vector<std::optional<Dual>>> lists;
  std::unordered_map<const jit::Value*, torch::Tensor> doubles;  // constants in float64

  [[nodiscard]] Error refused(const jit::Node* node, std::string_view why) const {
    const std::string line = where(node);
    return Error(fmt::format("{}: --geometry: {}{} {}", name, node->kind().toQualString(),
                             line.empty() ? "" : " at " + line, why));
  }

  void check(const jit::Value* input);
  void find_basis(const jit::Value* input);
  [[nodiscard]] std::int64_t directions(std::int64_t inputs) const { return basis ? basis->size(0) : inputs; }
  [[nodiscard]] linearised::Widest run(Pass& pass, Dual input, std::span<const std::int32_t> predicted);
  void step(Pass& pass, const jit::Node* node);
  [[nodiscard]] bool follows_patches(const jit::Node* node, Rule r) const;
  void densify_inputs(const jit::Node* node);
  [[nodiscard]] jit::Stack call(const jit::Node* node, const jit::Value* swap = nullptr, const c10::IValue& with = {});
  void evaluate(const jit::Node* node, const jit::Value* swap = nullptr, const c10::IValue& with = {});
  [[nodiscard]] c10::IValue arg(const jit::Node* node, std::size_t i) const;
  [[nodiscard]] const Dual* dual(const jit::Value* v) const {
    const auto d = duals.find(v);
    return d == duals.end() ? nullptr : &d->second;
  }
  [[nodiscard]] bool pooled_only(const jit::Node* node) const;
  [[nodiscard]] torch::Tensor constant(const jit::Value* v);
  [[nodiscard]] torch::Tensor optional_constant(const jit::Value* v);
  [[nodiscard]] const Dual& only_dual(const jit::Node* node, std::size_t input) const;
  void put(const jit::Value* v, Dual d) {
    values[v] = d.p;
    duals[v] = std::move(d);
  }

  void max_pool(Pass& pass, const jit::Node* node);
  void conv(Pass& pass, const jit::Node* node);
  void product(Pass& pass, const jit::Node* node, Rule r);
  void same_op(const jit::Node* node);
  // `dim` of a `dims`-dimensional value, which must not be the batch's.
  void keep_batch_dim(const jit::Node* node, std::int64_t dim, std::int64_t dims) const;
  void reshape(const jit::Node* node);
  void identity(const jit::Node* node);
  void combine(Pass& pass, const jit::Node* node, Rule r);
  [[nodiscard]] bool combine_patches(const jit::Node* node, const torch::Tensor& p, double wa, double wb);
  void scale(const jit::Node* node);
  void cat(Pass& pass, const jit::Node* node);
  void list(const jit::Node* node);
};

// Every op on a value that depends on the input must have a rule; softmax
// only as the graph's result.
void GraphGeometry::Impl::check(const jit::Value* input) {
  std::set<const jit::Value*> dependent{input};
  for (const jit::Node* node : graph->nodes()) {
    bool depends = false;
    for (const jit::Value* v : node->inputs()) depends = depends || dependent.count(v) > 0;
    if (!depends) continue;
    const auto found = rules().find(node->kind().toQualString());
    bool data_out = false;
    for (const jit::Value* v : node->outputs()) {
      if (is_data(v->type())) {
        dependent.insert(v);
        data_out = true;
      }
    }
    if (!data_out) continue;  // a shape query (size, dim): read on the values themselves
    if (found == rules().end()) {
      throw refused(node,
                    "is not an op --geometry follows: the network's only non-linearities must be ReLU and "
                    "max-pooling, its other ops linear (docs/geometry.md lists them)");
    }
    if (found->second == Rule::last_softmax && node->output() != graph->outputs()[0]) {
      throw refused(node, "is followed only as forward's last op (its decision is the logits')");
    }
    rule[node] = found->second;
  }
  if (dependent.count(graph->outputs()[0]) == 0)
    throw Error(fmt::format("{}: forward's result does not depend on its input", name));
}

GraphGeometry::GraphGeometry(jit::Graph& graph, std::size_t relus, SourceOf where, std::string name)
    : impl_(std::make_unique<Impl>()) {
  impl_->graph = graph.copy();
  impl_->where = std::move(where);
  impl_->name = std::move(name);
  // In-place ops become functional where nothing else aliases their input.
  jit::RemoveTensorMutation(impl_->graph);
  jit::EliminateDeadCode(impl_->graph);
  for (const jit::Node* node : impl_->graph->nodes()) {
    const std::string kind = node->kind().toQualString();
    if (kind == "aten::relu" || kind == "aten::relu_") impl_->relu_layer[node] = impl_->relu_layer.size() + 1;
  }
  if (impl_->relu_layer.size() != relus) {
    throw Error(fmt::format("{}: --geometry found {} ReLU calls where the model has {}", impl_->name,
                            impl_->relu_layer.size(), relus));
  }
  const jit::Value* input = impl_->graph->inputs().at(1);
  impl_->check(input);
  impl_->find_basis(input);
}

GraphGeometry::~GraphGeometry() = default;

// When the input feeds, through reshapes only, one Linear layer narrower
// than the input, every gradient lies in that layer's row space: its
// orthonormal basis replaces the input's (same norms, far fewer directions).
void GraphGeometry::Impl::find_basis(const jit::Value* input) {
  const jit::Value* v = input;
  while (v->uses().size() == 1) {
    const jit::Node* user = v->uses()[0].user;
    const auto r = rule.find(user);
    if (r == rule.end()) return;
    if (r->second == Rule::reshape || r->second == Rule::identity) {
      v = user->output();
      continue;
    }
    if (r->second != Rule::linear || user->input(0) != v) return;
    const auto weight = jit::toIValue(user->input(1));
    if (!weight || !weight->isTensor()) return;
    const torch::Tensor w = weight->toTensor();
    if (w.dim() == 2 && w.size(0) < w.size(1)) basis = linearised::row_space(w);
    return;
  }
}

RegionGeometry GraphGeometry::measure(const torch::Tensor& input, std::span<const std::int32_t> predicted,
                                      const GeometryPlan& plan, std::int64_t phase, std::int64_t estimate) {
  const std::int64_t rows = input.size(0);
  if (rows == 0) return {};
  const std::vector<std::int64_t> shape(input.sizes().begin() + 1, input.sizes().end());
  const std::int64_t directions = impl_->directions(input.numel() / rows);
  const auto type = plan.float32_gradients ? torch::kFloat32 : torch::kFloat64;
  const torch::Tensor x = input.to(torch::kFloat64);
  // Patches: for an image input read pixel by pixel (no basis).
  const bool patches = !plan.dense_tangents && !impl_->basis && shape.size() == 3;
  linearised::Widest seen;
  const auto run = [&](Pass& pass, std::int64_t first, std::int64_t begin, std::int64_t k) {
    const torch::Tensor xs = x.narrow(0, first, pass.n());
    Dual in{xs, {}, true};
    if (patches) {
      const linearised::Frame f{{1, 1}, {0, 0}, {1, 1}, {shape[0], shape[1], shape[2]}, begin, k};
      in = Dual{xs, linearised::patches::identity(f, type), true, {}, f};
    } else {
      in.t = linearised::directions(shape, impl_->basis, begin, k, type);
    }
    const linearised::Widest w =
        impl_->run(pass, in, predicted.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(pass.n())));
    seen = {std::max(seen.per_direction, w.per_direction), std::max(seen.patches, w.patches)};
  };
  if (!impl_->widest) {  // sized once, by a pass over one instance (its result is not used)
    (void)linearised::over_chunks(1, 0, directions, plan, linearised::Widest{estimate, 0}, run);
    impl_->widest = seen;
  }
  return linearised::over_chunks(rows, phase, directions, plan, *impl_->widest, run);
}

// One pass of the graph; returns the most numbers its tangents held per instance.
linearised::Widest GraphGeometry::Impl::run(Pass& pass, Dual input, std::span<const std::int32_t> predicted) {
  values.clear();
  duals.clear();
  lists.clear();
  values[graph->inputs()[0]] = c10::IValue();
  put(graph->inputs()[1], std::move(input));
  for (const jit::Node* node : graph->nodes()) step(pass, node);
  const auto out = duals.find(graph->outputs()[0]);
  if (out == duals.end() || out->second.p.dim() != 2)
    throw Error(fmt::format("{}: --geometry: forward's result is not [N, classes] logits", name));
  pass.logits(out->second, predicted);
  linearised::Widest most;
  for (const auto& [v, d] : duals) {
    if (d.shared || d.mask.defined()) continue;
    if (d.frame) {
      most.patches = std::max(most.patches, d.t.numel() / pass.n());
    } else {
      most.per_direction = std::max(most.per_direction, d.p.numel() / pass.n());
    }
  }
  return most;
}

// A ReLU whose output only a max-pooling reads: its tangents may stay lazily masked.
bool GraphGeometry::Impl::pooled_only(const jit::Node* node) const {
  const auto& uses = node->output()->uses();
  if (uses.size() != 1 || uses[0].offset != 0) return false;
  const auto r = rule.find(uses[0].user);
  return r != rule.end() && r->second == Rule::max_pool;
}

c10::IValue GraphGeometry::Impl::arg(const jit::Node* node, std::size_t i) const {
  const jit::Value* v = node->input(i);
  const auto known = values.find(v);
  return known != values.end() ? known->second : *jit::toIValue(v);
}

// Runs `node`'s own operation on the values (with `swap` replaced by `with`).
jit::Stack GraphGeometry::Impl::call(const jit::Node* node, const jit::Value* swap, const c10::IValue& with) {
  jit::Stack stack;
  for (std::size_t i = 0; i < node->inputs().size(); ++i) {
    stack.push_back(node->input(i) == swap ? with : arg(node, i));
  }
  if (!construct(node, stack)) node->getOperation()(stack);
  return stack;
}

void GraphGeometry::Impl::evaluate(const jit::Node* node, const jit::Value* swap, const c10::IValue& with) {
  const jit::Stack stack = call(node, swap, with);
  for (std::size_t i = 0; i < node->outputs().size(); ++i) values[node->outputs()[i]] = stack[i];
}

torch::Tensor GraphGeometry::Impl::constant(const jit::Value* v) {
  const auto known = doubles.find(v);
  if (known != doubles.end()) return known->second;
  const auto value = values.find(v);
  const torch::Tensor t = (value != values.end() ? value->second : *jit::toIValue(v)).toTensor().to(torch::kFloat64);
  if (v->node()->kind() == c10::prim::Constant) doubles[v] = t;
  return t;
}

torch::Tensor GraphGeometry::Impl::optional_constant(const jit::Value* v) {
  const auto value = values.find(v);
  const bool none = value != values.end() ? value->second.isNone() : jit::toIValue(v)->isNone();
  return none ? torch::Tensor() : constant(v);
}

const Dual& GraphGeometry::Impl::only_dual(const jit::Node* node, std::size_t input) const {
  for (std::size_t i = 0; i < node->inputs().size(); ++i) {
    if (i != input && (duals.count(node->input(i)) || lists.count(node->input(i)))) {
      throw refused(node, fmt::format("takes the input-dependent value as argument {}: only argument {} may depend on "
                                      "the input for the network to stay piecewise linear",
                                      i + 1, input + 1));
    }
  }
  const auto d = duals.find(node->input(input));
  if (d == duals.end()) throw refused(node, fmt::format("argument {} must be the input-dependent value", input + 1));
  return d->second;
}

// Whether `node` takes its inputs' receptive-field patches (patches.hpp) as
// they are; if not, they are made dense first. Flattened patches ([N, C*H*W]
// values) go to a Linear layer, or through the ops that do not mind the shape.
bool GraphGeometry::Impl::follows_patches(const jit::Node* node, Rule r) const {
  bool flat = false;
  for (const jit::Value* v : node->inputs()) {
    const Dual* d = dual(v);
    flat = flat || (d && d->frame && d->p.dim() == 2);
  }
  switch (r) {
    case Rule::relu:
    case Rule::max_pool:
    case Rule::conv:
    case Rule::batch_norm: return !flat;
    case Rule::linear: return flat;
    case Rule::identity:
    case Rule::reshape:
    case Rule::add:
    case Rule::sub:
    case Rule::rsub:
    case Rule::scale:
    case Rule::neg: return true;
    default: return false;
  }
}

void GraphGeometry::Impl::densify_inputs(const jit::Node* node) {
  for (const jit::Value* v : node->inputs()) {
    const auto d = duals.find(v);
    if (d != duals.end() && d->second.frame) d->second = linearised::dense(d->second);
  }
}

void GraphGeometry::Impl::step(Pass& pass, const jit::Node* node) {
  if (node->kind() == c10::prim::Constant) return;  // read where used
  const auto found = rule.find(node);
  if (found == rule.end()) return evaluate(node);
  if (!follows_patches(node, found->second)) densify_inputs(node);
  switch (found->second) {
    case Rule::relu: return put(node->output(), pass.relu(only_dual(node, 0), relu_layer.at(node), pooled_only(node)));
    case Rule::max_pool: return max_pool(pass, node);
    case Rule::conv: return conv(pass, node);
    case Rule::linear:
    case Rule::addmm:
    case Rule::matmul: return product(pass, node, found->second);
    case Rule::batch_norm: {
      const Dual& x = only_dual(node, 0);
      if (arg(node, 5).toBool()) throw refused(node, "in training mode: save the model after model.eval()");
      if (arg(node, 3).isNone() || arg(node, 4).isNone()) throw refused(node, "without running statistics");
      return put(node->output(),
                 pass.batch_norm(x, optional_constant(node->input(1)), optional_constant(node->input(2)),
                                 constant(node->input(3)), constant(node->input(4)), arg(node, 7).toDouble()));
    }
    case Rule::same_op: return same_op(node);
    case Rule::reshape: return reshape(node);
    case Rule::identity: return identity(node);
    case Rule::add:
    case Rule::sub:
    case Rule::rsub: return combine(pass, node, found->second);
    case Rule::scale: return scale(node);
    case Rule::neg: {
      const Dual& x = only_dual(node, 0);
      return put(node->output(), Dual{-x.p, -x.t, x.shared, {}, x.frame});
    }
    case Rule::cat: return cat(pass, node);
    case Rule::list: return list(node);
    case Rule::last_softmax: return put(node->output(), only_dual(node, 0));
  }
}

void GraphGeometry::Impl::max_pool(Pass& pass, const jit::Node* node) {
  const Dual& x = only_dual(node, 0);
  if (x.p.dim() != 4) throw refused(node, "over a tensor that is not [N, C, H, W]");
  const auto kernel = pair_of(arg(node, 1), 1);
  const auto stride = arg(node, 2).toIntVector().empty() ? kernel : pair_of(arg(node, 2), 1);
  const auto padding = pair_of(arg(node, 3), 0);
  const auto dilation = pair_of(arg(node, 4), 1);
  const Window2d w{kernel[0],   kernel[1],   stride[0],
                   stride[1],   padding[0],  padding[1],
                   dilation[0], dilation[1], arg(node, 5).toBool()};
  Dual out = pass.max_pool2d(x, w);
  if (node->outputs().size() > 1) evaluate(node);  // the indices, as the op gives them
  put(node->output(0), std::move(out));
}

void GraphGeometry::Impl::conv(Pass& pass, const jit::Node* node) {
  Dual x = only_dual(node, 0);
  const torch::Tensor weight = constant(node->input(1));
  if (x.p.dim() != 4 || weight.dim() != 4) throw refused(node, "is followed for 2-D convolutions of [N, C, H, W] only");
  const bool full = node->kind().toQualString() == std::string("aten::_convolution");
  if (full && arg(node, 6).toBool()) throw refused(node, "transposed: not followed");
  const std::int64_t groups = arg(node, full ? 8 : 6).toInt();
  const auto stride = pair_of(arg(node, 3), 1);
  const auto dilation = pair_of(arg(node, 5), 1);
  std::array<std::int64_t, 2> padding{0, 0};
  if (arg(node, 4).isString()) {
    const std::int64_t th = dilation[0] * (weight.size(2) - 1), tw = dilation[1] * (weight.size(3) - 1);
    if (arg(node, 4).toStringRef() == "same" && th % 2 == 0 && tw % 2 == 0) {
      padding = {th / 2, tw / 2};
    } else if (arg(node, 4).toStringRef() == "same") {  // padded here: PyTorch pads the odd one out at the end
      const std::vector<std::int64_t> pad{tw / 2, tw - tw / 2, th / 2, th - th / 2};
      x = linearised::dense(x);
      x = Dual{at::constant_pad_nd(x.p, pad, 0.0), at::constant_pad_nd(x.t, pad, 0.0), x.shared};
    }
  } else {
    padding = pair_of(arg(node, 4), 0);
  }
  const Window2d w{weight.size(2), weight.size(3), stride[0],   stride[1], padding[0],
                   padding[1],     dilation[0],    dilation[1], false};
  put(node->output(), pass.conv2d(x, weight, optional_constant(node->input(2)), w, groups));
}

void GraphGeometry::Impl::product(Pass& pass, const jit::Node* node, Rule r) {
  if (r == Rule::linear) {
    const Dual& x = only_dual(node, 0);
    return put(node->output(), pass.linear(x, constant(node->input(1)), optional_constant(node->input(2))));
  }
  if (r == Rule::addmm) {  // bias + x @ w, scaled
    const Dual& x = only_dual(node, 1);
    const double beta = arg(node, 3).toScalar().toDouble(), alpha = arg(node, 4).toScalar().toDouble();
    const torch::Tensor w = constant(node->input(2));
    return put(node->output(),
               Dual{at::addmm(constant(node->input(0)), x.p, w, beta, alpha), x.t.mm(w) * alpha, x.shared});
  }
  const Dual& x = only_dual(node, 0);
  const torch::Tensor w = constant(node->input(1));
  if (x.p.dim() < 2 || w.dim() != 2)
    throw refused(node, "is followed as a product of [N, ..., F] by a constant matrix only");
  put(node->output(), Dual{at::matmul(x.p, w), at::matmul(x.t, w), x.shared});
}

void GraphGeometry::Impl::keep_batch_dim(const jit::Node* node, std::int64_t dim, std::int64_t dims) const {
  if (normalised_dim(dim, dims) == 0) throw refused(node, "acts on the batch dimension");
}

void GraphGeometry::Impl::same_op(const jit::Node* node) {
  const Dual& x = only_dual(node, 0);
  const std::string kind = node->kind().toQualString();
  const std::int64_t dims = x.p.dim();
  if (kind == "aten::mean" || kind == "aten::sum") {
    if (node->inputs().size() < 3 || arg(node, 1).isNone())
      throw refused(node, "over every dimension, the batch's too");
    for (const auto d : arg(node, 1).toIntVector()) keep_batch_dim(node, d, dims);
  } else if (kind == "aten::permute") {
    if (normalised_dim(arg(node, 1).toIntVector().at(0), dims) != 0) throw refused(node, "moves the batch dimension");
  } else if (kind == "aten::transpose") {
    keep_batch_dim(node, arg(node, 1).toInt(), dims);
    keep_batch_dim(node, arg(node, 2).toInt(), dims);
  } else if (kind == "aten::select") {
    keep_batch_dim(node, arg(node, 1).toInt(), dims);
  } else if (kind == "aten::slice" && normalised_dim(arg(node, 1).toInt(), dims) == 0) {
    const auto start = arg(node, 2), end = arg(node, 3);
    const bool whole = (start.isNone() || start.toInt() == 0) && (end.isNone() || end.toInt() >= x.p.size(0)) &&
                       arg(node, 4).toInt() == 1;
    if (!whole) throw refused(node, "slices the batch dimension");
    return put(node->output(), x);
  } else if (kind == "aten::constant_pad_nd") {
    if (static_cast<std::int64_t>(arg(node, 1).toIntVector().size()) > 2 * (dims - 1)) {
      throw refused(node, "pads the batch dimension");
    }
    evaluate(node, node->input(0), x.p);
    const torch::Tensor p = values.at(node->output()).toTensor();
    return put(node->output(), Dual{p, at::constant_pad_nd(x.t, arg(node, 1).toIntVector(), 0.0), x.shared});
  }
  evaluate(node, node->input(0), x.p);
  const torch::Tensor p = values.at(node->output()).toTensor();
  put(node->output(), Dual{p, call(node, node->input(0), x.t)[0].toTensor(), x.shared});
}

void GraphGeometry::Impl::reshape(const jit::Node* node) {
  const Dual& x = only_dual(node, 0);
  evaluate(node, node->input(0), x.p.contiguous());
  const torch::Tensor p = values.at(node->output()).toTensor();
  if (p.dim() == 0 || p.size(0) != x.p.size(0)) throw refused(node, "merges the batch dimension with others");
  if (x.frame && x.p.dim() == 4 && p.dim() == 2) return put(node->output(), Dual{p, x.t, x.shared, {}, x.frame});
  densify_inputs(node);  // patches stay patches only when flattened
  put(node->output(), Dual{p, Pass::reshaped(x.t, p), x.shared});
}

void GraphGeometry::Impl::identity(const jit::Node* node) {
  const Dual& x = only_dual(node, 0);
  const std::string kind = node->kind().toQualString();
  if (kind.find("dropout") != std::string::npos && arg(node, 2).toBool()) {
    throw refused(node, "in training mode: save the model after model.eval()");
  }
  if (kind == "aten::to" || kind == "aten::type_as") {
    evaluate(node, node->input(0), x.p);
    if (!values.at(node->output()).toTensor().is_floating_point()) throw refused(node, "casts to a non-float type");
  }
  put(node->output(), x);
}

// A sum of patches (or of patches and a constant), in the frame holding
// both; false when the terms are not all patches of the result's shape.
bool GraphGeometry::Impl::combine_patches(const jit::Node* node, const torch::Tensor& p, double wa, double wb) {
  const Dual* a = dual(node->input(0));
  const Dual* b = dual(node->input(1));
  std::optional<linearised::Frame> frame;
  for (const Dual* d : {a, b}) {
    if (!d) continue;
    if (!d->frame || d->p.sizes() != p.sizes()) return false;
    frame = frame ? linearised::patches::united(*frame, *d->frame) : d->frame;
    if (!frame) return false;
  }
  torch::Tensor t;
  for (const auto& [d, weight] : {std::pair{a, wa}, std::pair{b, wb}}) {
    if (!d) continue;
    const torch::Tensor term = linearised::patches::reframed({d->t, *d->frame}, *frame) * weight;
    t = t.defined() ? t + term : term;
  }
  put(node->output(), Dual{p, t, (!a || a->shared) && (!b || b->shared), {}, frame});
  return true;
}

void GraphGeometry::Impl::combine(Pass& pass, const jit::Node* node, Rule r) {
  evaluate(node);
  const torch::Tensor p = values.at(node->output()).toTensor().to(torch::kFloat64);
  const double alpha = node->inputs().size() > 2 ? arg(node, 2).toScalar().toDouble() : 1.0;
  const double wa = r == Rule::rsub ? -alpha : 1.0;
  const double wb = r == Rule::add ? alpha : r == Rule::sub ? -alpha : 1.0;
  if (combine_patches(node, p, wa, wb)) return;
  densify_inputs(node);
  const Dual* a = dual(node->input(0));
  const Dual* b = dual(node->input(1));
  const bool shared = (!a || a->shared) && (!b || b->shared);
  torch::Tensor t;
  for (const auto& [d, weight] : {std::pair{a, wa}, std::pair{b, wb}}) {
    if (!d) continue;
    torch::Tensor term = (shared ? d->t : pass.spread(*d)) * weight;
    t = t.defined() ? t + term : term;
  }
  const std::vector<std::int64_t> shape = [&] {
    std::vector<std::int64_t> s{t.size(0)};
    s.insert(s.end(), p.sizes().begin() + 1, p.sizes().end());
    return s;
  }();
  if (p.dim() == 0 || p.size(0) != pass.n() || t.dim() != p.dim())
    throw refused(node, "broadcasts over the batch dimension");
  put(node->output(), Dual{p, t.expand(shape), shared});
}

void GraphGeometry::Impl::scale(const jit::Node* node) {
  const bool div = std::string_view(node->kind().toQualString()).substr(0, 9) == "aten::div";
  if (div && node->inputs().size() > 2 && !arg(node, 2).isNone()) throw refused(node, "rounds: not linear");
  const std::size_t which = dual(node->input(0)) ? 0 : 1;
  if (div && which == 1) throw refused(node, "divides by an input-dependent value");
  const c10::IValue other = arg(node, 1 - which);
  if (other.isTensor() && other.toTensor().numel() > 1) densify_inputs(node);  // patches scale by numbers only
  const Dual& x = only_dual(node, which);
  evaluate(node);
  const torch::Tensor p = values.at(node->output()).toTensor().to(torch::kFloat64);
  torch::Tensor t;
  if (other.isTensor()) {
    const torch::Tensor f = other.toTensor().to(torch::kFloat64);
    if (f.dim() >= x.p.dim() && f.size(0) != 1) throw refused(node, "scales each instance differently");
    t = div ? x.t / f : x.t * f;
  } else {
    const double f = other.toScalar().toDouble();
    t = div ? x.t / f : x.t * f;
  }
  put(node->output(), Dual{p, t, x.shared, {}, x.frame});
}

void GraphGeometry::Impl::list(const jit::Node* node) {
  evaluate(node);
  std::vector<std::optional<Dual>> elements;
  for (const jit::Value* v : node->inputs()) elements.push_back(dual(v) ? std::optional<Dual>(*dual(v)) : std::nullopt);
  lists[node->output()] = std::move(elements);
}

void GraphGeometry::Impl::cat(Pass& pass, const jit::Node* node) {
  const auto found = lists.find(node->input(0));
  if (found == lists.end()) throw refused(node, "of a list not built in forward");
  const std::vector<c10::IValue> primal = values.at(node->input(0)).toListRef().vec();
  const std::int64_t dims = primal.at(0).toTensor().dim();
  keep_batch_dim(node, arg(node, 1).toInt(), dims);
  bool shared = true;
  for (const auto& e : found->second) shared = shared && (!e || e->shared);
  std::vector<torch::Tensor> ps, ts;
  for (std::size_t i = 0; i < primal.size(); ++i) {
    const auto& e = found->second[i];
    ps.push_back(e ? e->p : primal[i].toTensor().to(torch::kFloat64));
    if (e) {
      ts.push_back(shared ? e->t : pass.spread(*e));
    } else {
      std::vector<std::int64_t> shape{shared ? pass.k() : pass.n() * pass.k()};
      shape.insert(shape.end(), ps.back().sizes().begin() + 1, ps.back().sizes().end());
      ts.push_back(torch::zeros(shape, torch::kFloat64));
    }
  }
  const std::int64_t dim = arg(node, 1).toInt();
  put(node->output(), Dual{at::cat(ps, dim), at::cat(ts, dim), shared});
}

}  // namespace apd
