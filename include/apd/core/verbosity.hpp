// How much the tools print: --quiet (errors only), the default, or --verbose
// (files read and their sizes, threads, and the time of each stage).
#pragma once

namespace apd {

enum class Verbosity { quiet, normal, verbose };

}  // namespace apd
