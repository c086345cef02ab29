#include "common/adapters/http.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace fwchain::http {

std::string Url::Origin() const {
    // An IPv6 literal needs its brackets back, or the port would read as part of the address.
    const bool v6 = host.find(':') != std::string::npos;
    return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Expected<Url> ParseUrl(const std::string& s) {
    Url u;
    auto sep = s.find("://");
    if (sep == std::string::npos) {
        return Fail(Errc::kInvalid, "bad-url", "URL needs a scheme: \"" + s + "\"");
    }
    u.scheme = s.substr(0, sep);
    if (u.scheme != "http" && u.scheme != "https") {
        return Fail(Errc::kInvalid, "bad-url", "only http and https URLs are supported");
    }
    std::string rest = s.substr(sep + 3);
    auto slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    u.base_path = slash == std::string::npos ? "" : rest.substr(slash);
    while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
    if (hostport.find(':') == std::string::npos || hostport.back() == ']') {
        u.host = hostport;
        if (u.host.size() > 2 && u.host.front() == '[')
            u.host = u.host.substr(1, u.host.size() - 2);
        u.port = u.scheme == "https" ? 443 : 80;
    } else {
        FW_ASSIGN(auto hp, ParseHostPort(hostport));
        u.host = hp.first;
        u.port = hp.second;
    }
    if (u.host.empty()) return Fail(Errc::kInvalid, "bad-url", "URL has no host: \"" + s + "\"");
    return u;
}

Client::Client(const Url& url, ClientOptions opts)
    : url_(url), cli_(std::make_unique<httplib::Client>(url.Origin())) {
    cli_->set_tcp_nodelay(true);
    cli_->set_keep_alive(true);
    cli_->set_connection_timeout(opts.connect_timeout_s, 0);
    cli_->set_read_timeout(opts.read_timeout_s, 0);
    cli_->set_write_timeout(opts.write_timeout_s, 0);
}

Expected<Client> Client::For(const std::string& url, ClientOptions opts) {
    FW_ASSIGN(Url u, ParseUrl(url));
    return Client(u, opts);
}

namespace {

struct Reply {
    int status = 0;
    std::string body;
};

Expected<Reply> Send(httplib::Client& cli, const Url& url, const std::string& method,
                     const std::string& path, const std::string* body, std::size_t max_size) {
    httplib::Request req;
    req.method = method;
    req.path = url.base_path + path;
    if (body) {
        req.body = *body;
        req.set_header("Content-Type", "application/json");
    }
    Reply reply;
    bool too_large = false;
    req.response_handler = [&](const httplib::Response& r) {
        reply.status = r.status;
        return true;
    };
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
        if (reply.body.size() + n > max_size) {
            too_large = true;
            return false;
        }
        reply.body.append(data, n);
        return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    bool ok = cli.send(req, res, err);
    if (too_large) {
        return Fail(Errc::kTooLarge, "too-large",
                    method + " " + url.Origin() + req.path + ": answer exceeds " +
                        std::to_string(max_size) + " bytes");
    }
    if (!ok) {
        return Fail(Errc::kNetwork, "unreachable",
                    method + " " + url.Origin() + req.path + ": " + httplib::to_string(err));
    }
    if (reply.status == 0) reply.status = res.status;
    return reply;
}

Expected<Json> ToJsonReply(const Url& url, const std::string& path, Reply reply,
                           std::size_t max_size) {
    if (reply.status < 200 || reply.status >= 300) {
        std::string reason = "http-" + std::to_string(reply.status);
        std::string message =
            url.Origin() + url.base_path + path + " answered " + std::to_string(reply.status);
        auto j = ParseJson(reply.body, max_size);
        if (j && j->is_object()) {
            if (auto r = GetString(*j, "error")) reason = *r;
            if (auto m = GetString(*j, "message")) message += ": " + *m;
        }
        Errc code = reply.status == 404                            ? Errc::kNotFound
                    : reply.status == 409                          ? Errc::kConflict
                    : reply.status == 413                          ? Errc::kTooLarge
                    : (reply.status == 401 || reply.status == 403) ? Errc::kUnauthorized
                    : reply.status >= 500                          ? Errc::kNetwork
                                                                   : Errc::kInvalid;
        return Fail(code, reason, message);
    }
    auto j = ParseJson(reply.body, max_size);
    if (!j) return Fail(Context(j.error(), url.Origin() + url.base_path + path));
    return j;
}

}  // namespace

Expected<std::string> Client::GetText(const std::string& path, std::size_t max_size) {
    FW_ASSIGN(Reply reply, Send(*cli_, url_, "GET", path, nullptr, max_size));
    if (reply.status < 200 || reply.status >= 300) {
        auto e = ToJsonReply(url_, path, reply, max_size);
        return Fail(e.error());
    }
    return std::move(reply.body);
}

Expected<Json> Client::GetJson(const std::string& path, std::size_t max_size) {
    FW_ASSIGN(Reply reply, Send(*cli_, url_, "GET", path, nullptr, max_size));
    return ToJsonReply(url_, path, std::move(reply), max_size);
}

Expected<Json> Client::PostText(const std::string& path, const std::string& body,
                                std::size_t max_size) {
    FW_ASSIGN(Reply reply, Send(*cli_, url_, "POST", path, &body, max_size));
    return ToJsonReply(url_, path, std::move(reply), max_size);
}

Expected<Json> Client::PostJson(const std::string& path, const Json& body, std::size_t max_size) {
    return PostText(path, Canonical(body), max_size);
}

}  // namespace fwchain::http
