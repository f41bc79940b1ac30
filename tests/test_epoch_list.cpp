// --epochs items (io/epoch_list.hpp): parsing, expansion against the epochs
// that exist, and the files a TorchScript {epoch} pattern names on disk.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "apd/core/error.hpp"
#include "apd/io/epoch_list.hpp"
#include "test_support.hpp"

using Catch::Contains;

namespace {

std::vector<int> expand(const std::vector<std::string>& texts, std::vector<int> available) {
  std::vector<apd::EpochItem> items;
  for (const auto& t : texts) items.push_back(apd::parse_epoch_item(t));
  apd::EpochSource source{std::move(available), {}, {}};
  source.special = [](const apd::EpochItem& item) { return item.kind == apd::EpochItem::Kind::best ? 3 : 9; };
  source.missing = [](int epoch, const apd::EpochItem& item) {
    throw apd::Error("missing " + std::to_string(epoch) + " of " + item.text);
  };
  return apd::expand_epochs(items, source);
}

}  // namespace

TEST_CASE("epoch items: numbers, ranges, steps, all, best and last", "[epochs]") {
  const std::vector<int> nine{1, 2, 3, 4, 5, 6, 7, 8, 9};
  CHECK(expand({"3"}, nine) == std::vector<int>{3});
  CHECK(expand({"2-5"}, nine) == std::vector<int>{2, 3, 4, 5});
  CHECK(expand({"1-9:4"}, nine) == std::vector<int>{1, 5, 9});
  CHECK(expand({"1-8:4"}, nine) == std::vector<int>{1, 5});
  CHECK(expand({"all"}, {2, 4, 10}) == std::vector<int>{2, 4, 10});
  // In the order given, each once.
  CHECK(expand({"7", "1-3", "best", "last", "2"}, nine) == std::vector<int>{7, 1, 2, 3, 9});
  CHECK_THROWS_WITH(expand({"1-12"}, nine), "missing 10 of 1-12");
  CHECK_THROWS_WITH(expand({"1-3"}, {1, 3}), "missing 2 of 1-3");
}

TEST_CASE("epoch items that are none of the forms are usage errors", "[epochs]") {
  for (const char* bad :
       {"", "0", "x", "1-", "-3", "3-1", "1-3:", "1-3:0", "1-3:x", "1,2", "2000000", "01-", "1-2-3"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(apd::parse_epoch_item(bad), apd::UsageError);
  }
  CHECK_THROWS_WITH(apd::parse_epoch_item("5-1"), "--epoch/--epochs: '5-1' ends before it starts");
  CHECK(apd::may_name_several(std::vector<std::string>{"1-3"}));
  CHECK(apd::may_name_several(std::vector<std::string>{"all"}));
  CHECK_FALSE(apd::may_name_several(std::vector<std::string>{"best"}));
}

TEST_CASE("epochs all finds the files a {epoch} pattern names, in numeric order", "[epochs]") {
  const apd::test::TempDir temp("epochs-on-disk");
  const std::filesystem::path& dir = temp.path();
  for (const char* name : {"e-1.pt", "e-2.pt", "e-10.pt", "e-010.pt", "e-3.ptx", "e-x.pt", "f-4.pt", "e-5-5.pt"}) {
    std::ofstream(dir / name) << "x";
  }
  std::filesystem::create_directory(dir / "e-7.pt");  // a directory, not a checkpoint
  CHECK(apd::epochs_on_disk((dir / "e-{epoch}.pt").string()) == std::vector<int>{1, 2, 10});
  CHECK(apd::epochs_on_disk((dir / "e-{epoch}-{epoch}.pt").string()) == std::vector<int>{5});
  CHECK(apd::epochs_on_disk((dir / "none-{epoch}.pt").string()).empty());
  CHECK_THROWS_WITH(apd::epochs_on_disk((dir / "{epoch}" / "m.pt").string()), Contains("not a directory"));
}
