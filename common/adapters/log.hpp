#pragma once
// Logging on spdlog: one line per event, to stderr (and optionally a file).
#include <spdlog/spdlog.h>

#include <string>

namespace fwchain {

// level: trace|debug|info|warn|error. Program name goes in every line.
void InitLogging(const std::string& program, const std::string& level = "info",
                 const std::string& file = "");

}  // namespace fwchain
