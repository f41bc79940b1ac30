// The .npy reader on files numpy.save wrote (tests/python/make_npy.py, a
// ctest fixture, in APD_NPY_DIR) and on headers written by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "apd/core/error.hpp"
#include "apd/io/npy.hpp"
#include "test_support.hpp"

using Catch::Contains;
using Catch::Equals;
using Catch::StartsWith;

namespace {

std::filesystem::path npy(const std::string& name) { return std::filesystem::path(APD_NPY_DIR) / name; }

// make_npy.py's element k.
float expected(std::size_t k) { return static_cast<float>((k * 7919) % 251); }

std::vector<float> read_all(const apd::NpyInstances& f) {
  std::vector<std::int64_t> indices(f.count());
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<std::int64_t>(i);
  std::vector<float> out(f.count() * f.instance_size());
  f.read(indices, out);
  return out;
}

// A version-1.0 file's bytes: magic, header padded to 64 bytes, then `data`.
std::vector<std::uint8_t> npy_bytes(const std::string& dict, std::size_t data_bytes) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(data_bytes, '\0');
  return {out.begin(), out.end()};
}

}  // namespace

TEST_CASE("instances written by numpy.save read back element for element", "[npy]") {
  for (const char* name : {"u1.npy", "f4.npy", "f8.npy", "f4_big.npy", "f4_v2.npy", "f4_v3.npy"}) {
    INFO(name);
    const apd::NpyInstances f(npy(name));
    CHECK(f.count() == 5);
    CHECK(f.instance_size() == 6);
    CHECK(f.header().shape_text() == "5x2x3");
    const auto values = read_all(f);
    for (std::size_t k = 0; k < values.size(); ++k) REQUIRE(values[k] == expected(k));
  }
}

TEST_CASE("instances are read by index, in the order asked", "[npy]") {
  const apd::NpyInstances f(npy("f4.npy"));
  const std::vector<std::int64_t> indices{4, 0, 1, 2, 4};
  std::vector<float> out(indices.size() * 6);
  f.read(indices, out);
  for (std::size_t r = 0; r < indices.size(); ++r) {
    for (std::size_t e = 0; e < 6; ++e)
      REQUIRE(out[r * 6 + e] == expected(static_cast<std::size_t>(indices[r]) * 6 + e));
  }
  CHECK_THROWS_WITH(f.read(std::vector<std::int64_t>{5}, out), Contains("f4.npy: instance 5 is outside 0..4"));
}

TEST_CASE("integer targets of every width and byte order read as int64", "[npy]") {
  for (const char* name : {"t_i1.npy", "t_i2.npy", "t_i4.npy", "t_i8.npy", "t_u1.npy", "t_u2.npy", "t_u4.npy",
                           "t_u8.npy", "t_big_i4.npy"}) {
    INFO(name);
    const auto targets = apd::read_npy_targets(npy(name));
    REQUIRE(targets.size() == 5);
    for (std::size_t k = 0; k < 5; ++k) {
      // int8 wraps values above 127, as numpy's astype does.
      const auto v = static_cast<std::int64_t>(expected(k));
      CHECK(targets[k] == (std::string(name) == "t_i1.npy" && v > 127 ? v - 256 : v));
    }
  }
  CHECK(apd::read_npy_targets(npy("t_negative.npy")) == std::vector<std::int64_t>{-1, 0, 1, 2, 3});
}

TEST_CASE("arrays apd cannot read are one-line errors naming the file", "[npy]") {
  CHECK_THROWS_WITH(apd::NpyInstances(npy("fortran.npy")), Contains("fortran.npy: not a readable .npy array: its "
                                                                    "elements are in Fortran order"));
  CHECK_THROWS_WITH(apd::NpyInstances(npy("object.npy")), Contains("object.npy: not a readable .npy array: dtype "
                                                                   "'|O' holds Python objects"));
  CHECK_THROWS_WITH(apd::NpyInstances(npy("strings.npy")), Contains("strings.npy: not a readable .npy array: dtype "
                                                                    "'<U3' holds strings"));
  CHECK_THROWS_WITH(apd::NpyInstances(npy("f2.npy")), Contains("f2.npy: not a readable .npy array: dtype '<f2' has "
                                                               "an item size apd does not read"));
  CHECK_THROWS_WITH(apd::NpyInstances(npy("truncated.npy")),
                    Contains("truncated.npy: not a readable .npy array: shape 5x2x3 of 4-byte elements needs 120 "
                             "bytes of data, the file holds 116"));
  CHECK_THROWS_WITH(apd::NpyInstances(npy("t_i8.npy")), Contains("t_i8.npy: dtype '<i8': instances must be uint8, "
                                                                 "float32 or float64"));
  CHECK_THROWS_WITH(apd::read_npy_targets(npy("targets_2d.npy")),
                    Contains("targets_2d.npy: targets have shape 5x1; one integer per instance ([N]) is needed"));
  CHECK_THROWS_WITH(apd::read_npy_targets(npy("t_float.npy")),
                    Contains("t_float.npy: dtype '<f4': targets must be integers"));
  CHECK_THROWS_WITH(apd::read_npy_targets(npy("nope.npy")), Contains("nope.npy: cannot open"));
  CHECK_THROWS_WITH(apd::read_npy_targets(APD_NPY_DIR), Contains(": is a directory, not a file"));
  const apd::NpyInstances nan(npy("nan.npy"));
  CHECK_THROWS_WITH(read_all(nan), Contains("nan.npy: instance 3 holds a non-finite value (nan) at element 4"));
}

TEST_CASE("hand-written headers: what numpy accepts and what it refuses", "[npy]") {
  const auto parse = [](const std::string& dict, std::size_t data) {
    const auto bytes = npy_bytes(dict, data);
    return apd::parse_npy_header(bytes, bytes.size(), "x.npy");
  };
  const auto h = parse("{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 2L), }", 48);
  CHECK(h.shape == std::vector<std::size_t>{3, 2});
  CHECK(h.data_offset == 128);  // 10 bytes of preamble + the dict padded to a multiple of 64
  CHECK(parse("{\"shape\": (4,), \"descr\": \"|u1\", \"fortran_order\": False}", 4).count() == 4);
  CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4).shape.empty());
  CHECK_THROWS_WITH(parse("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4),
                    Contains("x.npy: not a readable .npy array: its dtype is structured"));
  CHECK_THROWS_WITH(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 4),
                    Contains("header key 'extra' is not one of descr, fortran_order, shape"));
  CHECK_THROWS_WITH(parse("{'descr': '<f4', 'fortran_order': False}", 4), Contains("header lacks one of"));
  // Bytes of the header quoted whole: a NUL or a newline neither cuts nor splits the message.
  using namespace std::string_literals;
  CHECK_THROWS_WITH(parse("{'descr': '<f\0\n4', 'fortran_order': False, 'shape': (1,), }"s, 4),
                    Equals("x.npy: not a readable .npy array: dtype '<f\\x00\\x0a4' is not a plain numeric dtype"));
  CHECK_THROWS_WITH(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'a\0b': 1}"s, 4),
                    StartsWith("x.npy: not a readable .npy array: header key 'a\\x00b' is not one of"));
  CHECK_THROWS_WITH(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 4),
                    Contains("an axis of the shape exceeds"));
  CHECK_THROWS_WITH(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (16777216, 16777216, 16777216), }", 4),
                    Contains("shape 16777216x16777216x16777216 is too large"));
  // No instances, but each would be 2^24 x 2^24 x 2^24 values: still refused (found by fuzz_npy).
  CHECK_THROWS_WITH(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 16777216, 16777216, 16777216), }", 0),
                    Contains("is too large"));
  CHECK_THROWS_WITH(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 4),
                    Contains("needs 8 bytes of data, the file holds 4"));
  const std::vector<std::uint8_t> zip{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_THROWS_WITH(apd::parse_npy_header(zip, zip.size(), "x.npy"), Contains("x.npy: not a readable .npy array: "
                                                                              "no .npy magic"));
}

TEST_CASE("targets whose header declares another count are refused before their data is read", "[npy]") {
  const apd::test::TempDir dir("npy-targets");
  // A billion int8 targets in a sparse file (1 GB long, no disk used): read
  // and widened to int64 before the count check, they would take 9 GB.
  const auto bytes = npy_bytes("{'descr': '|i1', 'fortran_order': False, 'shape': (1000000000,), }", 0);
  const auto path = dir.path() / "y.npy";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  std::filesystem::resize_file(path, bytes.size() + 1'000'000'000);
  CHECK_THROWS_WITH(apd::read_npy_targets(path, 200, "X.npy"),
                    Contains("y.npy: holds 1000000000 targets but X.npy holds 200 instances"));
}
