#include "apd/idx.hpp"

#include <zlib.h>

#include <array>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include "apd/error.hpp"

namespace apd {

namespace {

constexpr std::uint32_t kImageMagic = 0x00000803;
constexpr std::uint32_t kLabelMagic = 0x00000801;
constexpr std::size_t kHeaderWordSize = 4;

std::uint32_t read_be32(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
         (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

// Validates the header of an IDX file of `want_dims` dimensions and returns
// them; checks that the payload holds exactly their product of bytes.
std::vector<std::size_t> read_header(std::span<const std::uint8_t> bytes, const std::string& name,
                                     std::uint32_t want_magic, const char* what) {
  if (bytes.size() < kHeaderWordSize) {
    throw Error(fmt::format("{}: truncated header: {} bytes, an IDX file starts with a 4-byte magic",
                            name, bytes.size()));
  }
  const std::uint32_t magic = read_be32(bytes, 0);
  if (magic != want_magic) {
    const bool other_idx = (magic >> 16) == 0 && (magic & 0xff00U) == 0x0800U;
    if ((magic >> 16) == 0 && ((magic >> 8) & 0xffU) != 0x08U && (magic & 0xffU) == (want_magic & 0xffU)) {
      throw Error(fmt::format("{}: IDX data type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
                              name, (magic >> 8) & 0xffU));
    }
    throw Error(fmt::format("{}: not an IDX {} file (magic 0x{:08x}, expected 0x{:08x}){}", name, what,
                            magic, want_magic,
                            other_idx ? fmt::format(": it has {} dimensions", magic & 0xffU) : ""));
  }
  const std::size_t ndims = want_magic & 0xffU;
  const std::size_t header_size = kHeaderWordSize * (1 + ndims);
  if (bytes.size() < header_size) {
    throw Error(fmt::format("{}: truncated header: {} bytes, expected {} for {} dimensions", name,
                            bytes.size(), header_size, ndims));
  }
  std::vector<std::size_t> dims(ndims);
  std::size_t product = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    dims[d] = read_be32(bytes, kHeaderWordSize * (1 + d));
    if (__builtin_mul_overflow(product, dims[d], &product)) {
      throw Error(fmt::format("{}: header dimensions {} overflow the addressable size", name,
                              fmt::join(std::span(dims).first(d + 1), "x")));
    }
  }
  const std::size_t payload = bytes.size() - header_size;
  if (payload != product) {
    if (ndims == 1) {
      throw Error(fmt::format("{}: header says {} labels, file holds {}", name, dims[0], payload));
    }
    throw Error(fmt::format("{}: header says {} images of {}x{} ({} bytes), file holds {} bytes", name,
                            dims[0], dims[1], dims[2], product, payload));
  }
  if (dims[0] == 0) throw Error(fmt::format("{}: header says 0 {}s: the file holds no data", name, what));
  return dims;
}

}  // namespace

IdxImages parse_idx_images(std::span<const std::uint8_t> bytes, const std::string& name) {
  const auto dims = read_header(bytes, name, kImageMagic, "image");
  if (dims[1] == 0 || dims[2] == 0) {
    throw Error(fmt::format("{}: images of {}x{} pixels hold no data", name, dims[1], dims[2]));
  }
  IdxImages out;
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  out.pixels.assign(bytes.begin() + 16, bytes.end());
  return out;
}

std::vector<std::uint8_t> parse_idx_labels(std::span<const std::uint8_t> bytes, const std::string& name) {
  (void)read_header(bytes, name, kLabelMagic, "label");
  return {bytes.begin() + 8, bytes.end()};
}

std::vector<std::uint8_t> read_maybe_gzipped(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(fmt::format("{}: cannot open", name));
  const auto size = static_cast<std::streamoff>(in.tellg());
  if (size < 0) throw Error(fmt::format("{}: cannot determine the file size", name));
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(raw.data()), size)) throw Error(fmt::format("{}: read failed", name));
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;

  // gzip: inflate every member (gzip allows concatenated members).
  std::vector<std::uint8_t> out;
  out.reserve(raw.size() * 4);
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw Error(fmt::format("{}: cannot initialise zlib", name));
  zs.next_in = raw.data();
  zs.avail_in = static_cast<uInt>(raw.size());  // IDX files are far below 4 GiB compressed
  std::array<std::uint8_t, 1 << 16> chunk{};
  int rc = Z_OK;
  while (true) {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      if (inflateReset(&zs) != Z_OK) break;
      continue;
    }
    if (rc != Z_OK || (zs.avail_in == 0 && zs.avail_out != 0)) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    throw Error(fmt::format("{}: gzip data is truncated or corrupt ({})", name,
                            rc == Z_OK || rc == Z_BUF_ERROR ? "unexpected end of stream" : "zlib error"));
  }
  return out;
}

IdxImages read_idx_images(const std::filesystem::path& path) {
  return parse_idx_images(read_maybe_gzipped(path), path.string());
}

std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path) {
  return parse_idx_labels(read_maybe_gzipped(path), path.string());
}

LabeledImages read_labeled_images(const std::filesystem::path& images, const std::filesystem::path& labels) {
  LabeledImages out{read_idx_images(images), read_idx_labels(labels)};
  if (out.images.count != out.labels.size()) {
    throw Error(fmt::format("{}: holds {} labels but {} holds {} images", labels.string(),
                            out.labels.size(), images.string(), out.images.count));
  }
  return out;
}

}  // namespace apd
