// A run's dynamics.bin (per-epoch correctness of the training instances),
// parsed as apd-stats and apd-train --resume read it, then counted into
// learning and forgetting events.
#include <cstddef>
#include <cstdint>
#include <span>

#include "apd/core/dynamics.hpp"
#include "apd/core/error.hpp"
#include "apd/io/dynamics_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const apd::CorrectnessHistory history = apd::parse_dynamics(std::span(data, size), "dynamics.bin");
    // With no complete row the header's count is not backed by bytes (apd's
    // readers then compare it with the run's); with rows it is.
    if (history.epochs() > 0) (void)apd::instance_dynamics(history);
  } catch (const apd::Error&) {
  }
  return 0;
}
