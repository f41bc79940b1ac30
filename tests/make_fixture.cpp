// Writes a small synthetic IDX dataset with the four MNIST file names:
// SIDE x SIDE images (8 by default) of 3 classes, class c bright in the c-th
// quarter of the rows over low noise, so a small MLP separates them.
// Usage: apd_make_fixture DIR [TRAIN_COUNT] [--corrupt-labels] [--side N]
// (--corrupt-labels drops the last label byte, for error-path tests).
#include <iostream>
#include <string>

#include "test_support.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: apd_make_fixture DIR [TRAIN_COUNT] [--corrupt-labels] [--side N]\n";
    return 2;
  }
  std::uint32_t n = 600;
  std::uint32_t side = 8;
  bool corrupt = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--corrupt-labels") {
      corrupt = true;
    } else if (arg == "--side" && i + 1 < argc) {
      side = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    } else {
      n = static_cast<std::uint32_t>(std::stoul(arg));
    }
  }
  apd::test::write_separable_dataset(argv[1], n, side, corrupt);
  return 0;
}
