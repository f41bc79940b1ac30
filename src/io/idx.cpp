#include "apd/io/idx.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"

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
// `payload_size` overrides bytes.size() - header (files validated without being read).
std::vector<std::size_t> read_header(std::span<const std::uint8_t> bytes, const std::string& name,
                                     std::uint32_t want_magic, const char* what,
                                     std::optional<std::size_t> payload_size = std::nullopt) {
  if (bytes.size() < kHeaderWordSize) {
    throw Error(
        fmt::format("{}: truncated header: {} bytes, an IDX file starts with a 4-byte magic", name, bytes.size()));
  }
  const std::uint32_t magic = read_be32(bytes, 0);
  if (magic != want_magic) {
    const bool other_idx = (magic >> 16) == 0 && (magic & 0xff00U) == 0x0800U;
    if ((magic >> 16) == 0 && ((magic >> 8) & 0xffU) != 0x08U && (magic & 0xffU) == (want_magic & 0xffU)) {
      throw Error(fmt::format("{}: IDX data type 0x{:02x} is not supported (only unsigned bytes, 0x08)", name,
                              (magic >> 8) & 0xffU));
    }
    throw Error(fmt::format("{}: not an IDX {} file (magic 0x{:08x}, expected 0x{:08x}){}", name, what, magic,
                            want_magic, other_idx ? fmt::format(": it has {} dimensions", magic & 0xffU) : ""));
  }
  const std::size_t ndims = want_magic & 0xffU;
  const std::size_t header_size = kHeaderWordSize * (1 + ndims);
  if (bytes.size() < header_size) {
    throw Error(fmt::format("{}: truncated header: {} bytes, expected {} for {} dimensions", name, bytes.size(),
                            header_size, ndims));
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
  const std::size_t payload = payload_size.value_or(bytes.size() - header_size);
  if (payload != product) {
    if (ndims == 1) {
      throw Error(fmt::format("{}: header says {} labels, file holds {}", name, dims[0], payload));
    }
    throw Error(fmt::format("{}: header says {} images of {}x{} ({} bytes), file holds {} bytes", name, dims[0],
                            dims[1], dims[2], product, payload));
  }
  if (dims[0] == 0) throw Error(fmt::format("{}: header says 0 {}s: the file holds no data", name, what));
  return dims;
}

// Validates an image file's bytes and moves them, header dropped in place,
// into the result: no second copy of the pixels (a million 28x28 images are
// 784 MB).
IdxImages images_from(std::vector<std::uint8_t> bytes, const std::string& name) {
  const auto dims = read_header(bytes, name, kImageMagic, "image");
  if (dims[1] == 0 || dims[2] == 0) {
    throw Error(fmt::format("{}: images of {}x{} pixels hold no data", name, dims[1], dims[2]));
  }
  bytes.erase(bytes.begin(), bytes.begin() + 16);
  IdxImages out;
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  out.pixels = std::move(bytes);
  return out;
}

}  // namespace

IdxImages parse_idx_images(std::span<const std::uint8_t> bytes, const std::string& name) {
  return images_from({bytes.begin(), bytes.end()}, name);
}

std::vector<std::uint8_t> parse_idx_labels(std::span<const std::uint8_t> bytes, const std::string& name) {
  (void)read_header(bytes, name, kLabelMagic, "label");
  return {bytes.begin() + 8, bytes.end()};
}

namespace {

// The whole size an IDX file's header declares (header plus payload), once
// `head` holds the header; nothing for another magic, or while too short.
std::optional<std::size_t> declared_idx_size(std::span<const std::uint8_t> head) {
  if (head.size() < kHeaderWordSize) return std::nullopt;
  const std::uint32_t magic = read_be32(head, 0);
  if (magic != kImageMagic && magic != kLabelMagic) return std::nullopt;
  const std::size_t ndims = magic & 0xffU;
  const std::size_t header_size = kHeaderWordSize * (1 + ndims);
  if (head.size() < header_size) return std::nullopt;
  std::size_t size = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    if (__builtin_mul_overflow(size, std::size_t{read_be32(head, kHeaderWordSize * (1 + d))}, &size))
      return std::nullopt;
  }
  return size > std::numeric_limits<std::size_t>::max() - header_size ? std::nullopt
                                                                      : std::optional(size + header_size);
}

}  // namespace

std::vector<std::uint8_t> maybe_gunzip(std::span<const std::uint8_t> raw, const std::string& name) {
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return {raw.begin(), raw.end()};
  // gzip: inflate every member (gzip allows concatenated members), and stop
  // as soon as the output exceeds what its IDX header declares: a small file
  // must not expand into gigabytes before it is found wrong.
  std::vector<std::uint8_t> out;
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw Error(fmt::format("{}: cannot initialise zlib", name));
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(std::min<std::size_t>(raw.size(), std::numeric_limits<uInt>::max()));
  std::array<std::uint8_t, 1 << 16> chunk{};
  std::optional<std::size_t> declared;
  int rc = Z_OK;
  while (true) {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    if (!declared) declared = declared_idx_size(out);
    if (declared && out.size() > *declared) {
      inflateEnd(&zs);
      throw Error(
          fmt::format("{}: the gzip data expands beyond the {} bytes its IDX header declares", name, *declared));
    }
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

std::vector<std::uint8_t> read_maybe_gzipped(const std::filesystem::path& path) {
  const std::string name = path.string();
  const std::string text = read_text_file(path);
  std::vector<std::uint8_t> raw(text.begin(), text.end());
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
  return maybe_gunzip(raw, name);
}

IdxImages read_idx_images(const std::filesystem::path& path) {
  return images_from(read_maybe_gzipped(path), path.string());
}

std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path) {
  return parse_idx_labels(read_maybe_gzipped(path), path.string());
}

IdxImageFile::IdxImageFile(const std::filesystem::path& path) : path_(path) {
  const std::string name = path.string();
  fd_ = open_regular_file(path);
  std::array<std::uint8_t, 16> head{};
  const ssize_t got = ::pread(fd_, head.data(), head.size(), 0);
  if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    ::close(fd_);
    fd_ = -1;
    IdxImages all = read_idx_images(path);
    count_ = all.count;
    rows_ = all.rows;
    cols_ = all.cols;
    inflated_ = std::move(all.pixels);
    return;
  }
  // Validate the header against the real file size without reading the pixels.
  const auto size = static_cast<std::size_t>(std::filesystem::file_size(path));
  std::vector<std::uint8_t> header(head.begin(), head.begin() + std::max<ssize_t>(got, 0));
  try {
    if (header.size() < 16) (void)read_header(header, name, kImageMagic, "image");  // reports the truncation
    const std::size_t dims[3] = {read_be32(header, 4), read_be32(header, 8), read_be32(header, 12)};
    (void)read_header(header, name, kImageMagic, "image", size - 16);
    count_ = dims[0];
    rows_ = dims[1];
    cols_ = dims[2];
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
  if (rows_ == 0 || cols_ == 0) {
    ::close(fd_);
    fd_ = -1;
    throw Error(fmt::format("{}: images of {}x{} pixels hold no data", name, rows_, cols_));
  }
}

IdxImageFile::~IdxImageFile() {
  if (fd_ >= 0) ::close(fd_);
}

void IdxImageFile::read(std::span<const std::int64_t> indices, std::span<std::uint8_t> out) const {
  const std::size_t size = image_size();
  if (out.size() < indices.size() * size) throw Error(fmt::format("{}: read buffer too small", path_.string()));
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const auto i = static_cast<std::size_t>(indices[k]);
    if (indices[k] < 0 || i >= count_) {
      throw Error(fmt::format("{}: image {} is outside {}", path_.string(), indices[k], index_range(count_)));
    }
    std::uint8_t* dst = out.data() + k * size;
    if (fd_ < 0) {
      std::copy_n(inflated_.data() + i * size, size, dst);
      continue;
    }
    // Runs of consecutive indices are read with one pread.
    std::size_t run = 1;
    while (k + run < indices.size() && indices[k + run] == indices[k] + static_cast<std::int64_t>(run)) ++run;
    const std::size_t bytes = run * size;
    std::size_t done = 0;
    while (done < bytes) {
      const ssize_t n = ::pread(fd_, dst + done, bytes - done, static_cast<off_t>(16 + i * size + done));
      if (n <= 0) throw Error(fmt::format("{}: read failed at image {}", path_.string(), i));
      done += static_cast<std::size_t>(n);
    }
    k += run - 1;
  }
}

LabeledImages read_labeled_images(const std::filesystem::path& images, const std::filesystem::path& labels) {
  LabeledImages out{read_idx_images(images), read_idx_labels(labels)};
  if (out.images.count != out.labels.size()) {
    throw Error(fmt::format("{}: holds {} labels but {} holds {} images", labels.string(), out.labels.size(),
                            images.string(), out.images.count));
  }
  return out;
}

}  // namespace apd
