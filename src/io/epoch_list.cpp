#include "apd/io/epoch_list.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"

namespace apd {

namespace {

constexpr std::string_view kToken = "{epoch}";

// A positive epoch number, digits only, up to kMaxEpochs; nothing else.
bool epoch_number(std::string_view text, int& out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size() && out >= 1 && out <= kMaxEpochs;
}

[[noreturn]] void not_an_item(const std::string& text) {
  throw UsageError(fmt::format(
      "--epoch/--epochs: '{}' is not an epoch (1 to {}), a range A-B or A-B:S, all, best or last", text, kMaxEpochs));
}

}  // namespace

EpochItem parse_epoch_item(const std::string& text) {
  EpochItem item;
  item.text = text;
  if (text == "all" || text == "best" || text == "last") {
    item.kind = text == "all" ? EpochItem::Kind::all : text == "best" ? EpochItem::Kind::best : EpochItem::Kind::last;
    return item;
  }
  const std::string_view t(text);
  const auto dash = t.find('-');
  if (dash == std::string_view::npos) {
    if (!epoch_number(t, item.first)) not_an_item(text);
    item.last = item.first;
    return item;
  }
  item.kind = EpochItem::Kind::range;
  const auto colon = t.find(':', dash);
  const std::string_view to =
      t.substr(dash + 1, colon == std::string_view::npos ? std::string_view::npos : colon - dash - 1);
  if (!epoch_number(t.substr(0, dash), item.first) || !epoch_number(to, item.last)) not_an_item(text);
  if (colon != std::string_view::npos && !epoch_number(t.substr(colon + 1), item.step)) not_an_item(text);
  if (item.last < item.first) throw UsageError(fmt::format("--epoch/--epochs: '{}' ends before it starts", text));
  return item;
}

bool may_name_several(std::span<const std::string> texts) {
  return texts.size() > 1 || (texts.size() == 1 && (texts[0] == "all" || texts[0].find('-') != std::string::npos));
}

std::string EpochItem::of_range() const {
  return kind == Kind::range ? fmt::format(" of the range {}", text) : std::string();
}

std::vector<int> expand_epochs(std::span<const EpochItem> items, const EpochSource& source) {
  std::vector<int> out;
  std::set<int> seen;
  const auto add = [&](int epoch) {
    if (seen.insert(epoch).second) out.push_back(epoch);
  };
  const auto exists = [&](int epoch) {
    return std::binary_search(source.available.begin(), source.available.end(), epoch);
  };
  for (const EpochItem& item : items) {
    switch (item.kind) {
      case EpochItem::Kind::all:
        for (const int e : source.available) add(e);
        break;
      case EpochItem::Kind::best:
      case EpochItem::Kind::last:
        if (!source.special) {
          throw UsageError(fmt::format("--epoch/--epochs: '{}' needs --run (an apd-train run's record)", item.text));
        }
        add(source.special(item));
        break;
      case EpochItem::Kind::number:
      case EpochItem::Kind::range:
        for (long e = item.first; e <= item.last; e += item.step) {
          if (!exists(static_cast<int>(e))) source.missing(static_cast<int>(e), item);
          add(static_cast<int>(e));
        }
        break;
    }
  }
  return out;
}

std::vector<int> epochs_on_disk(const std::string& pattern) {
  const std::filesystem::path path(pattern);
  const std::string name = path.filename().string();
  if (path.parent_path().string().find(kToken) != std::string::npos || name.find(kToken) == std::string::npos) {
    throw UsageError(fmt::format("--epochs all: {{epoch}} must be in the file name of '{}', not a directory", pattern));
  }
  // The name's literal parts around each {epoch}; every {epoch} is the same N.
  std::vector<std::string> parts;
  for (std::size_t from = 0;;) {
    const auto at = name.find(kToken, from);
    parts.push_back(name.substr(from, at == std::string::npos ? std::string::npos : at - from));
    if (at == std::string::npos) break;
    from = at + kToken.size();
  }
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) throw Error(fmt::format("--epochs all: cannot list {}: {}", dir.string(), ec.message()));
  std::vector<int> epochs;
  for (const auto& entry : it) {
    const std::string candidate = entry.path().filename().string();
    if (!candidate.starts_with(parts.front()) || !candidate.ends_with(parts.back())) continue;
    // The digits after the first part: the epoch the whole name must then spell.
    const std::string_view rest = std::string_view(candidate).substr(parts.front().size());
    const auto digits = rest.find_first_not_of("0123456789");
    int epoch = 0;
    if (!epoch_number(rest.substr(0, digits), epoch)) continue;
    std::string spelled = parts.front();
    for (std::size_t k = 1; k < parts.size(); ++k) spelled += std::to_string(epoch) + parts[k];
    if (spelled == candidate && entry.is_regular_file(ec)) epochs.push_back(epoch);
  }
  std::sort(epochs.begin(), epochs.end());
  return epochs;
}

}  // namespace apd
