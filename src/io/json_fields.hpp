// Typed access to the fields of a JSON document parsed by simdjson, for
// apd::io's readers of small structured files (monitor and scores files):
// every lookup is checked, and a failure is an apd::Error
// "NAME: where: what" naming the file and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
// Every simdjson result is checked here: none may become an exception.
#define SIMDJSON_EXCEPTIONS 0
#include <simdjson.h>

#include "apd/core/error.hpp"

namespace apd {

namespace dom = simdjson::dom;

class JsonFields {
 public:
  explicit JsonFields(std::string name) : name_(std::move(name)) {}

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(fmt::format("{}: {}: {}", name_, where, what));
  }

  dom::element field(dom::object o, std::string_view key, const std::string& where) const {
    dom::element e;
    if (o[key].get(e) != simdjson::SUCCESS) fail(where, fmt::format("\"{}\" is missing", key));
    return e;
  }
  dom::object object(dom::element e, const std::string& where) const {
    dom::object o;
    if (e.get(o) != simdjson::SUCCESS) fail(where, "is not an object");
    return o;
  }
  dom::array array(dom::element e, const std::string& where) const {
    dom::array a;
    if (e.get(a) != simdjson::SUCCESS) fail(where, "is not an array");
    return a;
  }
  std::string string(dom::element e, const std::string& where) const {
    std::string_view s;
    if (e.get(s) != simdjson::SUCCESS) fail(where, "is not a string");
    return std::string(s);
  }
  std::uint64_t count(dom::element e, const std::string& where, std::uint64_t max) const {
    std::uint64_t v = 0;
    if (e.get(v) != simdjson::SUCCESS) fail(where, "is not a non-negative integer");
    if (v > max) fail(where, fmt::format("{} exceeds {}", v, max));
    return v;
  }
  double number(dom::element e, const std::string& where) const {
    double v = 0;
    if (e.get(v) != simdjson::SUCCESS) fail(where, "is not a number");
    return v;
  }
  std::optional<std::string> optional_string(dom::element e, const std::string& where) const {
    if (e.is_null()) return std::nullopt;
    return string(e, where);
  }
  nlohmann::json raw(dom::element e, const std::string& where) const {
    try {
      return nlohmann::json::parse(simdjson::minify(e));
    } catch (const nlohmann::json::exception&) {
      fail(where, "holds a value apd cannot represent");
    }
  }

 private:
  std::string name_;
};

// Parses `bytes` as JSON; a syntax error names `name`.
inline dom::element parse_json_document(dom::parser& parser, simdjson::padded_string& padded, std::string_view bytes,
                                        const std::string& name) {
  padded = simdjson::padded_string(bytes);
  dom::element root;
  if (const auto error = parser.parse(padded).get(root); error != simdjson::SUCCESS) {
    throw Error(fmt::format("{}: not valid JSON: {}", name, simdjson::error_message(error)));
  }
  return root;
}

}  // namespace apd
