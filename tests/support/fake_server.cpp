#include "tests/support/fake_server.hpp"

#include <sys/socket.h>

#include <algorithm>

namespace fwchain::http {

std::unique_ptr<httplib::Server> MakeFakeServer(std::size_t threads, std::size_t max_body) {
    auto server = std::make_unique<httplib::Server>();
    server->set_tcp_nodelay(true);
    server->set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    threads = std::max<std::size_t>(threads, 2);
    server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server->set_payload_max_length(max_body);
    return server;
}

Expected<int> Bind(httplib::Server& server, const std::string& host, int port) {
    if (port == 0) {
        const int bound = server.bind_to_any_port(host);
        if (bound <= 0) return Fail(Errc::kIo, "bind-failed", "cannot bind " + host);
        return bound;
    }
    if (!server.bind_to_port(host, port)) {
        return Fail(Errc::kIo, "bind-failed", "cannot bind " + host + ":" + std::to_string(port));
    }
    return port;
}

void SendJsonText(httplib::Response& res, std::string text, int status) {
    res.status = status;
    res.set_content(std::move(text), "application/json");
}

void SendJson(httplib::Response& res, const Json& j, int status) {
    SendJsonText(res, Canonical(j), status);
}

void SendError(httplib::Response& res, int status, const std::string& reason,
               const std::string& message) {
    SendJson(res, Json{{"error", reason}, {"message", message}}, status);
}

void SendError(httplib::Response& res, const Error& e) {
    Response ours;
    SendError(ours, e);  // the real status mapping
    SendJsonText(res, ours.body, ours.status);
}

std::optional<Json> ReadJsonBody(const httplib::Request& req, httplib::Response& res,
                                 std::size_t max_size) {
    auto j = ParseJson(req.body, max_size);
    if (!j) {
        SendError(res, j.error());
        return std::nullopt;
    }
    return std::move(j).value();
}

}  // namespace fwchain::http
