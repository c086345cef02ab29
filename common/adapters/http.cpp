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

std::unique_ptr<httplib::Server> MakeServer(const ServerOptions& opts) {
    auto server = std::make_unique<httplib::Server>();
    ConfigureServer(*server, opts);
    return server;
}

void ConfigureServer(httplib::Server& server_ref, const ServerOptions& opts) {
    httplib::Server* server = &server_ref;
    // httplib defaults are wrong for us: Nagle costs ~70x in req/s, and one pool thread is held
    // per keep-alive connection, so the pool must cover the expected connections.
    server->set_tcp_nodelay(true);
    // httplib's default adds SO_REUSEPORT, which lets a second server bind a port already in
    // use and silently share its traffic; keep only SO_REUSEADDR (fast restart after TIME_WAIT).
    server->set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    const std::size_t threads = std::max<std::size_t>(opts.threads, 2);
    server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server->set_payload_max_length(opts.max_body);
    server->set_read_timeout(opts.read_timeout_s, 0);
    server->set_write_timeout(opts.write_timeout_s, 0);
    server->set_keep_alive_timeout(opts.keep_alive_timeout_s);
    server->set_keep_alive_max_count(opts.keep_alive_max);
    server->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "unexpected error";
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            SendError(res, 500, "internal", what);
        });
    server->set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;  // a handler already wrote a JSON error
        const char* reason = res.status == 404   ? "not-found"
                             : res.status == 413 ? "too-large"
                             : res.status == 400 ? "bad-request"
                                                 : "error";
        SendError(res, res.status, reason, "HTTP " + std::to_string(res.status));
    });
}

Expected<int> Bind(httplib::Server& server, const std::string& host, int port) {
    if (port == 0) {
        int bound = server.bind_to_any_port(host);
        if (bound <= 0) {
            return Fail(Errc::kIo, "bind-failed", "cannot bind " + host + " on any port");
        }
        return bound;
    }
    if (!server.bind_to_port(host, port)) {
        return Fail(Errc::kIo, "bind-failed",
                    "cannot bind " + host + ":" + std::to_string(port) + " (in use?)");
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
    int status = 500;
    switch (e.code) {
        case Errc::kInvalid:
        case Errc::kVerify:
            status = 400;
            break;
        case Errc::kNotFound:
            status = 404;
            break;
        case Errc::kConflict:
            status = 409;
            break;
        case Errc::kTooLarge:
            status = 413;
            break;
        case Errc::kUnauthorized:
            status = 403;
            break;
        case Errc::kNetwork:
            status = 502;
            break;
        default:
            status = 500;
            break;
    }
    SendError(res, status, e.reason, e.message);
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

namespace {

// httplib 0.11 applies Range to a sized provider without checking it against the size: a range
// ending past EOF makes it promise bytes the file does not have (the connection then breaks
// mid-response) and a range starting at EOF gets an empty 206. Normalises the ranges as RFC 7233
// §2.1 says (clamp the last byte, drop unsatisfiable ranges); false when none is left (416).
// httplib owns the Request as a non-const object, so writing its ranges back is well-defined.
bool NormaliseRanges(const httplib::Request& req, std::size_t size) {
    auto& ranges = const_cast<httplib::Request&>(req).ranges;
    if (ranges.empty()) return true;
    const auto n = static_cast<ssize_t>(size);
    httplib::Ranges kept;
    for (auto [first, last] : ranges) {  // -1 = absent
        if (first < 0) {                 // suffix: the last `last` bytes
            if (last <= 0 || n == 0) continue;
            first = std::max<ssize_t>(0, n - last);
            last = n - 1;
        } else {
            if (first >= n) continue;
            if (last < 0 || last >= n) last = n - 1;
        }
        kept.emplace_back(first, last);
    }
    ranges = std::move(kept);
    return !ranges.empty();
}

}  // namespace

Status ServeFile(const httplib::Request& req, httplib::Response& res, const std::string& path,
                 const std::string& content_type, std::function<void()> on_done) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (on_done) on_done();
        if (errno == ENOENT) return Fail(Errc::kNotFound, "not-found", "no such image");
        return Fail(Errc::kIo, "io", std::string("cannot open image: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        if (on_done) on_done();
        return Fail(Errc::kIo, "io", "cannot stat image");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (!NormaliseRanges(req, size)) {
        ::close(fd);
        if (on_done) on_done();
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        SendError(res, 416, "range-not-satisfiable",
                  "the requested range is outside the " + std::to_string(size) + "-byte file");
        return {};
    }
    // The file is mapped once and written to the socket straight from the page cache: one copy
    // fewer than pread into a buffer. Small files (and a failed mmap) fall back to pread.
    void* map = MAP_FAILED;
    if (size >= (1u << 20)) {
        map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        if (map != MAP_FAILED) ::madvise(map, size, MADV_SEQUENTIAL);
    }
    // httplib applies Range to a sized provider: it asks for (offset, length) windows.
    res.set_content_provider(
        size, content_type,
        [fd, map](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
            if (map != MAP_FAILED) {
                constexpr std::size_t kMapChunk = 1 << 20;
                return sink.write(static_cast<const char*>(map) + offset,
                                  std::min(length, kMapChunk));
            }
            constexpr std::size_t kChunk = 256 * 1024;
            thread_local std::vector<char> buf(kChunk);
            std::size_t want = std::min(length, kChunk);
            ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
            if (n <= 0) return false;
            return sink.write(buf.data(), static_cast<std::size_t>(n));
        },
        [fd, map, size, on_done = std::move(on_done)](bool) {
            if (map != MAP_FAILED) ::munmap(map, size);
            ::close(fd);
            if (on_done) on_done();
        });
    return {};
}

Expected<std::pair<std::string, int>> ParseHostPort(const std::string& s) {
    auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return Fail(Errc::kInvalid, "bad-address", "expected HOST:PORT, got \"" + s + "\"");
    }
    std::string host = s.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    int port = -1;
    auto ps = std::string_view(s).substr(colon + 1);
    auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
    if (ec != std::errc() || p != ps.data() + ps.size() || port < 0 || port > 65535) {
        return Fail(Errc::kInvalid, "bad-address", "bad port in \"" + s + "\"");
    }
    return std::make_pair(host, port);
}

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
