#pragma once
// Command line of the vendor-server executable (CLI11). Exit codes: 0 ok, 1 error (one line on
// stderr), 2 usage.

namespace fwchain::vendor {

int RunCli(int argc, char** argv);

}  // namespace fwchain::vendor
