// The unpickler behind read_state_dict_pickle (include/apd/io/state_dict_file.hpp).
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/io/state_dict_file.hpp"

namespace apd {

namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Global {
  std::string name;  // "module qualname"
};
struct Tuple {
  std::vector<ValuePtr> items;
};
struct List {
  std::vector<ValuePtr> items;
};
struct Dict {
  std::vector<std::pair<ValuePtr, ValuePtr>> items;
};
// A storage record: the persistent id's type and the record's bytes.
struct Storage {
  DType dtype;
  std::shared_ptr<const std::string> bytes;
  std::int64_t elements;
};
struct Value {
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Global, Tuple, List, Dict, Storage,
               StoredTensor>
      v;
  std::uint32_t depth = 0;  // containers: 1 + the deepest item
};

// A state_dict nests about 5 deep. The bound keeps a stranger's pickle of a
// million nested tuples from making destruction (one shared_ptr destructor
// per level) exhaust the stack.
constexpr std::uint32_t kMaxDepth = 100;

ValuePtr make(auto&& x) { return std::make_shared<Value>(Value{std::forward<decltype(x)>(x)}); }

class Unpickler {
 public:
  Unpickler(std::string name, std::string_view bytes, const RecordReader& records)
      : name_(std::move(name)), bytes_(bytes), records_(records) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  // A pickle can make a container hold itself (through the memo); only
  // memoised values can be referred to twice, so emptying them breaks every
  // cycle, which shared_ptr alone would leak. Every value ever memoised, not
  // just those the memo holds at the end: a later PUT to the same key drops
  // the earlier value from the memo, not from the cycle it may be in.
  ~Unpickler() {
    for (auto& value : memoised_) {
      std::visit(
          [](auto& c) {
            if constexpr (requires { c.items; }) c.items.clear();
          },
          value->v);
    }
  }

  ValuePtr run() {
    while (true) {
      const auto op = static_cast<unsigned char>(byte());
      if (op == '.') break;
      step(op);
    }
    if (stack_.size() != 1) fail("malformed pickle (stack holds {} values at STOP)", stack_.size());
    return stack_.back();
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(fmt::format("{}: {}", name_, fmt::format(f, std::forward<Args>(args)...)));
  }

  char byte() {
    if (pos_ >= bytes_.size()) fail("truncated pickle");
    return bytes_[pos_++];
  }
  std::string_view take(std::size_t n) {
    if (bytes_.size() - pos_ < n) fail("truncated pickle");
    const auto out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::uint64_t uint_le(std::size_t n) {
    const auto b = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(b[i])} << (8 * i);
    return v;
  }
  std::string line() {
    const auto end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("truncated pickle");
    std::string out(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  // As in Python's unpickler, values below the latest MARK cannot be popped
  // or changed until the mark is.
  [[nodiscard]] std::size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  ValuePtr pop() {
    if (stack_.size() <= fence()) fail("malformed pickle (stack underflow)");
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) fail("malformed pickle (no MARK)");
    const std::size_t at = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(at), stack_.end());
    stack_.resize(at);
    return items;
  }
  ValuePtr& top() {
    if (stack_.size() <= fence()) fail("malformed pickle (stack underflow)");
    return stack_.back();
  }
  void memoise(std::uint64_t key) {
    memo_[key] = top();
    memoised_.push_back(top());
  }

  void step(unsigned char op);
  // Makes a container of `items`, or adds them to `into`, bounding the depth.
  ValuePtr container(auto&& c, const std::vector<ValuePtr>& items) {
    auto v = make(std::forward<decltype(c)>(c));
    nest(*v, items);
    return v;
  }
  void nest(Value& into, const std::vector<ValuePtr>& items) {
    for (const auto& item : items) into.depth = std::max(into.depth, item->depth + 1);
    into.depth = std::max<std::uint32_t>(into.depth, 1);
    if (into.depth > kMaxDepth) fail("containers nested deeper than {} levels: not a state_dict", kMaxDepth);
  }
  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args);
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args);
  ValuePtr load_storage(const ValuePtr& pid);
  Storage read_storage(DType dtype, const std::string& type, const std::string& key);
  DType read_storage_type(const std::string& type) const;

  // Typed views of a value; `what` names it in the error.
  template <typename T>
  const T& as(const ValuePtr& v, std::string_view what) const {
    if (const T* x = std::get_if<T>(&v->v)) return *x;
    fail("malformed pickle ({} has the wrong type: not a state_dict)", what);
  }
  const std::vector<ValuePtr>& items(const ValuePtr& v, std::string_view what) const {
    if (const auto* t = std::get_if<Tuple>(&v->v)) return t->items;
    if (const auto* l = std::get_if<List>(&v->v)) return l->items;
    fail("malformed pickle ({} is not a tuple)", what);
  }
  std::vector<std::int64_t> int_list(const ValuePtr& v, std::string_view what) const {
    std::vector<std::int64_t> out;
    for (const auto& item : items(v, what)) out.push_back(as<std::int64_t>(item, what));
    return out;
  }

  std::string name_;
  std::string_view bytes_;
  std::size_t pos_ = 0;
  const RecordReader& records_;
  std::map<std::string, ValuePtr> storages_;  // by record key: each record is read once
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::map<std::uint64_t, ValuePtr> memo_;
  std::vector<ValuePtr> memoised_;  // every value memo_ ever held
};

// One pickle opcode: one case each, as pickle.py's dispatch table has it, so
// that the opcodes apd accepts can be read off in one place.
void Unpickler::step(unsigned char op) {  // size: opcode switch
  switch (op) {
    case 0x80: (void)byte(); break;      // PROTO
    case 0x95: (void)uint_le(8); break;  // FRAME
    case 'c': {                          // GLOBAL
      std::string module = line();
      stack_.push_back(make(Global{module + " " + line()}));
      break;
    }
    case 0x93: {  // STACK_GLOBAL
      const auto qual = pop();
      const auto module = pop();
      stack_.push_back(
          make(Global{as<std::string>(module, "a global's module") + " " + as<std::string>(qual, "a global's name")}));
      break;
    }
    case 'q': memoise(static_cast<unsigned char>(byte())); break;  // BINPUT
    case 'r': memoise(uint_le(4)); break;                          // LONG_BINPUT
    case 0x94: memoise(memo_.size()); break;                       // MEMOIZE
    case 'h':
    case 'j': {  // BINGET, LONG_BINGET
      const std::uint64_t key = op == 'h' ? static_cast<unsigned char>(byte()) : uint_le(4);
      const auto it = memo_.find(key);
      if (it == memo_.end()) fail("malformed pickle (memo {} missing)", key);
      stack_.push_back(it->second);
      break;
    }
    case ')': stack_.push_back(container(Tuple{}, {})); break;
    case '}': stack_.push_back(container(Dict{}, {})); break;
    case ']': stack_.push_back(container(List{}, {})); break;
    case '(': marks_.push_back(stack_.size()); break;
    case 't': {
      auto items = pop_to_mark();
      stack_.push_back(container(Tuple{items}, items));
      break;
    }
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1..3
      std::vector<ValuePtr> items(op - 0x84u);
      for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
      stack_.push_back(container(Tuple{items}, items));
      break;
    }
    case 'X': stack_.push_back(make(std::string(take(uint_le(4))))); break;  // BINUNICODE
    case 0x8c:
      stack_.push_back(make(std::string(take(static_cast<unsigned char>(byte())))));
      break;  // SHORT_BINUNICODE
    case 'J': stack_.push_back(make(static_cast<std::int64_t>(static_cast<std::int32_t>(uint_le(4))))); break;
    case 'K': stack_.push_back(make(static_cast<std::int64_t>(uint_le(1)))); break;
    case 'M': stack_.push_back(make(static_cast<std::int64_t>(uint_le(2)))); break;
    case 0x8a: {  // LONG1
      const std::size_t n = static_cast<unsigned char>(byte());
      if (n > 8) fail("integer of {} bytes is too large", n);
      std::uint64_t v = n == 0 ? 0 : uint_le(n);
      if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
      stack_.push_back(make(static_cast<std::int64_t>(v)));
      break;
    }
    case 'G': {  // BINFLOAT, big-endian
      std::uint64_t bits = 0;
      for (const char c : take(8)) bits = (bits << 8) | static_cast<unsigned char>(c);
      double d;
      std::memcpy(&d, &bits, sizeof d);
      stack_.push_back(make(d));
      break;
    }
    case 0x88: stack_.push_back(make(true)); break;
    case 0x89: stack_.push_back(make(false)); break;
    case 'N': stack_.push_back(make(std::monostate{})); break;
    case 'R':
    case 0x81: {  // REDUCE, NEWOBJ
      const auto args = pop();
      const auto callable = pop();
      stack_.push_back(reduce(callable, args));
      break;
    }
    case 'Q': stack_.push_back(load_storage(pop())); break;  // BINPERSID
    case 's':
    case 'u': {  // SETITEM, SETITEMS
      std::vector<ValuePtr> items;
      if (op == 's') {
        auto v = pop();
        items = {pop(), v};
      } else {
        items = pop_to_mark();
      }
      auto* dict = std::get_if<Dict>(&top()->v);
      if (dict == nullptr || items.size() % 2 != 0) fail("malformed pickle (SETITEMS on a non-dict)");
      nest(*top(), items);
      for (std::size_t k = 0; k < items.size(); k += 2) dict->items.emplace_back(items[k], items[k + 1]);
      break;
    }
    case 'a':
    case 'e': {  // APPEND, APPENDS
      std::vector<ValuePtr> items = op == 'a' ? std::vector<ValuePtr>{pop()} : pop_to_mark();
      auto* list = std::get_if<List>(&top()->v);
      if (list == nullptr) fail("malformed pickle (APPEND on a non-list)");
      nest(*top(), items);
      list->items.insert(list->items.end(), items.begin(), items.end());
      break;
    }
    case 'b': (void)pop(); break;  // BUILD: the state_dict's _metadata (versions), not needed
    default: fail("unsupported pickle opcode 0x{:02x} at byte {}", op, pos_ - 1);
  }
}

ValuePtr Unpickler::reduce(const ValuePtr& callable, const ValuePtr& args) {
  const std::string& g = as<Global>(callable, "a REDUCE's callable").name;
  const auto& a = items(args, "a REDUCE's arguments");
  if (g == "collections OrderedDict") return make(Dict{});
  // torch::pickle_save annotates containers: restore_type_tag(value, "Dict[str, Tensor]").
  if (g == "torch.jit._pickle restore_type_tag" && !a.empty()) return a[0];
  if (g == "torch._utils _rebuild_tensor_v2" && a.size() >= 4) return rebuild_tensor(a);
  if ((g == "torch._utils _rebuild_parameter" || g == "torch._utils _rebuild_parameter_with_state") && !a.empty()) {
    return a[0];
  }
  fail("holds a Python object '{}' that is not part of a state_dict of tensors", g);
}

namespace {

// a * b + c, or nullopt past int64.
std::optional<std::int64_t> mul_add(std::int64_t a, std::int64_t b, std::int64_t c) {
  std::int64_t m = 0;
  std::int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &m) || __builtin_add_overflow(m, c, &out)) return std::nullopt;
  return out;
}

// PyTorch's own limit on a tensor's dimensions.
constexpr std::size_t kMaxDims = 64;

}  // namespace

// _rebuild_tensor_v2(storage, offset, sizes, strides, ...): the view must lie
// inside the storage, and (as views in a state_dict do) hold no more
// elements than the storage, so that copying it is bounded by the file.
ValuePtr Unpickler::rebuild_tensor(const std::vector<ValuePtr>& args) {
  const Storage& storage = as<Storage>(args[0], "a tensor's storage");
  StoredTensor t{storage.dtype, int_list(args[2], "a tensor's sizes"), int_list(args[3], "a tensor's strides"),
                 as<std::int64_t>(args[1], "a tensor's storage offset"), storage.bytes};
  if (t.sizes.size() != t.strides.size() || t.sizes.size() > kMaxDims) {
    fail("a tensor has {} sizes and {} strides (at most {} dimensions)", t.sizes.size(), t.strides.size(), kMaxDims);
  }
  std::int64_t elements = 1;
  std::int64_t last = t.offset;  // the highest element index the view touches; -1 past int64
  for (std::size_t d = 0; d < t.sizes.size(); ++d) {
    if (t.sizes[d] < 0 || t.strides[d] < 0) fail("a tensor has a negative size or stride");
    elements = mul_add(elements, t.sizes[d], 0).value_or(std::numeric_limits<std::int64_t>::max());
    if (t.sizes[d] > 0 && last >= 0) last = mul_add(t.sizes[d] - 1, t.strides[d], last).value_or(-1);
  }
  if (t.offset < 0 || t.offset > storage.elements || elements > storage.elements ||
      (elements > 0 && (last < 0 || last >= storage.elements))) {
    fail("a tensor's view (offset {}, sizes {}, strides {}) does not fit its storage of {} elements", t.offset,
         fmt::join(t.sizes, "x"), fmt::join(t.strides, ","), storage.elements);
  }
  return make(std::move(t));
}

ValuePtr Unpickler::load_storage(const ValuePtr& pid) {
  const auto& p = items(pid, "a persistent id");
  if (p.size() < 5 || as<std::string>(p[0], "a persistent id") != "storage") fail("unsupported persistent id");
  const std::string& type = as<Global>(p[1], "a storage's type").name;
  const std::string& key = as<std::string>(p[2], "a storage's key");
  const DType dtype = read_storage_type(type);
  auto& slot = storages_[key];
  if (slot == nullptr) slot = make(read_storage(dtype, type, key));
  if (std::get<Storage>(slot->v).dtype != dtype) fail("storage {} is read with two types", key);
  return slot;
}

Storage Unpickler::read_storage(DType dtype, const std::string& type, const std::string& key) {
  const std::string record = "data/" + key;
  auto bytes = records_(record);
  if (bytes == nullptr) fail("archive lacks record {}", record);
  const std::size_t element = element_size(dtype);
  if (bytes->size() % element != 0) {
    fail("archive record {} holds {} bytes: not a whole number of {}-byte {} elements", record, bytes->size(), element,
         type);
  }
  const auto elements = static_cast<std::int64_t>(bytes->size() / element);
  return Storage{dtype, std::move(bytes), elements};
}

DType Unpickler::read_storage_type(const std::string& type) const {
  static const std::map<std::string, DType, std::less<>> kTypes = {
      {"torch FloatStorage", DType::float32}, {"torch DoubleStorage", DType::float64},
      {"torch HalfStorage", DType::float16},  {"torch BFloat16Storage", DType::bfloat16},
      {"torch LongStorage", DType::int64},    {"torch IntStorage", DType::int32},
      {"torch ShortStorage", DType::int16},   {"torch CharStorage", DType::int8},
      {"torch ByteStorage", DType::uint8},    {"torch BoolStorage", DType::boolean}};
  const auto it = kTypes.find(type);
  if (it == kTypes.end()) fail("unsupported tensor storage type '{}'", type);
  return it->second;
}

}  // namespace

namespace {

// The pickle's root as a state_dict: names mapped to tensors.
StoredStateDict to_state_dict(const ValuePtr& root, const std::string& name) {
  const auto* dict = std::get_if<Dict>(&root->v);
  if (dict == nullptr) throw Error(fmt::format("{}: holds no dict (expected torch.save(model.state_dict(), f))", name));
  StoredStateDict out;
  for (const auto& [k, v] : dict->items) {
    const auto* key = std::get_if<std::string>(&k->v);
    const auto* tensor = std::get_if<StoredTensor>(&v->v);
    if (key == nullptr || tensor == nullptr) {
      throw Error(fmt::format("{}: a state_dict maps names to tensors; this dict holds other values", name));
    }
    out.emplace_back(*key, *tensor);
  }
  return out;
}

}  // namespace

StoredStateDict read_state_dict_pickle(std::string_view pickle, const RecordReader& records, const std::string& name) {
  // Converted while the unpickler lives: its destructor empties memoised
  // containers to break cycles.
  Unpickler unpickler(name, pickle, records);
  return to_state_dict(unpickler.run(), name);
}

}  // namespace apd
