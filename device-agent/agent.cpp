#include "device-agent/agent.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>

#include "common/adapters/http.hpp"
#include "common/adapters/log.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "device-agent/exchange.hpp"
#include "device-agent/health.hpp"
#include "device-agent/report.hpp"
#include "device-agent/state.hpp"
#include "device-agent/verify.hpp"

namespace fwchain::device {

namespace {

constexpr std::size_t kMaxCheckAnswer = 4 << 20;
// A report answer is {"id"} or an error object: a few hundred bytes.
constexpr std::size_t kMaxReportAnswer = 64 << 10;
constexpr std::size_t kMaxRolledBack = 16;
constexpr std::size_t kMaxGatewayId = 128;
constexpr std::size_t kMaxVersion = 64;  // ParseTx limit on `ver`

// What a report says about the image involved; from a verified manifest, or for refusals the
// manifest's own (unverified) claims, which help whoever investigates the refusal.
struct Target {
    std::string version;
    std::string sha256;
    std::uint64_t sequence = 0;
};

std::string Clip(std::string s, std::size_t n) {
    if (s.size() > n) s.resize(n);
    return s;
}

// Claims of a manifest that failed verification, if it is at least well formed.
std::optional<Target> ClaimedTarget(const Json& manifest) {
    auto env = ParseEnvelope(manifest);
    if (!env) return std::nullopt;
    auto release = ParseRelease(*env);
    if (!release) return std::nullopt;
    return Target{Clip(release->version, kMaxVersion), release->image.sha256, release->sequence};
}

class Agent {
  public:
    Agent(const BootOptions& opts, DeviceConfig cfg, SigningKey key, StateMachine sm,
          std::unique_ptr<SlotBackend> backend, TimeSource time)
        : opts_(opts),
          cfg_(std::move(cfg)),
          key_(std::move(key)),
          sm_(std::move(sm)),
          backend_(std::move(backend)),
          time_(std::move(time)),
          queue_(opts.state_dir + "/reports") {}

    BootResult Run() {
        auto boot = backend_->Boot();
        if (!boot) return Failed(Context(boot.error(), "slot backend"));
        boot_ = *boot;
        ObserveTime();
        if (auto saved = sm_.Save(); !saved) return Failed(saved.error());

        BootResult result = Resume();
        if (result.outcome == Outcome::kUpToDate || result.outcome == Outcome::kCommitted) {
            result = Check(result.outcome);
        }
        FlushReports();
        if (!report_error_.empty()) {
            spdlog::error("report queue: {}", report_error_);
            // Reports never hold back an update; they only turn a quiet success into an error.
            if (result.outcome == Outcome::kUpToDate || result.outcome == Outcome::kCommitted) {
                result.outcome = Outcome::kFailed;
                result.reason = "report-queue";
                result.message = report_error_;
            }
        }
        return result;
    }

  private:
    DeviceState& St() { return sm_.mutable_state(); }
    std::string Progress() const { return opts_.state_dir + "/download.progress"; }
    Pending& P() { return *St().pending; }

    // --- time -----------------------------------------------------------------------------

    void ObserveTime() {
        if (time_.uptime) {
            if (auto up = time_.uptime()) {
                ObserveUptime(St().clock, *up);
            } else {
                spdlog::warn("uptime unavailable: {}", up.error().ToString());
            }
        }
    }

    // The device's notion of now: the RTC if it has one, never below the lower bound (so a
    // reset RTC cannot make expired documents acceptable again).
    std::int64_t Now() const {
        const std::int64_t bound = LowerBound(sm_.state().clock);
        if (time_.rtc) return std::max(time_.rtc(), bound);
        return bound;
    }

    // --- results and reports --------------------------------------------------------------

    BootResult Result(Outcome outcome, std::string reason = {}, std::string message = {}) {
        BootResult r;
        r.outcome = outcome;
        r.device_id = cfg_.device_id;
        if (outcome == Outcome::kRebootPending && sm_.state().pending) {
            r.sequence = sm_.state().pending->sequence;
            r.version = sm_.state().pending->version;
        } else {
            r.sequence = sm_.state().installed.sequence;
            r.version = sm_.state().installed.version;
        }
        r.reason = std::move(reason);
        r.message = std::move(message);
        return r;
    }

    BootResult Failed(const Error& e) {
        spdlog::error("{}", e.ToString());
        return Result(Outcome::kFailed, e.reason, e.message);
    }

    // Signs and queues a report with an already reserved nonce.
    void QueueReport(ReportInfo info) {
        info.product = cfg_.product;
        if (info.time == 0) info.time = Now();
        info.version = Clip(info.version, kMaxVersion);
        Tx tx = MakeUpdateReport(key_, cfg_.device_id, info);
        if (auto queued = queue_.Enqueue(tx); !queued) report_error_ = queued.error().ToString();
    }

    // A `failed` report (verification, download) and the failed result.
    // `target`: a verified release the failure is about; `rejected`: the claims of a manifest
    // that failed verification (they go into the body's "rejected", never into `ver`).
    BootResult ReportFailure(const Error& e, const std::optional<Target>& target,
                             const std::string& gateway,
                             const std::optional<Target>& rejected = std::nullopt) {
        spdlog::error("update refused: {}", e.ToString());
        auto nonce = sm_.ReserveNonce();
        if (!nonce) {
            report_error_ = nonce.error().ToString();
            return Result(Outcome::kFailed, e.reason, e.message);
        }
        ReportInfo info;
        info.state = report_state::kFailed;
        info.nonce = *nonce;
        info.previous_sequence = sm_.state().installed.sequence;
        info.gateway = gateway;
        info.reason = e.reason;
        if (target) {
            // A verified release that failed to download or verify in the slot: the report is
            // about that release (the rollout counts its failures).
            info.sequence = target->sequence;
            info.version = target->version;
            info.sha256 = target->sha256;
        } else {
            // Nothing verified: the report names what the device runs, so an attacker's
            // manifest never shows up in the ledger as a version.
            info.sequence = sm_.state().installed.sequence;
            info.version = sm_.state().installed.version;
            info.sha256 = sm_.state().installed.sha256;
            if (rejected) {
                info.rejected =
                    RejectedManifest{rejected->version, rejected->sha256, rejected->sequence};
            }
        }
        QueueReport(std::move(info));
        return Result(Outcome::kFailed, e.reason, e.message);
    }

    void FlushReports() {
        ExchangeLimits limits;
        limits.max_answer = kMaxReportAnswer;
        limits.deadline = opts_.report_deadline;
        limits.connect_timeout_s = opts_.fetch.connect_timeout_s;
        FlushResult f =
            queue_.Flush(opts_.gateway_url, limits,
                         [this](const Tx& stale, std::uint64_t ledger_counter) -> Expected<Tx> {
                             return Resign(stale, ledger_counter);
                         });
        if (f.sent + f.dropped > 0 || f.kept > 0) {
            spdlog::info("reports: {} delivered, {} refused, {} queued, {} re-signed", f.sent,
                         f.dropped, f.kept, f.resigned);
        }
        // Undelivered reports stay queued for the next boot: not an error of this boot.
        if (!f.error.empty()) spdlog::warn("reports kept for the next boot: {}", f.error);
    }

    // The ledger holds a counter at or above a queued report's (the state was restored from a
    // backup, say): move the counter past the ledger's, persist it, then re-sign.
    Expected<Tx> Resign(const Tx& stale, std::uint64_t ledger_counter) {
        if (stale.sender != key_.PublicHex()) {
            return Fail(Errc::kInvalid, "not-ours", "a queued report is not signed by this device");
        }
        if (St().report_counter < ledger_counter) St().report_counter = ledger_counter;
        FW_ASSIGN(std::uint64_t nonce, sm_.ReserveNonce());
        Tx tx = stale;
        tx.nonce = nonce;
        tx.SignWith(key_);
        CounterResync& r = St().resync;
        ++r.count;
        r.stale_counter = stale.nonce;
        r.ledger_counter = ledger_counter;
        r.new_counter = nonce;
        r.time = Now();
        FW_TRY(sm_.Save());
        spdlog::warn("report counter {} was behind the ledger's {}: re-signed with {}", stale.nonce,
                     ledger_counter, nonce);
        return tx;
    }

    // --- boot-time resume: confirm, roll back, or finish an interrupted phase -------------

    BootResult Resume() {
        switch (sm_.phase()) {
            case Phase::kIdle:
            case Phase::kDownloading:
            case Phase::kVerifying:
                // An interrupted download resumes through the check (same target = Range).
                return Result(Outcome::kUpToDate);
            case Phase::kInstalling:
                if (boot_.booted == P().slot) {
                    // Power was lost after the try-once mark was written (only that makes the
                    // bootloader pick the slot being installed): we are on trial now.
                    if (auto s = sm_.Enter(Phase::kRebooting); !s) return Failed(s.error());
                    return Confirm();
                }
                return MarkAndReboot();
            case Phase::kRebooting:
                return Confirm();
            case Phase::kCommitting:
                return FinishCommit();
            case Phase::kRollingBack:
                return FinishRollback();
        }
        return Failed(MakeError(Errc::kInternal, "bad-state", "unknown phase"));
    }

    BootResult Confirm() {
        if (boot_.booted != P().slot) {
            // The bootloader ran out of attempts (the image never got as far as the agent) and
            // fell back by itself.
            return Rollback("boot-attempts-exhausted",
                            "slot " + P().slot + " did not boot within " +
                                std::to_string(opts_.max_boot_attempts) + " attempts");
        }
        auto health = RunHealthCheck(opts_.health_check,
                                     {{"FWCHAIN_SLOT", P().slot},
                                      {"FWCHAIN_VERSION", P().version},
                                      {"FWCHAIN_SEQUENCE", std::to_string(P().sequence)},
                                      {"FWCHAIN_STATE_DIR", opts_.state_dir}},
                                     opts_.health_check_timeout_s);
        if (!health) return Rollback("health-check-failed", health.error().message);
        if (!health->healthy) {
            return Rollback("health-check-failed", "health check failed (" + health->detail + ")");
        }
        spdlog::info("health check passed ({}); committing slot {}", health->detail, P().slot);
        if (auto s = sm_.Crashpoint(kCrashHealthChecked); !s) return Failed(s.error());
        auto nonce = sm_.ReserveNonce();
        if (!nonce) return Failed(nonce.error());
        P().report_nonce = *nonce;
        P().report_time = Now();
        if (auto s = sm_.Enter(Phase::kCommitting); !s) return Failed(s.error());
        return FinishCommit();
    }

    // The report of a pending install's outcome, with the nonce reserved before the outcome.
    ReportInfo PendingReport(const Pending& p, const std::string& state) {
        ReportInfo info;
        info.state = state;
        info.nonce = p.report_nonce;
        info.time = p.report_time;
        info.version = p.version;
        info.sha256 = p.sha256;
        info.sequence = p.sequence;
        info.previous_sequence = St().installed.sequence;
        info.gateway = p.gateway;
        return info;
    }

    BootResult FinishCommit() {
        const Pending p = P();
        if (auto s = backend_->MarkGood(p.slot); !s) return Failed(s.error());
        if (auto s = sm_.Crashpoint(kCrashMarkedGood); !s) return Failed(s.error());
        QueueReport(PendingReport(p, report_state::kInstalled));
        if (auto s = sm_.Crashpoint(kCrashReportQueued); !s) return Failed(s.error());
        St().installed = Installed{p.sequence, p.version, p.sha256, p.slot};
        St().pending.reset();
        if (auto s = sm_.Enter(Phase::kIdle); !s) return Failed(s.error());
        spdlog::info("committed version {} (sequence {}) in slot {}", p.version, p.sequence,
                     p.slot);
        return Result(Outcome::kCommitted);
    }

    BootResult Rollback(const std::string& reason, const std::string& message) {
        spdlog::error("rolling back slot {}: {}: {}", P().slot, reason, message);
        auto nonce = sm_.ReserveNonce();
        if (!nonce) return Failed(nonce.error());
        P().report_nonce = *nonce;
        P().report_time = Now();
        P().reason = reason;
        if (auto s = sm_.Enter(Phase::kRollingBack); !s) return Failed(s.error());
        auto r = FinishRollback();
        if (r.outcome == Outcome::kRolledBack) r.message = message;
        return r;
    }

    BootResult FinishRollback() {
        const Pending p = P();
        if (auto s = backend_->Rollback(St().installed.slot); !s) return Failed(s.error());
        if (auto s = sm_.Crashpoint(kCrashSlotRolledBack); !s) return Failed(s.error());
        ReportInfo info = PendingReport(p, report_state::kRolledBack);
        info.reason = p.reason;
        QueueReport(std::move(info));
        if (auto s = sm_.Crashpoint(kCrashReportQueued); !s) return Failed(s.error());
        // Never offer this image to this device again: the gateway would keep serving it.
        auto& rolled = St().rolled_back;
        if (std::find(rolled.begin(), rolled.end(), p.sha256) == rolled.end()) {
            rolled.push_back(p.sha256);
        }
        if (rolled.size() > kMaxRolledBack) rolled.erase(rolled.begin());
        St().pending.reset();
        if (auto s = sm_.Enter(Phase::kIdle); !s) return Failed(s.error());
        if (auto s = backend_->Reboot(); !s) return Failed(s.error());
        return Result(Outcome::kRolledBack, p.reason);
    }

    // --- check, verify, download, install -------------------------------------------------

    BootResult Check(Outcome so_far) {
        auto trusted = LoadTrustedRoot(opts_.state_dir);
        if (!trusted) return ReportFailure(trusted.error(), std::nullopt, "");
        // A fresh device without an RTC knows at least that its pinned root was issued.
        if (LowerBound(St().clock) < trusted->issued) RaiseBound(St().clock, trusted->issued);

        auto answer = PostCheck(trusted->version);
        if (!answer) {
            const std::string& reason = answer.error().reason;
            if (reason == "slow-retrieval" || reason == "answer-too-large") {
                // The gateway answers, but as an attacker would: on the record, and nothing in
                // the slots changes.
                return ReportFailure(answer.error(), std::nullopt, "");
            }
            // The gateway is unreachable or not ready: a report could only travel the same
            // broken path, and a device offline for a week must not queue a report per boot.
            spdlog::error("check: {}", answer.error().ToString());
            return Result(Outcome::kFailed, answer.error().reason, answer.error().message);
        }
        const Json& a = *answer;
        std::string gateway;
        if (a.contains("gateway_id") && a["gateway_id"].is_string()) {
            gateway = Clip(a["gateway_id"].get<std::string>(), kMaxGatewayId);
        }
        const std::int64_t now = Now();

        auto root = UpdateTrustedRoot(opts_.state_dir, *trusted,
                                      a.contains("roots") ? a["roots"] : Json::array(), now);
        if (!root) return ReportFailure(root.error(), std::nullopt, gateway);
        RaiseBound(St().clock, root->issued);

        if (!a.contains("timestamp")) {
            return ReportFailure(
                MakeError(Errc::kInvalid, "bad-answer", "the check answer has no timestamp"),
                std::nullopt, gateway);
        }
        auto ts = CheckTimestamp(*root, a["timestamp"], now, St().mark);
        if (!ts) return ReportFailure(ts.error(), std::nullopt, gateway);
        St().mark = AcceptedMark{ts->version, ts->issued};
        RaiseBound(St().clock, ts->issued);
        if (auto s = sm_.Save(); !s) return Failed(s.error());
        if (cfg_.require_ledger_proof && ts->checkpoint &&
            ts->checkpoint->height > checkpoint_.height) {
            // The vendor's signed checkpoint (docs/protocol.md): a device offline for long
            // starts its next proof there instead of from an old header.
            checkpoint_ = LedgerCheckpoint{ts->checkpoint->height, ts->checkpoint->hash};
            if (auto s = SaveLedgerCheckpoint(opts_.state_dir, checkpoint_); !s) {
                return Failed(s.error());
            }
        }

        if (!a.contains("manifest") || a["manifest"].is_null()) {
            if (St().pending) {
                // The target of an interrupted download is no longer offered.
                St().pending.reset();
                if (auto s = sm_.Enter(Phase::kIdle); !s) return Failed(s.error());
            }
            spdlog::info("up to date at sequence {}", St().installed.sequence);
            return Result(so_far);
        }
        const Json& manifest = a["manifest"];
        DeviceMatch match{cfg_.vendor, cfg_.product, cfg_.hardware, St().installed.sequence,
                          cfg_.max_image_size};
        auto release = CheckRelease(*root, manifest, now, match, *ts);
        if (!release) {
            return ReportFailure(release.error(), std::nullopt, gateway, ClaimedTarget(manifest));
        }
        if (cfg_.require_ledger_proof) {
            auto next = VerifyLedgerProof(*root, *ts, *release,
                                          a.contains("ledger") ? a["ledger"] : Json(nullptr),
                                          checkpoint_, cfg_.ledger_policy);
            if (!next) {
                return ReportFailure(next.error(), std::nullopt, gateway, ClaimedTarget(manifest));
            }
            if (next->height > checkpoint_.height) {
                if (auto s = SaveLedgerCheckpoint(opts_.state_dir, *next); !s) {
                    return Failed(s.error());
                }
                checkpoint_ = *next;
            }
        }

        const auto& rolled = St().rolled_back;
        if (std::find(rolled.begin(), rolled.end(), release->image.sha256) != rolled.end()) {
            spdlog::warn("not installing {} (sequence {}): it was rolled back on this device",
                         release->version, release->sequence);
            return Result(so_far);
        }
        return Install(*release, gateway);
    }

    Expected<Json> PostCheck(std::uint64_t root_version) {
        FW_ASSIGN(http::Url url, http::ParseUrl(opts_.gateway_url));
        Json req{{"device_id", cfg_.device_id},
                 {"product", cfg_.product},
                 {"hardware", cfg_.hardware},
                 {"sequence", St().installed.sequence},
                 {"root_version", root_version}};
        if (cfg_.require_ledger_proof) {
            FW_ASSIGN(checkpoint_, LoadLedgerCheckpoint(opts_.state_dir, cfg_.ledger_checkpoint));
            req["ledger_proof"] = true;
            req["ledger_checkpoint"] = checkpoint_.ToJson();
        }
        ExchangeLimits limits;
        limits.max_answer = kMaxCheckAnswer;
        limits.deadline = opts_.check_deadline;
        limits.connect_timeout_s = opts_.fetch.connect_timeout_s;
        FW_ASSIGN(ExchangeAnswer res, BoundedPost(url, "/v1/check", Canonical(req), limits));
        if (res.status != 200) {
            std::string reason = "gateway-http-" + std::to_string(res.status);
            std::string message = "the gateway answered HTTP " + std::to_string(res.status);
            if (auto j = ParseJson(res.body, 64 << 10); j && j->is_object()) {
                if (auto r = GetString(*j, "error")) reason = "gateway-" + Clip(*r, 64);
                if (auto m = GetString(*j, "message")) message += ": " + Clip(*m, 256);
            }
            return Fail(Errc::kNetwork, reason, message);
        }
        auto j = ParseJson(res.body, kMaxCheckAnswer);
        if (!j || !j->is_object()) {
            return Fail(Errc::kInvalid, "bad-answer", "the check answer is not a JSON object");
        }
        return std::move(j).value();
    }

    BootResult Install(const Release& release, const std::string& gateway) {
        const Target target{Clip(release.version, kMaxVersion), release.image.sha256,
                            release.sequence};
        const std::string slot = OtherSlot(St().installed.slot);
        const std::string path = backend_->ImagePath(slot);
        const bool raw = backend_->RawSlot(slot);
        const bool resume = St().pending && St().pending->sha256 == release.image.sha256 &&
                            St().pending->slot == slot;
        if (!resume) {
            // Clear the slot before naming the new target, so bytes of another image are never
            // taken for a prefix of this one after a power loss.
            if (auto s = backend_->MarkBad(slot); !s) return Failed(s.error());
            if (auto s = ResetSlot(path, raw, Progress()); !s) return Failed(s.error());
            if (auto s = sm_.Crashpoint(kCrashMarkedBad); !s) return Failed(s.error());
            Pending p;
            p.sequence = release.sequence;
            p.version = target.version;
            p.sha256 = release.image.sha256;
            p.size = release.image.size;
            p.slot = slot;
            St().pending = p;
        }
        P().gateway = gateway;
        if (auto s = sm_.Enter(Phase::kDownloading); !s) return Failed(s.error());
        spdlog::info(
            "downloading {} (sequence {}, {} bytes) into slot {}{}", release.version,
            release.sequence, release.image.size, slot,
            resume ? " (resuming at " + std::to_string(SlotLength(path, raw, Progress())) + ")"
                   : "");

        FetchRequest req{opts_.gateway_url, release.image.sha256, release.image.size, path, raw,
                         Progress()};
        if (auto fetched = FetchImage(req, opts_.fetch); !fetched) {
            if (fetched.error().reason == "power-loss") return Failed(fetched.error());
            if (!IsTransientDownloadFailure(fetched.error().reason)) {
                // Not a transient network problem: nothing in the slot is worth resuming.
                (void)ResetSlot(path, raw, Progress());
                St().pending.reset();
                if (auto s = sm_.Enter(Phase::kIdle); !s) return Failed(s.error());
            }
            return ReportFailure(fetched.error(), target, gateway);
        }
        if (auto s = sm_.Crashpoint(kCrashDownloaded); !s) return Failed(s.error());

        if (auto s = sm_.Enter(Phase::kVerifying); !s) return Failed(s.error());
        if (auto v = VerifySlotImage(path, release.image.sha256, release.image.size, raw); !v) {
            (void)ResetSlot(path, raw, Progress());
            (void)backend_->MarkBad(slot);
            St().pending.reset();
            if (auto s = sm_.Enter(Phase::kIdle); !s) return Failed(s.error());
            return ReportFailure(v.error(), target, gateway);
        }
        return MarkAndReboot();
    }

    BootResult MarkAndReboot() {
        if (auto s = sm_.Enter(Phase::kInstalling); !s) return Failed(s.error());
        if (auto s = backend_->MarkTryOnce(P().slot, opts_.max_boot_attempts); !s) {
            return Failed(s.error());
        }
        if (auto s = sm_.Crashpoint(kCrashMarkedTryOnce); !s) return Failed(s.error());
        if (auto s = sm_.Enter(Phase::kRebooting); !s) return Failed(s.error());
        if (auto s = backend_->Reboot(); !s) return Failed(s.error());
        spdlog::info("version {} (sequence {}) installed in slot {}; reboot to try it", P().version,
                     P().sequence, P().slot);
        return Result(Outcome::kRebootPending);
    }

    const BootOptions& opts_;
    DeviceConfig cfg_;
    SigningKey key_;
    StateMachine sm_;
    std::unique_ptr<SlotBackend> backend_;
    TimeSource time_;
    ReportQueue queue_;
    BootInfo boot_;
    std::string report_error_;
    LedgerCheckpoint checkpoint_;
};

BootResult EarlyFailure(const std::string& device_id, const Error& e) {
    spdlog::error("{}", e.ToString());
    BootResult r;
    r.outcome = Outcome::kFailed;
    r.device_id = device_id;
    r.reason = e.reason;
    r.message = e.message;
    return r;
}

}  // namespace

Expected<DeviceConfig> LoadDeviceConfig(const std::string& state_dir) {
    const std::string path = state_dir + "/device.json";
    auto j = LoadJsonFile(path, 64 << 10);
    if (!j) return Fail(Context(j.error(), "reading " + path));
    DeviceConfig c;
    auto read = [&]() -> Status {
        FW_ASSIGN(c.device_id, GetString(*j, "device_id"));
        FW_ASSIGN(c.vendor, GetString(*j, "vendor"));
        FW_ASSIGN(c.product, GetString(*j, "product"));
        FW_ASSIGN(c.hardware, GetString(*j, "hardware"));
        if (j->contains("max_image_size")) {
            FW_ASSIGN(c.max_image_size, GetUint(*j, "max_image_size"));
        }
        auto boolean = [&](const char* name, bool& out) -> Status {
            if (!j->contains(name)) return {};
            if (!(*j)[name].is_boolean()) {
                return Fail(Errc::kInvalid, "malformed", std::string(name) + " must be a boolean");
            }
            out = (*j)[name].get<bool>();
            return {};
        };
        FW_TRY(boolean("has_rtc", c.has_rtc));
        if (j->contains("slot_backend")) {
            FW_ASSIGN(c.slot_backend, GetString(*j, "slot_backend"));
        }
        if (j->contains("slot_config")) {
            FW_ASSIGN(c.slot_config, GetString(*j, "slot_config"));
        }
        FW_TRY(boolean("require_ledger_proof", c.require_ledger_proof));
        if (c.require_ledger_proof) {
            FW_ASSIGN(const Json* cp, GetObject(*j, "ledger_checkpoint"));
            FW_ASSIGN(c.ledger_checkpoint, LedgerCheckpoint::FromJson(*cp));
        }
        auto small = [&](const char* name, auto& out, std::uint64_t max) -> Status {
            if (!j->contains(name)) return {};
            FW_ASSIGN(std::uint64_t v, GetUint(*j, name));
            if (v > max) return Fail(Errc::kInvalid, "malformed", std::string(name) + " too big");
            out = static_cast<std::remove_reference_t<decltype(out)>>(v);
            return {};
        };
        FW_TRY(small("ledger_min_bits", c.ledger_policy.min_bits, 120));
        FW_TRY(small("ledger_min_miners", c.ledger_policy.distinct_miners, 64));
        if (j->contains("ledger_genesis_miners")) {
            FW_ASSIGN(const Json* miners, GetArray(*j, "ledger_genesis_miners"));
            for (const auto& m : *miners) {
                auto key = m.is_string() ? PublicKeyFromHex(m.get<std::string>()) : std::nullopt;
                if (!key) {
                    return Fail(Errc::kInvalid, "malformed",
                                "ledger_genesis_miners holds a malformed key");
                }
                c.ledger_policy.genesis_miners.push_back(*key);
            }
        }
        FW_TRY(small("ledger_confirmations", c.ledger_policy.confirmations, 1000));
        FW_TRY(small("ledger_finality_depth", c.ledger_policy.finality_depth, 100000));
        return {};
    };
    if (auto s = read(); !s) return Fail(Context(s.error(), path));
    if (c.device_id.empty() || c.product.empty() || c.hardware.empty()) {
        return Fail(Errc::kInvalid, "malformed", path + ": device_id, product, hardware needed");
    }
    return c;
}

const char* OutcomeName(Outcome outcome) {
    switch (outcome) {
        case Outcome::kUpToDate:
            return "up-to-date";
        case Outcome::kCommitted:
            return "committed";
        case Outcome::kRebootPending:
            return "reboot-pending";
        case Outcome::kRolledBack:
            return "rolled-back";
        case Outcome::kFailed:
            return "failed";
    }
    return "failed";
}

int ExitCode(Outcome outcome) {
    switch (outcome) {
        case Outcome::kUpToDate:
        case Outcome::kCommitted:
            return kExitOk;
        case Outcome::kRebootPending:
            return kExitRebootPending;
        case Outcome::kRolledBack:
            return kExitRolledBack;
        case Outcome::kFailed:
            return kExitError;
    }
    return kExitError;
}

Json BootResult::ToJson() const {
    return Json{{"device_id", device_id},
                {"state", OutcomeName(outcome)},
                {"sequence", sequence},
                {"version", version},
                {"reason", reason}};
}

StateDirLock::~StateDirLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

Expected<StateDirLock> LockStateDir(const std::string& state_dir) {
    const std::string path = state_dir + "/agent.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return Fail(Errc::kIo, "state-dir", "cannot open " + path + ": " + std::strerror(errno));
    }
    StateDirLock lock(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        return Fail(Errc::kConflict, "busy", "another device-agent is running on " + state_dir);
    }
    return lock;
}

BootResult RunBoot(const BootOptions& opts) {
    auto cfg = LoadDeviceConfig(opts.state_dir);
    if (!cfg) return EarlyFailure("", cfg.error());
    auto lock = LockStateDir(opts.state_dir);
    if (!lock) return EarlyFailure(cfg->device_id, lock.error());
    auto key = SigningKey::Load(opts.state_dir + "/device.key");
    if (!key) return EarlyFailure(cfg->device_id, Context(key.error(), "device key"));
    auto state = LoadState(opts.state_dir + "/state.json");
    if (!state) return EarlyFailure(cfg->device_id, state.error());
    if (opts.max_boot_attempts < 1) {
        return EarlyFailure(cfg->device_id, MakeError(Errc::kInvalid, "usage",
                                                      "--max-boot-attempts must be at least 1"));
    }
    std::unique_ptr<SlotBackend> backend;
    if (opts.make_backend) {
        backend = opts.make_backend(opts.state_dir);
    } else {
        auto made = MakeSlotBackend(
            opts.state_dir, opts.slot_backend.empty() ? cfg->slot_backend : opts.slot_backend,
            opts.slot_config.empty() ? cfg->slot_config : opts.slot_config);
        if (!made) return EarlyFailure(cfg->device_id, made.error());
        backend = std::move(made).value();
    }
    TimeSource time = opts.time ? *opts.time : TimeSource::System(cfg->has_rtc && !opts.no_rtc);
    if (opts.no_rtc) time.rtc = nullptr;
    Agent agent(opts, *cfg, std::move(key).value(),
                StateMachine(opts.state_dir + "/state.json", std::move(state).value(), opts.crash),
                std::move(backend), std::move(time));
    return agent.Run();
}

Expected<Json> ReadStatus(const std::string& state_dir, const std::string& slot_backend,
                          const std::string& slot_config) {
    FW_ASSIGN(DeviceConfig cfg, LoadDeviceConfig(state_dir));
    FW_ASSIGN(DeviceState st, LoadState(state_dir + "/state.json"));
    FW_ASSIGN(auto backend,
              MakeSlotBackend(state_dir, slot_backend.empty() ? cfg.slot_backend : slot_backend,
                              slot_config.empty() ? cfg.slot_config : slot_config));
    FW_ASSIGN(BootInfo boot, backend->Query());
    FW_ASSIGN(auto queued, ReportQueue(state_dir + "/reports").List());

    std::uint64_t root_version = 0;
    for (const char* name : {"/trusted_root.json", "/root.json"}) {
        auto text = ReadFile(state_dir + name, 4 << 20);
        if (!text) continue;
        auto env = ParseEnvelope(std::string_view(*text));
        if (!env) continue;
        if (auto root = ParseRoot(*env)) {
            root_version = root->version;
            break;
        }
    }
    Json pending = nullptr;
    if (st.pending) {
        pending = Json{{"sequence", st.pending->sequence},
                       {"version", st.pending->version},
                       {"sha256", st.pending->sha256},
                       {"size", st.pending->size},
                       {"slot", st.pending->slot},
                       {"downloaded", SlotLength(backend->ImagePath(st.pending->slot),
                                                 backend->RawSlot(st.pending->slot),
                                                 state_dir + "/download.progress")}};
    }
    return Json{{"device_id", cfg.device_id},
                {"product", cfg.product},
                {"hardware", cfg.hardware},
                {"phase", PhaseName(st.phase)},
                {"installed",
                 {{"sequence", st.installed.sequence},
                  {"version", st.installed.version},
                  {"sha256", st.installed.sha256},
                  {"slot", st.installed.slot}}},
                {"pending", pending},
                {"boot", boot.ToJson()},
                {"root_version", root_version},
                {"timestamp_version", st.mark.version},
                {"report_counter", st.report_counter},
                {"report_resync", st.resync.ToJson()},
                {"queued_reports", queued.size()}};
}

}  // namespace fwchain::device
