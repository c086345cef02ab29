#pragma once
// Staged rollouts decided from the ledger's evidence (DESIGN.md §3.9, docs/rollouts.md): the
// one definition of a release's rollout policy, of which devices a stage holds, and of the
// rollout's state. Pure functions of their inputs, so every gateway and every ledger node
// reaches the same decision from the same chain at the same height.
#include <cstdint>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"

namespace fwchain {

// From `start` (unix time) on, `percent` of the fleet may install.
struct RolloutStage {
    std::uint32_t percent = 100;  // 1..100, non-decreasing across stages
    std::int64_t start = 0;       // >= 0, non-decreasing across stages
    bool operator==(const RolloutStage&) const = default;
};

inline constexpr std::size_t kMaxRolloutStages = 16;

// The manifest's `rollout` object (signed by the release key, copied into the release tx body so
// that the ledger can show the rollout's state without the manifest).
struct Rollout {
    std::vector<RolloutStage> stages;    // 1..16 stages
    std::uint32_t max_failure_rate = 0;  // percent 1..100 of outcomes; 0 = no automatic halt
    std::uint64_t min_reports = 0;       // outcomes needed before the rate counts (0 = 1)
    bool operator==(const Rollout&) const = default;

    Json ToJson() const;
    // Errc::kInvalid "bad-field" naming what is wrong.
    static Expected<Rollout> Parse(const Json& j);
};

// The device's place in a release's rollout: 0..9999, from SHA-256 of (product, sequence,
// device id). A stage of P percent holds the devices below P * 100, so each stage holds the
// previous one; another release draws a different first percent.
std::uint32_t RolloutBucket(const std::string& device_id, const std::string& product,
                            std::uint64_t sequence);
bool InRollout(std::uint32_t bucket, std::uint32_t percent);

// The stage in force at `now`: its index, or -1 before the first stage starts.
int CurrentStage(const Rollout& r, std::int64_t now);

// An operator's control of a rollout, by a release or approver key (tx type `rollout`).
namespace rollout_action {
inline constexpr const char* kPause = "pause";
inline constexpr const char* kResume = "resume";
inline constexpr const char* kAbort = "abort";
}  // namespace rollout_action
bool ValidRolloutAction(const std::string& action);

// What the chain says about one release, counted in chain order by the caller.
struct RolloutEvidence {
    std::uint32_t approvals = 0;  // distinct approver keys of the current root
    std::uint64_t installed = 0;  // devices whose latest outcome for the release is installed
    std::uint64_t failed = 0;
    std::uint64_t rolled_back = 0;
    bool paused = false;   // the latest pause/resume was a pause
    bool aborted = false;  // an abort was recorded (final)
    // Set once the failure share crossed the limit at some point in chain order (a halt is
    // final: outcomes that arrive later do not lift it).
    bool halted = false;
    std::string halt_reason;
};

// Folds one operator control (in chain order) into `e`: the latest pause/resume wins, an abort
// is final. Unknown actions change nothing.
void ApplyRolloutAction(RolloutEvidence& e, const std::string& action);

// Folds device outcomes in chain order and keeps the halt decision (the ledger and gateways
// feed it the same txs in the same order).
class OutcomeCounter {
  public:
    OutcomeCounter(std::uint32_t max_failure_rate, std::uint64_t min_reports)
        : max_failure_rate_(max_failure_rate), min_reports_(min_reports) {}
    // One device's outcome ("installed", "failed", "rolled-back"); other states are ignored.
    void Add(const std::string& device_id, const std::string& state);
    void Fill(RolloutEvidence& e) const;

  private:
    std::uint32_t max_failure_rate_;
    std::uint64_t min_reports_;
    std::vector<std::pair<std::string, int>> devices_;  // sorted by id: latest outcome
    std::uint64_t counts_[3] = {0, 0, 0};               // installed, failed, rolled-back
    bool halted_ = false;
    std::string reason_;
};

enum class RolloutPhase {
    kWaitingApprovals,  // fewer confirmed approvals than min_approvals
    kScheduled,         // before the first stage
    kActive,            // a stage below 100 %
    kComplete,          // the whole fleet
    kPaused,
    kHalted,   // the failure share crossed max_failure_rate
    kAborted,  // never offered again
};
const char* PhaseName(RolloutPhase p);

struct RolloutDecision {
    RolloutPhase phase = RolloutPhase::kComplete;
    int stage = -1;             // index in force, -1 = none (no stages, or before the first)
    std::uint32_t percent = 0;  // share of the fleet that may install now (0 when not offered)
    std::string reason;         // why it is not offered, for people
    bool Offered() const { return percent > 0; }
};

// The decision for a release with `rollout` (null = everyone at once) and `min_approvals`.
RolloutDecision DecideRollout(const Rollout* rollout, std::uint32_t min_approvals,
                              const RolloutEvidence& evidence, std::int64_t now);

}  // namespace fwchain
