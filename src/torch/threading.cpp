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

}  // namespace apd
