#pragma once
// The HTTP server front of every fwchain server (ledger node, gateway device API, vendor server):
// an event-driven server (libmicrohttpd, epoll, one event thread per core) behind a route table
// of our own request and response types. No server-library type appears in this header.
//
// What it guarantees (docs/protocol.md "HTTP limits"): a few sockets cannot starve it. Idle and
// slow connections cost a file descriptor and a small memory pool, not a thread; a header block
// must arrive within a deadline and a body at a minimum rate; per-IP and total connection caps;
// body limits enforced as bytes arrive, whatever the framing; the connection is closed after an
// answer that leaves the stream in an unknown state; pipelined requests are answered in order.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"

namespace fwchain::metrics {
class Registry;
class Histogram;
}  // namespace fwchain::metrics

namespace fwchain::http {

struct ServerOptions {
    std::size_t event_threads = 0;         // 0 = one per core
    std::size_t workers = 8;               // threads for routes that block (disk, ledger, locks)
    std::size_t max_queued = 1024;         // blocking requests waiting for a worker; then 503
    std::size_t max_connections = 4096;    // total
    std::size_t max_per_ip = 256;          // per client address
    int listen_backlog = 1024;             // bursts of reconnects must not drop SYNs
    int idle_timeout_s = 30;               // a connection with no traffic at all is closed
    int header_timeout_s = 10;             // the whole header block must arrive within this
    std::size_t min_body_rate = 4096;      // bytes/s a body must keep up after a grace period
    int body_grace_s = 10;                 //   (so a slow sender is cut, not only an idle one)
    std::size_t max_body = 1 << 20;        // default per-route body limit
    std::size_t max_header_bytes = 16384;  // request line + headers (431/414 beyond)
    std::size_t max_headers = 64;          // header fields per request (431 beyond)
    // TLS: both PEM texts set = HTTPS.
    std::string tls_cert_pem;
    std::string tls_key_pem;
    // GET /metrics serves this registry (the program's own metrics); the server adds its HTTP
    // metrics to it (request latency per route, connections, refusals). Null = a fresh one.
    std::shared_ptr<metrics::Registry> metrics;
};

// One request as a handler sees it. The body is complete when a handler runs.
class Request {
  public:
    std::string method;
    std::string path;                  // decoded path, without the query
    std::string target;                // the raw request target (path and query)
    std::string remote_addr;           // the peer's address, never a header's claim
    std::vector<std::string> matches;  // [0] = path, then the route pattern's groups
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
    std::vector<std::pair<std::string, std::string>> params;   // decoded query, in order

    // Case-insensitive header lookup.
    std::optional<std::string_view> Header(std::string_view name) const;
    // The first value of a query parameter, or "" / nullopt when absent.
    std::string Param(std::string_view name) const;
    bool HasParam(std::string_view name) const;
};

// A file region to send from a descriptor (sendfile where the transport allows it).
struct FileBody {
    int fd = -1;  // owned by the response from the moment it is set
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

class Response {
  public:
    Response() = default;
    Response(const Response&) = delete;
    Response& operator=(const Response&) = delete;
    Response(Response&& other) noexcept;
    Response& operator=(Response&& other) noexcept;
    ~Response();

    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // Runs once when the response was sent or the client went away (or never sent).
    std::function<void()> on_done;
    // Close the connection after this answer (set for errors that leave the stream unknown).
    bool close = false;

    void SetHeader(std::string name, std::string value);
    void SetContent(std::string text, std::string type);
    // Takes ownership of fd: the region [offset, offset + length) is the body.
    void SetFile(int fd, std::uint64_t offset, std::uint64_t length, std::string type);
    const std::optional<FileBody>& file() const { return file_; }
    // Gives the descriptor away (to the transport).
    FileBody TakeFile();

  private:
    std::optional<FileBody> file_;
};

using Handler = std::function<void(const Request&, Response&)>;

// A streamed multipart/form-data upload: the body never sits in memory. `Open` runs when the
// headers are in and may refuse (fill `res`, return null) before a byte of the body is read;
// the stream then gets every part's bytes as they arrive and answers once the body is complete.
class UploadStream {
  public:
    virtual ~UploadStream() = default;
    // A piece of part `name`; an error stops the upload and becomes the answer.
    virtual Status OnData(std::string_view name, std::string_view data) = 0;
    // The body is complete: answer (runs on a worker thread).
    virtual void Finish(const Request& req, Response& res) = 0;
};
using UploadOpener = std::function<std::unique_ptr<UploadStream>(const Request&, Response&)>;

enum class Exec {
    kInline,  // fast, non-blocking work (pre-serialised answers, file responses): event thread
    kWorker,  // may block (SQLite, locks, outgoing requests): a worker thread
};

struct RouteOptions {
    Exec exec = Exec::kWorker;
    std::size_t max_body = 0;  // 0 = ServerOptions::max_body
    bool needs_body = false;   // a POST whose body is required: unframed bodies get 411
};

// Method + path pattern (ECMAScript regex, whole path) -> handler. GET routes also answer HEAD.
class Router {
  public:
    Router();
    ~Router();
    Router(Router&&) noexcept;
    Router& operator=(Router&&) noexcept;

    void Get(std::string pattern, Handler h, RouteOptions o = {});
    // A worker GET whose `fast` path runs first on the event thread and answers when it can
    // (returns true), e.g. from a cache; otherwise `h` runs on a worker.
    void GetFast(std::string pattern, std::function<bool(const Request&, Response&)> fast,
                 Handler h);
    void Post(std::string pattern, Handler h, RouteOptions o = {});
    void Upload(std::string pattern, UploadOpener open, std::uint64_t max_body);
    // Gives every route its request-latency histogram in `registry`.
    void Instrument(metrics::Registry& registry);

    struct Route;
    // The route for method+path, filling `matches`; null if none. `path_known` tells a 405
    // from a 404.
    const Route* Find(std::string_view method, const std::string& path,
                      std::vector<std::string>& matches, bool& path_known) const;

  private:
    std::vector<std::unique_ptr<Route>> routes_;
};

struct Router::Route {
    std::string method;
    std::string pattern;
    bool literal = false;
    struct Regex;
    std::shared_ptr<Regex> regex;
    Handler handler;
    std::function<bool(const Request&, Response&)> fast;
    UploadOpener upload;
    RouteOptions opts;
    metrics::Histogram* latency = nullptr;  // set by Instrument
};

struct ServerStats {
    std::uint64_t requests = 0;
    std::uint64_t rejected_busy = 0;  // 503: the worker queue was full
    std::uint64_t cut_slow = 0;       // connections cut by the header deadline or body rate
    std::size_t open_connections = 0;
};

class Server {
  public:
    Server(Router routes, ServerOptions opts);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds host:port (0 = any free port), starts serving, and returns the bound port.
    Expected<int> Listen(const std::string& host, int port);
    // Blocks until Stop().
    void Wait();
    // Stops accepting and closes every connection; safe from any thread, idempotent.
    void Stop();
    ServerStats Stats() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

// Response helpers shared by every handler.
// Writes {"error": reason, "message": message} with the given status.
void SendError(Response& res, int status, const std::string& reason, const std::string& message);
// Maps an Error to an HTTP status (400 invalid/verify, 404, 409, 413, 403, 502, 500).
void SendError(Response& res, const Error& e);
void SendJson(Response& res, const Json& j, int status = 200);
void SendJsonText(Response& res, std::string text, int status = 200);

// Parses the request body as JSON (strict), or fills `res` with a 400/413 and returns nullopt.
std::optional<Json> ReadJsonBody(const Request& req, Response& res, std::size_t max_size);

// One satisfiable byte range of a `size`-byte entity (RFC 9110 §14), or why not.
struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t length = 0;
};
enum class RangeResult { kNone, kOne, kUnsatisfiable, kIgnored };
// Parses a Range header: kNone when absent; kOne with the clamped range; kUnsatisfiable (416);
// kIgnored for several ranges or syntax we do not serve (the whole entity is sent, as RFC 9110
// allows).
RangeResult ParseRange(std::string_view header, std::uint64_t size, ByteRange& out);

// Serves a file from its descriptor, honouring one Range. `on_done` runs when the response
// finished or the client went away.
Status ServeFile(const Request& req, Response& res, const std::string& path,
                 const std::string& content_type = "application/octet-stream",
                 std::function<void()> on_done = nullptr);

// "host:port" -> (host, port); "[v6]:port" too.
Expected<std::pair<std::string, int>> ParseHostPort(const std::string& s);

}  // namespace fwchain::http
