// Reading apd/1 JSON: bytes from a file (in chunks) or from memory, parsed by
// apd_json_parse.cpp and checked by apd_validate.cpp.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd_document.hpp"

namespace apd {

namespace {

class MemorySource final : public detail::ByteSource {
 public:
  explicit MemorySource(std::string_view text) : text_(text), size_(text.size()) {}
  std::size_t read(char* out, std::size_t size) override {
    const std::size_t n = std::min(size, text_.size());
    std::memcpy(out, text_.data(), n);
    text_.remove_prefix(n);
    return n;
  }
  [[nodiscard]] std::uint64_t size() const override { return size_; }

 private:
  std::string_view text_;
  std::uint64_t size_;
};

class FileSource final : public detail::ByteSource {
 public:
  explicit FileSource(const std::filesystem::path& path) : path_(path), file_(open_regular_stream(path)) {}
  std::size_t read(char* out, std::size_t size) override {
    const std::size_t n = std::fread(out, 1, size, file_.get());
    if (n == 0 && std::ferror(file_.get()) != 0) {
      throw Error(fmt::format("{}: read failed: {}", path_.string(), std::strerror(errno)));
    }
    return n;
  }
  [[nodiscard]] std::uint64_t size() const override {
    struct stat st {};
    return ::fstat(::fileno(file_.get()), &st) == 0 && st.st_size > 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }

 private:
  struct Closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::filesystem::path path_;
  std::unique_ptr<std::FILE, Closer> file_;
};

}  // namespace

Diagram parse_apd_json(std::string_view text, const std::string& name) {
  MemorySource source(text);
  return detail::validate_apd_document(detail::parse_apd_document(source, name), name);
}

ApdProvenance provenance(const Diagram& d, const std::string& file) {
  auto field = [&](const nlohmann::json& parent, const char* key) -> const nlohmann::json* {
    const auto it = parent.find(key);
    return it == parent.end() || it->is_null() ? nullptr : &*it;
  };
  auto wrong = [&](const char* key, const char* expected, const nlohmann::json& got) {
    throw Error(fmt::format("{}: graph.{}: expected {}, got {}", file, key, expected, got.type_name()));
  };
  ApdProvenance p;
  if (const auto* run = field(d.graph, "run")) {
    if (!run->is_string()) wrong("run", "a string or null", *run);
    p.run = run->get<std::string>();
  }
  if (const auto* epoch = field(d.graph, "epoch")) {
    if (!epoch->is_number_integer() || (epoch->is_number_unsigned() && epoch->get<std::uint64_t>() > INT64_MAX)) {
      wrong("epoch", "an integer or null", *epoch);
    }
    p.epoch = epoch->get<std::int64_t>();
  }
  if (const auto* model = field(d.graph, "model")) {
    if (!model->is_object()) wrong("model", "an object", *model);
    if (const auto* arch = field(*model, "architecture")) {
      if (!arch->is_string()) wrong("model.architecture", "a string", *arch);
      p.architecture = arch->get<std::string>();
    }
  }
  if (const auto* selection = field(d.graph, "selection")) {
    if (!selection->is_object()) wrong("selection", "an object or null", *selection);
    p.selection = *selection;
  }
  return p;
}

nlohmann::json parse_apd_graph(std::string_view text, const std::string& name) {
  MemorySource source(text);
  return detail::parse_apd_graph(source, name);
}

nlohmann::json read_apd_graph(const std::filesystem::path& path) {
  FileSource source(path);
  return detail::parse_apd_graph(source, path.string());
}

Diagram read_apd_file(const std::filesystem::path& path) {
  FileSource source(path);
  return detail::validate_apd_document(detail::parse_apd_document(source, path.string()), path.string());
}

}  // namespace apd
