#include "common/adapters/sqlite.hpp"
#include "common/core/memory.hpp"
#include "ledger/cli.hpp"

int main(int argc, char** argv) {
    fwchain::LimitMallocArenas();
    // The node does not cap SQLite's memory: spare every SQLite allocation a global mutex.
    fwchain::sql::DisableMemoryStatistics();
    return fwchain::ledger::RunCli(argc, argv);
}
