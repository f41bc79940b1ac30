// SIGINT and SIGTERM as a request to stop at the next safe point (apd-train
// finishes the current epoch's files), instead of ending the process.
#pragma once

#include <csignal>

namespace apd {

class StopSignals {
 public:
  // Installs the handlers for the lifetime of the object; clears any signal
  // an earlier guard received.
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals();

  // The signal received since, or 0.
  [[nodiscard]] static int received() noexcept;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace apd
