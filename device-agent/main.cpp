#include "device-agent/cli.hpp"

int main(int argc, char** argv) { return fwchain::device::CliMain(argc, argv); }
