#pragma once
// `device-agent boot` and `device-agent status` as library calls (DESIGN.md §6 device update):
// confirm or roll back the last install, check the gateway, verify, download into the inactive
// slot, mark it try-once, report. The CLI only parses arguments and prints the result.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "device-agent/clock.hpp"
#include "device-agent/fetch.hpp"
#include "device-agent/ledger_proof.hpp"
#include "device-agent/slots.hpp"
#include "device-agent/state.hpp"

namespace fwchain::device {

// DIR/device.json, written by `vendor-server provision`.
struct DeviceConfig {
    std::string device_id;
    std::string vendor;
    std::string product;
    std::string hardware;
    std::uint64_t max_image_size = 0;  // 0 = no limit
    bool has_rtc = true;
    // Slot backend: "file" (default) or "command" with slot_config (a JSON file, relative to the
    // state dir unless absolute; see slot_command.cpp and README.md).
    std::string slot_backend = "file";
    std::string slot_config;
    // require_ledger_proof: the check asks for, and the agent verifies, the release tx's Merkle
    // proof and the PoW headers on top of it, from ledger_checkpoint (the genesis at first).
    bool require_ledger_proof = false;
    LedgerCheckpoint ledger_checkpoint;
    LedgerPolicy ledger_policy;
};
Expected<DeviceConfig> LoadDeviceConfig(const std::string& state_dir);

struct BootOptions {
    std::string state_dir;
    std::string gateway_url;
    std::string health_check;          // shell command; exit 0 = healthy; empty = always healthy
    int health_check_timeout_s = 300;  // a hanging check is a failed one; 0 = no limit
    int max_boot_attempts = 3;
    bool no_rtc = false;  // also when device.json says "has_rtc": false
    FetchOptions fetch;
    // Deadlines of whole metadata exchanges (connect to last byte): a check (with its ledger
    // proof) and each report. Past them: reason "slow-retrieval" (exchange.hpp).
    std::chrono::milliseconds check_deadline{30000};
    std::chrono::milliseconds report_deadline{10000};
    // Injected by tests; the default reads the RTC and /proc.
    std::optional<TimeSource> time;
    // Overrides device.json's slot_backend / slot_config when not empty.
    std::string slot_backend;
    std::string slot_config;
    // Injected by tests; default: the backend named by slot_backend / device.json.
    std::function<std::unique_ptr<SlotBackend>(const std::string& state_dir)> make_backend;
    // Power-loss injection (fault tests, fleet simulator): see CrashHook in state.hpp.
    CrashHook crash;
};

// The result of one boot, as exit codes: see ExitCode().
enum class Outcome {
    kUpToDate,       // 0: nothing to do
    kCommitted,      // 0: the pending install was confirmed (and nothing newer is offered)
    kRebootPending,  // 10: a new image is in the other slot, try-once; reboot into it
    kRolledBack,     // 20: the new image failed; the previous slot is active again
    kFailed,         // 1: verification, download or local failure; `reason` says which
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitRebootPending = 10;
inline constexpr int kExitRolledBack = 20;

const char* OutcomeName(Outcome outcome);
int ExitCode(Outcome outcome);

struct BootResult {
    Outcome outcome = Outcome::kFailed;
    std::string device_id;
    std::uint64_t sequence = 0;  // installed, or the target when a reboot is pending
    std::string version;
    std::string reason;   // machine-readable, "" on success
    std::string message;  // for a person

    int exit_code() const { return ExitCode(outcome); }
    // One line for --json: {"device_id","state","sequence","version","reason"}.
    Json ToJson() const;
};

// Exclusive lock on DIR/agent.lock (flock), so two agents never run the state machine of one
// device at once. Released when destroyed.
class StateDirLock {
  public:
    explicit StateDirLock(int fd) : fd_(fd) {}
    StateDirLock(StateDirLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    StateDirLock& operator=(StateDirLock&&) = delete;
    StateDirLock(const StateDirLock&) = delete;
    StateDirLock& operator=(const StateDirLock&) = delete;
    ~StateDirLock();

  private:
    int fd_;
};
// Fails with reason "busy" when another agent holds it.
Expected<StateDirLock> LockStateDir(const std::string& state_dir);

// One boot of the device: never throws; every failure is in the result.
BootResult RunBoot(const BootOptions& opts);

// What `device-agent status` shows; reads only (the command backend runs get_booted).
Expected<Json> ReadStatus(const std::string& state_dir, const std::string& slot_backend = "",
                          const std::string& slot_config = "");

}  // namespace fwchain::device
