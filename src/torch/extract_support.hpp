// What apd-extract's two model paths share (extract.cpp: apd-train runs and
// state_dicts; script_extract.cpp: TorchScript models): output names with
// {epoch}, the instance selection, the selection's record, writing an APD.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/diagram.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/extract.hpp"

namespace apd {

inline constexpr const char* kEpochToken = "{epoch}";

// `text` with every {epoch} replaced by the epoch number.
[[nodiscard]] std::string replace_epoch(std::string text, int epoch);

// The selection's record in the APD's metadata (split, labels, limit, select, seed).
[[nodiscard]] nlohmann::json selection_record(const ExtractOptions& o);

// How the model was run (batch_size, threads): the last bits of a ReLU's
// input, so a pattern bit within rounding of 0, can depend on both (BLAS
// rounds a row's sums by its place in the batch and by the threads' split).
[[nodiscard]] nlohmann::json forward_pass_record(const ExtractOptions& o);

// The instances of `pool` (ascending indices into `labels`) that --labels,
// --limit and --select keep, ascending; records "available" in `selection`.
[[nodiscard]] std::vector<std::int64_t> select_instances(const ExtractOptions& o, std::vector<std::int64_t> pool,
                                                         const std::vector<std::int64_t>& labels,
                                                         nlohmann::json& selection);

// The instances an extraction forwards, and which of them are its own.
struct ShardWindow {
  std::vector<std::int64_t> forward;
  KeptRows kept;  // forward[kept.begin, kept.end)
  [[nodiscard]] std::span<const std::int64_t> own() const;
};

// Without --shard, all of `selected`. With --shard i/n, its own instances
// are the i-th of n contiguous slices of `selected` (instances
// floor(i N / n) .. floor((i + 1) N / n) - 1), recorded as selection.shard
// (index, count, begin, end, of N), and it forwards them within the whole
// batches of --batch-size that hold them in a one-process extraction: the
// shards' patterns are then those of one process, bit for bit.
[[nodiscard]] ShardWindow shard_window(const ExtractOptions& o, std::vector<std::int64_t> selected,
                                       nlohmann::json& selection);

// --epoch's text (a number, best or last) as one of the run's checkpointed
// epochs (`available`, ascending); throws naming what is available.
[[nodiscard]] int resolve_epoch(const std::string& text, const RunPaths& run, const std::vector<int>& available);

// The IDX indices of the split, ascending: the run's own training or
// validation instances, or every instance (the test split, or no run).
[[nodiscard]] std::vector<std::int64_t> split_indices(DataSplit split, const std::optional<RunInfo>& info,
                                                      std::size_t count);

// The split's image and label files, checked against each other and, for a
// run, against the SHA-256 and the image count recorded in run.json.
struct SplitData {
  DatasetFiles files;
  std::filesystem::path images_path, labels_path;
  std::vector<std::uint8_t> labels;
};
[[nodiscard]] SplitData open_split(const ExtractOptions& o, const std::optional<RunInfo>& info,
                                   const std::filesystem::path& data_dir);

// apd-extract --model: TorchScript models on IDX or .npy data (script_extract.cpp).
[[nodiscard]] int run_script_extraction(const ExtractOptions& o);

// Writes `d` to `out` in o's format and says so (unless it went to stdout).
void write_apd(const Diagram& d, const std::string& out, const ExtractOptions& o);

}  // namespace apd
