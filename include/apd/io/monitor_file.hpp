// The monitor file written by `apd-monitor build` and read by `apd-monitor
// score` (format "apd-monitor/1", JSON): the model it was built for (file,
// SHA-256, every ReLU layer's width, classes), the preprocessing its inputs
// get, what it was built from, and per monitored layer and predicted class
// the distinct known patterns, each as numpy.packbits(bits).tobytes().hex()
// (as "pattern_hex" in APD files), in ascending order. docs/monitor.md
// describes every field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/monitor.hpp"

namespace apd {

inline constexpr std::string_view kMonitorFormat = "apd-monitor/1";

// The model a monitor belongs to: scoring with any other is refused.
struct MonitorModel {
  std::string kind;                      // "mlp" (an apd-train run or a state_dict) or "torchscript"
  std::string file;                      // the checkpoint or TorchScript file (absolute; a relative one is
                                         // taken relative to the monitor file's directory)
  std::string sha256;                    // of that file
  std::optional<std::string> run;        // the apd-train run directory, if any (as `file`)
  std::optional<int> epoch;              // the run's epoch, if any
  std::string architecture;              // "784-40-40-40-10" or "torchscript"
  std::vector<std::size_t> relu_widths;  // every ReLU layer's width, in call order
  std::size_t classes = 0;
};

// How raw inputs become the model's: value scaling by `normalize` (unit,
// standard, symmetric, none), then per channel (x - mean) / std, reshaped to
// `input_shape`.
struct MonitorPreprocessing {
  std::string normalize;
  std::vector<double> mean, std;
  std::vector<std::int64_t> input_shape;
};

struct MonitorFile {
  MonitorModel model;
  MonitorPreprocessing preprocessing;
  nlohmann::json training;  // the data and selection it was built from (informative)
  nlohmann::json tool;      // apd-monitor's name, version, git SHA
  Monitor monitor;
};

// Writes `m` atomically (complete or absent).
void write_monitor_file(const std::filesystem::path& path, const MonitorFile& m);
// Parses and checks a monitor; throws apd::Error "NAME: where: what" for
// anything malformed or inconsistent (widths, classes, pattern lengths,
// order), never trusting a count it has not seen the data for.
[[nodiscard]] MonitorFile parse_monitor_file(std::string_view bytes, const std::string& name);
[[nodiscard]] MonitorFile read_monitor_file(const std::filesystem::path& path);

}  // namespace apd
