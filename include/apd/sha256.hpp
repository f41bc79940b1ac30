// SHA-256 of files, to record and check which dataset a run was trained on
// (the same digests scripts/fetch-mnist.sh verifies).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace apd {

[[nodiscard]] std::string sha256_hex(std::string_view bytes);
[[nodiscard]] std::string sha256_file(const std::filesystem::path& path);

}  // namespace apd
