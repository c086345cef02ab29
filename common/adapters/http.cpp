#include "common/adapters/http.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

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

struct Client::Impl {
    std::unique_ptr<httplib::Client> cli;
};

Client::Client(const Url& url, ClientOptions opts) : url_(url), impl_(std::make_unique<Impl>()) {
    impl_->cli = std::make_unique<httplib::Client>(url.Origin());
    httplib::Client& c = *impl_->cli;
    c.set_tcp_nodelay(true);
    c.set_keep_alive(true);
    c.set_connection_timeout(opts.connect_timeout_s, 0);
    c.set_read_timeout(opts.read_timeout_s, 0);
    c.set_write_timeout(opts.write_timeout_s, 0);
    if (url.scheme == "https") {
        c.enable_server_certificate_verification(true);
        if (!opts.ca_cert_path.empty()) c.set_ca_cert_path(opts.ca_cert_path.c_str());
    }
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Expected<Client> Client::For(const std::string& url, ClientOptions opts) {
    FW_ASSIGN(Url u, ParseUrl(url));
    return Client(u, opts);
}

void Client::Stop() { impl_->cli->stop(); }

std::optional<std::string> Reply::Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            })) {
            return v;
        }
    }
    return std::nullopt;
}

namespace {

httplib::Headers ToHttplib(const Headers& h) { return httplib::Headers(h.begin(), h.end()); }

Error TransportError(httplib::Error err, const std::string& where) {
    const char* reason = err == httplib::Error::Read       ? "read-failed"
                         : err == httplib::Error::Canceled ? "canceled"
                                                           : "unreachable";
    return MakeError(Errc::kNetwork, reason, where + ": " + httplib::to_string(err));
}

Expected<Reply> SendRequest(httplib::Client& cli, const Url& url, const std::string& method,
                            const std::string& path, const std::string* body,
                            const Headers& headers, std::size_t max_size) {
    httplib::Request req;
    req.method = method;
    req.path = url.base_path + path;
    req.headers = ToHttplib(headers);
    if (body) {
        req.body = *body;
        if (!req.has_header("Content-Type")) req.set_header("Content-Type", "application/json");
    }
    Reply reply;
    bool too_large = false;
    req.response_handler = [&](const httplib::Response& r) {
        reply.status = r.status;
        reply.headers.assign(r.headers.begin(), r.headers.end());
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
    const std::string where = method + " " + url.Origin() + req.path;
    if (too_large) {
        return Fail(Errc::kTooLarge, "too-large",
                    where + ": answer exceeds " + std::to_string(max_size) + " bytes");
    }
    if (!ok) return Fail(TransportError(err, where));
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

std::string UrlEncode(const std::string& s) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

Expected<Reply> Client::Send(const std::string& method, const std::string& path,
                             const std::string* body, const Headers& headers,
                             std::size_t max_size) {
    return SendRequest(*impl_->cli, url_, method, path, body, headers, max_size);
}

Expected<std::string> Client::GetText(const std::string& path, std::size_t max_size) {
    FW_ASSIGN(Reply reply, Send("GET", path, nullptr, {}, max_size));
    if (reply.status < 200 || reply.status >= 300) {
        auto e = ToJsonReply(url_, path, reply, max_size);
        return Fail(e.error());
    }
    return std::move(reply.body);
}

Expected<Json> Client::GetJson(const std::string& path, std::size_t max_size) {
    FW_ASSIGN(Reply reply, Send("GET", path, nullptr, {}, max_size));
    return ToJsonReply(url_, path, std::move(reply), max_size);
}

Expected<Json> Client::PostText(const std::string& path, const std::string& body,
                                std::size_t max_size) {
    FW_ASSIGN(Reply reply, Send("POST", path, &body, {}, max_size));
    return ToJsonReply(url_, path, std::move(reply), max_size);
}

Expected<Json> Client::PostJson(const std::string& path, const Json& body, std::size_t max_size) {
    return PostText(path, Canonical(body), max_size);
}

Status Client::GetStream(const std::string& path, const Headers& headers,
                         const std::function<bool(const Reply& head)>& on_head,
                         const std::function<bool(const char*, std::size_t)>& on_data) {
    const std::string full = url_.base_path + path;
    auto result = impl_->cli->Get(
        full, ToHttplib(headers),
        [&](const httplib::Response& r) {
            Reply head;
            head.status = r.status;
            head.headers.assign(r.headers.begin(), r.headers.end());
            return on_head(head);
        },
        [&](const char* data, std::size_t n) { return on_data(data, n); });
    if (!result) return Fail(TransportError(result.error(), "GET " + url_.Origin() + full));
    return {};
}

Expected<Reply> Client::PostForm(const std::string& path, const Headers& headers,
                                 const std::vector<FormPart>& parts, std::size_t max_size,
                                 const UploadProgress& progress) {
    httplib::MultipartFormDataItems items;
    httplib::MultipartFormDataProviderItems providers;
    // What the parts hold, in all, and how much of it went out (shared by the providers, which
    // httplib calls one after the other on this thread).
    std::uint64_t total = 0;
    auto sent = std::make_shared<std::uint64_t>(0);
    for (const auto& p : parts) {
        if (p.file.empty()) {
            total += p.content.size();
            continue;
        }
        struct stat st {};
        if (::stat(p.file.c_str(), &st) != 0) {
            return Fail(Errc::kNotFound, "no-file", "cannot read " + p.file);
        }
        total += static_cast<std::uint64_t>(st.st_size);
    }
    auto report = [progress, sent, total](std::size_t n) {
        *sent += n;
        if (progress) progress(*sent, total);
    };
    for (const auto& p : parts) {
        if (p.file.empty()) {
            if (!progress) {
                items.push_back({p.name, p.content, p.filename, p.content_type});
                continue;
            }
            // Streamed like a file, so that the progress moves with the bytes.
            auto content = std::make_shared<std::string>(p.content);
            auto offset = std::make_shared<std::size_t>(0);
            providers.push_back({p.name,
                                 [content, offset, report](std::size_t, httplib::DataSink& sink) {
                                     const std::size_t n = std::min<std::size_t>(
                                         64 * 1024, content->size() - *offset);
                                     if (n > 0 && !sink.write(content->data() + *offset, n)) {
                                         return false;
                                     }
                                     *offset += n;
                                     report(n);
                                     if (*offset == content->size()) sink.done();
                                     return true;
                                 },
                                 p.filename, p.content_type});
            continue;
        }
        auto file = std::make_shared<std::ifstream>(p.file, std::ios::binary);
        if (!*file) return Fail(Errc::kNotFound, "no-file", "cannot read " + p.file);
        // Streamed in 64 KiB pieces (chunked): the sender never holds the whole file.
        providers.push_back({p.name,
                             [file, report](std::size_t, httplib::DataSink& sink) {
                                 char buf[64 * 1024];
                                 file->read(buf, sizeof buf);
                                 const auto n = file->gcount();
                                 if (n > 0) {
                                     if (!sink.write(buf, static_cast<std::size_t>(n))) {
                                         return false;
                                     }
                                     report(static_cast<std::size_t>(n));
                                 }
                                 if (file->eof()) sink.done();
                                 return !file->bad();
                             },
                             p.filename, p.content_type});
    }
    const std::string full = url_.base_path + path;
    auto res = impl_->cli->Post(full, ToHttplib(headers), items, providers);
    if (!res) return Fail(TransportError(res.error(), "POST " + url_.Origin() + full));
    if (res->body.size() > max_size) {
        return Fail(Errc::kTooLarge, "too-large", "the answer exceeds the limit");
    }
    Reply reply;
    reply.status = res->status;
    reply.body = std::move(res->body);
    reply.headers.assign(res->headers.begin(), res->headers.end());
    return reply;
}

Expected<Reply> BoundedExchange(const Url& url, const std::string& method, const std::string& path,
                                const std::string* body, const ExchangeLimits& limits,
                                const Headers& headers) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + limits.deadline;
    const auto deadline_s = std::chrono::duration_cast<std::chrono::seconds>(limits.deadline);
    ClientOptions copts;
    // No single socket wait may outlast the whole exchange.
    const int whole_s = static_cast<int>(std::max<std::int64_t>(1, deadline_s.count() + 1));
    copts.connect_timeout_s = std::min(limits.connect_timeout_s, whole_s);
    copts.read_timeout_s = whole_s;
    copts.write_timeout_s = whole_s;
    Client client(url, copts);

    // The watchdog: at the deadline it shuts the socket down, which ends whatever read the
    // client is blocked in (headers or body) at once.
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool expired = false;
    std::thread watchdog([&] {
        std::unique_lock<std::mutex> lock(mu);
        if (!cv.wait_until(lock, deadline, [&] { return done; })) {
            expired = true;
            lock.unlock();
            client.Stop();
        }
    });
    auto reply = client.Send(method, path, body, headers, limits.max_answer);
    {
        std::lock_guard<std::mutex> lock(mu);
        done = true;
    }
    cv.notify_all();
    watchdog.join();

    const std::string where = method + " " + url.Origin() + url.base_path + path;
    if (!reply && reply.error().code == Errc::kTooLarge) {
        return Fail(Errc::kTooLarge, "answer-too-large",
                    where + ": the answer exceeds " + std::to_string(limits.max_answer) +
                        " bytes; refused as it streamed in");
    }
    if (expired || Clock::now() >= deadline) {
        return Fail(Errc::kNetwork, "slow-retrieval",
                    where + ": no complete answer within " +
                        std::to_string(limits.deadline.count()) + " ms");
    }
    if (!reply) return Fail(Errc::kNetwork, "unreachable", reply.error().message);
    return reply;
}

}  // namespace fwchain::http
