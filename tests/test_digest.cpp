// SHA-256 of files (OpenSSL): the FIPS 180-2 test vectors, a file larger than
// the read buffer, and a missing file named in the error.
#include <catch2/catch.hpp>

#include "apd/core/error.hpp"
#include "apd/io/digest.hpp"
#include "test_support.hpp"

using apd::test::TempDir;

TEST_CASE("sha256_file gives the FIPS 180-2 digests", "[digest]") {
  const TempDir dir("digest");
  apd::test::write_bytes(dir / "empty", {});
  CHECK(apd::sha256_file(dir / "empty") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  apd::test::write_bytes(dir / "abc", {'a', 'b', 'c'});
  CHECK(apd::sha256_file(dir / "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // One million 'a': larger than the 1 MiB read buffer.
  apd::test::write_bytes(dir / "million", std::vector<std::uint8_t>(1'000'000, 'a'));
  CHECK(apd::sha256_file(dir / "million") == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256_file names a file it cannot open", "[digest]") {
  CHECK_THROWS_WITH(apd::sha256_file("/nonexistent/x.idx"), Catch::Contains("/nonexistent/x.idx: cannot open"));
}
