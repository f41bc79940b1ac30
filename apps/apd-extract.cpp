// apd-extract: the APD (apd/1 JSON or GraphML) of a label subset at any epoch
// of an apd-train run, under a state_dict saved by PyTorch, or under any
// TorchScript ReLU network, on IDX or .npy data.
#include "apd/io/atomic_file.hpp"
#include "apd/torch/extract.hpp"
#include "app_support.hpp"
#include "model_options.hpp"

namespace {

struct Options {
  apd::ExtractOptions extract;
  apd::Verbosity verbosity = apd::Verbosity::normal;
};

void add_output_options(CLI::App& app, apd::ExtractOptions& o) {
  auto* g = app.add_option_group("Output", "Where the APDs go, and what they hold");
  g->add_option("--out", o.output.out, "Output file, - for stdout; {epoch} is replaced by the epoch number");
  apd::app::add_enum_option(*g, "--format", apd::kOutputFormatNames, o.output.format, "json (apd/1) or graphml");
  apd::app::add_enum_option(*g, "--pattern-encoding", apd::kPatternEncodingNames, o.output.write.patterns,
                            "Patterns in JSON: auto (hex for layers wider than 256 neurons, schema apd/2), "
                            "binary ('0'/'1') or hex");
  g->add_flag_callback(
      "--no-instances", [&o] { o.output.write.instances = false; }, "Omit the per-instance records (flows need them)");
}

void add_geometry_options(CLI::App& app, apd::ExtractOptions& o) {
  auto* g =
      app.add_option_group("Linear regions", "The exact size of each instance's linear region (docs/geometry.md)");
  g->add_flag("--geometry", o.geometry,
              "Record each instance's region_radius (L2 distance to the nearest point where a ReLU or a max-pooling "
              "choice changes) and boundary_distance (to the decision hyperplane of its affine piece), in float64");
  g->add_option_function<std::string>(
       "--geometry-gradients", [&o](const std::string& v) { o.geometry_float32 = v == "float32"; },
       "float64 (default: every number in float64) or float32 (the input gradients in float32, values and "
       "distances in float64: ~50x faster convolutions, distances within ~1e-5 relative)")
      ->check(CLI::IsMember({"float64", "float32"}));
  g->add_option_function<std::string>(
       "--geometry-tangents", [&o](const std::string& v) { o.geometry_dense = v == "dense"; },
       "patches (default: an image model's tangents kept per position over its receptive field) or dense (over "
       "the whole input: the slower baseline patches are checked against; the same numbers to rounding)")
      ->check(CLI::IsMember({"patches", "dense"}));
  g->add_option("--geometry-memory", o.geometry_memory,
                "MB one pass's tangents may take (default 256): instances per sub-batch and directions per chunk "
                "are sized to it, so it bounds the peak memory")
      ->check(CLI::Range(1, 1 << 20));
  g->add_flag("--geometry-layers", o.geometry_layers,
              "With --geometry and --layers: the radius over those layers' neurons only (no max-pooling windows)");
}

void add_options(CLI::App& app, Options& options) {
  apd::ExtractOptions& o = options.extract;
  auto* model = apd::app::add_model_options(app, o.model, {.series = true, .fallback = ""});
  model->add_flag("--list-layers", o.list_layers, "Print --model's ReLU layers (index, width, shape, source) and stop");
  model->add_option("--layers", o.layers, "ReLU layers of --model to build the APD over, e.g. 2,4 (default all)")
      ->delimiter(',')
      ->check(apd::app::non_negative());
  apd::app::add_data_options(app, o.data, true);
  apd::app::add_selection_options(app, o.selection, true);
  apd::app::add_view_options(app, o.views);
  add_output_options(app, o);
  add_geometry_options(app, o);
  apd::app::add_compute_options(app, o.compute);
  apd::app::add_verbosity_flags(app, options.verbosity);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "apd-extract";
  Options o;
  CLI::App app{
      "Write the Activation Pattern Diagram of a selection of instances under a model: from an apd-train "
      "run (--run, at --epoch or --epochs), a PyTorch state_dict (--checkpoint) or a TorchScript model "
      "(--model).",
      program};
  app.get_formatter()->column_width(34);
  add_options(app, o);
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  // Every batch allocates the same large activation buffers. One heap keeps
  // them between batches (glibc would unmap them and fault them back in:
  // a third of a conv net's forward time), and its first 512 MiB take huge
  // pages (a shard of the MNIST example CNN: 50,000 page faults -> 18,000,
  // 0.25 s of its 7 s; the rest are LibTorch's own start-up).
  apd::app::use_one_heap(std::size_t{512} << 20);
  apd::app::setup_logging(program, o.verbosity);
  apd::remove_temporaries_on_signals();
  return apd::app::run_guarded([&] { return apd::run_extraction(o.extract); });
}
