#pragma once
// HTTP clients on cpp-httplib with the platform pitfalls applied (CONVENTIONS.md): TCP_NODELAY,
// timeouts, answer caps, JSON error bodies; and address/URL parsing. The servers are in
// http_server.hpp.
#include <httplib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

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
