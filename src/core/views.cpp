#include "apd/core/views.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"

namespace apd {

namespace {

constexpr std::size_t kMaxViewLayer = 4096;

struct Kind {
  std::string_view name;
  ViewKind kind;
};
constexpr Kind kKinds[] = {{"full", ViewKind::full},
                           {"pool", ViewKind::pool},
                           {"channel", ViewKind::channel},
                           {"top", ViewKind::top},
                           {"neurons", ViewKind::neurons}};

std::optional<ViewKind> kind_named(std::string_view name) {
  for (const auto& k : kKinds) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

std::optional<std::size_t> parse_size(std::string_view s) {
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_share(std::string_view s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::vector<std::size_t> parse_neurons(std::string_view list, const std::string& text) {
  std::vector<std::size_t> neurons;
  while (true) {
    const auto comma = list.find(',');
    const auto item = list.substr(0, comma);
    const auto n = parse_size(item);
    if (!n || *n >= static_cast<std::size_t>(kMaxMonitorWidth)) {
      throw UsageError(fmt::format("--view '{}': '{}' is not a neuron index (0-based)", text, item));
    }
    neurons.push_back(*n);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  std::sort(neurons.begin(), neurons.end());
  if (const auto dup = std::adjacent_find(neurons.begin(), neurons.end()); dup != neurons.end()) {
    throw UsageError(fmt::format("--view '{}': neuron {} is given twice", text, *dup));
  }
  return neurons;
}

// The argument of KIND:ARG into `spec`.
void parse_argument(ViewSpec& spec, std::string_view kind, std::optional<std::string_view> arg,
                    const std::string& text) {
  const auto need = [&](bool ok, const char* what) {
    if (!ok) throw UsageError(fmt::format("--view '{}': {} {}", text, kind, what));
  };
  switch (spec.kind) {
    case ViewKind::full: need(!arg, "takes no argument"); return;
    case ViewKind::pool:
    case ViewKind::top: {
      need(arg.has_value(), "needs :K (e.g. pool:4, top:8)");
      const auto k = parse_size(*arg);
      need(k && *k >= 1 && *k <= static_cast<std::size_t>(kMaxMonitorWidth), "needs :K, a whole number >= 1");
      spec.k = *k;
      return;
    }
    case ViewKind::channel: {
      if (!arg) return;
      const auto s = parse_share(*arg);
      need(s && *s >= 0 && *s < 1, "takes :S, a share in [0, 1)");
      spec.share = *s;
      return;
    }
    case ViewKind::neurons:
      need(arg && !arg->empty(), "needs :I,J,... (0-based neuron indices)");
      spec.neurons = parse_neurons(*arg, text);
      return;
  }
}

std::size_t ceil_div(std::int64_t a, std::size_t k) { return (static_cast<std::size_t>(a) + k - 1) / k; }

void check_conv(const ViewSpec& spec, std::span<const std::int64_t> shape) {
  if (shape.size() != 3) {
    throw UsageError(fmt::format("--view {}: layer {} is not C x H x W (its shape is {})", spec.text(), spec.layer,
                                 fmt::join(shape, "x")));
  }
}

// Calls f(i) for every set bit i of `row`, ascending.
template <typename F>
void for_each_bit(std::span<const std::uint64_t> row, F&& f) {
  for (std::size_t w = 0; w < row.size(); ++w) {
    for (std::uint64_t bits = row[w]; bits != 0; bits &= bits - 1) {
      f(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
    }
  }
}

void set_bit(std::span<std::uint64_t> out, std::size_t i) { out[i / 64] |= std::uint64_t{1} << (i % 64); }

// The n <= 64 bits of `row` from bit `begin` on, bit `begin` lowest.
std::uint64_t bits_at(std::span<const std::uint64_t> row, std::size_t begin, std::size_t n) noexcept {
  const std::size_t w = begin / 64, s = begin % 64;
  std::uint64_t v = row[w] >> s;
  if (s != 0 && s + n > 64) v |= row[w + 1] << (64 - s);
  return n == 64 ? v : v & ((std::uint64_t{1} << n) - 1);
}

// Set bits of `row` in [begin, end).
std::size_t count_range(std::span<const std::uint64_t> row, std::size_t begin, std::size_t end) noexcept {
  std::size_t n = 0;
  for (; begin < end && begin % 64 != 0; begin = std::min(end, (begin / 64 + 1) * 64)) {
    n += static_cast<std::size_t>(std::popcount(bits_at(row, begin, std::min(end, (begin / 64 + 1) * 64) - begin)));
  }
  for (; begin + 64 <= end; begin += 64) n += static_cast<std::size_t>(std::popcount(row[begin / 64]));
  if (begin < end) n += static_cast<std::size_t>(std::popcount(bits_at(row, begin, end - begin)));
  return n;
}

// Rows of at most 64 positions: the rows of a window ORed as words, then
// each K-bit group of the result tested at once.
void apply_pool_rows(const LayerView& v, std::span<const std::uint64_t> full, std::span<std::uint64_t> out) {
  const auto c = static_cast<std::size_t>(v.shape[0]), h = static_cast<std::size_t>(v.shape[1]),
             w = static_cast<std::size_t>(v.shape[2]);
  const std::size_t k = v.spec.k, ho = ceil_div(v.shape[1], k), wo = ceil_div(v.shape[2], k);
  const std::uint64_t group = k >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << k) - 1;
  for (std::size_t ch = 0; ch < c; ++ch) {
    for (std::size_t i = 0; i < ho; ++i) {
      std::uint64_t any = 0;
      for (std::size_t y = i * k; y < std::min(h, i * k + k); ++y) any |= bits_at(full, (ch * h + y) * w, w);
      for (std::size_t j = 0; j < wo && any != 0; ++j) {
        if ((any >> (j * k)) & group) set_bit(out, (ch * ho + i) * wo + j);
      }
    }
  }
}

void apply_pool(const LayerView& v, std::span<const std::uint64_t> full, std::span<std::uint64_t> out) {
  const auto h = static_cast<std::size_t>(v.shape[1]), w = static_cast<std::size_t>(v.shape[2]);
  if (w <= 64) {
    apply_pool_rows(v, full, out);
    return;
  }
  const std::size_t k = v.spec.k, ho = ceil_div(v.shape[1], k), wo = ceil_div(v.shape[2], k);
  for_each_bit(full, [&](std::size_t i) {
    const std::size_t c = i / (h * w), r = i % (h * w);
    set_bit(out, c * ho * wo + (r / w) / k * wo + (r % w) / k);
  });
}

void apply_channel(const LayerView& v, std::span<const std::uint64_t> full, std::span<std::uint64_t> out) {
  const auto hw = static_cast<std::size_t>(v.shape[1] * v.shape[2]);
  for (std::size_t c = 0; c < v.width; ++c) {
    const std::size_t on = count_range(full, c * hw, (c + 1) * hw);
    if (static_cast<double>(on) / static_cast<double>(hw) > v.spec.share) set_bit(out, c);
  }
}

void apply_one(const LayerView& v, std::span<const std::uint64_t> full, std::span<std::uint64_t> out) {
  switch (v.spec.kind) {
    case ViewKind::full: std::copy(full.begin(), full.end(), out.begin()); return;
    case ViewKind::pool: apply_pool(v, full, out); return;
    case ViewKind::channel: apply_channel(v, full, out); return;
    case ViewKind::top:
    case ViewKind::neurons:
      for (std::size_t k = 0; k < v.neurons.size(); ++k) {
        const std::size_t n = v.neurons[k];
        if ((full[n / 64] >> (n % 64)) & 1U) set_bit(out, k);
      }
      return;
  }
}

}  // namespace

std::string_view to_string(ViewKind kind) noexcept {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "full";
}

std::string ViewSpec::text() const {
  switch (kind) {
    case ViewKind::pool:
    case ViewKind::top: return fmt::format("{}={}:{}", layer, to_string(kind), k);
    case ViewKind::channel:
      return share == 0 ? fmt::format("{}=channel", layer) : fmt::format("{}=channel:{}", layer, share);
    case ViewKind::neurons: return fmt::format("{}=neurons:{}", layer, fmt::join(neurons, ","));
    case ViewKind::full: break;
  }
  return fmt::format("{}=full", layer);
}

ViewSpec parse_view(std::string_view text) {
  const std::string t(text);
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) throw UsageError(fmt::format("--view '{}': expected L=KIND[:ARG]", t));
  ViewSpec spec;
  const auto layer = parse_size(text.substr(0, eq));
  if (!layer || *layer == 0 || *layer > kMaxViewLayer) {
    throw UsageError(fmt::format("--view '{}': '{}' is not a ReLU layer (1-based)", t, text.substr(0, eq)));
  }
  spec.layer = *layer;
  const std::string_view rest = text.substr(eq + 1);
  const auto colon = rest.find(':');
  const std::string_view kind = rest.substr(0, colon);
  const auto named = kind_named(kind);
  if (!named) {
    throw UsageError(
        fmt::format("--view '{}': '{}' is not a view (full, pool:K, channel[:S], top:K, neurons:I,J,...)", t, kind));
  }
  spec.kind = *named;
  std::optional<std::string_view> arg;
  if (colon != std::string_view::npos) arg = rest.substr(colon + 1);
  parse_argument(spec, kind, arg, t);
  return spec;
}

LayerView resolve_view(const ViewSpec& spec, std::span<const std::int64_t> shape) {
  LayerView v{spec, {shape.begin(), shape.end()}, 0, 0, {}, std::nullopt};
  v.full_width = std::accumulate(shape.begin(), shape.end(), std::size_t{1},
                                 [](std::size_t a, std::int64_t d) { return a * static_cast<std::size_t>(d); });
  const auto out_of_range = [&](const std::string& what) {
    throw UsageError(fmt::format("--view {}: {}", spec.text(), what));
  };
  switch (spec.kind) {
    case ViewKind::full: v.width = v.full_width; break;
    case ViewKind::pool: {
      check_conv(spec, shape);
      if (spec.k > static_cast<std::size_t>(std::max(shape[1], shape[2]))) {
        out_of_range(fmt::format("K = {} exceeds the layer's {} x {} positions", spec.k, shape[1], shape[2]));
      }
      v.width = static_cast<std::size_t>(shape[0]) * ceil_div(shape[1], spec.k) * ceil_div(shape[2], spec.k);
      break;
    }
    case ViewKind::channel:
      check_conv(spec, shape);
      v.width = static_cast<std::size_t>(shape[0]);
      break;
    case ViewKind::top:
      if (spec.k > v.full_width) {
        out_of_range(fmt::format("K = {} exceeds layer {}'s {} neurons", spec.k, spec.layer, v.full_width));
      }
      v.width = spec.k;
      break;
    case ViewKind::neurons:
      if (spec.neurons.back() >= v.full_width) {
        out_of_range(fmt::format("neuron {} does not exist: layer {} has neurons 0..{}", spec.neurons.back(),
                                 spec.layer, v.full_width - 1));
      }
      v.neurons = spec.neurons;
      v.width = spec.neurons.size();
      break;
  }
  return v;
}

void choose_top(LayerView& view, const PatternStore& store, std::size_t layer) {
  const std::size_t n = store.size();
  std::vector<std::uint64_t> active(view.full_width, 0);
  for (std::size_t i = 0; i < n; ++i) for_each_bit(store.row(layer, i), [&](std::size_t b) { ++active[b]; });
  std::vector<std::size_t> order(view.full_width);
  std::iota(order.begin(), order.end(), std::size_t{0});
  // |active / n - 1/2| compared exactly as |2 * active - n|.
  const auto distance = [&](std::size_t b) {
    const auto twice = 2 * active[b];
    return twice > n ? twice - n : n - twice;
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return distance(a) < distance(b); });
  order.resize(view.spec.k);
  std::sort(order.begin(), order.end());
  view.neurons = std::move(order);
}

void apply_view(const LayerView& view, std::span<const std::uint64_t> full, std::span<std::uint64_t> out) {
  apply_one(view, full, out);
}

PatternStore apply_views(const PatternStore& full, std::span<const LayerView> views) {
  std::vector<std::size_t> widths;
  for (const auto& v : views) widths.push_back(v.width);
  PatternStore out(widths);
  const std::size_t n = full.size();
  out.reserve(n);
  for (std::size_t l = 0; l < views.size(); ++l) {
    std::vector<std::uint64_t> row(out.words(l));
    for (std::size_t i = 0; i < n; ++i) {
      std::fill(row.begin(), row.end(), 0);
      apply_one(views[l], full.row(l, i), row);
      out.append_row(l, row);
    }
  }
  return out;
}

nlohmann::json view_record(const LayerView& v) {
  nlohmann::json r{{"layer", v.spec.layer}, {"view", v.spec.text()}, {"kind", to_string(v.spec.kind)}};
  switch (v.spec.kind) {
    case ViewKind::pool:
    case ViewKind::top: r["arg"] = v.spec.k; break;
    case ViewKind::channel: r["arg"] = v.spec.share; break;
    default: r["arg"] = nullptr;
  }
  r["shape"] = v.shape;
  r["full_width"] = v.full_width;
  r["width"] = v.width;
  if (v.spec.kind == ViewKind::top || v.spec.kind == ViewKind::neurons) r["neurons"] = v.neurons;
  r["from"] = v.from ? nlohmann::json(*v.from) : nlohmann::json(nullptr);
  return r;
}

namespace {

// A record's fields, each checked for its type; throws "WHERE.FIELD: ...".
struct RecordReader {
  const nlohmann::json& r;
  const std::string& where;

  [[noreturn]] void fail(std::string_view field, std::string_view what) const {
    throw Error(fmt::format("{}.{}: {}", where, field, what));
  }
  const nlohmann::json& field(const char* name) const {
    const auto it = r.find(name);
    if (it == r.end()) throw Error(fmt::format("{}: missing field \"{}\"", where, name));
    return *it;
  }
  std::size_t size(const nlohmann::json& j, std::string_view name, std::size_t max) const {
    const bool whole = j.is_number_unsigned() || (j.is_number_integer() && j.get<std::int64_t>() >= 0);
    if (!whole || j.get<std::uint64_t>() > max) fail(name, fmt::format("expected a whole number up to {}", max));
    return j.get<std::size_t>();
  }
  std::vector<std::size_t> sizes(const char* name, std::size_t max) const {
    const nlohmann::json& a = field(name);
    if (!a.is_array()) fail(name, "expected an array");
    std::vector<std::size_t> out;
    for (const auto& e : a) out.push_back(size(e, name, max));
    return out;
  }
};

ViewSpec spec_of(const RecordReader& in) {
  ViewSpec spec;
  spec.layer = in.size(in.field("layer"), "layer", kMaxViewLayer);
  if (spec.layer == 0) in.fail("layer", "ReLU layers are numbered from 1");
  const nlohmann::json& kind = in.field("kind");
  const auto named = kind.is_string() ? kind_named(kind.get<std::string>()) : std::nullopt;
  if (!named) in.fail("kind", "expected one of full, pool, channel, top, neurons");
  spec.kind = *named;
  const nlohmann::json& arg = in.field("arg");
  if (spec.kind == ViewKind::pool || spec.kind == ViewKind::top) {
    spec.k = in.size(arg, "arg", static_cast<std::size_t>(kMaxMonitorWidth));
    if (spec.k == 0) in.fail("arg", "expected K >= 1");  // pool:0 would divide by zero (fuzz_monitor found it)
  } else if (spec.kind == ViewKind::channel) {
    if (!arg.is_number() || !(arg.get<double>() >= 0 && arg.get<double>() < 1))
      in.fail("arg", "expected a share in [0, 1)");
    spec.share = arg.get<double>();
  }
  if (spec.kind == ViewKind::neurons) spec.neurons = in.sizes("neurons", static_cast<std::size_t>(kMaxMonitorWidth));
  return spec;
}

bool ascending(const std::vector<std::size_t>& v) {
  return std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end();
}

}  // namespace

LayerView view_from_record(const nlohmann::json& record, const std::string& where) {
  if (!record.is_object()) throw Error(fmt::format("{}: expected an object", where));
  const RecordReader in{record, where};
  ViewSpec spec = spec_of(in);
  if (spec.kind == ViewKind::neurons && (spec.neurons.empty() || !ascending(spec.neurons))) {
    in.fail("neurons", "expected distinct neuron indices in ascending order");
  }
  const std::vector<std::size_t> dims = in.sizes("shape", static_cast<std::size_t>(kMaxMonitorWidth));
  std::size_t product = 1;
  for (const auto d : dims) {
    product *= d;
    if (d == 0 || product > static_cast<std::size_t>(kMaxMonitorWidth)) in.fail("shape", "not a layer's shape");
  }
  if (dims.empty() || dims.size() > kMaxInputDims) in.fail("shape", "not a layer's shape");
  const std::vector<std::int64_t> shape(dims.begin(), dims.end());
  LayerView v;
  try {
    v = resolve_view(spec, shape);
  } catch (const UsageError& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  }
  if (in.size(in.field("full_width"), "full_width", product) != v.full_width)
    in.fail("full_width", "differs from the shape's");
  if (in.size(in.field("width"), "width", v.full_width) != v.width)
    in.fail("width", "differs from what the view gives");
  if (spec.kind == ViewKind::top) {
    v.neurons = in.sizes("neurons", v.full_width - 1);
    if (v.neurons.size() != spec.k || !ascending(v.neurons)) {
      in.fail("neurons", fmt::format("expected {} distinct neurons in ascending order", spec.k));
    }
  }
  if (const auto from = record.find("from"); from != record.end() && !from->is_null()) {
    if (!from->is_string()) in.fail("from", "expected a file name or null");
    v.from = from->get<std::string>();
  }
  return v;
}

}  // namespace apd
