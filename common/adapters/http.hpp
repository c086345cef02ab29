#pragma once
// HTTP plumbing on cpp-httplib with the platform pitfalls applied (CONVENTIONS.md): TCP_NODELAY,
// a thread pool sized to the expected connections, timeouts, body limits, JSON error bodies,
// and a pread-based file provider for images.
#include <httplib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/core/json.hpp"

namespace fwchain::http {

struct ServerOptions {
    std::size_t threads = 16;        // >= expected concurrent keep-alive connections
    std::size_t max_body = 1 << 20;  // request body limit
    int read_timeout_s = 10;
    int write_timeout_s = 30;
    int keep_alive_timeout_s = 5;
    std::size_t keep_alive_max = 1000;  // 1 for web-seed endpoints (no pipelining support)
};

std::unique_ptr<httplib::Server> MakeServer(const ServerOptions& opts);
// Applies the same settings to a server made elsewhere (an httplib::SSLServer).
void ConfigureServer(httplib::Server& server, const ServerOptions& opts);

// Binds host:port (port 0 = any free port) and returns the bound port, or an error.
Expected<int> Bind(httplib::Server& server, const std::string& host, int port);

// Writes {"error": reason, "message": message} with the given status.
void SendError(httplib::Response& res, int status, const std::string& reason,
               const std::string& message);
// Maps an Error to an HTTP status (400 invalid/verify, 404, 409, 413, 401/403, 500, 502).
void SendError(httplib::Response& res, const Error& e);
void SendJson(httplib::Response& res, const Json& j, int status = 200);
void SendJsonText(httplib::Response& res, std::string text, int status = 200);

// Parses the request body as JSON (strict), or fills `res` with a 400/413 and returns nullopt.
std::optional<Json> ReadJsonBody(const httplib::Request& req, httplib::Response& res,
                                 std::size_t max_size);

// Serves a file with pread in chunks, honouring Range (httplib applies the ranges to the
// provider). `on_done` runs when the response finished or the client went away.
Status ServeFile(const httplib::Request& req, httplib::Response& res, const std::string& path,
                 const std::string& content_type = "application/octet-stream",
                 std::function<void()> on_done = nullptr);

// "host:port" -> (host, port).
Expected<std::pair<std::string, int>> ParseHostPort(const std::string& s);

struct Url {
    std::string scheme;  // http or https
    std::string host;
    int port = 0;
    std::string base_path;       // without trailing slash
    std::string Origin() const;  // scheme://host:port
};
Expected<Url> ParseUrl(const std::string& s);

struct ClientOptions {
    int connect_timeout_s = 5;
    int read_timeout_s = 30;
    int write_timeout_s = 30;
};

// A client with nodelay and timeouts. One per thread; not thread-safe.
class Client {
  public:
    explicit Client(const Url& url, ClientOptions opts = {});
    static Expected<Client> For(const std::string& url, ClientOptions opts = {});

    // GET base_path+path; the body must be JSON no larger than max_size.
    Expected<Json> GetJson(const std::string& path, std::size_t max_size = 8 << 20);
    Expected<std::string> GetText(const std::string& path, std::size_t max_size = 8 << 20);
    // POST JSON; a non-2xx answer becomes an Error carrying the server's reason/message.
    Expected<Json> PostJson(const std::string& path, const Json& body,
                            std::size_t max_size = 8 << 20);
    Expected<Json> PostText(const std::string& path, const std::string& body,
                            std::size_t max_size = 8 << 20);

    httplib::Client& Raw() { return *cli_; }
    const Url& url() const { return url_; }

  private:
    Url url_;
    std::unique_ptr<httplib::Client> cli_;
};

}  // namespace fwchain::http
