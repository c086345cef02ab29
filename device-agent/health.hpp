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

// Runs `/bin/sh -c command` with `env` added to the environment and waits for it. An empty
// command is healthy: booting far enough to run the agent is the check. Fails only when the
// command cannot be started at all.
Expected<HealthResult> RunHealthCheck(const std::string& command,
                                      const std::map<std::string, std::string>& env);

}  // namespace fwchain::device
