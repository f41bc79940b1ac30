#include "graph_ops.hpp"

namespace apd::geometry_ops {

const std::unordered_map<std::string, Rule>& rules() {
  static const std::unordered_map<std::string, Rule> table{
      {"aten::relu", Rule::relu},
      {"aten::relu_", Rule::relu},
      {"aten::max_pool2d", Rule::max_pool},
      {"aten::max_pool2d_with_indices", Rule::max_pool},
      {"aten::conv2d", Rule::conv},
      {"aten::_convolution", Rule::conv},
      {"aten::_convolution_mode", Rule::conv},  // traced padding="same"
      {"aten::linear", Rule::linear},
      {"aten::addmm", Rule::addmm},
      {"aten::matmul", Rule::matmul},
      {"aten::mm", Rule::matmul},
      {"aten::batch_norm", Rule::batch_norm},
      {"aten::avg_pool2d", Rule::same_op},
      {"aten::adaptive_avg_pool2d", Rule::same_op},
      {"aten::mean", Rule::same_op},
      {"aten::sum", Rule::same_op},
      {"aten::permute", Rule::same_op},
      {"aten::transpose", Rule::same_op},
      {"aten::slice", Rule::same_op},
      {"aten::select", Rule::same_op},
      {"aten::reflection_pad2d", Rule::same_op},
      {"aten::replication_pad2d", Rule::same_op},
      {"aten::constant_pad_nd", Rule::same_op},
      {"aten::flatten", Rule::reshape},
      {"aten::view", Rule::reshape},
      {"aten::reshape", Rule::reshape},
      {"aten::view_as", Rule::reshape},
      {"aten::reshape_as", Rule::reshape},
      {"aten::squeeze", Rule::reshape},
      {"aten::unsqueeze", Rule::reshape},
      {"aten::contiguous", Rule::identity},
      {"aten::clone", Rule::identity},
      {"aten::detach", Rule::identity},
      {"aten::dropout", Rule::identity},
      {"aten::feature_dropout", Rule::identity},
      {"aten::alpha_dropout", Rule::identity},
      {"aten::feature_alpha_dropout", Rule::identity},
      {"aten::to", Rule::identity},
      {"aten::type_as", Rule::identity},
      {"aten::float", Rule::identity},
      {"aten::double", Rule::identity},
      {"aten::add", Rule::add},
      {"aten::add_", Rule::add},
      {"aten::sub", Rule::sub},
      {"aten::sub_", Rule::sub},
      {"aten::rsub", Rule::rsub},
      {"aten::mul", Rule::scale},
      {"aten::mul_", Rule::scale},
      {"aten::div", Rule::scale},
      {"aten::div_", Rule::scale},
      {"aten::neg", Rule::neg},
      {"aten::cat", Rule::cat},
      {"prim::ListConstruct", Rule::list},
      {"aten::softmax", Rule::last_softmax},
      {"aten::log_softmax", Rule::last_softmax},
  };
  return table;
}

bool is_data(const c10::TypePtr& type) {
  return type->kind() == c10::TypeKind::TensorType ||
         (type->kind() == c10::TypeKind::ListType && type->containedType(0)->kind() == c10::TypeKind::TensorType);
}

std::array<std::int64_t, 2> pair_of(const c10::IValue& v, std::int64_t fallback) {
  const std::vector<std::int64_t> list = v.isNone() ? std::vector<std::int64_t>{} : v.toIntVector();
  if (list.empty()) return {fallback, fallback};
  return {list[0], list.size() > 1 ? list[1] : list[0]};
}

// The interpreter's own list and tuple instructions, which have no operator.
bool construct(const jit::Node* node, jit::Stack& stack) {
  const auto kind = node->kind();
  if (kind == c10::prim::ListConstruct) {
    const c10::TypePtr element = node->output()->type()->containedType(0);
    c10::impl::GenericList list(element);
    for (auto& v : stack) list.push_back(std::move(v));
    stack = {c10::IValue(std::move(list))};
  } else if (kind == c10::prim::TupleConstruct) {
    stack = {c10::ivalue::Tuple::create(std::move(stack))};
  } else if (kind == c10::prim::ListUnpack || kind == c10::prim::TupleUnpack) {
    const c10::IValue whole = stack.at(0);
    stack = whole.isTuple() ? whole.toTupleRef().elements().vec() : whole.toListRef().vec();
  } else {
    return false;
  }
  return true;
}

}  // namespace apd::geometry_ops
