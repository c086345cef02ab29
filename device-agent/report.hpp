#pragma once
// Signed update reports (DESIGN.md §3 rule 7): an `update` tx signed by the device key with a
// strictly increasing per-device nonce, queued on disk (DIR/reports/NNNNNNNN.json, the name is
// the nonce) before it is sent, and resent in nonce order until the gateway has it.
#include <cstdint>
#include <string>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/tx.hpp"

namespace fwchain::device {

namespace report_state {
inline constexpr const char* kInstalled = "installed";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kRolledBack = "rolled-back";
}  // namespace report_state

struct ReportInfo {
    std::string state;    // report_state::*
    std::string version;  // target version ("" when no manifest was involved)
    std::string sha256;   // target image ("" when no manifest was involved)
    std::string product;
    std::uint64_t sequence = 0;
    std::uint64_t previous_sequence = 0;
    std::string gateway;  // gateway id from the check answer, or ""
    std::string reason;   // "" for installed
    std::int64_t time = 0;
    std::uint64_t nonce = 0;  // reserved with StateMachine::ReserveNonce
};

// Builds and signs the update tx: recipient = device id, ver = version, verifier = image sha256.
Tx MakeUpdateReport(const SigningKey& key, const std::string& device_id, const ReportInfo& info);

struct FlushResult {
    std::size_t sent = 0;     // accepted (2xx) or already known (409): removed
    std::size_t dropped = 0;  // refused as malformed (400): can never be accepted, removed
    std::size_t kept = 0;     // still queued
    std::string error;        // why flushing stopped early, "" if it did not
};

class ReportQueue {
  public:
    // Caps the queue so a device that never reaches a gateway cannot fill its disk.
    static constexpr std::size_t kMaxQueued = 256;

    explicit ReportQueue(std::string dir) : dir_(std::move(dir)) {}

    // Durably writes the report; drops the oldest ones beyond kMaxQueued.
    Status Enqueue(const Tx& tx);
    // Queued report files, in nonce order.
    Expected<std::vector<std::string>> List() const;
    // POSTs queued reports in nonce order to {gateway}/v1/report; stops at the first transport
    // error, 5xx or 403 (the device may not be admitted yet) to keep the order.
    FlushResult Flush(const std::string& gateway_url, int timeout_s = 10);

  private:
    std::string dir_;
};

}  // namespace fwchain::device
