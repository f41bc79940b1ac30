// What every apd executable shares: CLI11 parsing with the project's exit
// codes (usage errors 2, data/runtime errors 1, --help/--version 0), one-line
// error messages through spdlog, and the version string.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "apd/core/names.hpp"
#include "apd/core/verbosity.hpp"

namespace apd::app {

[[nodiscard]] std::string version_line(const std::string& program);

// Adds --version to `app`.
void add_version_flag(CLI::App& app, const std::string& program);

// Parses argv. Returns an exit code when the program should stop now (after
// --help, --version or a usage error, already reported), nothing otherwise.
[[nodiscard]] std::optional<int> parse(CLI::App& app, const std::string& program, int argc, char** argv);

// A transformer that maps a value's name straight into the enum, from the
// enum's one name table; anything else is a usage error listing the names.
template <typename Enum, std::size_t N>
[[nodiscard]] CLI::Validator one_of(const NameTable<Enum, N>& names) {
  CLI::Validator v(
      [names](std::string& value) -> std::string {
        const auto parsed = from_name(names, value);
        if (!parsed) return "'" + value + "' is not " + choices(names);
        value = std::to_string(static_cast<int>(*parsed));
        return {};
      },
      choices(names));
  return v;
}

// An option whose value is a name from `names`, parsed straight into the
// enum; `set` receives it. The help shows the choices.
template <typename Enum, std::size_t N>
CLI::Option* add_enum_option(CLI::App& app, const std::string& name, const NameTable<Enum, N>& names,
                             std::function<void(Enum)> set, const std::string& description) {
  return app
      .add_option_function<int>(
          name, [set](const int& v) { set(static_cast<Enum>(v)); }, description)
      ->transform(one_of(names))
      ->type_name("NAME");
}

// The same, storing into `value`, whose current value is shown as the default.
template <typename Enum, std::size_t N>
CLI::Option* add_enum_option(CLI::App& app, const std::string& name, const NameTable<Enum, N>& names, Enum& value,
                             const std::string& description) {
  return add_enum_option<Enum, N>(
             app, name, names, [&value](Enum v) { value = v; }, description)
      ->default_str(std::string(name_of(names, value)));
}

// An option whose value is kept only when given (std::nullopt otherwise):
// the library tells a value given from a default by the value alone.
template <typename T>
CLI::Option* add_optional(CLI::App& app, const std::string& name, std::optional<T>& target,
                          const std::string& description) {
  return app.add_option_function<T>(
      name, [&target](const T& value) { target = value; }, description);
}

// Rejects text that is not valid UTF-8 (an option recorded in a JSON file).
[[nodiscard]] CLI::Validator utf8_text();

// Rejects a negative value for an unsigned option (CLI11 2.1 would wrap
// "-1" around to 2^64 - 1).
[[nodiscard]] CLI::Validator non_negative();

// Adds --quiet and --verbose, which set `verbosity`.
void add_verbosity_flags(CLI::App& app, Verbosity& verbosity);

// glibc's heap for a tool that allocates and frees buffers of megabytes:
// they stay in one heap (one arena, never mapped and unmapped one by one,
// not handed back between uses), and the first `huge_page_bytes` of it (up
// to 512 MiB) are advised for 2 MiB pages before anything is allocated
// there. On a VM each first touch of a 4 KiB page costs microseconds:
// before this, apd-merge spent more time in page faults than in parsing.
void use_one_heap(std::size_t huge_page_bytes);

// A file's size for sizing buffers, 0 when it cannot be known (a missing
// file is reported when it is read).
[[nodiscard]] std::size_t size_or_zero(const std::filesystem::path& file);

// Logs to stderr as "<program>: <level>: <message>".
void setup_logging(const std::string& program, Verbosity verbosity);

// Runs `body`, mapping exceptions to exit codes with a one-line message:
// apd::UsageError -> 2, apd::Error and anything else -> 1.
[[nodiscard]] int run_guarded(const std::function<int()>& body);

}  // namespace apd::app
