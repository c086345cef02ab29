#include "device-agent/health.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <vector>

extern char** environ;

namespace fwchain::device {

namespace {

constexpr std::size_t kMaxCommandOutput = 64 << 10;

// Waits for `pid` with a deadline; on timeout kills its process group (the shell and whatever it
// started) and reaps it. Reads the child's stdout from `out_fd` (-1: none) meanwhile.
Expected<CommandResult> Wait(pid_t pid, int out_fd, int timeout_s) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    CommandResult r;
    int status = 0;
    bool reaped = false;
    while (!reaped) {
        int wait_ms = 50;
        if (timeout_s > 0) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) {
                ::kill(-pid, SIGKILL);
                ::kill(pid, SIGKILL);
                r.timed_out = true;
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                }
                break;
            }
            wait_ms = static_cast<int>(std::min<long long>(left.count(), 50));
        }
        if (out_fd >= 0) {
            pollfd p{out_fd, POLLIN, 0};
            if (::poll(&p, 1, wait_ms) > 0) {
                char buf[4096];
                const ssize_t n = ::read(out_fd, buf, sizeof buf);
                if (n > 0 && r.out.size() < kMaxCommandOutput) {
                    r.out.append(buf, static_cast<std::size_t>(n));
                } else if (n == 0) {
                    ::close(out_fd);
                    out_fd = -1;
                }
            }
        } else {
            ::poll(nullptr, 0, wait_ms);
        }
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            reaped = true;
        } else if (w < 0 && errno != EINTR) {
            if (out_fd >= 0) ::close(out_fd);
            return Fail(Errc::kInternal, "command", "waitpid failed");
        }
    }
    if (out_fd >= 0) {
        // Drain what the child wrote before it exited.
        ::fcntl(out_fd, F_SETFL, O_NONBLOCK);
        char buf[4096];
        ssize_t n = 0;
        while ((n = ::read(out_fd, buf, sizeof buf)) > 0 && r.out.size() < kMaxCommandOutput) {
            r.out.append(buf, static_cast<std::size_t>(n));
        }
        ::close(out_fd);
    }
    if (r.timed_out) {
        r.exit_code = -SIGKILL;
    } else if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.exit_code = -WTERMSIG(status);
    }
    return r;
}

}  // namespace

Expected<CommandResult> RunCommand(const std::string& command,
                                   const std::map<std::string, std::string>& env, int timeout_s) {
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

    std::array<int, 2> pipe_fds{-1, -1};
    if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
        return Fail(Errc::kInternal, "command", "pipe failed");
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        return Fail(Errc::kInternal, "command", "fork failed");
    }
    if (pid == 0) {
        // Own process group, so a timeout kills everything the command started.
        ::setpgid(0, 0);
        ::dup2(pipe_fds[1], STDOUT_FILENO);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also from the parent: no race with a timeout kill
    ::close(pipe_fds[1]);
    return Wait(pid, pipe_fds[0], timeout_s);
}

Expected<HealthResult> RunHealthCheck(const std::string& command,
                                      const std::map<std::string, std::string>& env,
                                      int timeout_s) {
    if (command.empty()) return HealthResult{true, "no health check configured"};
    auto r = RunCommand(command, env, timeout_s);
    if (!r) return Fail(Errc::kInternal, "health-check", r.error().message);
    if (r->timed_out) {
        return HealthResult{false, "timed out after " + std::to_string(timeout_s) + " s"};
    }
    if (r->exit_code >= 0) {
        return HealthResult{r->exit_code == 0, "exit " + std::to_string(r->exit_code)};
    }
    return HealthResult{false, "killed by signal " + std::to_string(-r->exit_code)};
}

}  // namespace fwchain::device
