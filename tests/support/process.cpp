#include "tests/support/process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fwchain::test {

std::string Bin(const std::string& name) { return std::string(FWCHAIN_BIN_DIR) + "/" + name; }

namespace {

std::vector<char*> Argv(const std::vector<std::string>& argv) {
    std::vector<char*> out;
    for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
    out.push_back(nullptr);
    return out;
}

std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

RunResult Run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
    char out_tmpl[] = "/tmp/fwchain-run-out-XXXXXX";
    char err_tmpl[] = "/tmp/fwchain-run-err-XXXXXX";
    int out_fd = ::mkstemp(out_tmpl);
    int err_fd = ::mkstemp(err_tmpl);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        auto args = Argv(argv);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out_fd);
    ::close(err_fd);
    RunResult r;
    int status = 0;
    // Block until the child exits or the deadline passes: poll() on a pidfd wakes exactly when
    // the child ends, with no polling loop.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    pollfd pfd{pidfd, POLLIN, 0};
    const auto timeout_ms =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
    int ready = 0;
    do {
        ready = pidfd >= 0 ? ::poll(&pfd, 1, timeout_ms) : 1;  // no pidfd: plain blocking wait
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    if (pidfd >= 0) ::close(pidfd);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    r.out = Slurp(out_tmpl);
    r.err = Slurp(err_tmpl);
    ::unlink(out_tmpl);
    ::unlink(err_tmpl);
    return r;
}

Process::Process(const std::vector<std::string>& argv, const std::string& log_path)
    : log_path_(log_path) {
    pid_ = ::fork();
    if (pid_ == 0) {
        int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        auto args = Argv(argv);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    if (pid_ < 0) throw std::runtime_error("fork failed");
}

Process::~Process() { Stop(); }

bool Process::Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

void Process::Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

void Process::Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    bool exited = WaitFor([&] { return !Running(); }, std::chrono::seconds(10));
    if (!exited) Kill(SIGKILL);
}

std::string Process::Log() const { return Slurp(log_path_); }

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds deadline) {
    auto end = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        if (cond()) return true;
        if (std::chrono::steady_clock::now() > end) return cond();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
    }
}

int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace fwchain::test
