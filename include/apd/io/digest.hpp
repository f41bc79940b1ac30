// SHA-256 of files, to record and check which dataset a run was trained on
// (the same digests scripts/fetch-mnist.sh verifies). OpenSSL's libcrypto
// does the hashing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace apd {

// Lower-case hex digest of the file's bytes; throws apd::Error naming the file.
[[nodiscard]] std::string sha256_file(const std::filesystem::path& path);
// The same, handing every chunk read (and its offset in the file) to
// `each_chunk` too: one pass over a file that is both hashed and scanned.
using ChunkVisitor = std::function<void(std::span<const std::uint8_t> chunk, std::uint64_t offset)>;
[[nodiscard]] std::string sha256_file(const std::filesystem::path& path, const ChunkVisitor& each_chunk);

// Standard base64 (RFC 4648, with padding) of `bytes` (OpenSSL).
[[nodiscard]] std::string base64(std::string_view bytes);

}  // namespace apd
