#include "vendor-server/cli.hpp"

int main(int argc, char** argv) { return fwchain::vendor::RunCli(argc, argv); }
