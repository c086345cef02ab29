#pragma once
// The post-install health check: an optional shell command run on the first boot of a new image.
#include <map>
#include <string>

#include "common/core/expected.hpp"

namespace fwchain::device {

struct HealthResult {
    bool healthy = false;
    std::string detail;  // "exit 3", "killed by signal 9", ...
};

// Runs `/bin/sh -c command` with `env` added to the environment and waits for it, at most
// `timeout_s` seconds (0 = no limit): a hanging check is unhealthy ("timed out after N s") and its
// whole process group is killed. An empty command is healthy: booting far enough to run the
// agent is the check. Fails only when the command cannot be started at all.
Expected<HealthResult> RunHealthCheck(const std::string& command,
                                      const std::map<std::string, std::string>& env,
                                      int timeout_s = 0);

// Runs `/bin/sh -c command` (same environment handling and timeout) and captures its stdout (at
// most 64 KiB); for the `command` slot backend. `exit_code` is -signal when killed.
struct CommandResult {
    int exit_code = -1;
    bool timed_out = false;
    std::string out;
};
Expected<CommandResult> RunCommand(const std::string& command,
                                   const std::map<std::string, std::string>& env, int timeout_s);

}  // namespace fwchain::device
