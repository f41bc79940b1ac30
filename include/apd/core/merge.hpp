// The APD of a union of disjoint sets of instances, from the APDs of the
// parts: node and link counts, errors and label histograms are sums, and
// instance records concatenate, so the merge is exact. Nodes, links and
// histograms are ordered as build_diagram orders them, so merging the APDs
// of consecutive slices of a selection gives the very Diagram that
// build_diagram gives for the whole selection. Parts are added one at a
// time: memory is that of the merged diagram plus the part being added.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "apd/core/diagram.hpp"

namespace apd {

class DiagramMerger {
 public:
  DiagramMerger();
  DiagramMerger(const DiagramMerger&) = delete;
  DiagramMerger& operator=(const DiagramMerger&) = delete;
  DiagramMerger(DiagramMerger&&) noexcept;
  DiagramMerger& operator=(DiagramMerger&&) noexcept;
  ~DiagramMerger();

  // Adds a part whose instance records (if any) hold positions
  // `position`.. of the whole selection, so parts may come in any order.
  // Every part must have the same widths, and all or none of them instance
  // records; throws apd::Error otherwise. The caller sees to it that the
  // parts' positions cover 0..N-1 once each.
  void add(const Diagram& part, std::uint64_t position);
  // Room for `instances` instance records in all, when the caller knows the
  // whole: parts then land in place instead of regrowing the arrays.
  void reserve(std::uint64_t instances);
  // The merged diagram with `metadata` completed as build_diagram does.
  [[nodiscard]] Diagram finish(nlohmann::json metadata);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace apd
