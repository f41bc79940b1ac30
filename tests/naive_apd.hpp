// A deliberately naive APD, written with strings and std::map straight from
// the paper's definitions: the oracle for the optimised builder and flows.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "apd/core/diagram.hpp"
#include "apd/core/flows.hpp"

namespace apd::test {

struct NaiveCounts {
  std::uint64_t count = 0, errors = 0;
  std::map<int, std::uint64_t> true_labels, predicted_labels;
  friend bool operator==(const NaiveCounts&, const NaiveCounts&) = default;
};

// Keys: "L<layer>:<pattern>" for patterns, "Y<label>" for label nodes (built
// with += : GCC 12 warns falsely on "L" + std::to_string(...) chains, PR 105651).
inline std::string pattern_key(std::size_t layer, const std::string& pattern) {
  std::string key = "L";
  key += std::to_string(layer);
  key += ':';
  key += pattern;
  return key;
}

inline std::string label_key(int label) {
  std::string key = "Y";
  key += std::to_string(label);
  return key;
}

struct NaiveApd {
  std::map<std::string, NaiveCounts> nodes;
  std::map<std::pair<std::string, std::string>, std::pair<std::uint64_t, std::uint64_t>> links;
  friend bool operator==(const NaiveApd&, const NaiveApd&) = default;
};

// patterns[i][l] is instance i's pattern text in layer l (0-based).
inline NaiveApd naive_apd(const std::vector<std::vector<std::string>>& patterns, const std::vector<int>& labels,
                          const std::vector<int>& predicted) {
  NaiveApd out;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const bool wrong = labels[i] != predicted[i];
    std::vector<std::string> keys;
    for (std::size_t l = 0; l < patterns[i].size(); ++l) keys.push_back(pattern_key(l + 1, patterns[i][l]));
    keys.push_back(label_key(predicted[i]));
    for (const auto& k : keys) {
      auto& n = out.nodes[k];
      ++n.count;
      n.errors += wrong;
      ++n.true_labels[labels[i]];
      ++n.predicted_labels[predicted[i]];
    }
    for (std::size_t k = 0; k + 1 < keys.size(); ++k) {
      auto& e = out.links[{keys[k], keys[k + 1]}];
      ++e.first;
      e.second += wrong;
    }
  }
  return out;
}

inline std::string naive_key(const Diagram& d, std::size_t node) {
  const Node& n = d.nodes[node];
  if (n.kind == NodeKind::label) return label_key(n.label);
  return pattern_key(n.layer, d.pattern(node));
}

// The same maps, read off an optimised Diagram.
inline NaiveApd as_naive(const Diagram& d) {
  NaiveApd out;
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    auto& n = out.nodes[naive_key(d, k)];
    n.count = d.nodes[k].count;
    n.errors = d.nodes[k].errors;
    for (const auto& lc : d.true_labels(k)) n.true_labels[lc.label] = lc.count;
    for (const auto& lc : d.predicted_labels(k)) n.predicted_labels[lc.label] = lc.count;
  }
  for (const Link& link : d.links) {
    out.links[{naive_key(d, link.source), naive_key(d, link.target)}] = {link.count, link.errors};
  }
  return out;
}

struct NaiveFlow {
  std::uint64_t strength = 0, errors = 0;
  std::map<int, std::uint64_t> votes;
};

inline std::map<std::vector<std::string>, NaiveFlow> naive_flows(const std::vector<std::vector<std::string>>& patterns,
                                                                 const std::vector<int>& labels,
                                                                 const std::vector<int>& predicted,
                                                                 const std::vector<std::size_t>& layers) {
  std::map<std::vector<std::string>, NaiveFlow> out;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    std::vector<std::string> key;
    for (const std::size_t l : layers) key.push_back(patterns[i][l - 1]);
    auto& f = out[key];
    ++f.strength;
    f.errors += labels[i] != predicted[i];
    ++f.votes[predicted[i]];
  }
  return out;
}

// Random instances whose patterns repeat: each layer draws from a small pool
// with a skewed distribution, so that nodes are shared and some are singletons.
struct RandomInstances {
  std::vector<std::vector<std::string>> patterns;
  std::vector<int> labels, predicted;
  std::vector<std::int32_t> labels32, predicted32;
  std::vector<std::int64_t> indices;
};

inline RandomInstances random_instances(std::size_t n, const std::vector<std::size_t>& widths, int classes,
                                        std::uint32_t seed) {
  std::mt19937 rng(seed);
  RandomInstances r;
  std::vector<std::vector<std::string>> pools(widths.size());
  for (std::size_t l = 0; l < widths.size(); ++l) {
    for (int p = 0; p < 40; ++p) {
      std::string s(widths[l], '0');
      for (auto& c : s) c = (rng() & 1U) ? '1' : '0';
      pools[l].push_back(s);
    }
  }
  std::geometric_distribution<int> skew(0.15);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> row;
    for (std::size_t l = 0; l < widths.size(); ++l) {
      const int pick = skew(rng);
      if (pick < 40) {
        row.push_back(pools[l][static_cast<std::size_t>(pick)]);
      } else {  // a fresh, probably unique pattern
        std::string s(widths[l], '0');
        for (auto& c : s) c = (rng() & 1U) ? '1' : '0';
        row.push_back(s);
      }
    }
    r.patterns.push_back(row);
    const int label = static_cast<int>(rng() % static_cast<unsigned>(classes));
    const int pred = (rng() % 4 == 0) ? static_cast<int>(rng() % static_cast<unsigned>(classes)) : label;
    r.labels.push_back(label);
    r.predicted.push_back(pred);
    r.labels32.push_back(label);
    r.predicted32.push_back(pred);
    r.indices.push_back(static_cast<std::int64_t>(1000 + 3 * i));
  }
  return r;
}

inline PatternStore store_of(const std::vector<std::vector<std::string>>& patterns,
                             const std::vector<std::size_t>& widths) {
  PatternStore store(widths);
  for (const auto& row : patterns) {
    for (std::size_t l = 0; l < widths.size(); ++l) store.append_pattern(l, row[l]);
  }
  return store;
}

}  // namespace apd::test
