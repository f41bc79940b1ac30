// The small APD several tests compute answers for by hand: 8 instances,
// L = 2, widths 2, flows over layers {1, 2}:
//   A ("00","10") x4: predicted 1,1,1,2, true 1      -> strength 4, purity 0.75, 1 wrong
//   B ("01","11") x2: predicted 3,4, true 3          -> strength 2, purity 0.5 (a tie), 1 wrong
//   C ("11","11") x1: predicted 5, true 5            -> strength 1, purity 1, right
//   D ("00","11") x1: predicted 6, true 0            -> strength 1, purity 1, wrong
#pragma once

#include "apd/core/diagram.hpp"

namespace apd::test {

inline Diagram hand_made(nlohmann::json metadata = nlohmann::json::object()) {
  const std::vector<std::pair<std::string, std::string>> patterns = {
      {"00", "10"}, {"00", "10"}, {"00", "10"}, {"00", "10"}, {"01", "11"}, {"01", "11"}, {"11", "11"}, {"00", "11"}};
  PatternStore store({2, 2});
  for (const auto& [a, b] : patterns) {
    store.append_pattern(0, a);
    store.append_pattern(1, b);
  }
  const std::vector<std::int32_t> label = {1, 1, 1, 1, 3, 3, 5, 0}, predicted = {1, 1, 1, 2, 3, 4, 5, 6};
  const std::vector<std::int64_t> index = {0, 1, 2, 3, 4, 5, 6, 7};
  return build_diagram(store, label, predicted, index, std::move(metadata));
}

}  // namespace apd::test
