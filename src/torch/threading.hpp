// Thread settings for reproducible, fast CPU runs.
#pragma once

namespace apd {

// Sets LibTorch's intra-op threads and, when the BLAS in use is OpenBLAS,
// its own pool to `threads`. OpenBLAS keeps a separate pool that otherwise
// spins in sched_yield next to LibTorch's threads: measured here, pinning it
// made a 3x40 MNIST epoch ~15% faster at one thread.
void set_thread_count(int threads);

// One thread for a scope, the previous count restored after. --geometry's
// passes run so: their tensors are small enough that two threads made them
// slower here (the paper's MLP over 54,000 images: 4.3 s against 1.6-2.5 s),
// and their numbers then never depend on --threads.
class OneThread {
 public:
  OneThread();
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;
  ~OneThread();

 private:
  int previous_;
};

}  // namespace apd
