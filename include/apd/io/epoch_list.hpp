// --epochs for a series of checkpoints: items separated by commas, each an
// epoch number N, a range A-B (every epoch from A to B), A-B:S (every S-th
// from A, up to B), `all` (every epoch there is), or, for an apd-train run,
// `best` (the best validation epoch) and `last`. Expanded against the epochs
// that exist: a run's checkpoints, or the files a TorchScript pattern with
// {epoch} names (epochs_on_disk).
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace apd {

struct EpochItem {
  enum class Kind { number, range, all, best, last };
  Kind kind = Kind::number;
  int first = 0, last = 0, step = 1;  // number: first == last
  std::string text;                   // as given, for messages

  // " of the range A-B" for a range, "" otherwise: for messages.
  [[nodiscard]] std::string of_range() const;
};

// One item; throws UsageError "--epochs: 'TEXT' is not ..." naming the forms.
[[nodiscard]] EpochItem parse_epoch_item(const std::string& text);

// Whether the items may name more than one epoch (several items, a range, all).
[[nodiscard]] bool may_name_several(std::span<const std::string> texts);

// What the expansion asks of its caller.
struct EpochSource {
  std::vector<int> available;                                // ascending: the epochs that exist
  std::function<int(const EpochItem&)> special;              // best and last; empty: refused
  std::function<void(int epoch, const EpochItem&)> missing;  // throws: `epoch` of the item does not exist
};

// The epochs of `items` in the order given (a range ascending), each once
// (an epoch given twice, e.g. 5 and best, is run once).
[[nodiscard]] std::vector<int> expand_epochs(std::span<const EpochItem> items, const EpochSource& source);

// The epochs N for which replacing {epoch} by N (no leading zeros) in
// `pattern` names an existing regular file, ascending. {epoch} must be in
// the file name, not in a directory (UsageError otherwise).
[[nodiscard]] std::vector<int> epochs_on_disk(const std::string& pattern);

}  // namespace apd
