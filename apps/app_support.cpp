#include "app_support.hpp"

#include <malloc.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string_view>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/huge_pages.hpp"
#include "apd/core/utf8.hpp"
#include "apd/core/version.hpp"

namespace apd::app {

std::string version_line(const std::string& program) {
  return fmt::format("{} {} (git {})", program, version(), git_sha());
}

void add_version_flag(CLI::App& app, const std::string& program) {
  app.set_version_flag("--version", version_line(program), "Print the version and git commit, then exit");
}

namespace {

// The name of the first option (in any group or subcommand) given a value
// that is not valid UTF-8: every path and string ends up in a JSON file or
// an HTML page, so it is refused before any work rather than after it.
std::optional<std::string> non_utf8_option(const CLI::App& app) {
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& value : option->results()) {
      if (!is_valid_utf8(value)) return option->get_name();
    }
  }
  for (const CLI::App* sub : const_cast<CLI::App&>(app).get_subcommands([](CLI::App*) { return true; })) {
    if (auto name = non_utf8_option(*sub)) return name;
  }
  return std::nullopt;
}

}  // namespace

namespace {

// A run of more than 24 digits shown as its first 20, "...", and its length:
// a 309-digit number never fills the one-line message.
std::string shortened_numbers(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j - i > 24) {
      out += fmt::format("{}... ({} digits)", text.substr(i, 20), j - i);
    } else {
      out += text.substr(i, std::max<std::size_t>(j - i, 1));
    }
    i = std::max(j, i + 1);
  }
  return out;
}

}  // namespace

std::optional<int> parse(CLI::App& app, const std::string& program, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "{}: error: {} (see --help)\n", program, shortened_numbers(e.what()));
    return 2;
  }
  if (const auto option = non_utf8_option(app)) {
    fmt::print(stderr, "{}: error: {}: not valid UTF-8 text (paths and names go into JSON and HTML)\n", program,
               *option);
    return 2;
  }
  return std::nullopt;
}

CLI::Validator non_negative() {
  return CLI::Validator(
      [](const std::string& value) -> std::string {
        const auto first = value.find_first_not_of(" \t");
        if (first != std::string::npos && value[first] == '-') return "'" + value + "' must not be negative";
        // CLI11 would saturate a number beyond 64 bits to 2^64 - 1.
        std::uint64_t parsed = 0;
        const char* end = value.data() + value.size();
        const char* begin = value.data() + (first == std::string::npos ? value.size() : first);
        if (std::from_chars(begin, end, parsed).ec == std::errc::result_out_of_range) {
          return "'" + value + "' is too large";
        }
        return "";
      },
      "");
}

CLI::Validator utf8_text() {
  return CLI::Validator(
      [](const std::string& value) -> std::string { return is_valid_utf8(value) ? "" : "not valid UTF-8 text"; }, "");
}

void add_verbosity_flags(CLI::App& app, Verbosity& verbosity) {
  auto* quiet = app.add_flag_callback(
      "--quiet", [&verbosity] { verbosity = Verbosity::quiet; }, "Print only errors");
  app.add_flag_callback(
         "--verbose", [&verbosity] { verbosity = Verbosity::verbose; },
         "Also print the files read and their sizes, threads, and the time of each stage")
      ->excludes(quiet);
}

void use_one_heap(std::size_t huge_page_bytes) {
  constexpr std::size_t kMaxHugePageBytes = std::size_t{512} << 20;
  const std::size_t reserve = std::min(huge_page_bytes, kMaxHugePageBytes);
  // Blocks up to the reserve come from the heap, and the heap keeps twice
  // that before it gives memory back (both fit an int: mallopt's type).
  const std::size_t heap_block = std::max(std::size_t{256} << 20, reserve + (std::size_t{1} << 20));
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(heap_block));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * heap_block));
  mallopt(M_ARENA_MAX, 1);
  // A block as large as the reserve grows the heap by that much; freed, it
  // becomes the heap's free top, where the allocations that follow land.
  void* block = std::malloc(reserve);
  advise_huge_pages(block, reserve);
  std::free(block);
}

std::size_t size_or_zero(const std::filesystem::path& file) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  return ec ? 0 : static_cast<std::size_t>(size);
}

void setup_logging(const std::string& program, Verbosity verbosity) {
  auto logger = spdlog::stderr_color_st(program);
  logger->set_pattern("%n: %^%l%$: %v");
  switch (verbosity) {
    case Verbosity::quiet: logger->set_level(spdlog::level::err); break;
    case Verbosity::normal: logger->set_level(spdlog::level::info); break;
    case Verbosity::verbose: logger->set_level(spdlog::level::debug); break;
  }
  spdlog::set_default_logger(logger);
}

int run_guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    spdlog::error("out of memory: the data or the options ask for more memory than this machine has");
    return 1;
  } catch (const std::exception& e) {
    // A library's own text (LibTorch appends a backtrace of 15-26 lines):
    // one line of it, flagged as unexpected, since apd's errors name the
    // file or option and this one escaped that.
    const std::string_view what = e.what();
    spdlog::error("unexpected error (please report it): {}", what.substr(0, what.find('\n')));
    return 1;
  } catch (...) {
    spdlog::error("unexpected error (please report it)");
    return 1;
  }
}

}  // namespace apd::app
