#pragma once
// POST /v1/report: a device's signed `update` tx. The gateway checks what it can cheaply and
// locally (signature, the device is admitted on the ledger and not revoked) and relays the tx to
// the ledger, which checks all of it again and alone decides whether the counter moves forward
// (only it knows whether a refused counter is this very tx or a stale one).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/adapters/sqlite.hpp"
#include "common/core/tx.hpp"
#include "ledger/client/client.hpp"

namespace fwchain::gateway {

// What the ledger made of a report. A device must tell "this exact tx is already held" (it was
// delivered) from "your counter is behind" (re-sign it with a counter above last_counter).
struct RelayResult {
    enum class Kind {
        kRelayed,       // 202 {"id"}
        kDuplicate,     // 409 {"error":"duplicate","id"}: this very tx is pending or mined
        kStaleCounter,  // 409 {"error":"stale-counter","last_counter"}: counter not above it
    };
    Kind kind = Kind::kRelayed;
    std::string id;                  // the report's tx id
    std::uint64_t last_counter = 0;  // kStaleCounter: the device's last counter on the ledger
    std::string message;
};

class ReportRelay {
  public:
    static Expected<std::unique_ptr<ReportRelay>> Open(const std::string& db_path,
                                                       ledger::LedgerClient& ledger);
    // Errors: kInvalid/kVerify (400), kUnauthorized (403 unknown or revoked device), kNetwork
    // (502 ledger unreachable: the device keeps the report queued), other ledger refusals with
    // the ledger's reason.
    Expected<RelayResult> Relay(const Json& body);
    // Distinct devices whose signed reports passed the local checks and were relayed, ever
    // (kept in gateway.sqlite), and their ids.
    std::uint64_t DevicesSeen();
    std::vector<std::string> Devices();
    // Called once with the id of each device seen for the first time (the gateway's own node
    // keeps these devices' txs when it prunes). Set before use.
    void OnDevice(std::function<void(const std::string&)> fn) { on_device_ = std::move(fn); }

  private:
    struct Admission {
        std::string subject;
        bool revoked = false;
    };
    ReportRelay(sql::Db db, ledger::LedgerClient& ledger) : db_(std::move(db)), ledger_(ledger) {}
    Status RefreshRegistry();
    void NoteDevice(const std::string& device);  // with mu_ held

    std::mutex mu_;
    sql::Db db_;
    ledger::LedgerClient& ledger_;
    std::map<std::string, Admission> registry_;  // device public key hex -> admission
    std::chrono::steady_clock::time_point last_refresh_{};
    bool registry_stale_ = false;  // the ledger refused a device our copy admits
    std::function<void(const std::string&)> on_device_;
    std::set<std::string> seen_;  // devices_seen, in memory
};

}  // namespace fwchain::gateway
