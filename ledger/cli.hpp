#pragma once
// The `ledger` command line: node, search, tip. Exit codes: 0 ok, 1 error, 2 usage.

namespace fwchain::ledger {

int RunCli(int argc, char** argv);

}  // namespace fwchain::ledger
