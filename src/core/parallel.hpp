// Runs independent tasks on the machine's cores. Each task must write only
// its own outputs, so results do not depend on scheduling: same input, same
// bytes, whatever the number of cores.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

namespace apd {

// Calls task(k) for k in [0, n) on up to `max_threads` threads; rethrows the
// exception of the lowest k that threw.
template <typename Task>
void parallel_for(std::size_t n, std::size_t max_threads, Task&& task) {
  const std::size_t workers = std::min(n, std::max<std::size_t>(1, max_threads));
  std::vector<std::exception_ptr> errors(n);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t k = next++; k < n; k = next++) {
      try {
        task(k);
      } catch (...) {
        errors[k] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// The same on every core of the machine.
template <typename Task>
void parallel_for(std::size_t n, Task&& task) {
  parallel_for(n, std::max(1U, std::thread::hardware_concurrency()), std::forward<Task>(task));
}

}  // namespace apd
