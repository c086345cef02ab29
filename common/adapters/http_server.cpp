// The server front on libmicrohttpd (docs/architecture.md "HTTP server front").
//
// MHD runs an epoll loop on `event_threads` threads. A request's headers and body are taken in
// the access handler on the connection's event thread; an inline route answers there, a worker
// route suspends the connection and runs its handler on a bounded worker pool, then resumes it.
// MHD covers the idle timeout, the connection caps, the memory pool per connection (hence the
// header size limit: 414/431) and pipelining; what it does not do is done here:
//  - the header deadline and the minimum body rate (a reaper thread shuts down the sockets of
//    connections that break them: an idle timeout alone never fires on a 1 byte/s sender);
//  - body limits as bytes arrive: Content-Length is checked before the body is read, a chunked
//    body is counted piece by piece and dropped (never stored) past the limit;
//  - 411 for a POST without framing, 431 for too many headers, all with Connection: close.
#include "common/adapters/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "common/core/metrics.hpp"

namespace fwchain::http {

// ---------------------------------------------------------------- request and response types

namespace {

bool IEquals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decoding; `plus_is_space` for query components. Malformed escapes stay literal.
std::string Decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = HexValue(s[i + 1]);
            const int lo = HexValue(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
    }
    return out;
}

}  // namespace

std::optional<std::string_view> Request::Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (IEquals(k, name)) return std::string_view(v);
    }
    return std::nullopt;
}

std::string Request::Param(std::string_view name) const {
    for (const auto& [k, v] : params) {
        if (k == name) return v;
    }
    return {};
}

bool Request::HasParam(std::string_view name) const {
    return std::any_of(params.begin(), params.end(),
                       [&](const auto& p) { return p.first == name; });
}

Response::Response(Response&& other) noexcept { *this = std::move(other); }

Response& Response::operator=(Response&& other) noexcept {
    if (this == &other) return *this;
    if (file_) ::close(file_->fd);
    status = other.status;
    content_type = std::move(other.content_type);
    body = std::move(other.body);
    headers = std::move(other.headers);
    on_done = std::move(other.on_done);
    close = other.close;
    file_ = other.file_;
    other.file_.reset();
    return *this;
}

Response::~Response() {
    if (file_) ::close(file_->fd);
}

void Response::SetHeader(std::string name, std::string value) {
    for (auto& h : headers) {
        if (IEquals(h.first, name)) {
            h.second = std::move(value);
            return;
        }
    }
    headers.emplace_back(std::move(name), std::move(value));
}

void Response::SetContent(std::string text, std::string type) {
    if (file_) {
        ::close(file_->fd);
        file_.reset();
    }
    body = std::move(text);
    content_type = std::move(type);
}

void Response::SetFile(int fd, std::uint64_t offset, std::uint64_t length, std::string type) {
    if (file_) ::close(file_->fd);
    file_ = FileBody{fd, offset, length};
    body.clear();
    content_type = std::move(type);
}

FileBody Response::TakeFile() {
    FileBody f = *file_;
    file_.reset();
    return f;
}

// ---------------------------------------------------------------- routes

struct Router::Route::Regex {
    std::regex re;
};

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

namespace {
bool IsLiteral(const std::string& p) {
    return p.find_first_of("()[]{}*+?.\\|^$") == std::string::npos;
}
}  // namespace

void Router::Get(std::string pattern, Handler h, RouteOptions o) {
    auto r = std::make_unique<Route>();
    r->method = "GET";
    r->literal = IsLiteral(pattern);
    if (!r->literal) r->regex = std::make_shared<Route::Regex>(Route::Regex{std::regex(pattern)});
    r->pattern = std::move(pattern);
    r->handler = std::move(h);
    r->opts = o;
    routes_.push_back(std::move(r));
}

void Router::GetFast(std::string pattern, std::function<bool(const Request&, Response&)> fast,
                     Handler h) {
    Get(std::move(pattern), std::move(h), {Exec::kWorker});
    routes_.back()->fast = std::move(fast);
}

void Router::Post(std::string pattern, Handler h, RouteOptions o) {
    Get(std::move(pattern), std::move(h), o);
    routes_.back()->method = "POST";
}

void Router::Upload(std::string pattern, UploadOpener open, std::uint64_t max_body) {
    RouteOptions o;
    o.max_body = static_cast<std::size_t>(max_body);
    o.needs_body = true;
    Post(std::move(pattern), nullptr, o);
    routes_.back()->upload = std::move(open);
}

void Router::Instrument(metrics::Registry& registry) {
    for (auto& r : routes_) {
        r->latency = &registry.GetHistogram(
            "fwchain_http_request_duration_seconds",
            "Time from a request's headers to its answer sent, per route (the route's pattern).",
            {{"method", r->method}, {"route", r->pattern}});
    }
}

const Router::Route* Router::Find(std::string_view method, const std::string& path,
                                  std::vector<std::string>& matches, bool& path_known) const {
    path_known = false;
    const std::string_view m = method == "HEAD" ? std::string_view("GET") : method;
    for (const auto& r : routes_) {
        bool hit = false;
        std::vector<std::string> groups;
        if (r->literal) {
            hit = r->pattern == path;
            if (hit) groups.push_back(path);
        } else {
            std::smatch sm;
            hit = std::regex_match(path, sm, r->regex->re);
            if (hit) {
                for (const auto& g : sm) groups.push_back(g.str());
            }
        }
        if (!hit) continue;
        path_known = true;
        if (r->method != m) continue;
        matches = std::move(groups);
        return r.get();
    }
    return nullptr;
}

// ---------------------------------------------------------------- helpers

void SendJsonText(Response& res, std::string text, int status) {
    res.status = status;
    res.SetContent(std::move(text), "application/json");
}

void SendJson(Response& res, const Json& j, int status) { SendJsonText(res, Canonical(j), status); }

void SendError(Response& res, int status, const std::string& reason, const std::string& message) {
    SendJson(res, Json{{"error", reason}, {"message", message}}, status);
}

void SendError(Response& res, const Error& e) {
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

std::optional<Json> ReadJsonBody(const Request& req, Response& res, std::size_t max_size) {
    auto j = ParseJson(req.body, max_size);
    if (!j) {
        SendError(res, j.error());
        return std::nullopt;
    }
    return std::move(j).value();
}

namespace {
bool ParseU64(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out = v;
    return true;
}
}  // namespace

RangeResult ParseRange(std::string_view header, std::uint64_t size, ByteRange& out) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    };
    header = trim(header);
    if (header.empty()) return RangeResult::kNone;
    constexpr std::string_view kUnit = "bytes=";
    if (header.size() < kUnit.size() || !IEquals(header.substr(0, kUnit.size()), kUnit)) {
        return RangeResult::kIgnored;  // another unit: RFC 9110 says ignore
    }
    std::string_view spec = trim(header.substr(kUnit.size()));
    if (spec.find(',') != std::string_view::npos) return RangeResult::kIgnored;
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return RangeResult::kIgnored;
    const std::string_view a = trim(spec.substr(0, dash));
    const std::string_view b = trim(spec.substr(dash + 1));
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (a.empty()) {  // suffix: the last b bytes
        if (!ParseU64(b, last)) return RangeResult::kIgnored;
        if (last == 0 || size == 0) return RangeResult::kUnsatisfiable;
        const std::uint64_t n = std::min(last, size);
        out = {size - n, n};
        return RangeResult::kOne;
    }
    if (!ParseU64(a, first)) return RangeResult::kIgnored;
    if (b.empty()) {
        last = size == 0 ? 0 : size - 1;
    } else {
        if (!ParseU64(b, last) || last < first) return RangeResult::kIgnored;
    }
    if (first >= size) return RangeResult::kUnsatisfiable;
    last = std::min(last, size - 1);
    out = {first, last - first + 1};
    return RangeResult::kOne;
}

Status ServeFile(const Request& req, Response& res, const std::string& path,
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
    const auto size = static_cast<std::uint64_t>(st.st_size);
    res.on_done = std::move(on_done);
    res.SetHeader("Accept-Ranges", "bytes");
    ByteRange range;
    const auto header = req.Header("Range");
    switch (header ? ParseRange(*header, size, range) : RangeResult::kNone) {
        case RangeResult::kUnsatisfiable:
            ::close(fd);
            res.SetHeader("Content-Range", "bytes */" + std::to_string(size));
            SendError(res, 416, "range-not-satisfiable",
                      "the requested range is outside the " + std::to_string(size) + "-byte file");
            return {};
        case RangeResult::kOne:
            res.status = 206;
            res.SetHeader("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                               std::to_string(range.first + range.length - 1) +
                                               "/" + std::to_string(size));
            res.SetFile(fd, range.first, range.length, content_type);
            return {};
        case RangeResult::kNone:
        case RangeResult::kIgnored:
            break;
    }
    res.status = 200;
    res.SetFile(fd, 0, size, content_type);
    return {};
}

// ---------------------------------------------------------------- the server

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

namespace {

using Clock = std::chrono::steady_clock;

enum class Phase { kHeaders, kBody, kHandling };

// Per connection, for the reaper. Guarded by Impl::conns_mu.
struct Conn {
    int fd = -1;
    Phase phase = Phase::kHeaders;
    Clock::time_point since = Clock::now();
    std::uint64_t body_bytes = 0;
};

enum class ReqState {
    kReading,   // taking the body
    kDraining,  // refused: the rest of the body is dropped, `early` is the answer
    kQueued,    // on a worker
    kReady,     // the worker's answer is in `res`
};

struct Ctx {
    Request req;
    Response res;
    const Router::Route* route = nullptr;
    ReqState state = ReqState::kReading;
    std::size_t limit = 0;
    std::uint64_t received = 0;
    std::uint64_t drain_left = 0;   // bytes still dropped before we give up and close
    bool cut = false;               // refused on the socket: the connection is dropped
    std::optional<Response> early;  // an error decided while the body was arriving
    std::unique_ptr<UploadStream> upload;
    MHD_PostProcessor* post = nullptr;
    Status upload_status;
    Conn* conn = nullptr;
    Clock::time_point start = Clock::now();
    metrics::Histogram* latency = nullptr;  // the route's, or the unmatched requests'
    ~Ctx() {
        if (post != nullptr) MHD_destroy_post_processor(post);
        if (res.on_done) res.on_done();
        if (latency != nullptr) {
            latency->Observe(std::chrono::duration<double>(Clock::now() - start).count());
        }
    }
};

std::string AddressOf(const sockaddr* sa) {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (sa == nullptr) return {};
    if (sa->sa_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    } else if (sa->sa_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf,
                    sizeof buf);
    }
    return buf;
}

const char* ReasonFor(int status) {
    switch (status) {
        case 400:
            return "bad-request";
        case 404:
            return "not-found";
        case 405:
            return "method-not-allowed";
        case 411:
            return "length-required";
        case 413:
            return "too-large";
        case 414:
            return "uri-too-long";
        case 431:
            return "headers-too-large";
        case 500:
            return "internal";
        case 503:
            return "busy";
        default:
            return "error";
    }
}

Response ErrorResponse(int status, const std::string& message, bool close) {
    Response r;
    SendError(r, status, ReasonFor(status), message);
    r.close = close;
    return r;
}

}  // namespace

struct Server::Impl {
    Router router;
    ServerOptions opts;
    MHD_Daemon* daemon = nullptr;
    int listen_fd = -1;

    std::mutex conns_mu;
    std::set<Conn*> conns;

    std::mutex jobs_mu;
    std::condition_variable jobs_cv;
    std::deque<std::pair<MHD_Connection*, Ctx*>> jobs;
    std::vector<std::thread> workers;
    std::thread reaper;
    bool stopping = false;

    std::mutex stop_mu;
    std::condition_variable stop_cv;
    bool stopped = false;

    std::shared_ptr<metrics::Registry> registry;
    metrics::Counter* requests = nullptr;
    metrics::Counter* rejected_busy = nullptr;
    metrics::Counter* cut_slow = nullptr;
    metrics::Gauge* open_connections = nullptr;
    metrics::Histogram* unmatched = nullptr;

    Impl(Router r, ServerOptions o) : router(std::move(r)), opts(std::move(o)) {
        registry = opts.metrics ? opts.metrics : std::make_shared<metrics::Registry>();
        router.Get("/metrics",
                   [reg = registry.get()](const Request&, Response& res) {
                       res.SetContent(reg->Render(), metrics::kContentType);
                   },
                   {Exec::kWorker});  // sampled values may take their owners' locks
        router.Instrument(*registry);
        requests =
            &registry->GetCounter("fwchain_http_requests_total", "Requests whose headers arrived.");
        rejected_busy = &registry->GetCounter("fwchain_http_rejected_busy_total",
                                              "Requests answered 503: the worker queue was full.");
        cut_slow = &registry->GetCounter(
            "fwchain_http_cut_slow_total",
            "Connections cut by the header deadline or the minimum body rate.");
        open_connections =
            &registry->GetGauge("fwchain_http_open_connections", "Open client connections.");
        unmatched = &registry->GetHistogram(
            "fwchain_http_request_duration_seconds",
            "Time from a request's headers to its answer sent, per route (the route's pattern).",
            {{"method", "any"}, {"route", "unmatched"}});
    }

    // ---- MHD callbacks

    static void NotifyConnection(void* cls, MHD_Connection* c, void** socket_context,
                                 MHD_ConnectionNotificationCode toe) {
        auto* self = static_cast<Impl*>(cls);
        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
            auto* conn = new Conn;
            const auto* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
            conn->fd = info != nullptr ? info->connect_fd : -1;
            std::lock_guard lock(self->conns_mu);
            self->conns.insert(conn);
            self->open_connections->Set(static_cast<double>(self->conns.size()));
            *socket_context = conn;
        } else {
            auto* conn = static_cast<Conn*>(*socket_context);
            if (conn == nullptr) return;
            // MHD closes the socket after this returns: under the lock, the reaper never
            // shuts down a descriptor that was already reused.
            std::lock_guard lock(self->conns_mu);
            self->conns.erase(conn);
            self->open_connections->Set(static_cast<double>(self->conns.size()));
            delete conn;
            *socket_context = nullptr;
        }
    }

    static void Completed(void* cls, MHD_Connection* c, void** con_cls,
                          MHD_RequestTerminationCode) {
        auto* self = static_cast<Impl*>(cls);
        auto* ctx = static_cast<Ctx*>(*con_cls);
        *con_cls = nullptr;
        delete ctx;
        const auto* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (info != nullptr && info->socket_context != nullptr) {
            auto* conn = static_cast<Conn*>(info->socket_context);
            std::lock_guard lock(self->conns_mu);
            conn->phase = Phase::kHeaders;  // the next request's header deadline starts now
            conn->since = Clock::now();
            conn->body_bytes = 0;
        }
    }

    // Our own decoding: MHD would decode into C strings, losing bytes after a %00 (the
    // tracker's binary info_hash) and the raw target.
    static size_t NoUnescape(void*, MHD_Connection*, char* s) { return std::strlen(s); }

    static void Log(void*, const char* fmt, va_list ap) {
        char buf[512];
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        std::string line(buf);
        while (!line.empty() && line.back() == '\n') line.pop_back();
        spdlog::debug("http: {}", line);
    }

    static MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, const char* value) {
        auto* req = static_cast<Request*>(cls);
        std::string k(key);
        std::transform(k.begin(), k.end(), k.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        req->headers.emplace_back(std::move(k), value != nullptr ? value : "");
        return MHD_YES;
    }

    static MHD_Result CollectArg(void* cls, MHD_ValueKind, const char* key, const char* value) {
        auto* req = static_cast<Request*>(cls);
        std::string& t = req->target;
        t += req->params.empty() ? '?' : '&';
        t += key;
        if (value != nullptr) {
            t += '=';
            t += value;
        }
        req->params.emplace_back(Decode(key, true), value != nullptr ? Decode(value, true) : "");
        return MHD_YES;
    }

    static MHD_Result PostIterator(void* cls, MHD_ValueKind, const char* key, const char*,
                                   const char*, const char*, const char* data, uint64_t,
                                   size_t size) {
        auto* ctx = static_cast<Ctx*>(cls);
        if (!ctx->upload_status) return MHD_NO;
        ctx->upload_status = ctx->upload->OnData(key != nullptr ? key : "", {data, size});
        return ctx->upload_status ? MHD_YES : MHD_NO;
    }

    // Sends `res` now. Early answers (before the body was read) make MHD close the connection.
    static MHD_Result Queue(MHD_Connection* c, Response& res) {
        MHD_Response* r = nullptr;
        if (res.file()) {
            const FileBody f = res.TakeFile();
            r = MHD_create_response_from_fd_at_offset64(f.length, f.fd, f.offset);
            if (r == nullptr) ::close(f.fd);
        } else {
            r = MHD_create_response_from_buffer(res.body.size(), res.body.data(),
                                                MHD_RESPMEM_MUST_COPY);
        }
        if (r == nullptr) return MHD_NO;
        MHD_add_response_header(r, "Content-Type", res.content_type.c_str());
        for (const auto& [k, v] : res.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
        if (res.close) MHD_add_response_header(r, "Connection", "close");
        const MHD_Result ok = MHD_queue_response(c, static_cast<unsigned>(res.status), r);
        MHD_destroy_response(r);
        return ok;
    }

    // An error met while a chunked body arrives cannot be queued through MHD (it only answers
    // before the body or after all of it). Write it straight to the socket (plain HTTP), then
    // drop the connection; the body is never stored.
    void RefuseMidBody(MHD_Connection* c, Ctx& ctx, const Response& res) {
        const auto* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info != nullptr && opts.tls_cert_pem.empty()) {
            std::string out = "HTTP/1.1 " + std::to_string(res.status) + " Refused\r\n" +
                              "Content-Type: " + res.content_type + "\r\n" +
                              "Content-Length: " + std::to_string(res.body.size()) + "\r\n" +
                              "Connection: close\r\n\r\n" + res.body;
            (void)!::send(info->connect_fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            ::shutdown(info->connect_fd, SHUT_WR);
        }
        ctx.state = ReqState::kDraining;
        ctx.cut = true;
    }

    void SetPhase(Ctx& ctx, Phase p) {
        if (ctx.conn == nullptr) return;
        std::lock_guard lock(conns_mu);
        ctx.conn->phase = p;
        ctx.conn->since = Clock::now();
        ctx.conn->body_bytes = 0;
    }

    void CountBody(Ctx& ctx, std::size_t n) {
        if (ctx.conn == nullptr) return;
        std::lock_guard lock(conns_mu);
        ctx.conn->body_bytes += n;
    }

    // First call for a request: the headers are in. Returns an answer to send now, if any.
    std::optional<Response> Start(MHD_Connection* c, Ctx& ctx, const char* url,
                                  const char* method) {
        Request& req = ctx.req;
        req.method = method;
        req.target = url;
        req.path = Decode(url, false);
        MHD_get_connection_values(c, MHD_HEADER_KIND, &CollectHeader, &req);
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, &CollectArg, &req);
        const auto* ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != nullptr) req.remote_addr = AddressOf(ci->client_addr);
        if (req.headers.size() > opts.max_headers) {
            return ErrorResponse(
                431, "more than " + std::to_string(opts.max_headers) + " header fields", true);
        }
        if (req.target.size() > opts.max_header_bytes) {
            return ErrorResponse(414, "request target too long", true);
        }
        bool path_known = false;
        ctx.route = router.Find(req.method, req.path, req.matches, path_known);
        if (ctx.route != nullptr && ctx.route->latency != nullptr) ctx.latency = ctx.route->latency;
        const auto length = req.Header("Content-Length");
        const auto te = req.Header("Transfer-Encoding");
        const bool framed = length.has_value() || te.has_value();
        // Anything we answer before reading a body closes the connection (MHD discards the
        // stream), so an unread body can never be parsed as the next request.
        if (ctx.route == nullptr) {
            if (path_known) return ErrorResponse(405, "method not allowed here", framed);
            return ErrorResponse(404, "no such endpoint: " + req.path, framed);
        }
        ctx.limit = ctx.route->opts.max_body != 0 ? ctx.route->opts.max_body : opts.max_body;
        if (length) {
            std::uint64_t n = 0;
            if (!ParseU64(*length, n)) return ErrorResponse(400, "bad Content-Length", true);
            if (n > ctx.limit) {
                return ErrorResponse(
                    413,
                    "the body is larger than the limit of " + std::to_string(ctx.limit) + " bytes",
                    true);
            }
        }
        if (ctx.route->opts.needs_body && !framed) {
            return ErrorResponse(411, "a body with Content-Length or chunked framing is required",
                                 true);
        }
        if (ctx.route->upload) {
            ctx.upload = ctx.route->upload(req, ctx.res);
            if (!ctx.upload) {
                Response r = std::move(ctx.res);
                r.close = framed;
                return r;
            }
            ctx.post = MHD_create_post_processor(c, 64 * 1024, &PostIterator, &ctx);
            if (ctx.post == nullptr) {
                Response r;
                SendError(r, 400, "bad-upload",
                          "expected multipart/form-data with parts meta and image");
                r.close = true;
                return r;
            }
        }
        SetPhase(ctx, Phase::kBody);
        return std::nullopt;
    }

    // A piece of the body: stored up to the limit, counted and dropped beyond it.
    void Body(MHD_Connection* c, Ctx& ctx, const char* data, std::size_t size) {
        CountBody(ctx, size);
        ctx.received += size;
        if (ctx.state == ReqState::kDraining) {
            if (size > ctx.drain_left) {
                // The drain budget is spent: give up on a clean answer.
                RefuseMidBody(c, ctx, *ctx.early);
                return;
            }
            ctx.drain_left -= size;
            return;
        }
        if (ctx.received > ctx.limit) {
            ctx.early = ErrorResponse(
                413, "the body is larger than the limit of " + std::to_string(ctx.limit) + " bytes",
                true);
            ctx.req.body.clear();
            ctx.req.body.shrink_to_fit();
            // Drop (not store) up to one more limit's worth, so a client that sends a little
            // too much still reads its 413; beyond that the connection is cut.
            ctx.state = ReqState::kDraining;
            ctx.drain_left = std::min<std::uint64_t>(ctx.limit, 1 << 20);
            return;
        }
        if (ctx.post != nullptr) {
            if (MHD_post_process(ctx.post, data, size) != MHD_YES) {
                Error e = ctx.upload_status ? Error{Errc::kInvalid, "bad-upload",
                                                    "malformed multipart/form-data body"}
                                            : ctx.upload_status.error();
                Response r;
                SendError(r, e);
                r.close = true;
                ctx.early = std::move(r);
                ctx.state = ReqState::kDraining;
                ctx.drain_left = ctx.limit - std::min<std::uint64_t>(ctx.limit, ctx.received);
            }
            return;
        }
        ctx.req.body.append(data, size);
    }

    void Run(Ctx& ctx) {
        try {
            if (ctx.upload) {
                ctx.upload->Finish(ctx.req, ctx.res);
                ctx.upload.reset();  // its temp file is gone before the client hears back
            } else {
                ctx.route->handler(ctx.req, ctx.res);
            }
        } catch (const std::exception& e) {
            ctx.res = ErrorResponse(500, e.what(), false);
        } catch (...) {
            ctx.res = ErrorResponse(500, "unexpected error", false);
        }
    }

    MHD_Result Access(MHD_Connection* c, const char* url, const char* method,
                      const char* upload_data, size_t* upload_data_size, void** con_cls) {
        auto* ctx = static_cast<Ctx*>(*con_cls);
        if (ctx == nullptr) {
            // The headers are in. MHD closes the connection after any answer queued now, before
            // the body: right for refusals of a framed body, so only those are sent at once.
            ctx = new Ctx;
            *con_cls = ctx;
            requests->Inc();
            ctx->latency = unmatched;
            const auto* si = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
            if (si != nullptr) ctx->conn = static_cast<Conn*>(si->socket_context);
            if (auto early = Start(c, *ctx, url, method)) {
                if (early->close) return Queue(c, *early);
                ctx->early = std::move(early);
                ctx->state = ReqState::kDraining;
            }
            return MHD_YES;
        }
        if (*upload_data_size != 0) {
            const std::size_t n = *upload_data_size;
            *upload_data_size = 0;
            if (!ctx->cut) Body(c, *ctx, upload_data, n);
            return ctx->cut ? MHD_NO : MHD_YES;
        }
        // The body is complete (or there was none).
        switch (ctx->state) {
            case ReqState::kDraining:
                ctx->upload.reset();
                return Queue(c, *ctx->early);
            case ReqState::kReady:
                return Queue(c, ctx->res);
            case ReqState::kQueued:
                return MHD_YES;  // a spurious call while the worker runs
            case ReqState::kReading:
                break;
        }
        if (ctx->post != nullptr) {
            // Flushes the last part; a body that ends mid-part is malformed.
            const bool clean = MHD_destroy_post_processor(ctx->post) == MHD_YES;
            ctx->post = nullptr;
            if (!clean && ctx->upload_status) {
                ctx->upload_status =
                    Fail(Errc::kInvalid, "bad-upload", "malformed multipart/form-data body");
            }
        }
        if (ctx->upload && !ctx->upload_status) {
            ctx->upload.reset();
            Response r;
            SendError(r, ctx->upload_status.error());
            return Queue(c, r);
        }
        SetPhase(*ctx, Phase::kHandling);
        if (ctx->route->opts.exec == Exec::kInline && !ctx->upload) {
            Run(*ctx);
            return Queue(c, ctx->res);
        }
        if (ctx->route->fast && ctx->route->fast(ctx->req, ctx->res)) return Queue(c, ctx->res);
        {
            std::lock_guard lock(jobs_mu);
            if (jobs.size() >= opts.max_queued || stopping) {
                rejected_busy->Inc();
                Response r = ErrorResponse(503, "the server is busy, retry later", false);
                r.SetHeader("Retry-After", "1");
                return Queue(c, r);
            }
            ctx->state = ReqState::kQueued;
            MHD_suspend_connection(c);
            jobs.emplace_back(c, ctx);
        }
        jobs_cv.notify_one();
        return MHD_YES;
    }

    static MHD_Result AccessThunk(void* cls, MHD_Connection* c, const char* url, const char* method,
                                  const char*, const char* upload_data, size_t* upload_data_size,
                                  void** con_cls) {
        return static_cast<Impl*>(cls)->Access(c, url, method, upload_data, upload_data_size,
                                               con_cls);
    }

    void WorkerLoop() {
        for (;;) {
            std::pair<MHD_Connection*, Ctx*> job;
            {
                std::unique_lock lock(jobs_mu);
                jobs_cv.wait(lock, [&] { return stopping || !jobs.empty(); });
                if (jobs.empty()) return;
                job = jobs.front();
                jobs.pop_front();
            }
            Run(*job.second);
            job.second->state = ReqState::kReady;
            MHD_resume_connection(job.first);
        }
    }

    void ReaperLoop() {
        std::unique_lock lock(stop_mu);
        while (!stopped) {
            stop_cv.wait_for(lock, std::chrono::milliseconds(250));
            if (stopped) break;
            const auto now = Clock::now();
            std::lock_guard cl(conns_mu);
            for (Conn* conn : conns) {
                const double age = std::chrono::duration<double>(now - conn->since).count();
                bool cut = false;
                if (conn->phase == Phase::kHeaders) {
                    cut = age > opts.header_timeout_s;
                } else if (conn->phase == Phase::kBody && age > opts.body_grace_s) {
                    cut = static_cast<double>(conn->body_bytes) <
                          static_cast<double>(opts.min_body_rate) * (age - opts.body_grace_s);
                }
                if (cut && conn->fd >= 0) {
                    ::shutdown(conn->fd, SHUT_RDWR);
                    conn->fd = -1;  // once
                    cut_slow->Inc();
                }
            }
        }
    }
};

Server::Server(Router routes, ServerOptions opts)
    : impl_(std::make_unique<Impl>(std::move(routes), std::move(opts))) {}

Server::~Server() { Stop(); }

namespace {
Expected<int> OpenListener(const std::string& host, int port, int backlog) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    const std::string h = host.empty() || host == "*" ? "0.0.0.0"
                          : host == "localhost"       ? "127.0.0.1"
                                                      : host;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
        len = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
        family = AF_INET6;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
        len = sizeof(sockaddr_in6);
    } else {
        return Fail(Errc::kInvalid, "bad-address",
                    "listen address must be an IPv4 or IPv6 literal, got \"" + host + "\"");
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Fail(Errc::kIo, "bind-failed", std::string("socket: ") + strerror(errno));
    // SO_REUSEADDR for a quick restart; never SO_REUSEPORT, which would let a second server
    // share the port silently.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        const int err = errno;
        ::close(fd);
        return Fail(Errc::kIo, "bind-failed",
                    "cannot bind " + host + ":" + std::to_string(port) + ": " + strerror(err));
    }
    if (::listen(fd, backlog) != 0) {
        const int err = errno;
        ::close(fd);
        return Fail(Errc::kIo, "bind-failed", std::string("listen: ") + strerror(err));
    }
    return fd;
}
}  // namespace

Expected<int> Server::Listen(const std::string& host, int port) {
    Impl& s = *impl_;
    if (s.daemon != nullptr) return Fail(Errc::kInvalid, "bind-failed", "already listening");
    FW_ASSIGN(s.listen_fd, OpenListener(host, port, s.opts.listen_backlog));
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&ss), &len);
    const int bound =
        ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                       : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);

    unsigned threads = static_cast<unsigned>(s.opts.event_threads);
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    const bool tls = !s.opts.tls_cert_pem.empty();
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            ::close(s.listen_fd);
            return Fail(Errc::kInvalid, "bad-tls", "this libmicrohttpd has no TLS support");
        }
        flags |= MHD_USE_TLS;
    }
    // The memory pool bounds the request line and headers (MHD answers 414/431 past it) and
    // is the read buffer for bodies; twice the header limit leaves room for both.
    const std::size_t pool = std::max<std::size_t>(2 * s.opts.max_header_bytes, 8192);
    std::vector<MHD_OptionItem> o = {
        {MHD_OPTION_LISTEN_SOCKET, s.listen_fd, nullptr},
        {MHD_OPTION_THREAD_POOL_SIZE, threads, nullptr},
        {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(s.opts.max_connections), nullptr},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<intptr_t>(s.opts.max_per_ip), nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, s.opts.idle_timeout_s, nullptr},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(pool), nullptr},
        {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Impl::NotifyConnection), &s},
        {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Impl::Completed), &s},
        {MHD_OPTION_UNESCAPE_CALLBACK, reinterpret_cast<intptr_t>(&Impl::NoUnescape), nullptr},
        {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&Impl::Log), nullptr},
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, nullptr},
    };
    if (tls) {
        o.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(s.opts.tls_cert_pem.c_str())});
        o.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(s.opts.tls_key_pem.c_str())});
    }
    o.push_back({MHD_OPTION_END, 0, nullptr});
    s.daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &Impl::AccessThunk, &s,
                                MHD_OPTION_ARRAY, o.data(), MHD_OPTION_END);
    if (s.daemon == nullptr) {
        ::close(s.listen_fd);
        s.listen_fd = -1;
        return Fail(Errc::kIo, "bind-failed",
                    tls ? "cannot start the HTTPS server (bad certificate or key?)"
                        : "cannot start the HTTP server on " + host + ":" + std::to_string(bound));
    }
    const std::size_t workers = std::max<std::size_t>(1, s.opts.workers);
    for (std::size_t i = 0; i < workers; ++i) s.workers.emplace_back([&s] { s.WorkerLoop(); });
    s.reaper = std::thread([&s] { s.ReaperLoop(); });
    return bound;
}

void Server::Wait() {
    std::unique_lock lock(impl_->stop_mu);
    impl_->stop_cv.wait(lock, [&] { return impl_->stopped; });
}

void Server::Stop() {
    Impl& s = *impl_;
    {
        std::lock_guard lock(s.stop_mu);
        if (s.stopped) return;
        s.stopped = true;
    }
    s.stop_cv.notify_all();
    // Finish queued work first: every suspended connection is resumed before MHD stops.
    {
        std::lock_guard lock(s.jobs_mu);
        s.stopping = true;
    }
    s.jobs_cv.notify_all();
    for (auto& t : s.workers) t.join();
    s.workers.clear();
    if (s.reaper.joinable()) s.reaper.join();
    if (s.daemon != nullptr) {
        MHD_stop_daemon(s.daemon);
        s.daemon = nullptr;
    }
    if (s.listen_fd >= 0) {
        ::close(s.listen_fd);
        s.listen_fd = -1;
    }
}

ServerStats Server::Stats() const {
    ServerStats st;
    st.requests = impl_->requests->Value();
    st.rejected_busy = impl_->rejected_busy->Value();
    st.cut_slow = impl_->cut_slow->Value();
    std::lock_guard lock(impl_->conns_mu);
    st.open_connections = impl_->conns.size();
    return st;
}

}  // namespace fwchain::http
