#include "device-agent/health.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <vector>

extern char** environ;

namespace fwchain::device {

Expected<HealthResult> RunHealthCheck(const std::string& command,
                                      const std::map<std::string, std::string>& env) {
    if (command.empty()) return HealthResult{true, "no health check configured"};
    // Everything the child needs is built before fork: after fork in a threaded process only
    // async-signal-safe calls are allowed (no setenv, no malloc).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry = *e;
        const auto eq = entry.find('=');
        if (eq != std::string::npos && env.count(entry.substr(0, eq)) != 0) continue;
        env_strings.push_back(entry);
    }
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
    std::array<char*, 4> argv{sh.data(), dash_c.data(), cmd.data(), nullptr};

    const pid_t pid = ::fork();
    if (pid < 0) return Fail(Errc::kInternal, "health-check", "fork failed");
    if (pid == 0) {
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return Fail(Errc::kInternal, "health-check", "waitpid failed");
    }
    if (WIFEXITED(status)) {
        const int code = WEXITSTATUS(status);
        return HealthResult{code == 0, "exit " + std::to_string(code)};
    }
    if (WIFSIGNALED(status)) {
        return HealthResult{false, "killed by signal " + std::to_string(WTERMSIG(status))};
    }
    return HealthResult{false, "ended abnormally"};
}

}  // namespace fwchain::device
