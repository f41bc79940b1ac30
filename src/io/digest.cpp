#include "apd/io/digest.hpp"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"

namespace apd {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
struct DigestFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

}  // namespace

std::string sha256_file(const std::filesystem::path& path) { return sha256_file(path, nullptr); }

std::string sha256_file(const std::filesystem::path& path, const ChunkVisitor& each_chunk) {
  const std::unique_ptr<std::FILE, FileCloser> file(open_regular_stream(path));
  const std::unique_ptr<EVP_MD_CTX, DigestFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw Error(fmt::format("{}: cannot start SHA-256 (OpenSSL)", path.string()));
  }
  std::vector<unsigned char> buffer(std::size_t{1} << 20);
  std::size_t got = 0;
  std::uint64_t offset = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    if (EVP_DigestUpdate(ctx.get(), buffer.data(), got) != 1)
      throw Error(fmt::format("{}: SHA-256 failed", path.string()));
    if (each_chunk) each_chunk(std::span<const std::uint8_t>(buffer.data(), got), offset);
    offset += got;
  }
  if (std::ferror(file.get()) != 0)
    throw Error(fmt::format("{}: read failed: {}", path.string(), std::strerror(errno)));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) throw Error(fmt::format("{}: SHA-256 failed", path.string()));
  std::string hex;
  hex.reserve(std::size_t{2} * size);
  for (unsigned int k = 0; k < size; ++k) hex += fmt::format("{:02x}", digest[k]);
  return hex;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  if (bytes.empty()) return out;
  if (bytes.size() > std::size_t{1} << 30) throw Error("base64: more than 1 GB at once");
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

}  // namespace apd
