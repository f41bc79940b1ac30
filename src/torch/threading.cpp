#include "threading.hpp"

#include <dlfcn.h>

#include <ATen/Parallel.h>

namespace apd {

void set_thread_count(int threads) {
  at::set_num_threads(threads);
  using SetThreads = void (*)(int);
  // Present only when the libblas.so.3 alternative is OpenBLAS.
  if (void* symbol = dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) {
    reinterpret_cast<SetThreads>(symbol)(threads);
  }
}

OneThread::OneThread() : previous_(at::get_num_threads()) {
  if (previous_ != 1) set_thread_count(1);
}

OneThread::~OneThread() {
  if (previous_ != 1) set_thread_count(previous_);
}

}  // namespace apd
