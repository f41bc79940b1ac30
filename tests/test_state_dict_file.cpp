// The torch-free state_dict reader on pickles written by hand, opcode by
// opcode, as torch.save writes them (protocol 2), and on hostile variants.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "apd/core/error.hpp"
#include "apd/io/state_dict_file.hpp"

namespace {

// Pickle opcodes, spelled out.
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }
std::string str(const std::string& s) {
  std::string out = "X";
  for (int i = 0; i < 4; ++i) out += static_cast<char>((s.size() >> (8 * i)) & 0xff);
  return out + s;
}
std::string int1(int v) { return std::string("K") + static_cast<char>(v); }
std::string ints(std::initializer_list<int> vs) {
  std::string out = "(";
  for (const int v : vs) out += int1(v);
  return out + "t";
}

// OrderedDict({name: _rebuild_tensor_v2(storage key "0" of `type`, offset, sizes, strides, False, None)}).
std::string state_dict_pickle(const std::string& name, const std::string& type, int offset,
                              std::initializer_list<int> sizes, std::initializer_list<int> strides) {
  // Appended piece by piece: GCC 12 warns falsely (-Wstringop-overflow) on "(" + std::string&&.
  std::string pid = "(";
  pid += str("storage") + global("torch", type) + str("0") + str("cpu") + int1(6) + "t";
  const std::string tensor = global("torch._utils", "_rebuild_tensor_v2") + "(" + pid + "Q" + int1(offset) +
                             ints(sizes) + ints(strides) + "\x89" + "N" + "tR";
  return std::string("\x80\x02") + global("collections", "OrderedDict") + ")R(" + str(name) + tensor + "u.";
}

apd::RecordReader records(std::map<std::string, std::string> files) {
  return [files = std::move(files)](const std::string& record) -> std::shared_ptr<const std::string> {
    const auto it = files.find(record);
    return it == files.end() ? nullptr : std::make_shared<const std::string>(it->second);
  };
}

const std::string kSixFloats(24, '\0');

}  // namespace

TEST_CASE("a hand-written state_dict pickle reads as its tensor's view of the storage", "[state_dict]") {
  const auto dict = apd::read_state_dict_pickle(state_dict_pickle("0.weight", "FloatStorage", 0, {2, 3}, {3, 1}),
                                                records({{"data/0", kSixFloats}}), "m.pt");
  REQUIRE(dict.size() == 1);
  CHECK(dict[0].first == "0.weight");
  const apd::StoredTensor& t = dict[0].second;
  CHECK(t.dtype == apd::DType::float32);
  CHECK(t.sizes == std::vector<std::int64_t>{2, 3});
  CHECK(t.strides == std::vector<std::int64_t>{3, 1});
  CHECK(t.offset == 0);
  CHECK(t.storage->size() == 24);
}

TEST_CASE("a tensor's view must lie inside its storage", "[state_dict]") {
  using Catch::Contains;
  const auto read = [](int offset, std::initializer_list<int> sizes, std::initializer_list<int> strides) {
    return apd::read_state_dict_pickle(state_dict_pickle("w", "FloatStorage", offset, sizes, strides),
                                       records({{"data/0", kSixFloats}}), "m.pt");
  };
  CHECK_NOTHROW(read(2, {2, 2}, {2, 1}));  // elements 2..5
  CHECK_NOTHROW(read(6, {0}, {1}));        // empty, at the end
  CHECK_THROWS_WITH(read(3, {2, 2}, {2, 1}), Contains("m.pt: a tensor's view (offset 3, sizes 2x2, strides 2,1) "
                                                      "does not fit its storage of 6 elements"));
  CHECK_THROWS_WITH(read(0, {3, 3}, {3, 1}), Contains("does not fit its storage"));
  CHECK_THROWS_WITH(read(7, {0}, {1}), Contains("does not fit its storage"));
  // A view that repeats elements holds more than the storage: copying it is not bounded by the file.
  CHECK_THROWS_WITH(read(0, {200, 200}, {0, 0}), Contains("does not fit its storage"));
  CHECK_THROWS_WITH(read(0, {2, 255}, {255, 255}), Contains("does not fit its storage"));
}

TEST_CASE("a hostile state_dict pickle is an error naming the file, never a crash", "[state_dict]") {
  using Catch::Contains;
  const auto six = records({{"data/0", kSixFloats}});
  // The sizes are an int where a tuple belongs.
  std::string p = state_dict_pickle("w", "FloatStorage", 0, {6}, {1});
  const std::string sizes = ints({6});
  p.replace(p.find(sizes), sizes.size(), int1(6));
  CHECK_THROWS_WITH(apd::read_state_dict_pickle(p, six, "m.pt"), Contains("m.pt: malformed pickle (a tensor's sizes "
                                                                          "is not a tuple)"));
  CHECK_THROWS_WITH(
      apd::read_state_dict_pickle(state_dict_pickle("w", "FloatStorage", 0, {6}, {1}), records({}), "m.pt"),
      Contains("m.pt: archive lacks record data/0"));
  CHECK_THROWS_WITH(
      apd::read_state_dict_pickle(state_dict_pickle("w", "FloatStorage", 0, {6}, {1}), records({{"data/0", "abc"}}),
                                  "m.pt"),
      Contains("m.pt: archive record data/0 holds 3 bytes: not a whole number of 4-byte torch FloatStorage elements"));
  CHECK_THROWS_WITH(apd::read_state_dict_pickle(state_dict_pickle("w", "ComplexStorage", 0, {6}, {1}), six, "m.pt"),
                    Contains("m.pt: unsupported tensor storage type 'torch ComplexStorage'"));
  CHECK_THROWS_WITH(
      apd::read_state_dict_pickle("\x80\x02" + global("os", "system") + "(" + str("ls") + "tR.", six, "m.pt"),
      Contains("m.pt: holds a Python object 'os system'"));
  CHECK_THROWS_WITH(apd::read_state_dict_pickle("\x80\x02]", six, "m.pt"), Contains("m.pt: truncated pickle"));
  CHECK_THROWS_WITH(apd::read_state_dict_pickle("\x80\x02" + std::string(200, ']') + "e.", six, "m.pt"),
                    Contains("m.pt: malformed pickle"));
  // A list that holds itself (APPEND of a memoised list to itself) is freed.
  CHECK_THROWS_WITH(apd::read_state_dict_pickle("\x80\x02]q\x01h\x01"
                                                "a.",
                                                six, "m.pt"),
                    Contains("m.pt: holds no dict"));
  // ... also when a later PUT to the same memo key drops it from the memo
  // (found by fuzz_state_dict; ASan's leak check in scripts/asan.sh sees it).
  CHECK_THROWS_WITH(apd::read_state_dict_pickle("\x80\x02]q\x01h\x01"
                                                "a]q\x01"
                                                "a.",
                                                six, "m.pt"),
                    Contains("m.pt: holds no dict"));
}

TEST_CASE("bytes that are not a zip archive are not a checkpoint", "[state_dict]") {
  CHECK_THROWS_WITH(apd::read_state_dict_archive("PK\x03\x04 but no more", "junk.pt"),
                    Catch::StartsWith("junk.pt: not a PyTorch zip checkpoint ("));
  CHECK_THROWS_WITH(apd::read_state_dict_file(APD_SOURCE_DIR), Catch::Contains(": not a regular file"));
}
