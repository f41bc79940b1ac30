#include "apd/torch/script_model.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>

#include <optional>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"

namespace apd {

namespace {

namespace jit = torch::jit;

bool is_relu(const jit::Node* node) {
  static const auto relu = c10::Symbol::fromQualString("aten::relu");
  static const auto relu_ = c10::Symbol::fromQualString("aten::relu_");
  return node->kind() == relu || node->kind() == relu_;
}

// "file.py:23" of the Python source a range was compiled from (a loaded
// model's ranges point into its serialized code; its debug info maps them
// back), or nothing when the model carries no such record.
std::optional<std::pair<std::string, std::size_t>> python_line(const jit::SourceRange& range) {
  const auto original = range.findSourceRangeThatGenerated();
  const auto flc = (original ? *original : range).file_line_col();
  if (!flc || std::get<0>(*flc).empty() || std::get<1>(*flc) == 0) return std::nullopt;
  return std::pair{std::get<0>(*flc), std::get<1>(*flc)};
}

// Where a node comes from, for the user: the first line outside PyTorch's
// own package among its call sites (outermost first: an inlined F.relu is
// named by the line of forward that called it) and its own range; failing
// that, any line (a traced F.relu records only functional.py's).
std::string source_of(const jit::Node* node) {
  std::vector<jit::SourceRange> ranges;
  if (const auto stack = node->callstack()) {
    for (const auto& frame : (*stack)->vec()) ranges.push_back(std::get<1>(frame));
  }
  ranges.push_back(node->sourceRange());
  std::optional<std::pair<std::string, std::size_t>> fallback;
  for (const auto& range : ranges) {
    const auto line = python_line(range);
    if (!line) continue;
    if (line->first.find("/torch/") == std::string::npos) {
      return fmt::format("{}:{}", std::filesystem::path(line->first).filename().string(), line->second);
    }
    if (!fallback) fallback = line;
  }
  return fallback ? fmt::format("{}:{}", std::filesystem::path(fallback->first).filename().string(), fallback->second)
                  : std::string();
}

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

// Loads the module in eval mode and freezes it, so that parameters and
// `self.training` are constants the passes can fold.
jit::Module load_frozen(const std::filesystem::path& path) {
  const std::string name = path.string();
  if (!std::filesystem::is_regular_file(path)) throw Error(fmt::format("{}: no such file", name));
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
  module.eval();
  try {
    return jit::freeze_module(module);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error(fmt::format("{}: cannot freeze the model for inference: {}", name, what.substr(0, what.find('\n'))));
  }
}

}  // namespace

struct ScriptModel::Impl {
  std::string name;
  jit::Module module;
  std::shared_ptr<jit::Graph> graph;
  std::unique_ptr<jit::GraphFunction> function;
  std::vector<ReluLayer> layers;
  std::size_t relus = 0;

  // forward's graph with every ReLU's `out > 0` as an extra output.
  void instrument() {
    graph = module.get_method("forward").graph()->copy();
    jit::Inline(*graph);
    jit::ConstantPropagation(graph);
    jit::EliminateDeadCode(graph);
    if (const jit::Node* control = control_holding_relu(graph->block())) {
      const std::string where = source_of(control);
      throw Error(fmt::format("{}: a ReLU call stays inside the {}{} of forward, so it has no fixed layer in the APD",
                              name, control->kind() == c10::prim::Loop ? "loop" : "branch",
                              where.empty() ? "" : " at " + where));
    }
    if (graph->outputs().size() != 1) throw Error(fmt::format("{}: forward returns more than one value", name));
    std::vector<jit::Node*> relu_nodes;
    for (jit::Node* node : graph->nodes()) {
      if (is_relu(node)) relu_nodes.push_back(node);
    }
    if (relu_nodes.empty()) throw Error(fmt::format("{}: forward calls no ReLU (aten::relu or aten::relu_)", name));
    // A graph function returns one value: (logits, pattern 1, pattern 2, ...).
    std::vector<jit::Value*> outputs{graph->outputs()[0]};
    for (jit::Node* node : relu_nodes) {
      const jit::WithInsertPoint guard(node->next());
      jit::Value* zero = graph->insertConstant(0);
      outputs.push_back(graph->insert(c10::Symbol::fromQualString("aten::gt"), {node->output(), zero}));
      layers.push_back({layers.size() + 1, source_of(node), {}, 0});
    }
    graph->eraseOutput(0);
    {
      const jit::WithInsertPoint guard(graph->return_node());
      graph->registerOutput(graph->insertNode(graph->createTuple(outputs))->output());
    }
    relus = relu_nodes.size();
    function = std::make_unique<jit::GraphFunction>("apd_forward", graph, nullptr);
  }

  // One forward pass: the logits, then one bool tensor per ReLU call.
  std::vector<c10::IValue> run(const torch::Tensor& input) {
    jit::Stack stack{module._ivalue(), input};
    try {
      function->run(stack);
      return stack.at(0).toTupleRef().elements().vec();
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      throw Error(fmt::format("{}: forward failed on input of shape {}: {}", name, fmt::join(input.sizes(), "x"),
                              what.substr(0, what.find('\n'))));
    }
  }
};

ScriptModel::ScriptModel(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->name = path.string();
  impl_->module = load_frozen(path);
  impl_->instrument();
}

ScriptModel::ScriptModel(ScriptModel&&) noexcept = default;
ScriptModel& ScriptModel::operator=(ScriptModel&&) noexcept = default;
ScriptModel::~ScriptModel() = default;

std::size_t ScriptModel::relu_count() const noexcept { return impl_->relus; }
const std::vector<ReluLayer>& ScriptModel::layers() const noexcept { return impl_->layers; }

std::int64_t ScriptModel::probe(const torch::Tensor& probe) {
  torch::InferenceMode guard;
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
  }
  return logits.toTensor().size(1);
}

ScriptOutput ScriptModel::forward(const torch::Tensor& input, const std::vector<std::size_t>& layers) {
  auto outputs = impl_->run(input);
  ScriptOutput out{outputs[0].toTensor(), {}};
  for (const std::size_t l : layers) out.patterns.push_back(outputs[l].toTensor().flatten(1).contiguous());
  return out;
}

}  // namespace apd
