#include "gateway/cli.hpp"

int main(int argc, char** argv) { return fwchain::gateway::Main(argc, argv); }
