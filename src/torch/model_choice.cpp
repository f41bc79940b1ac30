#include "apd/torch/model_choice.hpp"

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/epoch_list.hpp"

namespace apd {

void validate(const ModelChoice& m) {
  const int sources = int{!m.run.empty()} + int{!m.checkpoint.empty()} + int{!m.model.empty()};
  if (sources != 1) throw UsageError("give one of --run RUNDIR, --checkpoint FILE or --model FILE.pt");
  if (!m.checkpoint.empty() && !m.epochs.empty()) throw UsageError("--epoch/--epochs need --run, not --checkpoint");
  for (const auto& e : m.epochs) {
    const EpochItem item = parse_epoch_item(e);
    if (!m.model.empty() && (item.kind == EpochItem::Kind::best || item.kind == EpochItem::Kind::last)) {
      throw UsageError(fmt::format("--epoch/--epochs: '{}' needs --run (an apd-train run's record)", e));
    }
  }
  if (m.model.empty()) return;
  if (!m.epochs.empty() && m.model.find(kEpochToken) == std::string::npos) {
    throw UsageError("--model: with --epochs, the model file name needs {epoch} (e.g. ckpt/epoch-{epoch}.pt)");
  }
}

void validate(const Compute& c) {
  if (c.batch_size) check_count_option("--batch-size", *c.batch_size, kMaxBatchSize);
  check_count_option("--threads", c.threads, kMaxThreads);
}

std::string replace_epoch(std::string text, int epoch) {
  for (auto at = text.find(kEpochToken); at != std::string::npos; at = text.find(kEpochToken)) {
    text.replace(at, std::string_view(kEpochToken).size(), std::to_string(epoch));
  }
  return text;
}

}  // namespace apd
