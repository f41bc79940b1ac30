// Runs tasks one after another on a second thread, in the order submitted,
// so that work done there is as deterministic as if done inline. The APD
// reader parses batches of records on it while the caller scans on.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace apd::detail {

class SerialWorker {
 public:
  // At most `depth` tasks wait; submit() blocks beyond that (bounds memory).
  explicit SerialWorker(std::size_t depth) : depth_(depth), thread_([this] { loop(); }) {}
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;
  // Drops the tasks still waiting and joins.
  ~SerialWorker() {
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
      tasks_.clear();
    }
    changed_.notify_all();
    thread_.join();
  }

  // Queues `task`. Once a task has thrown, later ones are not run and this
  // rethrows that exception: it concerns earlier input than the caller's.
  void submit(std::function<void()> task) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return error_ || tasks_.size() < depth_; });
    if (error_) std::rethrow_exception(error_);
    tasks_.push_back(std::move(task));
    changed_.notify_all();
  }

  // Returns once every queued task has run; rethrows the first exception.
  void wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return error_ || (tasks_.empty() && !busy_); });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (stop_) return;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      busy_ = true;
      lock.unlock();
      std::exception_ptr error;
      try {
        task();
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      busy_ = false;
      if (error) {
        error_ = error;
        tasks_.clear();
      }
      changed_.notify_all();
    }
  }

  std::size_t depth_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> tasks_;
  std::exception_ptr error_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace apd::detail
