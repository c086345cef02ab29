#pragma once
// HTTP clients on cpp-httplib with the platform pitfalls applied (CONVENTIONS.md): TCP_NODELAY,
// timeouts, answer caps, JSON error bodies; and address/URL parsing. The servers are in
// http_server.hpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/adapters/http_server.hpp"
#include "common/core/json.hpp"

namespace fwchain::http {

struct Url {
    std::string scheme;  // http or https
    std::string host;
    int port = 0;
    std::string base_path;       // without trailing slash
    std::string Origin() const;  // scheme://host:port
};
Expected<Url> ParseUrl(const std::string& s);

struct ClientOptions {
    ClientOptions() = default;
    ClientOptions(int connect_s, int read_s, int write_s)
        : connect_timeout_s(connect_s), read_timeout_s(read_s), write_timeout_s(write_s) {}
    int connect_timeout_s = 5;
    int read_timeout_s = 30;
    int write_timeout_s = 30;
    std::string ca_cert_path;  // https: trust this CA file (default: the system's)
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// An answer, whatever its status.
struct Reply {
    int status = 0;
    std::string body;
    Headers headers;  // names as the server sent them
    // Case-insensitive header lookup.
    std::optional<std::string> Header(std::string_view name) const;
};

// One part of a multipart/form-data upload: `content` in memory, or `file` streamed from disk.
struct FormPart {
    std::string name;
    std::string content;
    std::string file;
    std::string filename;
    std::string content_type;
};

// A client with nodelay and timeouts. One per thread; not thread-safe (but Stop()).
// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
std::string UrlEncode(const std::string& s);

class Client {
  public:
    explicit Client(const Url& url, ClientOptions opts = {});
    ~Client();
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    static Expected<Client> For(const std::string& url, ClientOptions opts = {});

    // GET base_path+path; the body must be JSON no larger than max_size.
    Expected<Json> GetJson(const std::string& path, std::size_t max_size = 8 << 20);
    Expected<std::string> GetText(const std::string& path, std::size_t max_size = 8 << 20);
    // POST JSON; a non-2xx answer becomes an Error carrying the server's reason/message.
    Expected<Json> PostJson(const std::string& path, const Json& body,
                            std::size_t max_size = 8 << 20);
    Expected<Json> PostText(const std::string& path, const std::string& body,
                            std::size_t max_size = 8 << 20);

    // Any request; the answer whatever its status. `body` (JSON) is sent when not null. The
    // answer is capped at max_size as it arrives (kTooLarge "too-large"); transport failures
    // are kNetwork "unreachable" (or "read-failed" when the connection broke or timed out
    // while reading).
    Expected<Reply> Send(const std::string& method, const std::string& path,
                         const std::string* body, const Headers& headers = {},
                         std::size_t max_size = 8 << 20);
    // Streams a GET: `on_head` sees the status and headers first, then `on_data` each piece;
    // either returning false stops the transfer (kNetwork "canceled").
    Status GetStream(const std::string& path, const Headers& headers,
                     const std::function<bool(const Reply& head)>& on_head,
                     const std::function<bool(const char*, std::size_t)>& on_data);
    // Told how many bytes of the parts' contents have been handed to the socket, of how many.
    using UploadProgress = std::function<void(std::uint64_t sent, std::uint64_t total)>;
    // POSTs a multipart/form-data body (file parts streamed from disk, chunked). `progress`, when
    // set, is called after each piece (64 KiB at most) went out, in-memory parts being streamed
    // too then; the last call has sent == total.
    Expected<Reply> PostForm(const std::string& path, const Headers& headers,
                             const std::vector<FormPart>& parts, std::size_t max_size = 1 << 20,
                             const UploadProgress& progress = {});
    // Aborts the request in progress, from any thread (a watchdog's deadline).
    void Stop();

    const Url& url() const { return url_; }

  private:
    struct Impl;
    Url url_;
    std::unique_ptr<Impl> impl_;
};

// Limits of one bounded exchange with an untrusted server.
struct ExchangeLimits {
    std::size_t max_answer = 4 << 20;
    std::chrono::milliseconds deadline{30000};
    int connect_timeout_s = 10;
};

// One request with a cap on the answer, enforced as it streams in, and a deadline on the whole
// exchange, from connecting to the last byte (a watchdog shuts the socket, so a trickle of
// header or body bytes is cut too). Errors: "answer-too-large" (kTooLarge), "slow-retrieval"
// (kNetwork) when the deadline passes first, "unreachable" (kNetwork) otherwise.
Expected<Reply> BoundedExchange(const Url& url, const std::string& method, const std::string& path,
                                const std::string* body, const ExchangeLimits& limits,
                                const Headers& headers = {});

}  // namespace fwchain::http
