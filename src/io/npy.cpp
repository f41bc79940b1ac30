#include "apd/io/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/core/utf8.hpp"
#include "apd/io/atomic_file.hpp"

namespace apd {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// numpy.load refuses headers over 10,000 bytes by default; 64 KiB is generous.
constexpr std::size_t kMaxHeader = 65536;
// No axis and no array is larger than this many elements (2^48).
constexpr std::size_t kMaxElements = std::size_t{1} << 48;

// The header's dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  void parse(NpyHeader& out) {
    bool descr = false, order = false, shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = string();
      expect(':');
      if (key == "descr" && !descr) {
        descr = true;
        if (!peek('\'') && !peek('"')) fail("its dtype is structured (only plain numeric dtypes are read)");
        out.descr = string();
      } else if (key == "fortran_order" && !order) {
        order = true;
        if (boolean()) fail("its elements are in Fortran order; save a C-ordered array (numpy.ascontiguousarray)");
      } else if (key == "shape" && !shape) {
        shape = true;
        out.shape = tuple();
      } else {
        fail("header key '{}' is not one of descr, fortran_order, shape (or is repeated)", quoted_bytes(key));
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) fail("header has text after its dict");
    if (!descr || !order || !shape) fail("header lacks one of descr, fortran_order, shape");
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(fmt::format("{}: not a readable .npy array: {}", name_, fmt::format(f, std::forward<Args>(args)...)));
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail("malformed header (expected '{}' at byte {})", c, pos_);
    ++pos_;
  }
  std::string string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      fail("malformed header (a string expected)");
    const char quote = text_[pos_++];
    const auto end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("malformed header (an unterminated string)");
    std::string out(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail("malformed header (fortran_order is not True or False)");
  }
  std::size_t integer() {
    skip_space();
    std::size_t v = 0;
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      v = v * 10 + static_cast<std::size_t>(text_[pos_++] - '0');
      if (v > kMaxElements) fail("an axis of the shape exceeds {} elements", kMaxElements);
    }
    if (pos_ == start) fail("malformed header (the shape holds a non-integer)");
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2's long literals
    return v;
  }
  std::vector<std::size_t> tuple() {
    std::vector<std::size_t> out;
    expect('(');
    while (!peek(')')) {
      out.push_back(integer());
      if (out.size() > 32) fail("the shape has more than 32 axes");
      if (!peek(')')) expect(',');
    }
    expect(')');
    return out;
  }

  std::string_view text_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

[[noreturn]] void bad_dtype(const std::string& name, const std::string& descr, std::string_view why) {
  throw Error(fmt::format("{}: not a readable .npy array: dtype '{}' {}", name, quoted_bytes(descr), why));
}

// The dtype from its descr ("<f4"); anything but plain numbers is refused by name.
void parse_descr(NpyHeader& h, const std::string& name) {
  const std::string& d = h.descr;
  const auto fail = [&](std::string_view why) { bad_dtype(name, d, why); };
  if (d.size() < 3 || (d[0] != '<' && d[0] != '>' && d[0] != '|' && d[0] != '=')) {
    if (d.find('O') != std::string::npos) fail("holds Python objects");
    fail("is not a plain numeric dtype");
  }
  const char kind = d[1];
  std::size_t size = 0;
  for (std::size_t i = 2; i < d.size(); ++i) {
    if (d[i] < '0' || d[i] > '9' || size > 64) fail("is not a plain numeric dtype");
    size = size * 10 + static_cast<std::size_t>(d[i] - '0');
  }
  h.item_size = size;
  h.big_endian = d[0] == '>';
  switch (kind) {
    case 'b': h.kind = NpyKind::boolean; break;
    case 'u': h.kind = NpyKind::unsigned_int; break;
    case 'i': h.kind = NpyKind::signed_int; break;
    case 'f': h.kind = NpyKind::floating; break;
    case 'O': bad_dtype(name, d, "holds Python objects");
    case 'U':
    case 'S': bad_dtype(name, d, "holds strings");
    default: bad_dtype(name, d, "is not a plain numeric dtype");
  }
  const bool sized =
      h.kind == NpyKind::floating ? (size == 4 || size == 8) : (size == 1 || size == 2 || size == 4 || size == 8);
  if (!sized || (h.kind == NpyKind::boolean && size != 1)) fail("has an item size apd does not read");
}

std::uint64_t read_le(std::span<const std::uint8_t> b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{b[at + i]} << (8 * i);
  return v;
}

// The raw bits of element `i`, in the machine's (little-endian) order.
std::uint64_t element_bits(const NpyHeader& h, std::span<const std::uint8_t> raw, std::size_t i) {
  std::uint64_t v = 0;
  const std::size_t at = i * h.item_size;
  for (std::size_t k = 0; k < h.item_size; ++k) {
    const std::size_t byte = h.big_endian ? h.item_size - 1 - k : k;
    v |= std::uint64_t{raw[at + byte]} << (8 * k);
  }
  return v;
}

std::int64_t sign_extend(std::uint64_t v, std::size_t bytes) {
  if (bytes < 8 && (v >> (8 * bytes - 1)) != 0) v |= ~std::uint64_t{0} << (8 * bytes);
  return static_cast<std::int64_t>(v);
}

}  // namespace

std::size_t NpyHeader::instance_elements() const noexcept {
  std::size_t n = 1;
  for (std::size_t k = 1; k < shape.size(); ++k) n *= shape[k];
  return n;
}

std::string NpyHeader::shape_text() const { return shape.empty() ? "()" : fmt::format("{}", fmt::join(shape, "x")); }

NpyHeader parse_npy_header(std::span<const std::uint8_t> bytes, std::uint64_t file_size, const std::string& name) {
  const auto fail = [&](const std::string& why) {
    throw Error(fmt::format("{}: not a readable .npy array: {}", name, why));
  };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    fail("no .npy magic (\\x93NUMPY) at its start");
  }
  const unsigned major = bytes[6];
  if (major < 1 || major > 3) fail(fmt::format("format version {}.{} (apd reads 1.0 to 3.0)", major, bytes[7]));
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + length_bytes) fail("truncated header");
  const std::size_t header_length = read_le(bytes, 8, length_bytes);
  if (header_length > kMaxHeader) fail(fmt::format("header of {} bytes (at most {})", header_length, kMaxHeader));
  NpyHeader h;
  h.data_offset = 8 + length_bytes + header_length;
  if (bytes.size() < h.data_offset) fail("truncated header");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8 + length_bytes, header_length);
  HeaderParser(text, name).parse(h);
  parse_descr(h, name);
  // Bounded whatever the zeros: an instance of a 0-instance array has a size too.
  std::size_t nonzero = 1;
  for (const std::size_t axis : h.shape) {
    if (axis != 0 && nonzero > kMaxElements / axis) fail(fmt::format("shape {} is too large", h.shape_text()));
    nonzero *= axis == 0 ? 1 : axis;
  }
  std::size_t elements = 1;
  for (const std::size_t axis : h.shape) elements *= axis;
  const std::uint64_t expected = h.data_offset + std::uint64_t{elements} * h.item_size;
  if (expected != file_size) {
    fail(fmt::format("shape {} of {}-byte elements needs {} bytes of data, the file holds {}", h.shape_text(),
                     h.item_size, elements * h.item_size, file_size >= h.data_offset ? file_size - h.data_offset : 0));
  }
  return h;
}

void npy_to_float(const NpyHeader& h, std::span<const std::uint8_t> raw, std::span<float> out, const std::string& name,
                  std::size_t instance) {
  const std::size_t n = out.size();
  if (raw.size() < n * h.item_size) throw Error(fmt::format("{}: read buffer too small", name));
  if (h.kind == NpyKind::unsigned_int && h.item_size == 1) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(raw[i]);
    return;
  }
  if (h.kind != NpyKind::floating) {
    throw Error(fmt::format("{}: dtype '{}': instances must be uint8, float32 or float64", name, h.descr));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t bits = element_bits(h, raw, i);
    double v = 0;
    if (h.item_size == 4) {
      float f = 0;
      const auto b32 = static_cast<std::uint32_t>(bits);
      std::memcpy(&f, &b32, sizeof f);
      v = f;
    } else {
      std::memcpy(&v, &bits, sizeof v);
    }
    if (!std::isfinite(v)) {
      throw Error(fmt::format("{}: instance {} holds a non-finite value ({}) at element {}", name, instance, v, i));
    }
    out[i] = static_cast<float>(v);
  }
}

std::vector<std::int64_t> npy_to_int64(const NpyHeader& h, std::span<const std::uint8_t> raw, const std::string& name) {
  if (h.kind != NpyKind::signed_int && h.kind != NpyKind::unsigned_int) {
    throw Error(fmt::format("{}: dtype '{}': targets must be integers", name, h.descr));
  }
  const std::size_t n = raw.size() / h.item_size;
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t bits = element_bits(h, raw, i);
    if (h.kind == NpyKind::signed_int) {
      out[i] = sign_extend(bits, h.item_size);
    } else {
      if (bits > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw Error(fmt::format("{}: target {} is {}, beyond int64", name, i, bits));
      }
      out[i] = static_cast<std::int64_t>(bits);
    }
  }
  return out;
}

namespace {

// The file opened for reading, with its size; refuses what is not a regular file.
int open_regular(const std::filesystem::path& path, std::uint64_t& size) {
  const int fd = open_regular_file(path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(fmt::format("{}: cannot read its size", path.string()));
  }
  size = static_cast<std::uint64_t>(st.st_size);
  return fd;
}

void pread_all(int fd, std::uint8_t* dst, std::size_t bytes, std::uint64_t offset, const std::string& name) {
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd, dst + done, bytes - done, static_cast<off_t>(offset + done));
    if (n <= 0) throw Error(fmt::format("{}: read failed at byte {}", name, offset + done));
    done += static_cast<std::size_t>(n);
  }
}

NpyHeader read_header(int fd, std::uint64_t size, const std::string& name) {
  std::vector<std::uint8_t> head(static_cast<std::size_t>(std::min<std::uint64_t>(size, 12 + kMaxHeader)));
  pread_all(fd, head.data(), head.size(), 0, name);
  return parse_npy_header(head, size, name);
}

}  // namespace

NpyInstances::NpyInstances(const std::filesystem::path& path) : path_(path) {
  std::uint64_t size = 0;
  fd_ = open_regular(path, size);
  try {
    header_ = read_header(fd_, size, path.string());
    if (header_.shape.empty()) throw Error(fmt::format("{}: a scalar, not an array of instances", path.string()));
    if (header_.count() == 0 || header_.instance_elements() == 0) {
      throw Error(fmt::format("{}: shape {} holds no instances", path.string(), header_.shape_text()));
    }
    if (!(header_.kind == NpyKind::floating || (header_.kind == NpyKind::unsigned_int && header_.item_size == 1))) {
      throw Error(fmt::format("{}: dtype '{}': instances must be uint8, float32 or float64", path.string(),
                              quoted_bytes(header_.descr)));
    }
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

NpyInstances::~NpyInstances() {
  if (fd_ >= 0) ::close(fd_);
}

void NpyInstances::read(std::span<const std::int64_t> indices, std::span<float> out) const {
  const std::size_t elements = header_.instance_elements();
  const std::size_t bytes = header_.instance_bytes();
  if (out.size() < indices.size() * elements) throw Error(fmt::format("{}: read buffer too small", path_.string()));
  std::vector<std::uint8_t> raw;
  for (std::size_t k = 0; k < indices.size();) {
    const auto i = static_cast<std::size_t>(indices[k]);
    if (indices[k] < 0 || i >= count()) {
      throw Error(fmt::format("{}: instance {} is outside {}", path_.string(), indices[k], index_range(count())));
    }
    // Runs of consecutive indices are read with one pread.
    std::size_t run = 1;
    while (k + run < indices.size() && indices[k + run] == indices[k] + static_cast<std::int64_t>(run)) ++run;
    raw.resize(run * bytes);
    pread_all(fd_, raw.data(), raw.size(), header_.data_offset + std::uint64_t{i} * bytes, path_.string());
    for (std::size_t r = 0; r < run; ++r) {
      npy_to_float(header_, std::span(raw).subspan(r * bytes, bytes), out.subspan((k + r) * elements, elements),
                   path_.string(), i + r);
    }
    k += run;
  }
}

std::vector<std::int64_t> read_npy_targets(const std::filesystem::path& path, std::optional<std::uint64_t> expected,
                                           const std::string& data_name) {
  const std::string name = path.string();
  std::uint64_t size = 0;
  const struct Fd {
    int fd;
    ~Fd() { ::close(fd); }
  } file{open_regular(path, size)};
  const NpyHeader h = read_header(file.fd, size, name);
  if (h.shape.size() != 1) {
    throw Error(
        fmt::format("{}: targets have shape {}; one integer per instance ([N]) is needed", name, h.shape_text()));
  }
  if (expected && static_cast<std::uint64_t>(h.shape[0]) != *expected) {
    throw Error(fmt::format("{}: holds {} targets but {} holds {} instances", name, h.shape[0], data_name, *expected));
  }
  std::vector<std::uint8_t> raw(h.data_bytes());
  pread_all(file.fd, raw.data(), raw.size(), h.data_offset, name);
  return npy_to_int64(h, raw, name);
}

}  // namespace apd
