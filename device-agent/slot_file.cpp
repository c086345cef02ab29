// The `file` slot backend: slots are plain files and boot.json plays the bootloader's
// environment (like U-Boot's BOOT_ORDER/BOOT_x_LEFT), so the whole A/B logic runs unprivileged.
#include <fcntl.h>
#include <unistd.h>

#include "common/core/fs.hpp"
#include "device-agent/slots.hpp"

namespace fwchain::device {

namespace {

class FileSlotBackend final : public SlotBackend {
  public:
    explicit FileSlotBackend(std::string dir) : dir_(std::move(dir)) {}

    Expected<BootInfo> Boot() override {
        FW_TRY(EnsureSlots());
        FW_ASSIGN(BootInfo info, Load());
        // What a bootloader with a boot counter does at power-on.
        if (info.try_once) {
            if (info.attempts_left > 0) {
                --info.attempts_left;
            } else {
                // Attempts exhausted: fall back to the other slot, which was good before.
                info.SetGood(info.active, false);
                info.active = OtherSlot(info.active);
                info.try_once = false;
            }
        }
        info.booted = info.active;
        FW_TRY(Store(info));
        return info;
    }

    Expected<BootInfo> Query() const override { return Load(); }

    std::string ImagePath(const std::string& slot) const override {
        return dir_ + "/slots/" + slot + ".img";
    }

    Status MarkTryOnce(const std::string& slot, int attempts) override {
        FW_ASSIGN(BootInfo info, Load());
        info.active = slot;
        info.try_once = true;
        info.attempts_left = attempts;
        info.SetGood(slot, false);
        return Store(info);
    }

    Status MarkGood(const std::string& slot) override {
        FW_ASSIGN(BootInfo info, Load());
        info.active = slot;
        info.try_once = false;
        info.attempts_left = 0;
        info.SetGood(slot, true);
        return Store(info);
    }

    Status MarkBad(const std::string& slot) override {
        FW_ASSIGN(BootInfo info, Load());
        info.SetGood(slot, false);
        if (info.active == slot && info.try_once) {
            info.active = OtherSlot(slot);
            info.try_once = false;
            info.attempts_left = 0;
        }
        return Store(info);
    }

    Status Rollback(const std::string& slot) override {
        FW_ASSIGN(BootInfo info, Load());
        info.SetGood(OtherSlot(slot), false);
        info.active = slot;
        info.try_once = false;
        info.attempts_left = 0;
        return Store(info);
    }

    Status Reboot() override { return {}; }

  private:
    std::string BootPath() const { return dir_ + "/boot.json"; }

    Expected<BootInfo> Load() const {
        if (!FileExists(BootPath())) return BootInfo{};  // factory: slot a, good
        FW_ASSIGN(Json j, LoadJsonFile(BootPath(), 64 << 10));
        auto info = BootInfo::FromJson(j);
        if (!info) return Fail(Context(info.error(), "reading " + BootPath()));
        return info;
    }

    Status Store(const BootInfo& info) {
        return WriteFileAtomic(BootPath(), info.ToJson().dump() + "\n", 0644);
    }

    Status EnsureSlots() {
        FW_TRY(MakeDirs(dir_ + "/slots", 0755));
        for (const char* slot : {"a", "b"}) {
            const std::string path = ImagePath(slot);
            if (FileExists(path)) continue;
            int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) return Fail(Errc::kIo, "slot-create", "cannot create " + path);
            ::close(fd);
        }
        return {};
    }

    std::string dir_;
};

}  // namespace

std::unique_ptr<SlotBackend> MakeFileSlotBackend(const std::string& state_dir) {
    return std::make_unique<FileSlotBackend>(state_dir);
}

}  // namespace fwchain::device
