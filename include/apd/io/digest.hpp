// SHA-256 of files, to record and check which dataset a run was trained on
// (the same digests scripts/fetch-mnist.sh verifies). OpenSSL's libcrypto
// does the hashing.
#pragma once

#include <filesystem>
#include <string>

namespace apd {

// Lower-case hex digest of the file's bytes; throws apd::Error naming the file.
[[nodiscard]] std::string sha256_file(const std::filesystem::path& path);

}  // namespace apd
