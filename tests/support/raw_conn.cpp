#include "tests/support/raw_conn.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace fwchain::test {

using namespace std::chrono_literals;

RawConn::RawConn(int port, const char* from) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (from != nullptr) {
        sockaddr_in src{};
        src.sin_family = AF_INET;
        ::inet_pton(AF_INET, from, &src.sin_addr);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) Close();
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        Close();
    }
}

RawConn::~RawConn() { Close(); }

void RawConn::Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool RawConn::Send(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string RawConn::ReadAll(std::chrono::milliseconds deadline, bool* eof) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + deadline;
    if (eof != nullptr) *eof = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            end - std::chrono::steady_clock::now());
        if (left.count() <= 0) return out;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
        char buf[8192];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            if (eof != nullptr) *eof = true;
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
}

std::vector<std::pair<int, std::string>> RawConn::ReadResponses(
    std::size_t count, std::chrono::milliseconds deadline) {
    std::vector<std::pair<int, std::string>> out;
    std::string buf;
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (out.size() < count && std::chrono::steady_clock::now() < end) {
        const auto head_end = buf.find("\r\n\r\n");
        if (head_end != std::string::npos) {
            const std::string head = buf.substr(0, head_end);
            std::size_t length = 0;
            auto cl = head.find("Content-Length: ");
            if (cl == std::string::npos) cl = head.find("content-length: ");
            if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
            if (buf.size() >= head_end + 4 + length) {
                out.emplace_back(StatusOf(head), buf.substr(head_end + 4, length));
                buf.erase(0, head_end + 4 + length);
                continue;
            }
        }
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char chunk[8192];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
}

std::uint64_t FloodBody(RawConn& c, bool chunked, std::string* answer) {
    const std::string piece(64 * 1024, 'x');
    std::string chunk = piece;
    if (chunked) {
        char size[16];
        std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
        chunk = std::string(size) + piece + "\r\n";
    }
    std::uint64_t sent = 0;
    // Non-blocking sends, so a server that stops reading cannot hang the test.
    ::fcntl(c.fd(), F_SETFL, ::fcntl(c.fd(), F_GETFL) | O_NONBLOCK);
    const auto end = std::chrono::steady_clock::now() + 30s;
    auto last_progress = std::chrono::steady_clock::now();
    std::size_t off = 0;
    while (sent < (100ull << 20) && std::chrono::steady_clock::now() < end) {
        pollfd p{c.fd(), POLLOUT | POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) {
            // Nothing taken for a second: the server has given up on this body.
            if (std::chrono::steady_clock::now() - last_progress > 1s) break;
            continue;
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) break;
        const ssize_t n = ::send(c.fd(), chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        last_progress = std::chrono::steady_clock::now();
        off += static_cast<std::size_t>(n);
        sent += static_cast<std::uint64_t>(n);
        if (off == chunk.size()) off = 0;
    }
    ::fcntl(c.fd(), F_SETFL, ::fcntl(c.fd(), F_GETFL) & ~O_NONBLOCK);
    *answer = c.ReadAll(3s);
    return sent;
}

int StatusOf(const std::string& response) {
    if (response.size() < 12 || response.rfind("HTTP/1.", 0) != 0) return 0;
    return std::stoi(response.substr(9, 3));
}

std::size_t RssKiB(pid_t pid) {
    std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                              : "/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
    }
    return 0;
}

}  // namespace fwchain::test
