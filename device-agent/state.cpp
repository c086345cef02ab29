#include "device-agent/state.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "common/core/fs.hpp"

namespace fwchain::device {

namespace {

constexpr int kStateFormat = 1;

struct PhaseEntry {
    Phase phase;
    const char* name;
};
constexpr std::array<PhaseEntry, 7> kPhases{{
    {Phase::kIdle, "idle"},
    {Phase::kDownloading, "downloading"},
    {Phase::kVerifying, "verifying"},
    {Phase::kInstalling, "installing"},
    {Phase::kRebooting, "rebooting"},
    {Phase::kCommitting, "committing"},
    {Phase::kRollingBack, "rolling-back"},
}};

// The transition table. Re-entering installing redoes the try-once mark after a power loss.
// Re-entering downloading from downloading/verifying is how an interrupted
// download resumes (or is replaced by a newer target) on the next boot.
struct Transition {
    Phase from;
    Phase to;
};
constexpr std::array<Transition, 15> kTransitions{{
    {Phase::kIdle, Phase::kDownloading},
    {Phase::kDownloading, Phase::kDownloading},
    {Phase::kDownloading, Phase::kVerifying},
    {Phase::kDownloading, Phase::kIdle},
    {Phase::kVerifying, Phase::kDownloading},
    {Phase::kVerifying, Phase::kInstalling},
    {Phase::kVerifying, Phase::kIdle},
    {Phase::kInstalling, Phase::kRebooting},
    // Power lost before the try-once mark was written: mark (again) on the next boot.
    {Phase::kInstalling, Phase::kInstalling},
    {Phase::kInstalling, Phase::kIdle},
    {Phase::kRebooting, Phase::kCommitting},
    {Phase::kRebooting, Phase::kRollingBack},
    {Phase::kCommitting, Phase::kIdle},
    {Phase::kRollingBack, Phase::kIdle},
    {Phase::kIdle, Phase::kIdle},
}};

Json PendingToJson(const Pending& p) {
    return Json{{"sequence", p.sequence},
                {"version", p.version},
                {"sha256", p.sha256},
                {"size", p.size},
                {"slot", p.slot},
                {"gateway", p.gateway},
                {"report_nonce", p.report_nonce},
                {"report_time", p.report_time},
                {"reason", p.reason}};
}

Expected<Pending> PendingFromJson(const Json& j) {
    Pending p;
    FW_ASSIGN(p.sequence, GetUint(j, "sequence"));
    FW_ASSIGN(p.version, GetString(j, "version"));
    FW_ASSIGN(p.sha256, GetString(j, "sha256"));
    FW_ASSIGN(p.size, GetUint(j, "size"));
    FW_ASSIGN(p.slot, GetString(j, "slot"));
    FW_ASSIGN(p.gateway, GetString(j, "gateway"));
    FW_ASSIGN(p.report_nonce, GetUint(j, "report_nonce"));
    if (j.contains("report_time")) {
        FW_ASSIGN(p.report_time, GetInt(j, "report_time"));
    }
    FW_ASSIGN(p.reason, GetString(j, "reason"));
    return p;
}

}  // namespace

const char* PhaseName(Phase phase) {
    for (const auto& e : kPhases) {
        if (e.phase == phase) return e.name;
    }
    return "unknown";
}

std::optional<Phase> PhaseFromName(const std::string& name) {
    for (const auto& e : kPhases) {
        if (name == e.name) return e.phase;
    }
    return std::nullopt;
}

bool TransitionAllowed(Phase from, Phase to) {
    return std::any_of(kTransitions.begin(), kTransitions.end(),
                       [&](const Transition& t) { return t.from == from && t.to == to; });
}

Json CounterResync::ToJson() const {
    return Json{{"count", count},
                {"stale_counter", stale_counter},
                {"ledger_counter", ledger_counter},
                {"new_counter", new_counter},
                {"time", time}};
}

Json DeviceState::ToJson() const {
    Json rolled = Json::array();
    for (const auto& sha : rolled_back) rolled.push_back(sha);
    return Json{
        {"format", kStateFormat},
        {"phase", PhaseName(phase)},
        {"installed",
         {{"sequence", installed.sequence},
          {"version", installed.version},
          {"sha256", installed.sha256},
          {"slot", installed.slot}}},
        {"pending", pending ? PendingToJson(*pending) : Json(nullptr)},
        {"report_counter", report_counter},
        {"timestamp_mark", {{"version", mark.version}, {"issued", mark.issued}}},
        {"clock", clock.ToJson()},
        {"rolled_back", std::move(rolled)},
        {"report_resync", resync.ToJson()},
    };
}

Expected<DeviceState> DeviceState::FromJson(const Json& j) {
    DeviceState s;
    FW_ASSIGN(std::int64_t format, GetInt(j, "format"));
    if (format != kStateFormat) {
        return Fail(Errc::kInvalid, "state-format", "unsupported state.json format");
    }
    FW_ASSIGN(std::string phase_name, GetString(j, "phase"));
    auto phase = PhaseFromName(phase_name);
    if (!phase) return Fail(Errc::kInvalid, "state-phase", "unknown phase '" + phase_name + "'");
    s.phase = *phase;

    FW_ASSIGN(const Json* inst, GetObject(j, "installed"));
    FW_ASSIGN(s.installed.sequence, GetUint(*inst, "sequence"));
    FW_ASSIGN(s.installed.version, GetString(*inst, "version"));
    FW_ASSIGN(s.installed.sha256, GetString(*inst, "sha256"));
    FW_ASSIGN(s.installed.slot, GetString(*inst, "slot"));

    if (!j.contains("pending")) return Fail(Errc::kInvalid, "state-field", "missing pending");
    if (!j["pending"].is_null()) {
        FW_ASSIGN(s.pending, PendingFromJson(j["pending"]));
    }
    FW_ASSIGN(s.report_counter, GetUint(j, "report_counter"));
    FW_ASSIGN(const Json* mark, GetObject(j, "timestamp_mark"));
    FW_ASSIGN(s.mark.version, GetUint(*mark, "version"));
    FW_ASSIGN(s.mark.issued, GetInt(*mark, "issued"));
    FW_ASSIGN(const Json* clock, GetObject(j, "clock"));
    FW_ASSIGN(s.clock, ClockState::FromJson(*clock));
    FW_ASSIGN(const Json* rolled, GetArray(j, "rolled_back"));
    for (const auto& sha : *rolled) {
        if (!sha.is_string()) return Fail(Errc::kInvalid, "state-field", "bad rolled_back");
        s.rolled_back.push_back(sha.get<std::string>());
    }
    if (j.contains("report_resync")) {
        FW_ASSIGN(const Json* r, GetObject(j, "report_resync"));
        FW_ASSIGN(s.resync.count, GetUint(*r, "count"));
        FW_ASSIGN(s.resync.stale_counter, GetUint(*r, "stale_counter"));
        FW_ASSIGN(s.resync.ledger_counter, GetUint(*r, "ledger_counter"));
        FW_ASSIGN(s.resync.new_counter, GetUint(*r, "new_counter"));
        FW_ASSIGN(s.resync.time, GetInt(*r, "time"));
    }
    if (s.phase != Phase::kIdle && !s.pending) {
        return Fail(Errc::kInvalid, "state-pending",
                    std::string("phase ") + PhaseName(s.phase) + " without a pending update");
    }
    return s;
}

Expected<DeviceState> LoadState(const std::string& path) {
    if (!FileExists(path)) return DeviceState{};
    FW_ASSIGN(Json j, LoadJsonFile(path, 1 << 20));
    auto s = DeviceState::FromJson(j);
    if (!s) return Fail(Context(s.error(), "reading " + path));
    return s;
}

Status SaveState(const std::string& path, const DeviceState& state) {
    return WriteFileAtomic(path, state.ToJson().dump(2) + "\n", 0600);
}

Status StateMachine::Enter(Phase to) {
    if (!TransitionAllowed(state_.phase, to)) {
        return Fail(Errc::kInternal, "bad-transition",
                    std::string("state machine: ") + PhaseName(state_.phase) + " -> " +
                        PhaseName(to) + " is not in the transition table");
    }
    const Phase from = state_.phase;
    state_.phase = to;
    auto saved = Save();
    if (!saved) {
        state_.phase = from;
        return saved;
    }
    return Crashpoint(PhaseName(to));
}

Status StateMachine::Crashpoint(const std::string& point) const {
    if (crash_ && crash_(point)) {
        return Fail(Errc::kInternal, "power-loss", "power lost (injected) at " + point);
    }
    return {};
}

const std::vector<std::string>& CrashPoints() {
    static const std::vector<std::string> points{
        kCrashMarkedBad, "downloading",       kCrashDownloaded,   "verifying",
        "installing",    kCrashMarkedTryOnce, "rebooting",        kCrashHealthChecked,
        "committing",    kCrashMarkedGood,    kCrashReportQueued, "idle",
        "rolling-back",  kCrashSlotRolledBack};
    return points;
}

Status StateMachine::Save() { return SaveState(path_, state_); }

Expected<std::uint64_t> StateMachine::ReserveNonce() {
    ++state_.report_counter;
    FW_TRY(Save());
    return state_.report_counter;
}

}  // namespace fwchain::device
