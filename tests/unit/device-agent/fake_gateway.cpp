#include "tests/unit/device-agent/fake_gateway.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/fake_server.hpp"
#include "tests/support/process.hpp"

namespace fwchain::device::test {

FakeGateway::FakeGateway() {
    server_ = http::MakeFakeServer(4);

    server_->Post("/v1/check", [this](const httplib::Request& req, httplib::Response& res) {
        auto body = http::ReadJsonBody(req, res, 64 << 10);
        if (!body) return;
        std::lock_guard<std::mutex> lock(mu_);
        checks_.push_back(*body);
        if (check_mode_ != AnswerMode::kNormal) {
            Hostile(check_mode_, res);
            return;
        }
        if (check_status_ != 200) {
            http::SendError(res, check_status_, "not-ready", "scripted failure");
            return;
        }
        Json a = answer_;
        if (!ledger_.is_null() && a.is_object()) a["ledger"] = ledger_;
        if (only_newer_ && a.is_object() && a.contains("manifest") && a["manifest"].is_object() &&
            body->contains("sequence") && (*body)["sequence"].is_number_unsigned() &&
            a["manifest"]["signed"]["sequence"].get<std::uint64_t>() <=
                (*body)["sequence"].get<std::uint64_t>()) {
            a["manifest"] = nullptr;
            a.erase("ledger");
        }
        http::SendJson(res, a);
    });

    server_->Get(R"(/v1/images/([0-9a-f]{64}))", [this](const httplib::Request& req,
                                                        httplib::Response& res) {
        std::shared_ptr<const std::string> image;
        ImageMode mode;
        std::size_t cut_at = 0;
        std::size_t request = 0;
        {
            std::lock_guard<std::mutex> lock(mu_);
            ranges_.push_back(req.has_header("Range") ? req.get_header_value("Range") : "");
            request = served_.size();
            served_.push_back(0);
            auto it = images_.find(req.matches[1].str());
            if (it == images_.end()) {
                http::SendError(res, 404, "not-found", "no such image");
                return;
            }
            image = it->second;
            mode = mode_;
            if (mode == ImageMode::kStall || mode == ImageMode::kPauseAt) cut_at = cut_at_;
            if (mode == ImageMode::kCutOnce) {
                if (cut_done_) {
                    mode = ImageMode::kNormal;
                } else {
                    cut_done_ = true;
                    cut_at = cut_at_;
                }
            }
        }
        // Counts what the server was handed for this request.
        auto count = [this, request](std::size_t n) {
            std::lock_guard<std::mutex> lock(mu_);
            served_[request] += n;
        };
        switch (mode) {
            case ImageMode::kNormal:
            case ImageMode::kCutOnce:
                // A sized provider: httplib applies the Range and sends 206.
                res.set_content_provider(
                    image->size(), "application/octet-stream",
                    [image, mode, cut_at, count](std::size_t offset, std::size_t length,
                                                 httplib::DataSink& sink) {
                        std::size_t n = std::min<std::size_t>(length, 16 * 1024);
                        if (mode == ImageMode::kCutOnce) {
                            if (offset >= cut_at) return false;  // drop the connection
                            n = std::min(n, cut_at - offset);
                        }
                        count(n);
                        return sink.write(image->data() + offset, n);
                    });
                break;
            case ImageMode::kPauseAt:
                res.set_content_provider(
                    image->size(), "application/octet-stream",
                    [this, image, cut = cut_at, count](std::size_t offset, std::size_t length,
                                                       httplib::DataSink& sink) {
                        if (offset < cut) {
                            const std::size_t n =
                                std::min({length, cut - offset, std::size_t{16 * 1024}});
                            count(n);
                            return sink.write(image->data() + offset, n);
                        }
                        // Reached the kill point: hold until the test has killed the client.
                        // A release is a count, not a flag: a flag reset by the next SetImageMode
                        // before this thread woke up would hold it (and its pool slot) forever.
                        std::unique_lock<std::mutex> lock(mu_);
                        paused_ = true;
                        const std::uint64_t seen = releases_;
                        stall_cv_.notify_all();
                        stall_cv_.wait(lock,
                                       [this, seen] { return stopping_ || releases_ != seen; });
                        return false;
                    });
                break;
            case ImageMode::kTrickle:
                res.set_content_provider(
                    image->size(), "application/octet-stream",
                    [this, image, count](std::size_t offset, std::size_t length,
                                         httplib::DataSink& sink) {
                        {
                            // Pacing of the misbehaving server, not test synchronisation.
                            std::unique_lock<std::mutex> lock(mu_);
                            if (stall_cv_.wait_for(lock, std::chrono::milliseconds(50),
                                                   [this] { return stopping_; })) {
                                return false;
                            }
                        }
                        const std::size_t n = std::min<std::size_t>(length, 64);
                        count(n);
                        return sink.write(image->data() + offset, n);
                    });
                break;
            case ImageMode::kStall:
                res.set_content_provider(
                    image->size(), "application/octet-stream",
                    [this, image, cut = cut_at](std::size_t offset, std::size_t length,
                                                httplib::DataSink& sink) {
                        if (offset < cut) {
                            return sink.write(image->data() + offset,
                                              std::min(length, cut - offset));
                        }
                        // A slow-retrieval attacker: hold the connection open, send nothing.
                        std::unique_lock<std::mutex> lock(mu_);
                        stall_cv_.wait(lock, [this] { return stopping_; });
                        return false;
                    });
                break;
            case ImageMode::kExtraLength:
                res.set_content(*image + std::string(4096, 'X'), "application/octet-stream");
                break;
            case ImageMode::kExtraChunked:
                res.set_chunked_content_provider(
                    "application/octet-stream",
                    [image, sent = std::size_t{0}](std::size_t, httplib::DataSink& sink) mutable {
                        if (sent < image->size()) {
                            const std::size_t n = std::min<std::size_t>(image->size() - sent, 8192);
                            sent += n;
                            return sink.write(image->data() + sent - n, n);
                        }
                        // Endless: keep sending until the client hangs up (bounded for safety).
                        if (sent > image->size() + (64 << 20)) return false;
                        const std::string junk(8192, 'Y');
                        sent += junk.size();
                        return sink.write(junk.data(), junk.size());
                    });
                break;
        }
    });

    server_->Post("/v1/report", [this](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mu_);
        ++report_posts_;
        if (report_mode_ != AnswerMode::kNormal) {
            Hostile(report_mode_, res);
            return;
        }
        if (report_status_ != 0) {
            http::SendError(res, report_status_, "scripted", "scripted failure");
            return;
        }
        auto j = ParseJson(req.body, 64 << 10);
        if (!j) {
            http::SendError(res, 400, "malformed", j.error().message);
            return;
        }
        auto tx = ParseTx(*j);
        if (!tx) {
            http::SendError(res, 400, tx.error().reason, tx.error().message);
            return;
        }
        // As the gateway relays the ledger's answer (docs/protocol.md): this very tx is held,
        // or the counter is not above the last one held.
        if (report_ids_.count(tx->Id()) != 0) {
            http::SendJson(res, Json{{"error", "duplicate"}, {"id", tx->Id()}}, 409);
            return;
        }
        auto last = last_nonce_.find(tx->sender);
        if (last != last_nonce_.end() && tx->nonce <= last->second) {
            http::SendJson(res,
                           Json{{"error", "stale-counter"},
                                {"id", tx->Id()},
                                {"last_counter", last->second},
                                {"message", "counter not above the last one"}},
                           409);
            return;
        }
        last_nonce_[tx->sender] = tx->nonce;
        report_ids_.insert(tx->Id());
        reports_.push_back(*tx);
        http::SendJson(res, Json{{"id", tx->Id()}}, 202);
    });

    auto port = http::Bind(*server_, "127.0.0.1", 0);
    if (!port) {
        ADD_FAILURE() << port.error().ToString();
        return;
    }
    port_ = *port;
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    EXPECT_TRUE(
        fwchain::test::WaitFor([this] { return server_->is_running(); }, std::chrono::seconds(10)));
}

FakeGateway::~FakeGateway() { Stop(); }

void FakeGateway::Hostile(AnswerMode mode, httplib::Response& res) {
    if (mode == AnswerMode::kHuge) {
        constexpr std::size_t kHuge = std::size_t{128} << 20;
        res.set_content_provider(
            kHuge, "application/json",
            [this](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                static const std::string kChunk(64 << 10, ' ');
                const std::size_t n = std::min(length, kChunk.size());
                {
                    std::lock_guard<std::mutex> lock(mu_);
                    if (stopping_) return false;
                    hostile_served_ += n;
                }
                std::string chunk = kChunk.substr(0, n);
                if (offset == 0) chunk[0] = '{';
                return sink.write(chunk.data(), n);
            });
        return;
    }
    const auto interval = trickle_interval_;
    res.set_content_provider(
        std::size_t{1} << 20, "application/json",
        [this, interval](std::size_t offset, std::size_t, httplib::DataSink& sink) {
            {
                // Pacing of the misbehaving server, not test synchronisation.
                std::unique_lock<std::mutex> lock(mu_);
                if (stall_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
                    return false;
                }
                ++hostile_served_;
            }
            const char c = offset == 0 ? '{' : ' ';
            return sink.write(&c, 1);
        });
}

std::uint64_t FakeGateway::HostileBytesServed() {
    std::lock_guard<std::mutex> lock(mu_);
    return hostile_served_;
}

void FakeGateway::Stop() {
    Locked([&] { stopping_ = true; });
    stall_cv_.notify_all();
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
}

void FakeGateway::SetAnswer(const std::vector<Envelope>& roots, const Envelope& timestamp,
                            const std::optional<Envelope>& manifest) {
    Json roots_json = Json::array();
    for (const auto& r : roots) roots_json.push_back(r.ToJson());
    Json a{{"gateway_id", "gw-test"},
           {"roots", roots_json},
           {"timestamp", timestamp.ToJson()},
           {"manifest", manifest ? manifest->ToJson() : Json(nullptr)}};
    Locked([&] { answer_ = std::move(a); });
}

void FakeGateway::SetImage(const std::string& sha, std::string bytes) {
    auto p = std::make_shared<const std::string>(std::move(bytes));
    Locked([&] { images_[sha] = std::move(p); });
}

void FakeGateway::SetImageMode(ImageMode mode, std::size_t cut_at) {
    Locked([&] {
        mode_ = mode;
        cut_at_ = cut_at;
        cut_done_ = false;
        paused_ = false;
    });
}

bool FakeGateway::Paused() {
    std::lock_guard<std::mutex> lock(mu_);
    return paused_;
}

void FakeGateway::ReleasePause() {
    Locked([&] { ++releases_; });
    stall_cv_.notify_all();
}

std::vector<std::uint64_t> FakeGateway::BytesServed() {
    std::lock_guard<std::mutex> lock(mu_);
    return served_;
}

std::vector<std::string> FakeGateway::ImageRanges() {
    std::lock_guard<std::mutex> lock(mu_);
    return ranges_;
}

std::vector<Json> FakeGateway::Checks() {
    std::lock_guard<std::mutex> lock(mu_);
    return checks_;
}

std::vector<Tx> FakeGateway::Reports() {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_;
}

int FakeGateway::ReportPosts() {
    std::lock_guard<std::mutex> lock(mu_);
    return report_posts_;
}

}  // namespace fwchain::device::test
