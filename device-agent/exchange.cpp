#include "device-agent/exchange.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace fwchain::device {

Expected<ExchangeAnswer> BoundedPost(const http::Url& url, const std::string& path,
                                     const std::string& body, const ExchangeLimits& limits) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + limits.deadline;
    const auto deadline_s = std::chrono::duration_cast<std::chrono::seconds>(limits.deadline);
    http::ClientOptions copts;
    // No single socket wait may outlast the whole exchange.
    const int whole_s = static_cast<int>(std::max<std::int64_t>(1, deadline_s.count() + 1));
    copts.connect_timeout_s = std::min(limits.connect_timeout_s, whole_s);
    copts.read_timeout_s = whole_s;
    copts.write_timeout_s = whole_s;
    http::Client client(url, copts);

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
            client.Raw().stop();
        }
    });

    httplib::Request req;
    req.method = "POST";
    req.path = url.base_path + path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    ExchangeAnswer answer;
    bool too_large = false;
    req.response_handler = [&](const httplib::Response& r) {
        answer.status = r.status;
        return true;
    };
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
        if (answer.body.size() + n > limits.max_answer) {
            too_large = true;
            return false;
        }
        if (Clock::now() >= deadline) return false;
        answer.body.append(data, n);
        return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool ok = client.Raw().send(req, res, err);
    {
        std::lock_guard<std::mutex> lock(mu);
        done = true;
    }
    cv.notify_all();
    watchdog.join();

    const std::string where = "POST " + url.Origin() + req.path;
    if (too_large) {
        return Fail(Errc::kTooLarge, "answer-too-large",
                    where + ": the answer exceeds " + std::to_string(limits.max_answer) +
                        " bytes; refused as it streamed in");
    }
    if (expired || Clock::now() >= deadline) {
        return Fail(Errc::kNetwork, "slow-retrieval",
                    where + ": no complete answer within " +
                        std::to_string(limits.deadline.count()) + " ms");
    }
    if (!ok) {
        return Fail(Errc::kNetwork, "gateway-unreachable", where + ": " + httplib::to_string(err));
    }
    if (answer.status == 0) answer.status = res.status;
    return answer;
}

}  // namespace fwchain::device
