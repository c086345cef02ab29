#pragma once
// POST /v1/report: a device's signed `update` tx. The gateway checks what it can cheaply and
// locally (signature, the device is admitted on the ledger and not revoked, its counter moves
// forward) and relays the tx to the ledger, which checks all of it again.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/adapters/sqlite.hpp"
#include "common/core/tx.hpp"

namespace fwchain::gateway {

class ReportRelay {
  public:
    static Expected<std::unique_ptr<ReportRelay>> Open(const std::string& db_path,
                                                       const std::string& ledger_url);
    // Returns the ledger tx id. Errors: kInvalid/kVerify (400), kUnauthorized (403 unknown or
    // revoked device), kConflict (409 replayed counter or already on the ledger),
    // kNetwork (502 ledger unreachable: the device keeps the report queued).
    Expected<std::string> Relay(const Json& body);

  private:
    struct Admission {
        std::string subject;
        bool revoked = false;
    };
    ReportRelay(sql::Db db, std::string ledger_url)
        : db_(std::move(db)), ledger_url_(std::move(ledger_url)) {}
    Status RefreshRegistry();
    Expected<std::uint64_t> LastCounter(const std::string& device_key);

    std::mutex mu_;
    sql::Db db_;
    std::string ledger_url_;
    std::map<std::string, Admission> registry_;  // device public key hex -> admission
    std::chrono::steady_clock::time_point last_refresh_{};
};

}  // namespace fwchain::gateway
