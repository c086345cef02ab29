#pragma once
// The HTTP front's limits as command-line flags, the same on every server (docs/protocol.md
// "HTTP limits"). CLI11 stays out of this header.
#include "common/adapters/http_server.hpp"

namespace CLI {
class App;
}

namespace fwchain::http {

// Adds --http-* flags (with their defaults shown in --help) that write into `opts`.
void AddServerFlags(CLI::App& cmd, ServerOptions& opts);

}  // namespace fwchain::http
