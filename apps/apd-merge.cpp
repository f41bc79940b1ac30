// apd-merge: the APD of a sharded extraction from its shard files (apd-extract
// --shard i/n), byte-identical to extracting the whole selection in one
// process. Links no LibTorch.
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/core/stopwatch.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/apd_merge.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/run_dir.hpp"
#include "app_support.hpp"

namespace {

struct Options {
  std::vector<std::filesystem::path> files;
  std::filesystem::path out;
  apd::OutputFormat format = apd::OutputFormat::json;
  apd::PatternEncoding patterns = apd::PatternEncoding::automatic;
  bool instances = true;
  apd::Verbosity verbosity = apd::Verbosity::normal;
};

int run(const Options& o) {
  apd::refuse_output_in_running_run(o.out);
  apd::refuse_output_over_inputs(o.out, o.files);
  apd::Stopwatch clock;
  const apd::Diagram d = apd::merge_shard_files(o.files);
  spdlog::debug("merged {} shards in {:.2f} s", o.files.size(), clock.lap());
  apd::save_diagram(d, o.out, o.format, {.instances = o.instances, .patterns = o.patterns});
  spdlog::debug("wrote {} in {:.2f} s", o.out.string(), clock.lap());
  if (o.out != "-") {
    spdlog::info("{}: {} shards, {} instances, {} errors, unique patterns per layer {}", o.out.string(), o.files.size(),
                 d.instances, d.errors, fmt::join(d.unique_patterns(), "/"));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "apd-merge";
  Options o;
  CLI::App app{
      "Merge the shard files of one extraction (apd-extract --shard I/N, in any order) into the APD of the "
      "whole selection: byte-identical to extracting it in one process with the same --format, "
      "--pattern-encoding and instance records.",
      program};
  app.get_formatter()->column_width(34);
  app.add_option("files", o.files, "The N shard files (apd/1 or apd/2 JSON)")->required();
  app.add_option("--out", o.out, "Output file, - for stdout")->required();
  apd::app::add_enum_option(app, "--format", apd::kOutputFormatNames, o.format, "json (apd/1) or graphml");
  apd::app::add_enum_option(app, "--pattern-encoding", apd::kPatternEncodingNames, o.patterns,
                            "Patterns in JSON: auto (hex for layers wider than 256 neurons), binary or hex; "
                            "give what the shards were extracted with");
  app.add_flag_callback(
      "--no-instances", [&o] { o.instances = false; }, "Omit the per-instance records");
  apd::app::add_verbosity_flags(app, o.verbosity);
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  // Every file is read on a new thread: one heap keeps reusing what the
  // previous file's reader freed. Twice the input's size is more than the
  // merge ever touches (8 shards of 1,000,000 instances: 1.4 times); what
  // it does not touch costs address space only.
  std::size_t input = 0;
  for (const auto& f : o.files) input += apd::app::size_or_zero(f);
  apd::app::use_one_heap(2 * input);
  apd::app::setup_logging(program, o.verbosity);
  apd::remove_temporaries_on_signals();
  return apd::app::run_guarded([&] { return run(o); });
}
