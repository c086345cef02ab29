// The HTTP adapter against a real server on 127.0.0.1 (port 0): JSON errors end to end, size
// limits on both sides, Range on served files, transport failures.
#include "common/adapters/http.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/adapters/http_server.hpp"
#include "common/core/fs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::http {
namespace {

using test::TempDir;

constexpr std::size_t kMaxBody = 4096;

// A real server front on 127.0.0.1:0 serving `routes`; the destructor stops it.
class TestServer {
  public:
    TestServer(Router routes, ServerOptions opts) : server_(std::move(routes), opts) {}
    void Start() {
        auto port = server_.Listen("127.0.0.1", 0);
        ASSERT_TRUE(port) << port.error().ToString();
        port_ = *port;
    }
    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    Server server_;
    int port_ = 0;
};

class HttpTest : public ::testing::Test {
  protected:
    void SetUp() override {
        data_.resize(600 * 1024);  // > 2 provider chunks of 256 KiB
        for (std::size_t i = 0; i < data_.size(); ++i) {
            data_[i] = static_cast<char>((i * 31 + i / 256) % 251);
        }
        file_ = dir_ / "image.bin";
        ASSERT_TRUE(WriteFileAtomic(file_, data_));

        ServerOptions opts;
        opts.workers = 4;
        opts.max_body = kMaxBody;
        Router s;
        s.Get("/small", [](const Request&, Response& res) {
            SendJson(res, Json{{"b", 2}, {"a", 1}});
        });
        s.Get("/big", [](const Request&, Response& res) {
            SendJson(res, Json{{"blob", std::string(64 * 1024, 'x')}});
        });
        s.Get("/conflict", [](const Request&, Response& res) {
            SendError(res, 409, "duplicate", "already in the mempool");
        });
        s.Get("/verify", [](const Request&, Response& res) {
            SendError(res, MakeError(Errc::kVerify, "rollback", "sequence too old"));
        });
        s.Get("/forbidden", [](const Request&, Response& res) {
            SendError(res, MakeError(Errc::kUnauthorized, "not-admitted", "unknown device"));
        });
        s.Get("/throws",
              [](const Request&, Response&) { throw std::runtime_error("handler blew up"); });
        s.Get("/text",
              [](const Request&, Response& res) { res.SetContent("not json", "text/plain"); });
        s.Post("/echo",
               [](const Request& req, Response& res) {
                   auto body = ReadJsonBody(req, res, kMaxBody);
                   if (!body) return;
                   SendJson(res, Json{{"got", *body}});
               },
               {Exec::kWorker, kMaxBody, true});
        s.Get("/file", [this](const Request& req, Response& res) {
            auto st =
                ServeFile(req, res, file_, "application/octet-stream", [this] { ++files_done_; });
            if (!st) SendError(res, st.error());
        });
        // Files of 1 MiB and more are served from a memory map instead of pread.
        big_data_.resize(2 * 1024 * 1024 + 4321);
        for (std::size_t i = 0; i < big_data_.size(); ++i) {
            big_data_[i] = static_cast<char>((i * 17 + i / 4096) % 253);
        }
        big_file_ = dir_ / "big.bin";
        ASSERT_TRUE(WriteFileAtomic(big_file_, big_data_));
        s.Get("/bigfile", [this](const Request& req, Response& res) {
            auto st = ServeFile(req, res, big_file_, "application/octet-stream",
                                [this] { ++files_done_; });
            if (!st) SendError(res, st.error());
        });
        s.Get("/missing-file", [this](const Request& req, Response& res) {
            auto st = ServeFile(req, res, dir_ / "nope.bin");
            if (!st) SendError(res, st.error());
        });
        server_ = std::make_unique<TestServer>(std::move(s), opts);
        server_->Start();
    }

    Client MakeClient() {
        auto c = Client::For(server_->url());
        EXPECT_TRUE(c) << c.error().ToString();
        return std::move(c).value();
    }

    TempDir dir_;
    std::string data_;
    std::string file_;
    std::string big_data_;
    std::string big_file_;
    std::atomic<int> files_done_{0};
    std::unique_ptr<TestServer> server_;
};

TEST_F(HttpTest, GetJsonReturnsCanonicalBody) {
    Client c = MakeClient();
    auto j = c.GetJson("/small");
    ASSERT_TRUE(j) << j.error().ToString();
    EXPECT_EQ(Canonical(*j), R"({"a":1,"b":2})");
    auto text = c.GetText("/small");
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, R"({"a":1,"b":2})");
}

TEST_F(HttpTest, ResponseAboveMaxSizeIsTooLarge) {
    Client c = MakeClient();
    auto j = c.GetJson("/big", 1024);
    ASSERT_FALSE(j);
    EXPECT_EQ(j.error().code, Errc::kTooLarge);
    EXPECT_EQ(j.error().reason, "too-large");
    auto t = c.GetText("/big", 1024);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().reason, "too-large");
    // The same client recovers from the aborted transfer, and a large enough limit works.
    auto ok = c.GetJson("/big", 128 * 1024);
    ASSERT_TRUE(ok) << ok.error().ToString();
    EXPECT_EQ((*ok)["blob"].get<std::string>().size(), 64u * 1024);
    EXPECT_TRUE(c.GetJson("/small"));
}

TEST_F(HttpTest, ServerErrorReasonReachesTheClient) {
    Client c = MakeClient();
    struct Case {
        std::string path;
        Errc code;
        std::string reason;
        std::string message_part;
    };
    const std::vector<Case> cases = {
        {"/conflict", Errc::kConflict, "duplicate", "already in the mempool"},
        {"/verify", Errc::kInvalid, "rollback", "sequence too old"},
        {"/forbidden", Errc::kUnauthorized, "not-admitted", "unknown device"},
        {"/no-such-route", Errc::kNotFound, "not-found", "no such endpoint"},
        {"/missing-file", Errc::kNotFound, "not-found", "no such image"},
        {"/throws", Errc::kNetwork, "internal", "handler blew up"},
    };
    for (const auto& k : cases) {
        auto j = c.GetJson(k.path);
        ASSERT_FALSE(j) << k.path;
        EXPECT_EQ(j.error().code, k.code) << k.path << ": " << j.error().ToString();
        EXPECT_EQ(j.error().reason, k.reason) << k.path << ": " << j.error().ToString();
        EXPECT_NE(j.error().message.find(k.message_part), std::string::npos)
            << k.path << ": " << j.error().message;
        auto t = c.GetText(k.path);
        ASSERT_FALSE(t) << k.path;
        EXPECT_EQ(t.error().reason, k.reason) << k.path;
    }
    // A 2xx answer that is not JSON is an error for GetJson but fine for GetText.
    auto nj = c.GetJson("/text");
    ASSERT_FALSE(nj);
    EXPECT_EQ(nj.error().reason, "malformed-json");
    EXPECT_EQ(*c.GetText("/text"), "not json");
}

TEST_F(HttpTest, PostJsonAndBodyLimits) {
    Client c = MakeClient();
    auto ok = c.PostJson("/echo", Json{{"k", 1}});
    ASSERT_TRUE(ok) << ok.error().ToString();
    EXPECT_EQ(Canonical(*ok), R"({"got":{"k":1}})");

    // Malformed and float bodies are refused by the strict parser with 400.
    for (const std::string body : {"{", R"({"k":1.5})", R"({"k":1,"k":2})"}) {
        auto bad = c.PostText("/echo", body);
        ASSERT_FALSE(bad) << body;
        EXPECT_EQ(bad.error().code, Errc::kInvalid) << body;
        EXPECT_EQ(bad.error().reason, "malformed-json") << body;
    }

    // A body above ServerOptions.max_body is refused with 413 before any handler runs.
    const std::string big = R"({"k":")" + std::string(kMaxBody, 'x') + "\"}";
    auto res = c.Send("POST", "/echo", &big);
    ASSERT_TRUE(res) << res.error().ToString();
    EXPECT_EQ(res->status, 413);
    auto e = c.PostText("/echo", big);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, Errc::kTooLarge);
    EXPECT_EQ(e.error().reason, "too-large");
    // Exactly at the limit is accepted (the handler then parses it).
    const std::string at_limit =
        R"({"k":")" + std::string(kMaxBody - 8, 'x') + "\"}";  // 8 = {"k":""}
    ASSERT_EQ(at_limit.size(), kMaxBody);
    EXPECT_TRUE(c.PostText("/echo", at_limit));
}

TEST_F(HttpTest, ServeFileFromAMemoryMapWholeAndRangesAcrossChunks) {
    Client c = MakeClient();
    auto whole = c.Send("GET", "/bigfile", nullptr, {}, 64 << 20);
    ASSERT_TRUE(whole) << whole.error().ToString();
    EXPECT_EQ(whole->status, 200);
    EXPECT_TRUE(whole->body == big_data_);
    const std::size_t n = big_data_.size();
    const std::vector<std::pair<std::size_t, std::size_t>> ranges = {
        {0, 1}, {(1 << 20) - 3, 7}, {(2 << 20) - 1, 4322}, {12345, (1 << 20) + 1}, {n - 1, 1}};
    for (const auto& [offset, length] : ranges) {
        const std::string range =
            "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
        auto res = c.Send("GET", "/bigfile", nullptr, {{"Range", range}}, 64 << 20);
        ASSERT_TRUE(res) << range;
        EXPECT_EQ(res->status, 206) << range;
        EXPECT_TRUE(res->body == big_data_.substr(offset, length)) << range;
    }
    EXPECT_TRUE(test::WaitFor([this] { return files_done_ >= 6; }, std::chrono::seconds(10)))
        << "every mapped response must release its mapping";
}

TEST_F(HttpTest, ServeFileWholeAndRanges) {
    Client c = MakeClient();
    auto whole = c.Send("GET", "/file", nullptr, {}, 64 << 20);
    ASSERT_TRUE(whole) << whole.error().ToString();
    EXPECT_EQ(whole->status, 200);
    EXPECT_EQ(whole->body.size(), data_.size());
    EXPECT_TRUE(whole->body == data_);

    struct Case {
        std::string range;
        std::size_t offset;
        std::size_t length;
    };
    const std::size_t n = data_.size();
    const std::vector<Case> cases = {
        {"bytes=0-0", 0, 1},
        {"bytes=100-199", 100, 100},
        {"bytes=262000-263000", 262000, 1001},  // crosses the first 256 KiB chunk
        {"bytes=" + std::to_string(n - 10) + "-", n - 10, 10},
        {"bytes=-5", n - 5, 5},
        {"bytes=0-", 0, n},
    };
    for (const auto& k : cases) {
        auto res = c.Send("GET", "/file", nullptr, {{"Range", k.range}}, 64 << 20);
        ASSERT_TRUE(res) << k.range;
        EXPECT_EQ(res->status, 206) << k.range;
        ASSERT_EQ(res->body.size(), k.length) << k.range;
        EXPECT_TRUE(res->body == data_.substr(k.offset, k.length)) << k.range;
        EXPECT_EQ(res->Header("Content-Range").value_or(""),
                  "bytes " + std::to_string(k.offset) + "-" +
                      std::to_string(k.offset + k.length - 1) + "/" + std::to_string(n))
            << k.range;
    }
    // Ranges past the end are clamped (RFC 7233 §2.1); ranges starting at or after the end
    // are unsatisfiable: 416 with "bytes */size", not an empty 206 or a broken connection.
    const std::vector<Case> clamped = {
        {"bytes=0-" + std::to_string(n + 1000), 0, n},
        {"bytes=" + std::to_string(n - 10) + "-" + std::to_string(n + 20), n - 10, 10},
        {"bytes=-" + std::to_string(n + 100), 0, n},
    };
    for (const auto& k : clamped) {
        auto res = c.Send("GET", "/file", nullptr, {{"Range", k.range}}, 64 << 20);
        ASSERT_TRUE(res) << k.range << ": " << res.error().ToString();
        EXPECT_EQ(res->status, 206) << k.range;
        ASSERT_EQ(res->body.size(), k.length) << k.range;
        EXPECT_TRUE(res->body == data_.substr(k.offset, k.length)) << k.range;
        EXPECT_EQ(res->Header("Content-Range").value_or(""),
                  "bytes " + std::to_string(k.offset) + "-" +
                      std::to_string(k.offset + k.length - 1) + "/" + std::to_string(n))
            << k.range;
    }
    const std::vector<std::string> unsatisfiable = {
        "bytes=" + std::to_string(n) + "-",
        "bytes=" + std::to_string(n + 10) + "-" + std::to_string(n + 20),
        "bytes=-0",
    };
    for (const auto& r : unsatisfiable) {
        auto res = c.Send("GET", "/file", nullptr, {{"Range", r}}, 64 << 20);
        ASSERT_TRUE(res) << r << ": " << res.error().ToString();
        EXPECT_EQ(res->status, 416) << r;
    }
    // Invalid or multiple ranges are ignored (RFC 9110 §14.2): the whole file, 200.
    for (const std::string r : {"bytes=50-10", "bytes=0-1,5-6", "items=0-1", "bytes=x-"}) {
        auto res = c.Send("GET", "/file", nullptr, {{"Range", r}}, 64 << 20);
        ASSERT_TRUE(res) << r;
        EXPECT_EQ(res->status, 200) << r;
        EXPECT_TRUE(res->body == data_) << r;
    }
    auto past_end =
        c.Send("GET", "/file", nullptr, {{"Range", "bytes=" + std::to_string(n) + "-"}}, 64 << 20);
    ASSERT_TRUE(past_end);
    EXPECT_EQ(past_end->Header("Content-Range").value_or(""), "bytes */" + std::to_string(n));
    auto j = ParseJson(past_end->body);
    ASSERT_TRUE(j) << past_end->body;
    EXPECT_EQ((*j)["error"], "range-not-satisfiable");

    // Every response of the handler released its file descriptor through on_done: the whole
    // file, the ranges, the clamped ranges, the 416s, the ignored ranges and the last 416.
    const int expected =
        static_cast<int>(1 + cases.size() + clamped.size() + unsatisfiable.size() + 4 + 1);
    EXPECT_TRUE(
        test::WaitFor([&] { return files_done_.load() >= expected; }, std::chrono::seconds(10)));
    EXPECT_EQ(files_done_.load(), expected);
}

// A port that refuses connections: bound but not listening, held for the test's lifetime.
class RefusingPort {
  public:
    RefusingPort() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
            throw std::runtime_error("bind failed");
        }
        socklen_t len = sizeof(addr);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
    }
    ~RefusingPort() { ::close(fd_); }
    int port() const { return port_; }

  private:
    int fd_ = -1;
    int port_ = 0;
};

// PostForm's progress: called as the body goes out, never backwards, ending at sent == total
// (the parts' bytes: a file streamed from disk and an in-memory part), and the server gets
// every byte of both.
TEST(HttpClient, PostFormReportsProgressUpToTheTotal) {
    TempDir dir;
    std::string image(3 * 1024 * 1024 + 123, '\0');
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<char>(i % 253);
    ASSERT_TRUE(WriteFileAtomic(dir / "image.bin", image));
    const std::string meta = R"({"product":"cam"})";

    Router routes;
    routes.Post("/upload",
                [](const Request& req, Response& res) {
                    SendJson(res, Json{{"size", req.body.size()}});
                },
                {Exec::kWorker, 8 << 20, true});
    ServerOptions opts;
    opts.max_body = 8 << 20;
    TestServer server(std::move(routes), opts);
    server.Start();
    auto client = Client::For(server.url());
    ASSERT_TRUE(client);

    std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
    const std::vector<FormPart> parts = {
        {"meta", meta, "", "", "application/json"},
        {"image", "", dir / "image.bin", "image.bin", "application/octet-stream"}};
    auto reply = client->PostForm(
        "/upload", {}, parts, 1 << 20,
        [&](std::uint64_t sent, std::uint64_t total) { calls.emplace_back(sent, total); });
    ASSERT_TRUE(reply) << reply.error().ToString();
    ASSERT_EQ(reply->status, 200) << reply->body;
    const std::uint64_t total = image.size() + meta.size();
    ASSERT_GE(calls.size(), image.size() / (64 * 1024));  // one call per piece of 64 KiB at most
    for (std::size_t i = 0; i < calls.size(); ++i) {
        EXPECT_EQ(calls[i].second, total);
        if (i > 0) {
            EXPECT_GE(calls[i].first, calls[i - 1].first) << i;
        }
    }
    EXPECT_EQ(calls.back().first, total);
    // The multipart body holds both parts whole (plus boundaries and part headers).
    auto body = ParseJson(reply->body);
    ASSERT_TRUE(body);
    EXPECT_GT((*body)["size"].get<std::uint64_t>(), total);

    // Without a callback the same upload goes through unchanged.
    auto quiet = client->PostForm("/upload", {}, parts);
    ASSERT_TRUE(quiet) << quiet.error().ToString();
    EXPECT_EQ(ParseJson(quiet->body).value()["size"], (*body)["size"]);
}

TEST(HttpClient, ClosedPortIsNetworkError) {
    RefusingPort closed;
    ClientOptions opts;
    opts.connect_timeout_s = 5;
    auto c = Client::For("http://127.0.0.1:" + std::to_string(closed.port()), opts);
    ASSERT_TRUE(c);
    auto j = c->GetJson("/x");
    ASSERT_FALSE(j);
    EXPECT_EQ(j.error().code, Errc::kNetwork);
    auto p = c->PostJson("/x", Json::object());
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, Errc::kNetwork);
}

TEST(HttpBind, SecondBindOnSamePortFails) {
    Server a(Router{}, {});
    auto port = a.Listen("127.0.0.1", 0);
    ASSERT_TRUE(port);
    EXPECT_GT(*port, 0);
    Server b(Router{}, {});
    auto again = b.Listen("127.0.0.1", *port);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().reason, "bind-failed");
}

TEST(HttpUrl, ParseUrlAndHostPort) {
    struct Case {
        std::string text;
        std::string scheme, host;
        int port;
        std::string base;
    };
    const std::vector<Case> ok = {
        {"http://127.0.0.1:8080", "http", "127.0.0.1", 8080, ""},
        {"http://gw.local", "http", "gw.local", 80, ""},
        {"https://vendor.example/api/v1/", "https", "vendor.example", 443, "/api/v1"},
        {"http://[::1]:9000/x", "http", "::1", 9000, "/x"},
    };
    for (const auto& k : ok) {
        auto u = ParseUrl(k.text);
        ASSERT_TRUE(u) << k.text << ": " << u.error().ToString();
        EXPECT_EQ(u->scheme, k.scheme) << k.text;
        EXPECT_EQ(u->host, k.host) << k.text;
        EXPECT_EQ(u->port, k.port) << k.text;
        EXPECT_EQ(u->base_path, k.base) << k.text;
    }
    for (const std::string bad : {"", "127.0.0.1:80", "ftp://h:21", "http://", "http://:80",
                                  "http://h:99999", "http://h:x"}) {
        auto u = ParseUrl(bad);
        EXPECT_FALSE(u) << "accepted \"" << bad << "\"";
        if (!u) {
            EXPECT_TRUE(u.error().reason == "bad-url" || u.error().reason == "bad-address")
                << bad << ": " << u.error().reason;
        }
    }
    // IPv6 literals keep their brackets in the origin handed to httplib.
    EXPECT_EQ(ParseUrl("http://[::1]:9000/x")->Origin(), "http://[::1]:9000");
    EXPECT_EQ(ParseUrl("http://127.0.0.1:9000/x")->Origin(), "http://127.0.0.1:9000");
    auto v6 = ParseUrl("http://[::1]/x");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 80);
    EXPECT_EQ(v6->Origin(), "http://[::1]:80");

    auto hp = ParseHostPort("0.0.0.0:7000");
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->first, "0.0.0.0");
    EXPECT_EQ(hp->second, 7000);
    for (const std::string bad : {"7000", ":7000", "h:", "h:-1", "h:65536", "h:7000x"}) {
        EXPECT_FALSE(ParseHostPort(bad)) << "accepted \"" << bad << "\"";
    }
}

}  // namespace
}  // namespace fwchain::http
