// Advice to back a large, not yet touched buffer with 2 MiB pages. On this
// project's machines (Firecracker VMs, transparent huge pages "madvise") a
// first touch of a 4 KiB page costs microseconds: the tens of MB that
// apd-merge reads, merges and writes spent more time in page faults than in
// parsing. Advice only: it changes no byte, and failure is ignored.
#pragma once

#include <cstddef>

namespace apd {

// The whole 2 MiB pages inside [data, data + bytes) are marked for huge
// pages (madvise MADV_HUGEPAGE); a buffer under 2 MiB is left as it is.
void advise_huge_pages(const void* data, std::size_t bytes) noexcept;

}  // namespace apd
