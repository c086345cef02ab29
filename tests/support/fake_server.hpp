#pragma once
// Test doubles of peers (a hostile gateway, a fake ledger, a fake vendor) run on plain
// cpp-httplib, not on fwchain's server front: a peer under test must be free to misbehave
// (stream forever, trickle bytes, send what it likes), which our server's protections would
// prevent. These overloads let a fake's handlers use the same helpers as real handlers.
#include <httplib.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/adapters/http.hpp"

namespace fwchain::http {

// A cpp-httplib server with TCP_NODELAY, `threads` pool threads and the body limit.
std::unique_ptr<httplib::Server> MakeFakeServer(std::size_t threads = 8,
                                                std::size_t max_body = 64 << 20);
// Binds 127.0.0.1 (or host) on `port` (0 = any) and returns the bound port.
Expected<int> Bind(httplib::Server& server, const std::string& host, int port);

void SendError(httplib::Response& res, int status, const std::string& reason,
               const std::string& message);
void SendError(httplib::Response& res, const Error& e);
void SendJson(httplib::Response& res, const Json& j, int status = 200);
void SendJsonText(httplib::Response& res, std::string text, int status = 200);
std::optional<Json> ReadJsonBody(const httplib::Request& req, httplib::Response& res,
                                 std::size_t max_size);

}  // namespace fwchain::http
