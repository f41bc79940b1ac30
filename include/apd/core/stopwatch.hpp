// Wall-clock time of a stage, for --verbose ("read apd.json (224 MB) in 0.81 s").
#pragma once

#include <chrono>

namespace apd {

class Stopwatch {
 public:
  // Seconds since construction or the last lap(); restarts the count.
  double lap() noexcept {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - start_).count();
    start_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace apd
