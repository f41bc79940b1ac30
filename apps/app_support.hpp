// What every apd executable shares: CLI11 parsing with the project's exit
// codes (usage errors 2, data/runtime errors 1, --help/--version 0), one-line
// error messages through spdlog, and the version string.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "apd/torch/train.hpp"

namespace apd::app {

[[nodiscard]] std::string version_line(const std::string& program);

// Adds --version to `app`.
void add_version_flag(CLI::App& app, const std::string& program);

// Parses argv. Returns an exit code when the program should stop now (after
// --help, --version or a usage error, already reported), nothing otherwise.
[[nodiscard]] std::optional<int> parse(CLI::App& app, const std::string& program, int argc, char** argv);

// Logs to stderr as "<program>: <level>: <message>".
void setup_logging(const std::string& program, Verbosity verbosity);

// Runs `body`, mapping exceptions to exit codes with a one-line message:
// apd::UsageError -> 2, apd::Error and anything else -> 1.
[[nodiscard]] int run_guarded(const std::function<int()>& body);

}  // namespace apd::app
