#pragma once
// The device's persisted update state (DIR/state.json) and the transition table of the update
// state machine (DESIGN.md §6). Every phase is written to disk with WriteFileAtomic before the
// side effects of that phase run, so a power loss at any point resumes or rolls back.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "common/core/metadata.hpp"
#include "device-agent/clock.hpp"

namespace fwchain::device {

enum class Phase {
    kIdle,         // nothing pending: the installed image runs
    kDownloading,  // pending target named; bytes go into the inactive slot
    kVerifying,    // slot complete; its SHA-256 is being checked
    kInstalling,   // slot verified; being marked try-once in the boot backend
    kRebooting,    // try-once set; the next boot runs the new image
    kCommitting,   // new image healthy; being marked good
    kRollingBack,  // new image unhealthy or never booted; switching back
};

const char* PhaseName(Phase phase);
std::optional<Phase> PhaseFromName(const std::string& name);

// True when the transition table allows `from` -> `to`.
bool TransitionAllowed(Phase from, Phase to);

// What runs now (or ran last, confirmed).
struct Installed {
    std::uint64_t sequence = 0;
    std::string version = "0.0.0";  // factory image
    std::string sha256;             // "" for the factory image
    std::string slot = "a";
};

// The update in flight: target image and where it goes.
struct Pending {
    std::uint64_t sequence = 0;
    std::string version;
    std::string sha256;
    std::uint64_t size = 0;
    std::string slot;                // slot receiving the image
    std::string gateway;             // gateway id that offered it (for the report)
    std::uint64_t report_nonce = 0;  // reserved for the commit/rollback report (exactly once)
    std::string reason;              // rollback reason, kept for a resumed rollback
    // The time signed into that report, fixed with its nonce: a report re-queued after a power
    // loss is then the same tx (the ledger says "duplicate"), never a second record.
    std::int64_t report_time = 0;
};

// The last time the ledger said the report counter was behind (a state restored from a backup,
// or another copy of the device key reporting): the device resynchronised and re-signed.
struct CounterResync {
    std::uint64_t count = 0;           // resynchronisations so far
    std::uint64_t stale_counter = 0;   // the refused counter
    std::uint64_t ledger_counter = 0;  // what the ledger held
    std::uint64_t new_counter = 0;     // the counter the report was re-signed with
    std::int64_t time = 0;

    Json ToJson() const;
};

struct DeviceState {
    Phase phase = Phase::kIdle;
    Installed installed;
    std::optional<Pending> pending;
    std::uint64_t report_counter = 0;  // last nonce used for a signed report
    AcceptedMark mark;                 // newest accepted timestamp
    ClockState clock;
    std::vector<std::string> rolled_back;  // images that failed on this device; never retried
    CounterResync resync;                  // optional in state.json (absent before it existed)

    Json ToJson() const;
    static Expected<DeviceState> FromJson(const Json& j);
};

// A missing file is a factory-fresh device.
Expected<DeviceState> LoadState(const std::string& path);
Status SaveState(const std::string& path, const DeviceState& state);

// Power-loss injection for fault tests and the fleet simulator: called with a crash point name
// (a phase name right after that phase was persisted, or one of the kCrash* points below right
// after a side effect). Returning true means "the power went out here": the agent abandons the
// boot at once (reason "power-loss") with exactly what is on disk.
using CrashHook = std::function<bool(const std::string& point)>;

// Crash points that are not phases: right after the side effect of a phase, before the next
// phase is persisted.
inline constexpr const char* kCrashMarkedBad = "marked-bad";           // slot cleared, target named
inline constexpr const char* kCrashDownloaded = "downloaded";          // slot complete on disk
inline constexpr const char* kCrashMarkedTryOnce = "marked-try-once";  // bootloader armed
inline constexpr const char* kCrashHealthChecked = "health-checked";   // check passed
inline constexpr const char* kCrashMarkedGood = "marked-good";         // bootloader confirmed
inline constexpr const char* kCrashSlotRolledBack = "slot-rolled-back";  // bootloader reverted
inline constexpr const char* kCrashReportQueued = "report-queued";       // signed report on disk

// Every crash point, in the order a full update (and a rollback) passes them.
const std::vector<std::string>& CrashPoints();

// Owns the state and its file. Enter() is the only way to change phase.
class StateMachine {
  public:
    StateMachine(std::string path, DeviceState state, CrashHook crash = {})
        : path_(std::move(path)), state_(std::move(state)), crash_(std::move(crash)) {}

    const DeviceState& state() const { return state_; }
    DeviceState& mutable_state() { return state_; }
    Phase phase() const { return state_.phase; }

    // Checks the transition table, then persists the new phase (with any fields the caller
    // changed) before returning, i.e. before the caller runs the side effects of `to`.
    // Fails with reason "power-loss" when the crash hook fires for `to`.
    Status Enter(Phase to);
    // Fails with reason "power-loss" when the crash hook fires at `point`.
    Status Crashpoint(const std::string& point) const;
    // Persists field changes within the current phase.
    Status Save();
    // Next report nonce, persisted before anything is signed with it, so a nonce is never reused
    // even if the process dies right after signing.
    Expected<std::uint64_t> ReserveNonce();

  private:
    std::string path_;
    DeviceState state_;
    CrashHook crash_;
};

}  // namespace fwchain::device
