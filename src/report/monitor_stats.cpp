#include "apd/report/monitor_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "apd/report/stats.hpp"

namespace apd {

namespace {

Cell count_cell(std::uint64_t v) { return Cell{v}; }
Cell share_cell(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return Cell{};
  return Cell{Decimal{static_cast<double>(part) / static_cast<double>(whole), 4}};
}
Cell optional_cell(std::optional<double> v) {
  if (!v) return Cell{};
  return Cell{Decimal{*v, 4}};
}

// Instance i's score for a detector: a layer's distance, or the combined one.
double score_of(const MonitorScores& m, const ScoredSet& s, std::optional<std::size_t> layer, std::size_t i) {
  if (!layer) return combined_distance(m, s, i);
  const std::uint32_t d = s.distance[*layer][i];
  return d == kNoDistance ? std::numeric_limits<double>::infinity() : static_cast<double>(d);
}

// Groups of equal scores, each instance a positive or not.
template <typename IsPositive>
void add_groups(std::vector<ScoredGroup>& groups, const MonitorScores& m, const ScoredSet& s,
                std::optional<std::size_t> layer, IsPositive&& positive) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    groups.push_back({score_of(m, s, layer, i), 1, positive(i) ? 1U : 0U});
  }
}

std::string score_name(const MonitorScores& m, std::optional<std::size_t> layer) {
  return layer ? fmt::format("layer {}", m.layers[*layer]) : std::string("combined");
}

void add_detection_row(Table& t, const std::string& task, const std::string& score, std::vector<ScoredGroup> groups) {
  std::uint64_t positives = 0;
  for (const auto& g : groups) positives += g.positives;
  const std::uint64_t negatives = groups.size() - positives;
  const auto a = auroc(groups);
  const auto f = fpr_at_95_tpr(std::move(groups));
  t.rows.push_back(
      {Cell{task}, Cell{score}, optional_cell(a), optional_cell(f), count_cell(positives), count_cell(negatives)});
}

std::vector<std::optional<std::size_t>> scores_of(const MonitorScores& m) {
  std::vector<std::optional<std::size_t>> out;
  for (std::size_t k = 0; k < m.layers.size(); ++k) out.emplace_back(k);
  out.emplace_back(std::nullopt);
  return out;
}

}  // namespace

std::vector<std::uint32_t> flag_gammas(const MonitorScores& m) {
  std::vector<std::uint32_t> g{0, 1, 2};
  if (m.gamma > 2) g.push_back(m.gamma);
  return g;
}

Table monitor_flags_table(const MonitorScores& m) {
  Table t{"flags",
          {"set", "gamma", "instances", "flagged", "flagged_share", "misclassified", "misclassified_flagged",
           "misclassified_flagged_share", "precision"},
          {}};
  for (const ScoredSet* s : {&m.in, m.ood ? &*m.ood : nullptr}) {
    if (s == nullptr) continue;
    for (const std::uint32_t gamma : flag_gammas(m)) {
      std::uint64_t flags = 0, wrong = 0, wrong_flagged = 0;
      for (std::size_t i = 0; i < s->size(); ++i) {
        const bool f = flagged(*s, i, gamma);
        const bool w = !s->truth.empty() && s->truth[i] != s->predicted[i];
        flags += f ? 1 : 0;
        wrong += w ? 1 : 0;
        wrong_flagged += f && w ? 1 : 0;
      }
      std::vector<Cell> row{Cell{s->name}, count_cell(gamma), count_cell(s->size()), count_cell(flags),
                            share_cell(flags, s->size())};
      if (s->truth.empty()) {
        row.insert(row.end(), 4, Cell{});
      } else {
        row.insert(row.end(), {count_cell(wrong), count_cell(wrong_flagged), share_cell(wrong_flagged, wrong),
                               share_cell(wrong_flagged, flags)});
      }
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

namespace {

// The logit baselines, each as a suspicion score (higher = more suspicious).
struct Baseline {
  const char* name;
  double (*suspicion)(const LogitScores&);
};
constexpr Baseline kBaselines[] = {{"msp", [](const LogitScores& z) { return -z.msp; }},
                                   {"max_logit", [](const LogitScores& z) { return -z.max_logit; }},
                                   {"energy", [](const LogitScores& z) { return z.energy; }}};

template <typename IsPositive>
void add_baseline_groups(std::vector<ScoredGroup>& groups, const ScoredSet& s, const Baseline& b,
                         IsPositive&& positive) {
  for (std::size_t i = 0; i < s.size(); ++i) groups.push_back({b.suspicion(s.logits[i]), 1, positive(i) ? 1U : 0U});
}

bool has_baselines(const MonitorScores& m) { return !m.in.logits.empty() && (!m.ood || !m.ood->logits.empty()); }

}  // namespace

Table monitor_detection_table(const MonitorScores& m) {
  Table t{"detection", {"task", "score", "auroc", "fpr_at_95_tpr", "positives", "negatives"}, {}};
  const auto wrong = [&](std::size_t i) { return m.in.truth[i] != m.in.predicted[i]; };
  const auto never = [](std::size_t) { return false; };
  const auto always = [](std::size_t) { return true; };
  for (const auto layer : scores_of(m)) {
    std::vector<ScoredGroup> groups;
    add_groups(groups, m, m.in, layer, wrong);
    add_detection_row(t, "misclassification", score_name(m, layer), std::move(groups));
  }
  for (const Baseline& b : kBaselines) {
    if (!has_baselines(m)) break;
    std::vector<ScoredGroup> groups;
    add_baseline_groups(groups, m.in, b, wrong);
    add_detection_row(t, "misclassification", b.name, std::move(groups));
  }
  if (!m.ood) return t;
  for (const auto layer : scores_of(m)) {
    std::vector<ScoredGroup> groups;
    add_groups(groups, m, m.in, layer, never);
    add_groups(groups, m, *m.ood, layer, always);
    add_detection_row(t, "ood", score_name(m, layer), std::move(groups));
  }
  for (const Baseline& b : kBaselines) {
    if (!has_baselines(m)) break;
    std::vector<ScoredGroup> groups;
    add_baseline_groups(groups, m.in, b, never);
    add_baseline_groups(groups, *m.ood, b, always);
    add_detection_row(t, "ood", b.name, std::move(groups));
  }
  return t;
}

}  // namespace apd

namespace apd {

namespace {

constexpr std::size_t kMaxBins = 40;

// Histograms of one score over shared bins: [lo, lo + step), ...; integer
// distances get integer bins.
nlohmann::json score_histograms(const MonitorScores& m, std::optional<std::size_t> layer) {
  struct Group {
    const char* name;
    const ScoredSet* set;
    int want;  // 1 correct, 0 wrong, -1 every instance (ood)
  };
  std::vector<Group> groups{{"correct", &m.in, 1}, {"wrong", &m.in, 0}};
  if (m.ood) groups.push_back({"out of distribution", &*m.ood, -1});
  double top = 0;
  for (const auto& g : groups) {
    for (std::size_t i = 0; i < g.set->size(); ++i) {
      const double s = score_of(m, *g.set, layer, i);
      if (std::isfinite(s)) top = std::max(top, s);
    }
  }
  const bool integer = layer.has_value();
  const double step = integer ? std::ceil((top + 1) / static_cast<double>(kMaxBins)) : std::max(top, 1e-9) / kMaxBins;
  const auto bins = static_cast<std::size_t>(integer ? std::floor(top / step) + 1 : kMaxBins);
  nlohmann::json h{{"score", score_name(m, layer)}, {"integer", integer}, {"step", step}};
  for (std::size_t b = 0; b < bins; ++b) {
    const double lo = static_cast<double>(b) * step;
    h["x"].push_back(integer && step == 1 ? fmt::format("{}", lo) : fmt::format("{:.4g}-{:.4g}", lo, lo + step));
    h["center"].push_back(integer && step == 1 ? lo : lo + step / 2);
  }
  for (const auto& g : groups) {
    std::vector<std::uint64_t> counts(bins, 0);
    std::uint64_t undefined = 0, total = 0;
    for (std::size_t i = 0; i < g.set->size(); ++i) {
      if (g.want >= 0 && (g.set->truth[i] == g.set->predicted[i]) != (g.want == 1)) continue;
      ++total;
      const double s = score_of(m, *g.set, layer, i);
      if (!std::isfinite(s)) {
        ++undefined;
        continue;
      }
      counts[std::min(bins - 1, static_cast<std::size_t>(std::floor(s / step)))] += 1;
    }
    h["groups"].push_back({{"name", g.name}, {"counts", counts}, {"undefined", undefined}, {"total", total}});
  }
  return h;
}

}  // namespace

nlohmann::json monitor_report_json(const MonitorScores& m, const std::string& file) {
  nlohmann::json out{{"file", file},
                     {"gamma", m.gamma},
                     {"layers", m.layers},
                     {"widths", m.widths},
                     {"instances", m.in.size()},
                     {"ood_instances", m.ood ? m.ood->size() : 0},
                     {"flags_html", render_html(monitor_flags_table(m))},
                     {"detection_html", render_html(monitor_detection_table(m))}};
  for (const auto layer : scores_of(m)) out["histograms"].push_back(score_histograms(m, layer));
  return out;
}

}  // namespace apd
