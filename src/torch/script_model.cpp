#include "apd/torch/script_model.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <unistd.h>

#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/digest.hpp"
#include "apd/torch/runner.hpp"
#include "graph_geometry.hpp"

namespace apd {

namespace {

namespace jit = torch::jit;

bool is_relu(const jit::Node* node) {
  static const auto relu = c10::Symbol::fromQualString("aten::relu");
  static const auto relu_ = c10::Symbol::fromQualString("aten::relu_");
  return node->kind() == relu || node->kind() == relu_;
}

using PythonLine = std::pair<std::string, std::size_t>;  // file, line

// The Python source line a range was compiled from (a loaded model's ranges
// point into its serialized code; its debug info maps them back), or nothing
// when the model carries no such record.
std::optional<PythonLine> python_line(const jit::SourceRange& range) {
  const auto original = range.findSourceRangeThatGenerated();
  const auto flc = (original ? *original : range).file_line_col();
  if (!flc || std::get<0>(*flc).empty() || std::get<1>(*flc) == 0) return std::nullopt;
  return PythonLine{std::get<0>(*flc), std::get<1>(*flc)};
}

std::optional<PythonLine> serialized_line(const jit::SourceRange& range) {
  const auto flc = range.file_line_col();
  if (!flc) return std::nullopt;
  return PythonLine{std::get<0>(*flc), std::get<1>(*flc)};
}

bool in_torch(const PythonLine& line) { return line.first.find("/torch/") != std::string::npos; }

std::string show(const PythonLine& line) {
  return fmt::format("{}:{}", std::filesystem::path(line.first).filename().string(), line.second);
}

}  // namespace

// Lines of the model's serialized code -> the user's Python lines, learnt
// from forward's nodes before inlining: the debug info does not map every
// range (not a call to F.relu, for one), but some node on the same
// serialized line usually is mapped, and a serialized line holds one
// statement of the user's code.
class SourceLines {
 public:
  explicit SourceLines(const jit::Graph& forward) { learn(forward.block()); }

  // Where a node comes from, for the user: the first user line (outside
  // PyTorch's own package) among its call sites, outermost first (an inlined
  // F.relu is named by the line of forward that called it), and its own
  // range; failing that, any line (a traced F.relu records only
  // functional.py's); "" without debug info.
  [[nodiscard]] std::string of(const jit::Node* node) const {
    std::vector<jit::SourceRange> ranges;
    if (const auto stack = node->callstack()) {
      for (const auto& frame : (*stack)->vec()) ranges.push_back(std::get<1>(frame));
    }
    ranges.push_back(node->sourceRange());
    std::optional<PythonLine> fallback;
    for (const auto& range : ranges) {
      auto line = python_line(range);
      if (!line || in_torch(*line)) {
        const auto serialized = serialized_line(range);
        const auto known = serialized ? lines_.find(*serialized) : lines_.end();
        if (known != lines_.end()) line = known->second;
      }
      if (line && !in_torch(*line)) return show(*line);
      if (line && !fallback) fallback = line;
    }
    return fallback ? show(*fallback) : std::string();
  }

 private:
  void learn(const jit::Block* block) {
    for (const jit::Node* node : block->nodes()) {
      const auto serialized = serialized_line(node->sourceRange());
      const auto line = python_line(node->sourceRange());
      if (serialized && line && !in_torch(*line)) lines_.emplace(*serialized, *line);
      for (const jit::Block* sub : node->blocks()) learn(sub);
    }
  }

  std::map<PythonLine, PythonLine> lines_;
};

namespace {

bool holds_relu(const jit::Block* block) {
  for (const jit::Node* node : block->nodes()) {
    if (is_relu(node)) return true;
    for (const jit::Block* sub : node->blocks()) {
      if (holds_relu(sub)) return true;
    }
  }
  return false;
}

// The top-level loop or branch holding a ReLU call, if any.
const jit::Node* control_holding_relu(const jit::Block* top) {
  for (const jit::Node* node : top->nodes()) {
    for (const jit::Block* sub : node->blocks()) {
      if (holds_relu(sub)) return node;
    }
  }
  return nullptr;
}

jit::Module load_module(const std::filesystem::path& path) {
  const std::string name = path.string();
  if (!std::filesystem::exists(path)) throw Error(fmt::format("{}: no such file", name));
  ::close(open_regular_file(path));  // not a FIFO (jit::load would wait on it) or a directory
  jit::Module module;
  try {
    module = jit::load(name);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error(
        fmt::format("{}: not a loadable TorchScript model (save it with torch.jit.script(m).save(f) or "
                    "torch.jit.trace(m, x).save(f)): {}",
                    name, what.substr(0, what.find('\n'))));
  }
  if (!module.find_method("forward")) throw Error(fmt::format("{}: the model has no forward method", name));
  return module;
}

// The module in eval mode, frozen, so that parameters and `self.training`
// are constants the passes can fold.
jit::Module frozen(jit::Module module, const std::string& name) {
  module.eval();
  try {
    return jit::freeze_module(module);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error(fmt::format("{}: cannot freeze the model for inference: {}", name, what.substr(0, what.find('\n'))));
  }
}

std::vector<jit::Node*> relu_nodes_of(jit::Graph& graph) {
  std::vector<jit::Node*> nodes;
  for (jit::Node* node : graph.nodes()) {
    if (is_relu(node)) nodes.push_back(node);
  }
  return nodes;
}

}  // namespace

struct ScriptModel::Impl {
  std::filesystem::path path;
  std::string name;
  std::int64_t classes = 0;  // known after probe()
  jit::Module module;
  std::shared_ptr<jit::Graph> plain;  // forward inlined and folded, its ReLU calls at top level
  std::vector<ReluLayer> layers;
  std::size_t relus = 0;
  // forward with the `out > 0` of the layers in `observed` as extra outputs,
  // built on the first pass that asks for them: the comparisons of layers
  // nobody reads (a conv net's wide ones, under --layers) cost a bool per
  // neuron and a pass over the activations each.
  std::vector<std::size_t> observed;
  std::unique_ptr<jit::GraphFunction> function;
  std::shared_ptr<const SourceLines> source_lines;
  std::unique_ptr<GraphGeometry> geometry;  // built when first asked for

  void prepare(const SourceLines& lines) {
    plain = module.get_method("forward").graph()->copy();
    jit::Inline(*plain);
    jit::ConstantPropagation(plain);
    jit::EliminateDeadCode(plain);
    if (const jit::Node* control = control_holding_relu(plain->block())) {
      const std::string where = lines.of(control);
      throw Error(fmt::format("{}: a ReLU call stays inside the {}{} of forward, so it has no fixed layer in the APD",
                              name, control->kind() == c10::prim::Loop ? "loop" : "branch",
                              where.empty() ? "" : " at " + where));
    }
    if (plain->outputs().size() != 1) throw Error(fmt::format("{}: forward returns more than one value", name));
    const std::vector<jit::Node*> relu_nodes = relu_nodes_of(*plain);
    if (relu_nodes.empty()) throw Error(fmt::format("{}: forward calls no ReLU (aten::relu or aten::relu_)", name));
    for (const jit::Node* node : relu_nodes) layers.push_back({layers.size() + 1, lines.of(node), {}, 0});
    relus = relu_nodes.size();
  }

  // A graph function returns one value: (logits, pattern of each of
  // `chosen`, 1-based and ascending).
  void observe(const std::vector<std::size_t>& chosen) {
    if (function && observed == chosen) return;
    auto graph = plain->copy();
    const std::vector<jit::Node*> relu_nodes = relu_nodes_of(*graph);
    std::vector<jit::Value*> outputs{graph->outputs()[0]};
    for (const std::size_t l : chosen) {
      jit::Node* node = relu_nodes.at(l - 1);
      const jit::WithInsertPoint guard(node->next());
      jit::Value* zero = graph->insertConstant(0);
      outputs.push_back(graph->insert(c10::Symbol::fromQualString("aten::gt"), {node->output(), zero}));
    }
    graph->eraseOutput(0);
    {
      const jit::WithInsertPoint guard(graph->return_node());
      graph->registerOutput(graph->insertNode(graph->createTuple(outputs))->output());
    }
    function = std::make_unique<jit::GraphFunction>("apd_forward", graph, nullptr);
    observed = chosen;
  }

  // One forward pass: the logits, then one bool tensor per observed layer.
  std::vector<c10::IValue> run(const torch::Tensor& input) {
    jit::Stack stack{module._ivalue(), input};
    // The graph runs as frozen and instrumented, without the executor's
    // profiling runs and re-optimisations: the kernels eager PyTorch calls,
    // from the first batch on. (Freezing needs the optimizer: off here only.)
    const jit::GraphOptimizerEnabledGuard unoptimised(false);
    try {
      function->run(stack);
      return stack.at(0).toTupleRef().elements().vec();
    } catch (const c10::Error& e) {
      throw forward_failed(input, e.what_without_backtrace());
    } catch (const std::exception& e) {  // the interpreter's own (torch::jit::JITException)
      throw forward_failed(input, e.what());
    }
  }

  // The error the model raised, in one line: the interpreter puts the
  // Python-level message ("RuntimeError: ...") on its last line.
  [[nodiscard]] Error forward_failed(const torch::Tensor& input, std::string_view what) const {
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.remove_suffix(1);
    const auto last = what.rfind('\n');
    const std::string_view line = last == std::string_view::npos ? what : what.substr(last + 1);
    return Error(fmt::format("{}: forward failed on instances of shape {} (--input-shape sets it): {}", name,
                             fmt::join(input.sizes().slice(1), "x"), line));
  }
};

ScriptModel::ScriptModel(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->name = path.string();
  const jit::Module loaded = load_module(path);
  impl_->source_lines = std::make_shared<const SourceLines>(*loaded.get_method("forward").graph());
  impl_->module = frozen(loaded, impl_->name);
  impl_->prepare(*impl_->source_lines);
}

ScriptModel::~ScriptModel() = default;

std::size_t ScriptModel::relu_count() const noexcept { return impl_->relus; }
const std::vector<ReluLayer>& ScriptModel::layers() const noexcept { return impl_->layers; }
const std::filesystem::path& ScriptModel::file() const noexcept { return impl_->path; }

void ScriptModel::bind(const InstanceReader& data) {
  if (impl_->classes == 0) probe(probe_batch(data));
}

std::vector<std::vector<std::int64_t>> ScriptModel::relu_shapes() const {
  std::vector<std::vector<std::int64_t>> shapes;
  for (const auto& l : layers()) shapes.push_back(l.shape);
  return shapes;
}

std::vector<std::size_t> ScriptModel::relu_widths() const {
  std::vector<std::size_t> widths;
  for (const auto& l : impl_->layers) widths.push_back(static_cast<std::size_t>(l.width));
  return widths;
}

std::int64_t ScriptModel::classes() const { return impl_->classes; }

nlohmann::json ScriptModel::record(const std::vector<std::size_t>& layers) const {
  nlohmann::json relus = nlohmann::json::array();
  for (const auto& l : impl_->layers) {
    relus.push_back({{"layer", l.index}, {"source", l.source}, {"shape", l.shape}, {"width", l.width}});
  }
  return {{"architecture", architecture()}, {"file", impl_->name}, {"sha256", sha256_file(impl_->path)},
          {"relu_layers", relus},           {"layers", layers},    {"classes", impl_->classes}};
}

std::int64_t ScriptModel::probe(const torch::Tensor& probe) {
  torch::InferenceMode guard;
  std::vector<std::size_t> all(impl_->relus);
  for (std::size_t l = 0; l < all.size(); ++l) all[l] = l + 1;
  impl_->observe(all);
  const auto outputs = impl_->run(probe);
  const std::int64_t n = probe.size(0);
  const auto& logits = outputs[0];
  if (!logits.isTensor() || logits.toTensor().dim() != 2 || logits.toTensor().size(0) != n) {
    throw Error(fmt::format(
        "{}: forward must return logits of shape [N, classes]; for {} instances it returned {}", impl_->name, n,
        logits.isTensor() ? fmt::format("shape {}", fmt::join(logits.toTensor().sizes(), "x")) : logits.tagKind()));
  }
  for (std::size_t l = 0; l < impl_->relus; ++l) {
    const torch::Tensor t = outputs[l + 1].toTensor();
    ReluLayer& layer = impl_->layers[l];
    if (t.dim() < 1 || t.size(0) != n) {
      throw Error(fmt::format("{}: ReLU layer {} has shape {}: not one row per instance", impl_->name, l + 1,
                              fmt::join(t.sizes(), "x")));
    }
    layer.shape.assign(t.sizes().begin() + 1, t.sizes().end());
    layer.width = 1;
    for (const auto s : layer.shape) layer.width *= s;
    if (layer.width == 0) throw Error(fmt::format("{}: ReLU layer {} has no neurons", impl_->name, l + 1));
  }
  if (logits.toTensor().size(1) == 0) {
    throw Error(fmt::format("{}: forward returned logits of shape {}x0: a classifier needs at least one class",
                            impl_->name, n));
  }
  impl_->classes = logits.toTensor().size(1);
  return impl_->classes;
}

ModelOutput ScriptModel::forward(const torch::Tensor& input, const std::vector<std::size_t>& layers) {
  impl_->observe(layers);
  auto outputs = impl_->run(input);
  // Every batch is checked as the probe was: a model's code may return
  // other shapes or types for other inputs.
  const std::int64_t n = input.size(0);
  const auto& z = outputs[0];
  if (!z.isTensor() || z.toTensor().dim() != 2 || z.toTensor().size(0) != n || z.toTensor().size(1) != impl_->classes ||
      !z.toTensor().is_floating_point()) {
    throw Error(
        fmt::format("{}: forward returned {} for a batch of {} instances; the probe gave float logits of shape [N, {}]",
                    impl_->name,
                    z.isTensor() ? fmt::format("{} of shape {}", c10::toString(z.toTensor().scalar_type()),
                                               fmt::join(z.toTensor().sizes(), "x"))
                                 : std::string(z.tagKind()),
                    n, impl_->classes));
  }
  ModelOutput out{z.toTensor(), {}};
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const torch::Tensor p = outputs[k + 1].toTensor();
    const ReluLayer& layer = impl_->layers[layers[k] - 1];
    if (p.dim() < 1 || p.size(0) != n || p.numel() != n * layer.width) {
      throw Error(fmt::format("{}: ReLU layer {} gave shape {} for a batch of {}; the probe gave {} per instance",
                              impl_->name, layers[k], fmt::join(p.sizes(), "x"), n, fmt::join(layer.shape, "x")));
    }
    out.patterns.push_back(p.flatten(1).contiguous());
  }
  return out;
}

RegionGeometry ScriptModel::geometry(const torch::Tensor& input, std::span<const std::int32_t> predicted,
                                     const GeometryPlan& plan, std::int64_t phase) {
  if (!impl_->geometry) {
    impl_->geometry = std::make_unique<GraphGeometry>(
        *impl_->plain, impl_->relus, [lines = impl_->source_lines](const jit::Node* node) { return lines->of(node); },
        impl_->name);
  }
  std::int64_t widest = input.size(0) == 0 ? 1 : input.numel() / input.size(0);
  for (const auto& l : impl_->layers) widest = std::max(widest, l.width);
  return impl_->geometry->measure(input, predicted, plan, phase, widest);
}

}  // namespace apd
