#include "common/core/rollout.hpp"

#include <algorithm>

#include "common/core/crypto.hpp"

namespace fwchain {

namespace {
Error BadField(const std::string& message) {
    return MakeError(Errc::kInvalid, "bad-field", "rollout: " + message);
}
}  // namespace

Json Rollout::ToJson() const {
    Json s = Json::array();
    for (const auto& st : stages) s.push_back({{"percent", st.percent}, {"start", st.start}});
    Json j{{"stages", std::move(s)}};
    if (max_failure_rate != 0) j["max_failure_rate"] = max_failure_rate;
    if (min_reports != 0) j["min_reports"] = min_reports;
    return j;
}

Expected<Rollout> Rollout::Parse(const Json& j) {
    if (!j.is_object()) return Fail(BadField("must be an object"));
    Rollout r;
    FW_ASSIGN(const Json* stages, GetArray(j, "stages"));
    if (stages->empty() || stages->size() > kMaxRolloutStages) {
        return Fail(BadField("needs 1.." + std::to_string(kMaxRolloutStages) + " stages"));
    }
    for (const auto& s : *stages) {
        if (!s.is_object()) return Fail(BadField("a stage must be an object"));
        RolloutStage st;
        auto percent = GetUint(s, "percent");
        if (!percent || *percent < 1 || *percent > 100) {
            return Fail(BadField("stage percent must be in 1..100"));
        }
        st.percent = static_cast<std::uint32_t>(*percent);
        auto start = GetInt(s, "start");
        if (!start || *start < 0) return Fail(BadField("stage start must be a time >= 0"));
        st.start = *start;
        if (!r.stages.empty() &&
            (st.percent < r.stages.back().percent || st.start < r.stages.back().start)) {
            return Fail(BadField("stages must not shrink or go back in time"));
        }
        r.stages.push_back(st);
    }
    if (j.contains("max_failure_rate")) {
        auto rate = GetUint(j, "max_failure_rate");
        if (!rate || *rate < 1 || *rate > 100) {
            return Fail(BadField("max_failure_rate must be a percent in 1..100"));
        }
        r.max_failure_rate = static_cast<std::uint32_t>(*rate);
    }
    if (j.contains("min_reports")) {
        auto n = GetUint(j, "min_reports");
        if (!n || *n < 1) return Fail(BadField("min_reports must be >= 1"));
        r.min_reports = *n;
    }
    return r;
}

std::uint32_t RolloutBucket(const std::string& device_id, const std::string& product,
                            std::uint64_t sequence) {
    // Unambiguous: product names and device ids hold no NUL (names.hpp).
    std::string in = "fwchain-rollout";
    in += '\0';
    in += product;
    in += '\0';
    in += std::to_string(sequence);
    in += '\0';
    in += device_id;
    const Hash256 h = Sha256(in);
    const std::uint64_t v = (std::uint64_t{h[0]} << 56) | (std::uint64_t{h[1]} << 48) |
                            (std::uint64_t{h[2]} << 40) | (std::uint64_t{h[3]} << 32) |
                            (std::uint64_t{h[4]} << 24) | (std::uint64_t{h[5]} << 16) |
                            (std::uint64_t{h[6]} << 8) | std::uint64_t{h[7]};
    return static_cast<std::uint32_t>(v % 10000);
}

bool InRollout(std::uint32_t bucket, std::uint32_t percent) { return bucket < percent * 100; }

int CurrentStage(const Rollout& r, std::int64_t now) {
    int current = -1;
    for (std::size_t i = 0; i < r.stages.size(); ++i) {
        if (r.stages[i].start <= now) current = static_cast<int>(i);
    }
    return current;
}

bool ValidRolloutAction(const std::string& action) {
    return action == rollout_action::kPause || action == rollout_action::kResume ||
           action == rollout_action::kAbort;
}

void ApplyRolloutAction(RolloutEvidence& e, const std::string& action) {
    if (action == rollout_action::kAbort) e.aborted = true;
    if (action == rollout_action::kPause) e.paused = true;
    if (action == rollout_action::kResume) e.paused = false;
}

void OutcomeCounter::Add(const std::string& device_id, const std::string& state) {
    int kind = -1;
    if (state == "installed") kind = 0;
    if (state == "failed") kind = 1;
    if (state == "rolled-back") kind = 2;
    if (kind < 0) return;
    auto it = std::lower_bound(devices_.begin(), devices_.end(), device_id,
                               [](const auto& d, const std::string& id) { return d.first < id; });
    if (it != devices_.end() && it->first == device_id) {
        --counts_[it->second];
        it->second = kind;
    } else {
        devices_.insert(it, {device_id, kind});
    }
    ++counts_[kind];
    if (halted_ || max_failure_rate_ == 0) return;
    const std::uint64_t total = counts_[0] + counts_[1] + counts_[2];
    const std::uint64_t bad = counts_[1] + counts_[2];
    if (total >= std::max<std::uint64_t>(1, min_reports_) &&
        bad * 100 > max_failure_rate_ * total) {
        halted_ = true;
        reason_ = std::to_string(bad) + " of " + std::to_string(total) +
                  " devices failed or rolled back, above the limit of " +
                  std::to_string(max_failure_rate_) + "%";
    }
}

void OutcomeCounter::Fill(RolloutEvidence& e) const {
    e.installed = counts_[0];
    e.failed = counts_[1];
    e.rolled_back = counts_[2];
    e.halted = halted_;
    e.halt_reason = reason_;
}

const char* PhaseName(RolloutPhase p) {
    switch (p) {
        case RolloutPhase::kWaitingApprovals:
            return "waiting-approvals";
        case RolloutPhase::kScheduled:
            return "scheduled";
        case RolloutPhase::kActive:
            return "active";
        case RolloutPhase::kComplete:
            return "complete";
        case RolloutPhase::kPaused:
            return "paused";
        case RolloutPhase::kHalted:
            return "halted";
        case RolloutPhase::kAborted:
            return "aborted";
    }
    return "unknown";
}

RolloutDecision DecideRollout(const Rollout* rollout, std::uint32_t min_approvals,
                              const RolloutEvidence& e, std::int64_t now) {
    RolloutDecision d;
    if (rollout != nullptr) d.stage = CurrentStage(*rollout, now);
    // The order is the precedence: an abort beats a halt beats a pause beats the schedule.
    if (e.aborted) {
        d.phase = RolloutPhase::kAborted;
        d.reason = "aborted by an operator";
    } else if (e.halted) {
        d.phase = RolloutPhase::kHalted;
        d.reason = e.halt_reason;
    } else if (e.paused) {
        d.phase = RolloutPhase::kPaused;
        d.reason = "paused by an operator";
    } else if (e.approvals < min_approvals) {
        d.phase = RolloutPhase::kWaitingApprovals;
        d.reason = std::to_string(e.approvals) + " of " + std::to_string(min_approvals) +
                   " approvals confirmed";
    } else if (rollout != nullptr && d.stage < 0) {
        d.phase = RolloutPhase::kScheduled;
        d.reason = "the first stage starts at " + std::to_string(rollout->stages.front().start);
    } else {
        d.percent =
            rollout != nullptr ? rollout->stages[static_cast<std::size_t>(d.stage)].percent : 100;
        d.phase = d.percent >= 100 ? RolloutPhase::kComplete : RolloutPhase::kActive;
    }
    return d;
}

}  // namespace fwchain
