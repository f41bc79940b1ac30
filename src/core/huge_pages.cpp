#include "apd/core/huge_pages.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace apd {

void advise_huge_pages(const void* data, std::size_t bytes) noexcept {
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  const auto at = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t begin = (at + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t end = (at + bytes) & ~(kHugePage - 1);
  if (data == nullptr || end <= begin) return;
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the address is the buffer's own, rounded to page bounds
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace apd
