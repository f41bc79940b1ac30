// Thread settings for reproducible, fast CPU runs.
#pragma once

namespace apd {

// Sets LibTorch's intra-op threads and, when the BLAS in use is OpenBLAS,
// its own pool to `threads`. OpenBLAS keeps a separate pool that otherwise
// spins in sched_yield next to LibTorch's threads: measured here, pinning it
// made a 3x40 MNIST epoch ~15% faster at one thread.
void set_thread_count(int threads);

}  // namespace apd
