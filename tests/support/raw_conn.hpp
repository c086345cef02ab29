#pragma once
// Test support: raw TCP clients for attacking a server on loopback (slow senders, floods,
// pipelined and malformed requests), and the resident memory of a process.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fwchain::test {

// A raw TCP connection to 127.0.0.1:port, optionally from another loopback address (so that
// per-IP caps see the attacker and the honest client apart).
class RawConn {
  public:
    explicit RawConn(int port, const char* from = nullptr);
    ~RawConn();
    RawConn(const RawConn&) = delete;
    RawConn& operator=(const RawConn&) = delete;

    bool ok() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    void Close();
    // Sends everything; false once the peer closed or reset.
    bool Send(std::string_view data);
    // Reads until EOF, an error or the deadline; `eof` tells whether the server closed.
    std::string ReadAll(std::chrono::milliseconds deadline, bool* eof = nullptr);
    // Reads until `count` complete responses (Content-Length bodies) arrived: (status, body).
    std::vector<std::pair<int, std::string>> ReadResponses(std::size_t count,
                                                           std::chrono::milliseconds deadline);

  private:
    int fd_ = -1;
};

// Streams up to 100 MB of body (chunked, or raw bytes) after headers already sent, until the
// server stops reading or closes; returns the bytes it took and what it answered.
std::uint64_t FloodBody(RawConn& c, bool chunked, std::string* answer);

// The status code of a raw HTTP answer, 0 if there is none.
int StatusOf(const std::string& response);

// VmRSS of a process in KiB (0 if unknown); pid 0 = this process.
std::size_t RssKiB(pid_t pid = 0);

}  // namespace fwchain::test
