// Pattern views: a view maps a layer's full binary pattern A_l(x) to a
// shorter one, V(A_l(x)), so that instances sharing a full pattern share its
// view and the APD of a view is a quotient of the exact APD (each view
// pattern is a union of full patterns, i.e. of linear regions). Chosen per
// layer with --view L=KIND[:ARG] (docs/views.md):
//   full            the pattern itself
//   pool:K          conv layer C x H x W: bit (c, i, j) = OR of the pattern
//                   over rows [iK, iK+K) x columns [jK, jK+K) (edge windows
//                   smaller), c-major like PyTorch
//   channel[:S]     conv layer: bit c = 1 iff the share of channel c's active
//                   positions is > S (default 0: any position active)
//   top:K           the K neurons whose active rate over the extracted
//                   instances is closest to 1/2 (ties: lower index), in
//                   ascending index order
//   neurons:I,J,..  exactly these neurons (0-based flattened indices)
// A view is resolved on a layer (its shape) into a LayerView, which knows
// its width and, for top/neurons, the neurons it keeps; the records written
// to APD and monitor files carry everything needed to apply it again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/pattern_store.hpp"

namespace apd {

enum class ViewKind { full, pool, channel, top, neurons };

[[nodiscard]] std::string_view to_string(ViewKind kind) noexcept;

// What --view asked for on one layer.
struct ViewSpec {
  std::size_t layer = 0;  // 1-based ReLU layer
  ViewKind kind = ViewKind::full;
  std::size_t k = 0;                 // pool:K, top:K
  double share = 0;                  // channel:S, in [0, 1)
  std::vector<std::size_t> neurons;  // neurons:I,J,... (ascending, distinct)

  [[nodiscard]] std::string text() const;  // "3=top:8": what --view reads back
  bool operator==(const ViewSpec&) const = default;
};

// Parses one --view value "L=KIND[:ARG]"; throws UsageError
// "--view 'TEXT': what is wrong".
[[nodiscard]] ViewSpec parse_view(std::string_view text);

// A view resolved on a layer of the given per-instance shape.
struct LayerView {
  ViewSpec spec;
  std::vector<std::int64_t> shape;   // the full pattern's shape (C, H, W for a conv layer; one dim otherwise)
  std::size_t full_width = 0;        // product of shape
  std::size_t width = 0;             // bits of the view pattern
  std::vector<std::size_t> neurons;  // top / neurons: the kept neurons, ascending
  std::optional<std::string> from;   // the file its neurons were taken from (--view-from), if any

  [[nodiscard]] bool is_full() const noexcept { return spec.kind == ViewKind::full; }
};

// Checks `spec` against a layer of `shape` and returns it resolved (for
// top:K the neurons are still to choose: choose_top). Throws UsageError
// "--view 'TEXT': ..." (pool/channel on a layer that is not C x H x W, K or
// an index out of range).
[[nodiscard]] LayerView resolve_view(const ViewSpec& spec, std::span<const std::int64_t> shape);

// top:K's neurons from the full patterns of `layer` in `store`: the K
// neurons whose share of active instances is closest to 1/2 (exact
// comparison of |2 * active - n|; ties: lower index), ascending.
void choose_top(LayerView& view, const PatternStore& store, std::size_t layer);

// Applies one view to one packed full row; `out` has ceil(view.width / 64)
// words, zeroed by the caller.
void apply_view(const LayerView& view, std::span<const std::uint64_t> full, std::span<std::uint64_t> out);
// The store of view patterns: layer k of the result is views[k] applied to
// layer k of `full`.
[[nodiscard]] PatternStore apply_views(const PatternStore& full, std::span<const LayerView> views);

// The record of a view in APD and monitor files: {"layer", "view" (its
// --view text), "kind", "arg", "shape", "full_width", "width", "neurons"
// (top/neurons), "from"}.
[[nodiscard]] nlohmann::json view_record(const LayerView& view);
// Reads a record back and checks it is consistent (its width is what the
// kind and shape give, neurons in range and ascending); throws apd::Error
// "WHERE: what is wrong".
[[nodiscard]] LayerView view_from_record(const nlohmann::json& record, const std::string& where);

}  // namespace apd
