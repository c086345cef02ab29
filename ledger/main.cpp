#include "common/core/memory.hpp"
#include "ledger/cli.hpp"

int main(int argc, char** argv) {
    fwchain::LimitMallocArenas();
    return fwchain::ledger::RunCli(argc, argv);
}
