#include "common/core/memory.hpp"
#include "gateway/cli.hpp"

int main(int argc, char** argv) {
    fwchain::LimitMallocArenas();
    return fwchain::gateway::Main(argc, argv);
}
