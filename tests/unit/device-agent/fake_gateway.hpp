#pragma once
// A gateway device API (docs/protocol.md) on a real httplib server on 127.0.0.1:0, scripted by
// the test: what /v1/check answers, which bytes /v1/images/{sha} serves and how it misbehaves,
// and every request it saw (Range headers, check bodies, reports).
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/core/envelope.hpp"
#include "common/core/json.hpp"
#include "common/core/tx.hpp"

namespace fwchain::device::test {

enum class ImageMode {
    kNormal,
    kCutOnce,       // the first request stops after `cut_at` bytes (connection dropped)
    kExtraLength,   // Content-Length and body are longer than the image
    kExtraChunked,  // chunked body (no length) that keeps going past the image
    kStall,         // sends `cut_at` bytes, then nothing until the gateway stops
    kPauseAt,       // serves up to absolute offset `cut_at`, then holds until ReleasePause()
    kTrickle,       // 64 bytes every 50 ms: alive, but far below any sane minimum rate
};

// How /v1/check or /v1/report answers (a hostile gateway's metadata attacks).
enum class AnswerMode {
    kNormal,
    kHuge,     // 200 OK with a 128 MiB body, generated as it is sent (never held in memory)
    kTrickle,  // 200 OK, then 1 byte every trickle interval (default 2 s), 1 MiB announced
};

class FakeGateway {
  public:
    FakeGateway();
    ~FakeGateway();
    FakeGateway(const FakeGateway&) = delete;
    FakeGateway& operator=(const FakeGateway&) = delete;

    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void Stop();

    // /v1/check answers {"gateway_id":"gw-test","roots":roots,"timestamp":ts,"manifest":m|null}.
    void SetAnswer(const std::vector<Envelope>& roots, const Envelope& timestamp,
                   const std::optional<Envelope>& manifest);
    // Like a real gateway: answer "manifest": null when the device already has its sequence.
    void SetOnlyNewer(bool only_newer) {
        Locked([&] { only_newer_ = only_newer; });
    }
    void SetCheckStatus(int status) {
        Locked([&] { check_status_ = status; });
    }
    // Serves `bytes` at /v1/images/{sha}: the content need not match the sha (tampering).
    void SetImage(const std::string& sha, std::string bytes);
    void SetImageMode(ImageMode mode, std::size_t cut_at = 0);
    // Extra "ledger" object in the check answer (require_ledger_proof); null = none.
    void SetLedger(Json ledger) {
        Locked([&] { ledger_ = std::move(ledger); });
    }
    // kPauseAt: true once a response reached `cut_at` and holds; ReleasePause() lets it drop the
    // connection (and rearms the pause for the next SetImageMode).
    bool Paused();
    void ReleasePause();
    // Image body bytes handed to the server, per image request, in request order.
    std::vector<std::uint64_t> BytesServed();
    void SetReportStatus(int status) {
        Locked([&] { report_status_ = status; });
    }
    void SetCheckMode(AnswerMode mode) {
        Locked([&] { check_mode_ = mode; });
    }
    void SetReportMode(AnswerMode mode) {
        Locked([&] { report_mode_ = mode; });
    }
    void SetTrickleInterval(std::chrono::milliseconds interval) {
        Locked([&] { trickle_interval_ = interval; });
    }
    // Body bytes handed to the server for hostile (kHuge/kTrickle) answers so far.
    std::uint64_t HostileBytesServed();
    // Like a ledger that already holds report counter `n` of the device key `sender` (a device
    // restored from a backup is behind it): lower counters get 409 stale-counter.
    void SetLedgerCounter(const std::string& sender, std::uint64_t n) {
        Locked([&] { last_nonce_[sender] = n; });
    }

    std::vector<std::string> ImageRanges();  // Range header of each image request ("" = none)
    std::vector<Json> Checks();
    std::vector<Tx> Reports();  // reports accepted (202), in arrival order
    int ReportPosts();          // every POST /v1/report, duplicates included

  private:
    template <typename F>
    void Locked(F&& f) {
        std::lock_guard<std::mutex> lock(mu_);
        f();
    }

    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;

    std::mutex mu_;
    std::condition_variable stall_cv_;
    bool stopping_ = false;
    Json answer_ = nullptr;
    int check_status_ = 200;
    std::map<std::string, std::shared_ptr<const std::string>> images_;
    ImageMode mode_ = ImageMode::kNormal;
    std::size_t cut_at_ = 0;
    bool cut_done_ = false;
    int report_status_ = 0;  // 0 = behave like a gateway
    std::vector<std::string> ranges_;
    std::vector<std::uint64_t> served_;
    Json ledger_ = nullptr;
    bool only_newer_ = false;
    bool paused_ = false;
    std::uint64_t releases_ = 0;  // ReleasePause calls
    std::vector<Json> checks_;
    std::vector<Tx> reports_;
    std::map<std::string, std::uint64_t> last_nonce_;
    int report_posts_ = 0;
    std::set<std::string> report_ids_;
    AnswerMode check_mode_ = AnswerMode::kNormal;
    AnswerMode report_mode_ = AnswerMode::kNormal;
    std::chrono::milliseconds trickle_interval_{2000};
    std::uint64_t hostile_served_ = 0;

    // Fills `res` with a hostile answer of `mode`.
    void Hostile(AnswerMode mode, httplib::Response& res);
};

}  // namespace fwchain::device::test
