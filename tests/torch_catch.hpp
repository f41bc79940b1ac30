// LibTorch pulls in glog, whose CHECK macro would replace Catch2's: tests of
// the torch target include this instead of <catch2/catch.hpp>.
#pragma once

#include <torch/torch.h>

#undef CHECK
#include <catch2/catch.hpp>
