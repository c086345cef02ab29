// The `command` slot backend (RAUC's "custom" bootloader backend): the board integrator supplies
// shell commands for the few operations the agent needs, e.g. U-Boot `fw_setenv`/`fw_printenv`
// scripts, GRUB `grub-editenv`, or EFI `efibootmgr`. Configured by a JSON file:
//   {"slots": {"a": PATH, "b": PATH}, "get_booted": CMD, "mark_active": CMD, "mark_good": CMD,
//    "mark_bad": CMD, "reboot": CMD, "timeout_s": 30}
// Each command runs through /bin/sh -c with the slot (and for mark_active the attempts)
// appended as arguments and in FWCHAIN_SLOT / FWCHAIN_ATTEMPTS; a non-zero exit is an error.
#include <sys/stat.h>

#include "common/core/fs.hpp"
#include "device-agent/health.hpp"
#include "device-agent/slots.hpp"

namespace fwchain::device {

namespace {

Status Drop(const Expected<std::string>& r) {
    if (!r) return Fail(r.error());
    return {};
}

struct CommandConfig {
    std::string slot_a, slot_b;
    std::string get_booted, mark_active, mark_good, mark_bad, reboot;
    int timeout_s = 30;
    bool raw = false;  // "raw_slots": true, or the slot paths are block devices
};

Expected<CommandConfig> LoadCommandConfig(const std::string& path) {
    auto j = LoadJsonFile(path, 64 << 10);
    if (!j) return Fail(Context(j.error(), "slot config " + path));
    CommandConfig c;
    auto read = [&]() -> Status {
        FW_ASSIGN(const Json* slots, GetObject(*j, "slots"));
        FW_ASSIGN(c.slot_a, GetString(*slots, "a"));
        FW_ASSIGN(c.slot_b, GetString(*slots, "b"));
        FW_ASSIGN(c.get_booted, GetString(*j, "get_booted"));
        FW_ASSIGN(c.mark_active, GetString(*j, "mark_active"));
        FW_ASSIGN(c.mark_good, GetString(*j, "mark_good"));
        FW_ASSIGN(c.mark_bad, GetString(*j, "mark_bad"));
        FW_ASSIGN(c.reboot, GetString(*j, "reboot"));
        if (j->contains("timeout_s")) {
            FW_ASSIGN(std::int64_t t, GetInt(*j, "timeout_s"));
            if (t < 1 || t > 3600) {
                return Fail(Errc::kInvalid, "malformed", "timeout_s must be in 1..3600");
            }
            c.timeout_s = static_cast<int>(t);
        }
        if (j->contains("raw_slots")) {
            if (!(*j)["raw_slots"].is_boolean()) {
                return Fail(Errc::kInvalid, "malformed", "raw_slots must be a boolean");
            }
            c.raw = (*j)["raw_slots"].get<bool>();
        }
        return {};
    };
    if (auto s = read(); !s) return Fail(Context(s.error(), "slot config " + path));
    return c;
}

class CommandSlotBackend final : public SlotBackend {
  public:
    explicit CommandSlotBackend(CommandConfig cfg) : cfg_(std::move(cfg)) {}

    // The bootloader already chose; ask it which slot runs. The agent's own state says whether
    // that slot is on trial.
    Expected<BootInfo> Boot() override { return Query(); }

    Expected<BootInfo> Query() const override {
        FW_ASSIGN(std::string out, Run("get_booted", cfg_.get_booted, {}, {}));
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r')) {
            out.pop_back();
        }
        if (!IsSlotName(out)) {
            return Fail(Errc::kInvalid, "slot-command",
                        "get_booted printed '" + out.substr(0, 32) + "', expected a or b");
        }
        BootInfo info;
        info.active = out;
        info.booted = out;
        info.good_a = out == "a";
        info.good_b = out == "b";
        return info;
    }

    std::string ImagePath(const std::string& slot) const override {
        return slot == "a" ? cfg_.slot_a : cfg_.slot_b;
    }
    bool RawSlot(const std::string& slot) const override {
        struct stat st {};
        return cfg_.raw || (::stat(ImagePath(slot).c_str(), &st) == 0 && S_ISBLK(st.st_mode));
    }

    Status MarkTryOnce(const std::string& slot, int attempts) override {
        return Drop(Run("mark_active", cfg_.mark_active, slot, std::to_string(attempts)));
    }
    Status MarkGood(const std::string& slot) override {
        return Drop(Run("mark_good", cfg_.mark_good, slot, {}));
    }
    Status MarkBad(const std::string& slot) override {
        return Drop(Run("mark_bad", cfg_.mark_bad, slot, {}));
    }
    // Back to the previous slot: the failed one is bad, the previous one good (and primary).
    Status Rollback(const std::string& slot) override {
        FW_TRY(MarkBad(OtherSlot(slot)));
        return MarkGood(slot);
    }
    Status Reboot() override { return Drop(Run("reboot", cfg_.reboot, {}, {})); }

  private:
    Expected<std::string> Run(const char* what, const std::string& cmd, const std::string& slot,
                              const std::string& attempts) const {
        std::string line = cmd;
        std::map<std::string, std::string> env;
        if (!slot.empty()) {
            line += " " + slot;
            env["FWCHAIN_SLOT"] = slot;
            env["FWCHAIN_SLOT_PATH"] = ImagePath(slot);
        }
        if (!attempts.empty()) {
            line += " " + attempts;
            env["FWCHAIN_ATTEMPTS"] = attempts;
        }
        auto r = RunCommand(line, env, cfg_.timeout_s);
        if (!r) return Fail(Context(r.error(), std::string("slot command ") + what));
        if (r->timed_out) {
            return Fail(
                Errc::kIo, "slot-command",
                std::string(what) + " timed out after " + std::to_string(cfg_.timeout_s) + " s");
        }
        if (r->exit_code != 0) {
            return Fail(
                Errc::kIo, "slot-command",
                std::string(what) + " (" + line + ") exited with " + std::to_string(r->exit_code));
        }
        return std::move(r->out);
    }

    CommandConfig cfg_;
};

}  // namespace

Expected<std::unique_ptr<SlotBackend>> MakeCommandSlotBackend(const std::string& config_path) {
    FW_ASSIGN(CommandConfig cfg, LoadCommandConfig(config_path));
    return std::unique_ptr<SlotBackend>(std::make_unique<CommandSlotBackend>(std::move(cfg)));
}

Expected<std::unique_ptr<SlotBackend>> MakeSlotBackend(const std::string& state_dir,
                                                       const std::string& kind,
                                                       const std::string& config) {
    if (kind.empty() || kind == "file") return MakeFileSlotBackend(state_dir);
    if (kind == "command") {
        if (config.empty()) {
            return Fail(Errc::kInvalid, "usage", "the command slot backend needs a slot config");
        }
        // A relative config path is relative to the state dir (device.json's "slot_config").
        return MakeCommandSlotBackend(config.front() == '/' ? config : state_dir + "/" + config);
    }
    return Fail(Errc::kInvalid, "usage", "unknown slot backend '" + kind + "'");
}

}  // namespace fwchain::device
