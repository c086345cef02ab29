#pragma once
// Test support: run the real executables as child processes, wait for conditions with a
// deadline (never sleep as synchronisation), kill with SIGKILL for fault tests.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace fwchain::test {

// Path of a built executable ("ledger", "vendor-server", ...).
std::string Bin(const std::string& name);

struct RunResult {
    int exit_code = -1;  // -signal when killed by a signal
    std::string out;     // stdout
    std::string err;     // stderr
};

// Runs to completion (with a deadline after which the child is killed) and captures output.
RunResult Run(const std::vector<std::string>& argv,
              std::chrono::seconds timeout = std::chrono::seconds(120));

// A long-running child (a server). Output goes to log_path. Killed (SIGTERM, then SIGKILL) by
// the destructor.
class Process {
  public:
    Process(const std::vector<std::string>& argv, const std::string& log_path);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    pid_t pid() const { return pid_; }
    bool Running();
    void Kill(int sig);  // sends sig and reaps
    void Stop();         // SIGTERM, wait up to 10 s, then SIGKILL
    std::string Log() const;

  private:
    pid_t pid_ = -1;
    std::string log_path_;
};

// Polls cond every 20 ms until true or the deadline passes; returns the last value.
bool WaitFor(const std::function<bool()>& cond,
             std::chrono::milliseconds deadline = std::chrono::seconds(60));

// A TCP port that was free when asked (bind to port 0, read it, close).
int FreePort();

}  // namespace fwchain::test
