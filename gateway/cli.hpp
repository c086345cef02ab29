#pragma once

namespace fwchain::gateway {
// Parses the command line and runs the chosen subcommand; returns the process exit code.
int Main(int argc, char** argv);
}  // namespace fwchain::gateway
