#pragma once
// The device-agent command line (CLI11): `boot` and `status`. Returns the process exit code.

namespace fwchain::device {

// Exit codes: 0 up to date or committed, 10 update installed and a reboot into it is pending,
// 20 rolled back, 1 error (reason on stderr), 2 usage.
int CliMain(int argc, char** argv);

}  // namespace fwchain::device
