#include "ledger/cli.hpp"

int main(int argc, char** argv) { return fwchain::ledger::RunCli(argc, argv); }
