// The zip side of state_dict files (include/apd/io/state_dict_file.hpp):
// libzip opens the archive, on disk or in memory, and reads its records;
// src/io/pickle.cpp reads data.pkl.
#include "apd/io/state_dict_file.hpp"

#include <zip.h>

#include <memory>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"

namespace apd {

std::size_t element_size(DType dtype) {
  switch (dtype) {
    case DType::float64:
    case DType::int64: return 8;
    case DType::float32:
    case DType::int32: return 4;
    case DType::float16:
    case DType::bfloat16:
    case DType::int16: return 2;
    case DType::int8:
    case DType::uint8:
    case DType::boolean: return 1;
  }
  return 1;
}

namespace {

struct ZipDiscard {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using Zip = std::unique_ptr<zip_t, ZipDiscard>;
struct ZipFileClose {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// One opened archive: its records under the archive's top folder
// ("archive/data.pkl" is record "data.pkl"), each read whole. torch.save
// stores records uncompressed, so a record is never larger than the file:
// compressed records are refused rather than inflated.
class Archive {
 public:
  Archive(Zip zip, std::string name, std::uint64_t file_size)
      : zip_(std::move(zip)), name_(std::move(name)), file_size_(file_size) {
    const char* first = zip_get_num_entries(zip_.get(), 0) > 0 ? zip_get_name(zip_.get(), 0, 0) : nullptr;
    const std::string_view entry = first == nullptr ? "" : first;
    const auto slash = entry.find('/');
    if (slash == std::string_view::npos) fail("not a PyTorch zip checkpoint (no top folder in the archive)");
    prefix_ = std::string(entry.substr(0, slash + 1));
  }

  std::shared_ptr<const std::string> record(const std::string& record) const {
    const zip_int64_t index = zip_name_locate(zip_.get(), (prefix_ + record).c_str(), 0);
    if (index < 0) return nullptr;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_.get(), static_cast<zip_uint64_t>(index), 0, &st) != 0) {
      fail("cannot read record {}: {}", record, zip_strerror(zip_.get()));
    }
    if ((st.valid & ZIP_STAT_COMP_METHOD) == 0 || st.comp_method != ZIP_CM_STORE ||
        ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && st.encryption_method != ZIP_EM_NONE)) {
      fail("record {} is compressed or encrypted; torch.save stores records as they are", record);
    }
    if ((st.valid & ZIP_STAT_SIZE) == 0 || st.size > file_size_) {
      fail("record {} declares {} bytes, more than the file's {}", record, st.size, file_size_);
    }
    return read(static_cast<zip_uint64_t>(index), static_cast<std::size_t>(st.size), record);
  }

  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(fmt::format("{}: {}", name_, fmt::format(f, std::forward<Args>(args)...)));
  }

 private:
  std::shared_ptr<const std::string> read(zip_uint64_t index, std::size_t size, const std::string& record) const {
    const std::unique_ptr<zip_file_t, ZipFileClose> file(zip_fopen_index(zip_.get(), index, 0));
    if (file == nullptr) fail("cannot open record {}: {}", record, zip_strerror(zip_.get()));
    auto bytes = std::make_shared<std::string>(size, '\0');
    std::size_t done = 0;
    while (done < size) {
      const zip_int64_t n = zip_fread(file.get(), bytes->data() + done, size - done);
      if (n < 0) fail("cannot read record {}: {}", record, zip_file_strerror(file.get()));
      if (n == 0) fail("record {} is truncated ({} of {} bytes)", record, done, size);
      done += static_cast<std::size_t>(n);
    }
    // The CRC is checked once the whole record has been read.
    char extra = 0;
    if (zip_fread(file.get(), &extra, 1) != 0) fail("cannot read record {}: {}", record, zip_file_strerror(file.get()));
    return bytes;
  }

  Zip zip_;
  std::string name_;
  std::uint64_t file_size_;
  std::string prefix_;
};

[[noreturn]] void not_a_checkpoint(const std::string& name, zip_error_t& error) {
  const std::string why = zip_error_strerror(&error);
  zip_error_fini(&error);
  throw Error(
      fmt::format("{}: not a PyTorch zip checkpoint ({}); save it with torch.save in PyTorch >= 1.6", name, why));
}

// Opens the archive in `source`, which it takes over.
Archive open_archive(zip_source_t* source, zip_error_t& error, const std::string& name, std::uint64_t size) {
  if (source == nullptr) not_a_checkpoint(name, error);
  Zip zip(zip_open_from_source(source, ZIP_RDONLY, &error));
  if (zip == nullptr) {
    zip_source_free(source);
    not_a_checkpoint(name, error);
  }
  zip_error_fini(&error);
  return Archive(std::move(zip), name, size);
}

StoredStateDict read_archive(const Archive& archive, const std::string& name) {
  const auto pickle = archive.record("data.pkl");
  if (pickle == nullptr) archive.fail("no data.pkl in the archive");
  return read_state_dict_pickle(
      *pickle, [&](const std::string& record) { return archive.record(record); }, name);
}

}  // namespace

StoredStateDict read_state_dict_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw Error(fmt::format("{}: no such file", name));
  if (!std::filesystem::is_regular_file(status)) throw Error(fmt::format("{}: not a regular file", name));
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  zip_error_t error;
  zip_error_init(&error);
  std::FILE* file = open_regular_stream(path);  // the source owns it from here on
  zip_source_t* source = zip_source_filep_create(file, 0, -1 /* to the end */, &error);
  if (source == nullptr) std::fclose(file);
  const Archive archive = open_archive(source, error, name, size);
  return read_archive(archive, name);
}

StoredStateDict read_state_dict_archive(std::string_view bytes, const std::string& name) {
  zip_error_t error;
  zip_error_init(&error);
  const Archive archive =
      open_archive(zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error), error, name, bytes.size());
  return read_archive(archive, name);
}

}  // namespace apd
