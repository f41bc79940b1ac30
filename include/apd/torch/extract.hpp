// apd-extract's job, without LibTorch in the interface: the APD (apd/1 JSON
// or GraphML) of a selection of instances under a model at one or more epochs
// of an apd-train run, under a state_dict trained elsewhere, or under any
// TorchScript ReLU network (one model, or one per epoch of the user's own
// training), on IDX or .npy data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apd/core/names.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/dataset.hpp"

namespace apd {

// Which instances: the run's own training or validation split, or the test file.
enum class DataSplit { train, val, test };
inline constexpr NameTable<DataSplit, 3> kDataSplitNames{
    {{"train", DataSplit::train}, {"val", DataSplit::val}, {"test", DataSplit::test}}};
// Which instances --limit keeps: the first by index, or a seeded random sample.
enum class Selection { first, random };
inline constexpr NameTable<Selection, 2> kSelectionNames{{{"first", Selection::first}, {"random", Selection::random}}};

// --batch-size's default with --model (conv activations are large: LeNet-5's
// first layer alone is 14 MB for 1024 instances).
inline constexpr std::int64_t kModelBatchSize = 256;

// Rows [begin, end) of the instances forwarded are the ones kept; the
// others are forwarded only to fill the batches around them (--shard: every
// instance is forwarded in the batch, at the row, it has in one process,
// because BLAS kernels round a row's sums differently at another row or in
// a batch of another size, and a ReLU input within rounding of 0 would flip).
struct KeptRows {
  std::size_t begin = 0;
  std::size_t end = SIZE_MAX;

  // The part of the batch [first, first + rows) that is kept, relative to
  // the batch: [lo, hi), empty when lo == hi.
  [[nodiscard]] std::pair<std::size_t, std::size_t> in_batch(std::size_t first, std::size_t rows) const {
    const std::size_t lo = std::clamp(begin, first, first + rows) - first;
    return {lo, std::max(lo, std::clamp(end, first, first + rows) - first)};
  }
};

struct ExtractOptions {
  std::filesystem::path run;                  // --run RUNDIR
  std::vector<std::string> epochs;            // --epoch/--epochs: numbers, "best", "last"
  std::filesystem::path checkpoint;           // --checkpoint FILE (instead of --run)
  std::string model;                          // --model FILE.pt, TorchScript ({epoch} with --epochs)
  bool list_layers = false;                   // --list-layers: print the model's ReLU layers, write nothing
  std::vector<std::size_t> layers;            // --layers: ReLU layers of --model, 1-based (default all)
  std::optional<std::filesystem::path> data;  // --data DIR (IDX; default: the run's, or data/mnist) or X.npy
  std::filesystem::path targets;              // --targets y.npy (with --data X.npy)
  std::vector<std::int64_t> input_shape;      // --input-shape: each instance's shape for --model
  std::optional<Normalization> normalize;     // --normalize (default: the run's, or unit; none for float .npy)
  std::vector<double> mean, std;              // --mean/--std per channel, after --normalize (--model)
  DataSplit split = DataSplit::train;
  std::vector<std::int64_t> labels;  // true labels to keep; empty = all
  std::optional<std::size_t> limit;  // at most this many instances
  Selection select = Selection::first;
  std::uint64_t seed = 0;  // for --select random
  // --shard i/n: the i-th (0-based) of n contiguous slices of the selection.
  struct Shard {
    std::size_t index = 0, count = 1;
  };
  std::optional<Shard> shard;
  std::string out;  // FILE, "-" for stdout; "{epoch}" is replaced
  OutputFormat format = OutputFormat::json;
  bool instances = true;
  PatternEncoding patterns = PatternEncoding::automatic;  // --pattern-encoding
  std::int64_t batch_size = 1024;
  int threads = 1;
};

// Checks option combinations; throws UsageError naming the option.
void validate(const ExtractOptions& options);

// True when --data names an .npy file rather than an IDX directory.
[[nodiscard]] bool npy_data(const ExtractOptions& options);

// Returns the exit code (0). Throws apd::Error / UsageError on failure; every
// output file is complete or absent.
[[nodiscard]] int run_extraction(const ExtractOptions& options);

}  // namespace apd
