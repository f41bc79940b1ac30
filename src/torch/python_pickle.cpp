#include "python_pickle.hpp"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <memory>
#include <variant>

#include <fmt/format.h>

#include "apd/core/error.hpp"

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
struct Value {
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Global, Tuple, List, Dict, torch::Tensor> v;
  std::uint32_t depth = 0;  // containers: 1 + the deepest item
};

// A state_dict nests about 5 deep. The bound keeps a stranger's pickle of a
// million nested tuples from making destruction (one shared_ptr destructor
// per level) exhaust the stack.
constexpr std::uint32_t kMaxDepth = 100;

ValuePtr make(auto&& x) { return std::make_shared<Value>(Value{std::forward<decltype(x)>(x)}); }

class Unpickler {
 public:
  Unpickler(std::string name, std::string_view bytes, caffe2::serialize::PyTorchStreamReader& archive)
      : name_(std::move(name)), bytes_(bytes), archive_(archive) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  // A pickle can make a container hold itself (through the memo); only
  // memoised values can be referred to twice, so emptying them breaks every
  // cycle, which shared_ptr alone would leak.
  ~Unpickler() {
    for (auto& [key, value] : memo_) {
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
  ValuePtr pop() {
    if (stack_.empty()) fail("malformed pickle (pop from an empty stack)");
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
    if (stack_.empty()) fail("malformed pickle (empty stack)");
    return stack_.back();
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
  ValuePtr load_storage(const ValuePtr& pid);

  std::string name_;
  std::string_view bytes_;
  std::size_t pos_ = 0;
  caffe2::serialize::PyTorchStreamReader& archive_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::map<std::uint64_t, ValuePtr> memo_;
};

const std::vector<ValuePtr>& tuple_items(const ValuePtr& v) {
  if (const auto* t = std::get_if<Tuple>(&v->v)) return t->items;
  if (const auto* l = std::get_if<List>(&v->v)) return l->items;
  throw Error("expected a tuple");
}

std::vector<std::int64_t> int_list(const ValuePtr& v) {
  std::vector<std::int64_t> out;
  for (const auto& item : tuple_items(v)) out.push_back(std::get<std::int64_t>(item->v));
  return out;
}

void Unpickler::step(unsigned char op) {
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
      stack_.push_back(make(Global{std::get<std::string>(module->v) + " " + std::get<std::string>(qual->v)}));
      break;
    }
    case 'q': memo_[static_cast<unsigned char>(byte())] = top(); break;  // BINPUT
    case 'r': memo_[uint_le(4)] = top(); break;                          // LONG_BINPUT
    case 0x94: memo_[memo_.size()] = top(); break;                       // MEMOIZE
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
  const auto* g = std::get_if<Global>(&callable->v);
  if (g == nullptr) fail("malformed pickle (REDUCE of a non-callable)");
  const auto& a = tuple_items(args);
  if (g->name == "collections OrderedDict") return make(Dict{});
  // torch::pickle_save annotates containers: restore_type_tag(value, "Dict[str, Tensor]").
  if (g->name == "torch.jit._pickle restore_type_tag" && !a.empty()) return a[0];
  if (g->name == "torch._utils _rebuild_tensor_v2" && a.size() >= 4) {
    const auto& storage = std::get<torch::Tensor>(a[0]->v);
    const auto offset = std::get<std::int64_t>(a[1]->v);
    return make(storage.as_strided(int_list(a[2]), int_list(a[3]), offset).clone());
  }
  if ((g->name == "torch._utils _rebuild_parameter" || g->name == "torch._utils _rebuild_parameter_with_state") &&
      !a.empty()) {
    return a[0];
  }
  fail("holds a Python object '{}' that is not part of a state_dict of tensors", g->name);
}

ValuePtr Unpickler::load_storage(const ValuePtr& pid) {
  const auto& p = tuple_items(pid);
  if (p.size() < 5 || std::get<std::string>(p[0]->v) != "storage") fail("unsupported persistent id");
  const std::string type = std::get<Global>(p[1]->v).name;
  const std::string key = std::get<std::string>(p[2]->v);
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"torch FloatStorage", torch::kFloat32}, {"torch DoubleStorage", torch::kFloat64},
      {"torch HalfStorage", torch::kFloat16},  {"torch BFloat16Storage", torch::kBFloat16},
      {"torch LongStorage", torch::kInt64},    {"torch IntStorage", torch::kInt32},
      {"torch ShortStorage", torch::kInt16},   {"torch CharStorage", torch::kInt8},
      {"torch ByteStorage", torch::kUInt8},    {"torch BoolStorage", torch::kBool}};
  const auto dtype = kTypes.find(type);
  if (dtype == kTypes.end()) fail("unsupported tensor storage type '{}'", type);
  const std::string record = "data/" + key;
  if (!archive_.hasRecord(record)) fail("archive lacks record {}", record);
  auto [data, size] = archive_.getRecord(record);
  const auto element = static_cast<std::size_t>(c10::elementSize(dtype->second));
  if (size % element != 0) {
    fail("archive record {} holds {} bytes: not a whole number of {}-byte {} elements", record, size, element, type);
  }
  auto t = torch::empty({static_cast<std::int64_t>(size / element)}, torch::TensorOptions().dtype(dtype->second));
  std::memcpy(t.data_ptr(), data.get(), size);
  return make(t);
}

}  // namespace

namespace {

// The pickle's root as a state_dict: names mapped to tensors.
StateDict to_state_dict(const ValuePtr& root, const std::string& name) {
  const auto* dict = std::get_if<Dict>(&root->v);
  if (dict == nullptr) throw Error(fmt::format("{}: holds no dict (expected torch.save(model.state_dict(), f))", name));
  StateDict out;
  for (const auto& [k, v] : dict->items) {
    const auto* key = std::get_if<std::string>(&k->v);
    const auto* tensor = std::get_if<torch::Tensor>(&v->v);
    if (key == nullptr || tensor == nullptr) {
      throw Error(fmt::format("{}: a state_dict maps names to tensors; this dict holds other values", name));
    }
    out.emplace_back(*key, *tensor);
  }
  return out;
}

}  // namespace

StateDict read_python_state_dict(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> archive;
  try {
    archive = std::make_unique<caffe2::serialize::PyTorchStreamReader>(name);
  } catch (const c10::Error&) {
    throw Error(fmt::format("{}: not a PyTorch zip checkpoint (save it with torch.save in PyTorch >= 1.6)", name));
  }
  if (!archive->hasRecord("data.pkl")) throw Error(fmt::format("{}: no data.pkl in the archive", name));
  auto [data, size] = archive->getRecord("data.pkl");
  const std::string_view bytes(static_cast<const char*>(data.get()), size);
  try {
    // Converted while the unpickler lives: its destructor empties memoised
    // containers to break cycles.
    Unpickler unpickler(name, bytes, *archive);
    return to_state_dict(unpickler.run(), name);
  } catch (const std::bad_variant_access&) {
    throw Error(fmt::format("{}: unexpected value types in the pickle (not a state_dict)", name));
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: {}", name, e.what_without_backtrace()));
  }
}

}  // namespace apd
