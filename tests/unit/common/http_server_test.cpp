// The server front under attack, on real loopback sockets (issue: servers that a handful of
// connections cannot starve): idle keep-alive floods, slowloris, oversize bodies in every
// framing, pipelining, and the 4xx answers that must close the connection.
#include "common/adapters/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/adapters/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_conn.hpp"

namespace fwchain::http {
namespace {

using namespace std::chrono_literals;
using test::FloodBody;
using test::RawConn;
using test::RssKiB;
using test::StatusOf;

constexpr std::size_t kMaxBody = 4096;

class ServerFront : public ::testing::Test {
  protected:
    void Start(ServerOptions opts) {
        Router r;
        r.Get("/ping",
              [](const Request&, Response& res) {
                  SendJson(res, Json{{"pong", true}});
              },
              {Exec::kWorker});
        r.Get("/n", [](const Request& req, Response& res) { SendJsonText(res, req.Param("i")); },
              {Exec::kInline});
        r.Post("/check",
               [](const Request& req, Response& res) {
                   SendJsonText(res, R"({"checked":)" + std::to_string(req.body.size()) + "}");
               },
               {Exec::kInline, kMaxBody, true});
        r.Post("/echo",
               [](const Request& req, Response& res) {
                   auto body = ReadJsonBody(req, res, kMaxBody);
                   if (body) SendJson(res, *body);
               },
               {Exec::kWorker, kMaxBody, true});
        opts_ = opts;
        server_ = std::make_unique<Server>(std::move(r), opts);
        auto port = server_->Listen("127.0.0.1", 0);
        ASSERT_TRUE(port) << port.error().ToString();
        port_ = *port;
    }
    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // An honest client's check, with its own connection and a read deadline.
    bool CheckAnswered() {
        ClientOptions co;
        co.connect_timeout_s = 3;
        co.read_timeout_s = 3;
        auto c = Client::For(Url(), co);
        if (!c) return false;
        auto j = c->PostText("/check", R"({"product":"cam"})");
        return j && (*j)["checked"] == 17;
    }

    ServerOptions opts_;
    std::unique_ptr<Server> server_;
    int port_ = 0;
};

TEST_F(ServerFront, IdleKeepAliveFloodDoesNotStarveOtherClients) {
    ServerOptions o;
    o.event_threads = 2;
    o.workers = 2;
    Start(o);
    // Four times the threads, each connection kept alive and idle after one answer.
    const std::size_t flood = 4 * (o.event_threads + o.workers);
    std::vector<std::unique_ptr<RawConn>> held;
    for (std::size_t i = 0; i < flood; ++i) {
        held.push_back(std::make_unique<RawConn>(port_));
        ASSERT_TRUE(held.back()->ok());
        ASSERT_TRUE(held.back()->Send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
        auto r = held.back()->ReadResponses(1, 5s);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].first, 200);
    }
    // Another client, on workers and on the event threads, is answered while all are held.
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(CheckAnswered());
        auto c = Client::For(Url());
        auto pong = c->GetJson("/ping");
        ASSERT_TRUE(pong) << pong.error().ToString();
    }
    EXPECT_EQ(server_->Stats().open_connections >= flood, true);
}

TEST_F(ServerFront, SlowlorisIsCutAtTheHeaderDeadlineWhileDevicesAreServed) {
    ServerOptions o;
    o.header_timeout_s = 2;
    o.idle_timeout_s = 120;  // only the header deadline can cut a trickling sender
    Start(o);
    const std::string request =
        "POST /check HTTP/1.1\r\nHost: gateway\r\nX-Pad: " + std::string(200, 'a') + "\r\n\r\n";
    std::vector<std::unique_ptr<RawConn>> slow;
    for (int i = 0; i < 200; ++i) {
        slow.push_back(std::make_unique<RawConn>(port_, "127.0.0.2"));
        ASSERT_TRUE(slow.back()->ok()) << i;
    }
    // One byte per second on each, from a thread, until the server closes them.
    std::atomic<bool> stop{false};
    std::mutex pace_mu;
    std::condition_variable pace_cv;
    std::atomic<int> closed{0};
    std::thread trickle([&] {
        std::vector<bool> dead(slow.size(), false);
        for (std::size_t pos = 0; pos < request.size() && !stop; ++pos) {
            int dead_now = 0;
            for (std::size_t i = 0; i < slow.size(); ++i) {
                if (!dead[i]) {
                    pollfd p{slow[i]->fd(), POLLIN, 0};
                    char c;
                    if ((::poll(&p, 1, 0) > 0 && ::recv(slow[i]->fd(), &c, 1, 0) <= 0) ||
                        !slow[i]->Send(request.substr(pos, 1))) {
                        dead[i] = true;
                    }
                }
                dead_now += dead[i] ? 1 : 0;
            }
            closed = dead_now;
            if (dead_now == static_cast<int>(slow.size())) return;
            // The attacker's pace, one byte a second; a stop wakes it at once.
            std::unique_lock<std::mutex> lock(pace_mu);
            pace_cv.wait_for(lock, 1s, [&] { return stop.load(); });
        }
    });
    // Devices are answered while the 200 trickle.
    int answered = 0;
    for (int i = 0; i < 5; ++i) answered += CheckAnswered() ? 1 : 0;
    EXPECT_EQ(answered, 5);
    // Every slow sender is cut by the header deadline (not by an idle timeout: it is never
    // idle for more than a second).
    EXPECT_TRUE(fwchain::test::WaitFor([&] { return closed.load() == 200; }, 30s))
        << closed.load() << " of 200 slow connections closed";
    {
        std::lock_guard<std::mutex> lock(pace_mu);
        stop = true;
    }
    pace_cv.notify_all();
    trickle.join();
    EXPECT_GE(server_->Stats().cut_slow, 200u);
    EXPECT_TRUE(CheckAnswered());
}

TEST_F(ServerFront, OversizeContentLengthIsRefusedBeforeTheBodyAndCloses) {
    Start({});
    RawConn c(port_);
    ASSERT_TRUE(
        c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: 104857600\r\n\r\n"));
    bool eof = false;
    const std::string answer = c.ReadAll(5s, &eof);
    EXPECT_EQ(StatusOf(answer), 413) << answer;
    EXPECT_NE(answer.find("\"too-large\""), std::string::npos) << answer;
    EXPECT_TRUE(eof) << "the connection must close: the body was never read";
}

TEST_F(ServerFront, HundredMegabyteBodiesChunkedOrUnframedAreRefusedWithoutBuffering) {
    Start({});
    const std::size_t rss_before = RssKiB();
    {
        RawConn c(port_);
        ASSERT_TRUE(
            c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"));
        std::string answer;
        const std::uint64_t sent = FloodBody(c, true, &answer);
        EXPECT_LT(sent, 16ull << 20) << "the server kept reading a chunked body past its limit";
        if (!answer.empty()) {
            EXPECT_EQ(StatusOf(answer), 413) << answer;
        }
    }
    {
        RawConn c(port_);
        ASSERT_TRUE(
            c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "\r\n"));
        std::string answer;
        const std::uint64_t sent = FloodBody(c, false, &answer);
        EXPECT_LT(sent, 16ull << 20) << "the server kept reading an unframed body";
        if (!answer.empty()) {
            EXPECT_EQ(StatusOf(answer), 411) << answer;
        }
    }
    const std::size_t rss_after = RssKiB();
    EXPECT_LT(rss_after, rss_before + 5 * 1024) << rss_before << " KiB -> " << rss_after;
    // A chunked body within the limit is accepted, and the server still answers.
    RawConn ok(port_);
    ASSERT_TRUE(
        ok.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n"));
    auto r = ok.ReadResponses(1, 5s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].first, 200);
    EXPECT_EQ(r[0].second, R"({"a":1})");
}

TEST_F(ServerFront, ChunkedBodySlightlyOverTheLimitGetsA413) {
    Start({});
    RawConn c(port_);
    const std::string body(kMaxBody + 100, 'x');
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", body.size());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       std::string(size) + body + "\r\n0\r\n\r\n"));
    bool eof = false;
    const std::string answer = c.ReadAll(5s, &eof);
    EXPECT_EQ(StatusOf(answer), 413) << answer;
    EXPECT_TRUE(eof);
}

TEST_F(ServerFront, UnframedPostGets411AndCloses) {
    Start({});
    RawConn c(port_);
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n{\"a\":1}"));
    bool eof = false;
    const std::string answer = c.ReadAll(5s, &eof);
    EXPECT_EQ(StatusOf(answer), 411) << answer;
    EXPECT_TRUE(eof) << "the unread bytes must not be parsed as a next request";
}

TEST_F(ServerFront, PipelinedRequestsAreAnsweredInOrder) {
    Start({});
    RawConn c(port_);
    std::string batch;
    for (int i = 1; i <= 3; ++i)
        batch += "GET /n?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    batch += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"a\":4}";
    batch += "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
    batch += "GET /n?i=6 HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_TRUE(c.Send(batch));
    auto r = c.ReadResponses(6, 10s);
    ASSERT_EQ(r.size(), 6u);
    EXPECT_EQ(r[0].second, "1");
    EXPECT_EQ(r[1].second, "2");
    EXPECT_EQ(r[2].second, "3");
    EXPECT_EQ(r[3].second, R"({"a":4})");
    EXPECT_EQ(r[4].second, R"({"pong":true})");
    EXPECT_EQ(r[5].second, "6");
}

TEST_F(ServerFront, UriTooLongAndHeadersTooLargeCloseTheConnection) {
    Start({});
    struct Case {
        std::string name;
        std::string request;
        int status;
    };
    std::string many;
    for (int i = 0; i < 100; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
    const std::vector<Case> cases = {
        {"long URI", "GET /" + std::string(40000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
        {"huge header",
         "GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(40000, 'b') + "\r\n\r\n", 431},
        {"many headers", "GET /ping HTTP/1.1\r\nHost: x\r\n" + many + "\r\n", 431},
        // libmicrohttpd drops a connection whose request line is not HTTP at all, unanswered.
        {"bad request line", "GARBAGE\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n", 0},
    };
    for (const auto& k : cases) {
        RawConn c(port_);
        // What follows the bad request must never be answered as a request of its own.
        c.Send(k.request + "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
        bool eof = false;
        const std::string answer = c.ReadAll(5s, &eof);
        if (k.status != 0 || !answer.empty()) {
            EXPECT_EQ(StatusOf(answer), k.status == 0 ? 400 : k.status)
                << k.name << ": " << answer.substr(0, 200);
        }
        EXPECT_TRUE(eof) << k.name;
        EXPECT_EQ(answer.find("pong"), std::string::npos) << k.name;
    }
    EXPECT_TRUE(CheckAnswered());
}

TEST_F(ServerFront, PerIpCapRefusesTheFloodButNotOthers) {
    ServerOptions o;
    o.max_per_ip = 8;
    Start(o);
    std::vector<std::unique_ptr<RawConn>> flood;
    for (int i = 0; i < 8; ++i) {
        flood.push_back(std::make_unique<RawConn>(port_, "127.0.0.3"));
        ASSERT_TRUE(flood.back()->ok());
    }
    ASSERT_TRUE(
        fwchain::test::WaitFor([&] { return server_->Stats().open_connections >= 8; }, 10s));
    // The ninth from the same address is closed at once; another address is served.
    RawConn ninth(port_, "127.0.0.3");
    ASSERT_TRUE(ninth.ok());
    ninth.Send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    bool eof = false;
    const std::string answer = ninth.ReadAll(5s, &eof);
    EXPECT_TRUE(eof);
    EXPECT_EQ(answer.find("pong"), std::string::npos);
    EXPECT_TRUE(CheckAnswered());
}

TEST(HttpRange, ParseRangeTable) {
    struct Case {
        std::string header;
        std::uint64_t size;
        RangeResult result;
        std::uint64_t first, length;
    };
    const std::vector<Case> cases = {
        {"bytes=0-0", 10, RangeResult::kOne, 0, 1},
        {"bytes=2-", 10, RangeResult::kOne, 2, 8},
        {"bytes=-3", 10, RangeResult::kOne, 7, 3},
        {"bytes=-30", 10, RangeResult::kOne, 0, 10},
        {"bytes=5-100", 10, RangeResult::kOne, 5, 5},
        {"BYTES = 1-2", 10, RangeResult::kIgnored, 0, 0},
        {"bytes=10-", 10, RangeResult::kUnsatisfiable, 0, 0},
        {"bytes=-0", 10, RangeResult::kUnsatisfiable, 0, 0},
        {"bytes=0-", 0, RangeResult::kUnsatisfiable, 0, 0},
        {"bytes=3-1", 10, RangeResult::kIgnored, 0, 0},
        {"bytes=1-2,4-5", 10, RangeResult::kIgnored, 0, 0},
        {"bytes=a-b", 10, RangeResult::kIgnored, 0, 0},
        {"bytes=99999999999999999999-", 10, RangeResult::kIgnored, 0, 0},
        {"pages=1-2", 10, RangeResult::kIgnored, 0, 0},
        {"", 10, RangeResult::kNone, 0, 0},
    };
    for (const auto& k : cases) {
        ByteRange r;
        EXPECT_EQ(ParseRange(k.header, k.size, r), k.result) << k.header;
        if (k.result == RangeResult::kOne) {
            EXPECT_EQ(r.first, k.first) << k.header;
            EXPECT_EQ(r.length, k.length) << k.header;
        }
    }
}

TEST_F(ServerFront, MetricsCountEachRouteInItsLatencyHistogram) {
    Start(ServerOptions{});
    auto c = Client::For(Url());
    ASSERT_TRUE(c);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->GetJson("/ping"));
    ASSERT_FALSE(c->GetJson("/nowhere"));
    // The server records a request once its answer is sent: the count may trail the client's
    // reply by a moment.
    const std::string ping =
        "fwchain_http_request_duration_seconds_count{method=\"GET\",route=\"/ping\"} 3\n";
    const std::string unmatched =
        "fwchain_http_request_duration_seconds_count{method=\"any\",route=\"unmatched\"} 1\n";
    std::string text;
    ASSERT_TRUE(test::WaitFor(
        [&] {
            auto r = c->Send("GET", "/metrics", nullptr, {}, 1 << 20);
            if (!r || r->status != 200) return false;
            text = r->body;
            return text.find(ping) != std::string::npos &&
                   text.find(unmatched) != std::string::npos;
        },
        10s))
        << text;
    EXPECT_NE(text.find("# TYPE fwchain_http_request_duration_seconds histogram"),
              std::string::npos);
    EXPECT_NE(text.find("fwchain_http_requests_total "), std::string::npos);
    EXPECT_NE(text.find("fwchain_http_open_connections "), std::string::npos);
}

}  // namespace
}  // namespace fwchain::http
