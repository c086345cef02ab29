#pragma once
// Signed update reports (DESIGN.md §3 rule 7): an `update` tx signed by the device key with a
// strictly increasing per-device nonce, queued on disk (DIR/reports/NNNNNNNN.json, the name is
// the nonce) before it is sent, and resent in nonce order until the gateway has it.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/tx.hpp"
#include "device-agent/exchange.hpp"

namespace fwchain::device {

namespace report_state {
inline constexpr const char* kInstalled = "installed";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kRolledBack = "rolled-back";
}  // namespace report_state

// What a manifest that failed verification claimed (unverified: for whoever investigates).
struct RejectedManifest {
    std::string version;
    std::string sha256;
    std::uint64_t sequence = 0;
};

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
    // A `failed` report about a refused manifest: version/sha256/sequence above are what the
    // device runs, the manifest's claims go into body.rejected only.
    std::optional<RejectedManifest> rejected;
};

// Builds and signs the update tx: recipient = device id, ver = version, verifier = image sha256.
Tx MakeUpdateReport(const SigningKey& key, const std::string& device_id, const ReportInfo& info);

struct FlushResult {
    std::size_t sent = 0;      // accepted (2xx) or this very tx already held (409 duplicate)
    std::size_t dropped = 0;   // refused as malformed (400): can never be accepted, removed
    std::size_t kept = 0;      // still queued
    std::size_t resigned = 0;  // re-signed above the ledger's counter (409 stale-counter)
    std::string error;         // why flushing stopped early, "" if it did not
};

// Re-signs a queued report whose counter the ledger has passed: gets the report and the last
// counter the ledger holds for the device, returns the same report signed with a fresh counter
// above it (reserved and persisted by the caller before it signs).
using Resigner = std::function<Expected<Tx>(const Tx& stale, std::uint64_t ledger_counter)>;

class ReportQueue {
  public:
    // Caps the queue so a device that never reaches a gateway cannot fill its disk.
    static constexpr std::size_t kMaxQueued = 256;

    explicit ReportQueue(std::string dir) : dir_(std::move(dir)) {}

    // Durably writes the report; drops the oldest ones beyond kMaxQueued.
    Status Enqueue(const Tx& tx);
    // Queued report files, in nonce order.
    Expected<std::vector<std::string>> List() const;
    // POSTs queued reports in nonce order to {gateway}/v1/report, each exchange bounded by
    // `limits` (answer cap, deadline); stops at the first transport error, 5xx or 403 (the device
    // may not be admitted yet) to keep the order. A 409 "stale-counter" (the ledger holds a
    // counter at or above the report's) re-signs that report and every later one, in order,
    // through `resign`, and sends them again; any other 409 means the tx is already held.
    FlushResult Flush(const std::string& gateway_url, const ExchangeLimits& limits,
                      const Resigner& resign = {});

  private:
    std::string dir_;
};

}  // namespace fwchain::device
